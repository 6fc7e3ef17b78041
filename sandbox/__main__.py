"""`python -m sandbox`: the sandbox Meeting BaaS on its own, without Django (staging).

A production-configured portal (DEBUG off) has no `run_sandbox` command; with USE_SANDBOX on it
talks to this process instead (README, "Staging with the sandbox"). Settings come from the
environment, the webhook secret from there only (a command line is visible to every user):

  SANDBOX_PORT            loopback port to listen on (8765)
  SANDBOX_API_KEY         the API key it takes (sandbox-key)
  SANDBOX_WEBHOOK_SECRET  the whsec_ secret it signs v2 webhooks with: the portal's
                          MEETINGBAAS_WEBHOOK_SECRET; required when webhooks go anywhere
  SANDBOX_WEBHOOK_URL     where webhooks go; by default PORTAL_PUBLIC_URL/webhooks/meetingbaas/,
                          through the proxy as Meeting BaaS sends them (https)
"""

from __future__ import annotations

import argparse
import logging
import os

from sandbox.server import run
from sandbox.state import SandboxState

WEBHOOK_PATH = "/webhooks/meetingbaas/"


def default_webhook_url() -> str:
    if url := os.environ.get("SANDBOX_WEBHOOK_URL"):
        return url
    public = os.environ.get("PORTAL_PUBLIC_URL", "").rstrip("/")
    return f"{public}{WEBHOOK_PATH}" if public else ""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("SANDBOX_PORT", "8765")))
    parser.add_argument("--sync-delay", type=float, default=3.0, help="seconds to first sync")
    parser.add_argument(
        "--webhook-url", default=default_webhook_url(), help="where to send webhooks ('' for none)"
    )
    args = parser.parse_args(argv)
    secret = os.environ.get("SANDBOX_WEBHOOK_SECRET", "")
    if args.webhook_url and not secret:
        parser.error(
            f"SANDBOX_WEBHOOK_SECRET is not set: webhooks to {args.webhook_url} would be refused "
            "(set it to the portal's MEETINGBAAS_WEBHOOK_SECRET)"
        )
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s %(message)s")
    state = SandboxState(
        api_key=os.environ.get("SANDBOX_API_KEY", "sandbox-key"),
        sync_delay=args.sync_delay,
        webhook_url=args.webhook_url or None,
        webhook_secret=secret,
    )
    run(state, args.port)


if __name__ == "__main__":
    main()
