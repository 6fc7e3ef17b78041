"""The portal's verbs, by domain noun: the only code that writes integrations and credentials.

Admin actions, tasks, webhooks and commands all call these; none of them imports an entry point.
"""
