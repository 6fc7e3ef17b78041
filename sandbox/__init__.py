"""A fake Meeting BaaS speaking both API versions' calendar endpoints over real HTTP.

It needs no Django: `SandboxServer` runs it in a thread (tests) and the `run_sandbox`
management command runs it as a process (the embedded default). Fake accounts are chosen
by the refresh token; README.md, "Trying it in the sandbox", lists the conventions.
"""

from sandbox.server import SandboxServer

__all__ = ["SandboxServer"]
