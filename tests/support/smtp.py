"""A real SMTP server in the test process (aiosmtpd): the portal's mailer talks SMTP to it, and
tests read what arrived, or make it refuse or hang."""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import socket
from email.message import EmailMessage

from aiosmtpd.controller import Controller

# aiosmtpd logs every line it receives (links included): only its warnings are wanted here.
logging.getLogger("mail.log").setLevel(logging.WARNING)


class Inbox:
    """aiosmtpd's handler: keeps each message; `mode` "refuse" answers 554, "hang" never does."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.mode = "accept"

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        if self.mode == "refuse":
            return "554 5.7.1 Message refused"
        if self.mode == "hang":
            await asyncio.sleep(30)
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"

    def text(self, message: EmailMessage) -> str:
        return message.get_body(preferencelist=("plain",)).get_content()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpServer:
    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def mailers(self, timeout: float = 1.0) -> dict:
        """The MAILERS setting that sends through this server (what EMAIL_URL smtp:// gives)."""
        options = {"host": "127.0.0.1", "port": self.port, "timeout": timeout}
        return {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": options,
            }
        }
