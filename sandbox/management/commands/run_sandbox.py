"""Run the sandbox Meeting BaaS the embedded default talks to (`python -m sandbox` for staging)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from sandbox.server import run
from sandbox.state import SandboxState


class Command(BaseCommand):
    help = "Serve the sandbox Meeting BaaS API (both versions) on loopback until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=settings.SANDBOX_PORT)
        parser.add_argument("--sync-delay", type=float, default=3.0, help="seconds to first sync")
        parser.add_argument(
            "--webhook-url",
            default="http://127.0.0.1:8000/webhooks/meetingbaas/",
            help="where to send webhooks ('' for none)",
        )

    def handle(
        self, *args: object, port: int, sync_delay: float, webhook_url: str, **options: object
    ) -> None:
        state = SandboxState(
            api_key=settings.SANDBOX_API_KEY,
            sync_delay=sync_delay,
            webhook_url=webhook_url or None,
            webhook_secret=settings.SANDBOX_WEBHOOK_SECRET,
        )
        run(state, port)
