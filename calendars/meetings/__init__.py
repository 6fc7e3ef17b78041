"""Meetings and their bots: the mirror of each integration's upcoming events (`mirror`, kept
current by webhooks through `news` and by the periodic `sync`), the customers' bot policies
(`policy`), the bot verbs (`bots`) and the meetings at risk (`risk`, read-only)."""
