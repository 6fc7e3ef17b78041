"""One meeting in several calendars of a customer: colleagues' accounts, each with an active
integration, and the meeting the sandbox puts into all their calendars."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from calendars.actions.integrations import create_integration
from calendars.actions.refresh import refresh_integration
from calendars.models import Credential, Customer, Integration, OAuthApp, RawCalendar
from tests.support.meetings import active_integration

ZOOM_URL = "https://us02web.zoom.us/j/85712345678?pwd=cal{n}"


def colleagues(
    customer: Customer, app: OAuthApp, make_first, sandbox, version: str, emails: list[str]
) -> list[Integration]:
    """An active integration of `version` for each account (its own credential), the first
    made with `make_first` (the make_integration fixture, alice@example.com's credential)."""
    integrations = [active_integration(make_first, sandbox, version)]
    for email in emails[1:]:
        credential = Credential.objects.create(
            customer=customer, oauth_app=app, account_email=email, refresh_token=f"1//r:{email}"
        )
        raw = RawCalendar.objects.create(
            credential=credential, provider_id=email, name=email, listed_at=timezone.now()
        )
        integration = refresh_integration(create_integration(raw).integration.pk)
        assert integration.status == "active"
        integrations.append(integration)
    return integrations


def share_meeting(
    sandbox,
    integrations: list[Integration],
    *,
    in_hours: float = 2,
    organizer: str | None = None,
    noisy: bool = False,
) -> list[str]:
    """One meeting in each integration's calendar; returns the event ids, in the
    integrations' order. `noisy`: each copy's URL has its own Zoom password and its start is
    a few seconds off the others' (still one meeting)."""
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=in_hours)
    groups = [[i] for i in integrations] if noisy else [integrations]
    ids = []
    for n, group in enumerate(groups):
        added = sandbox.control(
            "POST",
            "shared_events",
            {
                "connection_ids": [str(integration.remote_id) for integration in group],
                "title": "Roadmap review",
                "start": (start + timedelta(seconds=n * 7)).isoformat(),
                "end": (start + timedelta(minutes=45)).isoformat(),
                "meeting_url": ZOOM_URL.format(n=n),
                "organizer_email": organizer or "pat@customer.example",
            },
        )
        ids += [event["event_id"] for event in added]
    return ids


def bots_at_sandbox(sandbox, event_ids: list[str]) -> list[dict]:
    """The bots Meeting BaaS holds (removed ones are gone) on these events."""
    return [b for b in sandbox.control("GET", "bots") if b["event_id"] in event_ids]
