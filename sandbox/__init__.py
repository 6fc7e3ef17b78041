"""A fake Meeting BaaS speaking both API versions' calendar endpoints over real HTTP.

Each connection's calendar holds made-up meetings (events.py) that bots can be scheduled on,
and a control API adds, moves and cancels them, sending the webhooks Meeting BaaS would.

It plays Google and Microsoft too: their OAuth consent page and token endpoint (oauth.py), so
a consent link runs its whole loop offline, and the refresh token it issues is one the fake
Meeting BaaS takes for that person's account.

It needs no Django: `SandboxServer` runs it in a thread (tests) and the `run_sandbox`
management command runs it as a process (the embedded default). Fake accounts are chosen
by the refresh token; README.md, "Trying it in the sandbox", lists the conventions.
"""

from sandbox.server import SandboxServer

__all__ = ["SandboxServer"]
