"""A row of every kind the admin lists, carrying the longest text each can hold.

Remote and user text is hostile to a layout: Meeting BaaS or a provider can answer with one
unbroken 2,000-character "word" (a token, a stack trace squeezed onto one line, base64), and a
page that lays it out on one line is wider than any window. Tests that check page widths need
such rows on every list, written straight to the database: the lists only read them.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone
from django_q.models import Task

from calendars import queue
from calendars.models import (
    ActionRecord,
    BulkJob,
    BulkJobItem,
    Credential,
    Customer,
    Integration,
    OAuthApp,
    RawCalendar,
    RefreshRun,
    StatusChange,
    WebhookDelivery,
)


def unbroken(length: int, start: str = "") -> str:
    """`start` and then one word (no space, no hyphen) up to `length` characters in all."""
    return (start + "AbCdEfGhIj0123456789" * (length // 20 + 1))[:length]


# Meeting BaaS's message for a refused token, followed by what a provider may append to it.
ERROR_MESSAGE = unbroken(2000, "invalid_grant:")


def wide_rows() -> None:
    """One row or more of each listed model, every free-text column as long as it may be."""
    now = timezone.now()
    user = get_user_model().objects.create_user(
        "sam", email=f"{unbroken(60)}@example.com", first_name=unbroken(150), password="pw"
    )
    customer = Customer.objects.create(name=unbroken(200), external_ref=unbroken(100))
    app = OAuthApp.objects.create(
        provider="microsoft",
        name=unbroken(200),
        client_id=unbroken(300),
        client_secret="client-secret-value",
        tenant="organizations",
    )
    credential = Credential.objects.create(
        customer=customer,
        oauth_app=app,
        account_email=f"{unbroken(64)}@{unbroken(60)}.example.com",
        refresh_token="rt:someone@example.com",
        last_checked_at=now,
        last_check_ok=False,
        last_check_message=ERROR_MESSAGE,
    )
    raw = RawCalendar.objects.create(
        credential=credential,
        provider_id=unbroken(1024, "AAMk"),
        name=unbroken(500),
        email=f"{unbroken(64)}@example.com",
        listed_at=now,
    )
    integration = Integration.objects.create(
        credential=credential,
        raw_calendar=raw,
        remote_id=uuid.uuid4(),
        api_version="v2",
        provider="microsoft",
        status="error",
        status_cause="refresh",
        status_changed_at=now - timedelta(hours=2, minutes=14),
        error_message=ERROR_MESSAGE,
        remote_status="error",
        remote_status_message=ERROR_MESSAGE,
        sync_status="failed",
        sync_error=ERROR_MESSAGE,
        last_refreshed_at=now,
    )
    StatusChange.objects.create(
        integration=integration,
        from_status="active",
        to_status="error",
        message=ERROR_MESSAGE,
        cause="refresh",
    )
    ActionRecord.objects.create(
        action="resync",
        user=user,
        username=user.username,
        integration=integration,
        credential=credential,
        oauth_app=app,
        raw_calendar=raw,
        succeeded=False,
        message=ERROR_MESSAGE,
    )
    WebhookDelivery.objects.create(
        api_version="v2",
        event=unbroken(100),
        delivery_id=unbroken(200),
        payload={"data": {"status": "error", "message": ERROR_MESSAGE}},
        remote_id=integration.remote_id,
        integration=integration,
        outcome="failed",
        error=ERROR_MESSAGE,
    )
    job = BulkJob.objects.create(
        kind=BulkJob.Kind.RESYNC,
        description=unbroken(300),
        created_by=user,
        started_at=now,
        finished_at=now,
    )
    BulkJobItem.objects.create(
        job=job,
        integration=integration,
        state=BulkJobItem.State.NOT_FIXED,
        reason=ERROR_MESSAGE,
        status_before="error",
        status_after="error",
        worked_by=unbroken(100),
    )
    RefreshRun.objects.create(
        api_version="v2", started_at=now, finished_at=now, failed=1, error=ERROR_MESSAGE
    )
    _queue_rows(integration, now)


def _queue_rows(integration: Integration, now: object) -> None:
    """django-q2's lists: a failed and a successful task, the schedules and a queued task."""
    for success in (False, True):
        Task.objects.create(
            id=uuid.uuid4().hex,
            name=unbroken(100),
            func=queue.TASKS["refresh_integration"],
            args=(integration.pk,),
            result=ERROR_MESSAGE,
            group=unbroken(100),
            cluster=unbroken(100),
            started=now,
            stopped=now,
            success=success,
        )
    queue.ensure_schedules()  # the portal's own: code creates them, never a person
    # Queued only, never run: the test that calls this has no cluster (and on the Redis
    # broker nothing is written to the database: the list is then empty or absent).
    queue.enqueue("refresh_integration", integration.pk, group=unbroken(100))
