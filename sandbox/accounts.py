"""Deterministic fake accounts: the refresh token decides who the user is and what fails."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass


class SandboxError(Exception):
    """An error answer, in the API's error envelope."""

    def __init__(self, status: int, code: str, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after

    def body(self) -> dict:
        body = {
            "success": False,
            "error": ERROR_NAMES.get(self.status, "Error"),
            "code": self.code,
            "statusCode": self.status,
            "message": self.message,
        }
        if self.retry_after is not None:
            body["retryAfter"] = self.retry_after
        return body


ERROR_NAMES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


@dataclass(frozen=True)
class FakeCalendar:
    id: str
    name: str
    email: str
    is_primary: bool


@dataclass(frozen=True)
class FakeAccount:
    platform: str
    email: str
    calendars: tuple[FakeCalendar, ...]


def account_for(platform: str, client_secret: str, refresh_token: str) -> FakeAccount:
    """The account a refresh token stands for, or the error a real provider would give.

    - a client secret starting with "wrong" is refused (invalid_client);
    - a refresh token starting with "revoked" is refused (invalid_grant);
    - a Microsoft token starting with "nolicense" has no Exchange Online licence (403);
    - a token ending in an e-mail address ("alice@example.com", "x:alice@example.com")
      is that person's account; any other token maps to a stable made-up address.
    """
    if client_secret.startswith("wrong"):
        raise SandboxError(
            401,
            "FST_ERR_OAUTH_TOKEN_REFRESH_FAILED",
            "invalid_client: The OAuth client was not found or its secret is wrong.",
        )
    if refresh_token.startswith("revoked"):
        raise SandboxError(
            401,
            "FST_ERR_OAUTH_TOKEN_REFRESH_FAILED",
            "invalid_grant: Token has been expired or revoked.",
        )
    if platform == "microsoft" and refresh_token.startswith("nolicense"):
        raise SandboxError(
            403,
            "FST_ERR_MICROSOFT_LICENSE_REQUIRED",
            "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
        )
    digest = hashlib.sha256(refresh_token.encode()).hexdigest()[:8]
    tail = refresh_token.rsplit(":", 1)[-1]
    domain = "example.com" if platform == "google" else "contoso.example"
    email = tail if "@" in tail else f"user-{digest}@{domain}"
    return FakeAccount(platform=platform, email=email, calendars=_calendars(platform, email))


def _calendars(platform: str, email: str) -> tuple[FakeCalendar, ...]:
    names = [
        ("primary", email, True),
        ("team", "Team meetings", False),
        ("oncall", "On-call", False),
    ]
    calendars = []
    for key, name, is_primary in names:
        if platform == "google":
            local = email.split("@")[0]
            cal_id = email if is_primary else f"{local}.{key}@group.calendar.google.com"
        else:
            cal_id = "AAMk" + uuid.uuid5(uuid.NAMESPACE_URL, f"{email}/{key}").hex
        calendars.append(FakeCalendar(cal_id, name, email, is_primary))
    return tuple(calendars)
