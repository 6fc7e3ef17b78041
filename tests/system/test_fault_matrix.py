"""Every API operation under every fault the sandbox can inject, through the portal's own paths.

For each cell the person gets a clear message (never a 500), the database stays consistent
(no half-made or duplicate integration, a StatusChange only for a real change), idempotent
calls are retried within bounds, and a create whose answer was lost ends with exactly one
integration. FAULT_REPORT=path writes the matrix with its figures (see docs/reliability.md).
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from unittest.mock import patch

import pytest
from django.contrib.messages import get_messages
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone
from django_q.conf import Conf

from calendars import tasks
from calendars.meetingbaas.errors import MeetingBaasError
from calendars.models import BulkJobItem, Credential, Integration, RawCalendar, StatusChange

PERSISTENT = 20
FAULTS = {
    "500": {"kind": "status", "status": 500},
    "502": {"kind": "status", "status": 502},
    "503": {"kind": "status", "status": 503},
    "429 + retry-after": {"kind": "status", "status": 429, "retry_after": 1},
    "hang > read timeout": {"kind": "slow", "delay": 2.5},
    "connection reset": {"kind": "reset"},
    "malformed 200": {"kind": "malformed"},
    "200 missing fields": {"kind": "incomplete"},
    "slow answer": {"kind": "slow", "delay": 0.5},
    "503, persistent": {"kind": "status", "status": 503, "count": PERSISTENT},
}
TIME_BOUND = 15.0  # seconds one operation may take, faults and retries included


@dataclass
class Cell:
    operation: str
    fault: str
    outcome: str
    seconds: float
    requests: int
    faults_injected: int
    duplicates: int


RESULTS: list[Cell] = []


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    if os.environ.get("FAULT_REPORT") and RESULTS:
        Path(os.environ["FAULT_REPORT"]).write_text(_markdown(RESULTS))


@dataclass
class Context:
    client: object
    sandbox: object
    credential: Credential
    integration: Integration | None
    method: str
    path: str
    started_at: datetime

    def matching_requests(self) -> int:
        log = self.sandbox.control("GET", "requests")
        return sum(
            1 for r in log if r["method"] == self.method and re.fullmatch(self.path, r["path"])
        )

    def ok(self) -> str:
        return "ok after a retry" if self.matching_requests() > 1 else "ok"

    def post(self, url: str, data: dict):
        with TestCase.captureOnCommitCallbacks(execute=True):
            response = self.client.post(url, data)
        assert response.status_code in (200, 302), f"the person saw HTTP {response.status_code}"
        return response


def _messages(response) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


def list_raw(ctx: Context) -> str:
    response = ctx.post(
        reverse("admin:calendars_credential_changelist"),
        {"action": "list_raw_calendars", "_selected_action": [ctx.credential.pk]},
    )
    if (
        RawCalendar.objects.filter(credential=ctx.credential, listed_at__gte=ctx.started_at).count()
        == 3
    ):
        return ctx.ok()
    assert "Meeting BaaS" in _messages(response)
    return "clear error, nothing saved"


def create(ctx: Context) -> str:
    raw = RawCalendar.objects.get(credential=ctx.credential, provider_id="alice@example.com")
    response = ctx.post(
        reverse("admin:calendars_rawcalendar_changelist"),
        {"action": "create_integration", "_selected_action": [raw.pk]},
    )
    text = _messages(response)
    created = Integration.objects.filter(raw_calendar=raw).count()
    if created:
        assert created == 1
        return "adopted by reconciliation" if "adopted" in text else ctx.ok()
    assert "safe to try again" in text, text
    return "clear error, nothing created"


def refresh(ctx: Context) -> str:
    # Queued for real (django-q2's sync mode would re-raise into the request), then run as a
    # worker runs it: an error becomes a failed task, recorded by django-q2.
    with patch.object(Conf, "SYNC", False):
        response = ctx.post(
            reverse("admin:calendars_integration_changelist"),
            {"action": "refresh_status", "_selected_action": [ctx.integration.pk]},
        )
    assert "Status refresh queued" in _messages(response)
    try:
        tasks.refresh_integration(ctx.integration.pk)
    except MeetingBaasError:
        ctx.integration.refresh_from_db()
        assert ctx.integration.status == "syncing"
        return "task failed, status kept"
    ctx.integration.refresh_from_db()
    assert ctx.integration.status == "active"
    return ctx.ok()


def list_all(ctx: Context) -> str:
    try:
        tasks.refresh_all_integrations()
    except MeetingBaasError:  # django-q2 records the failed task; what matters is the state
        ctx.integration.refresh_from_db()
        assert ctx.integration.status == "syncing"
        return "task failed, statuses kept"
    ctx.integration.refresh_from_db()
    assert ctx.integration.status == "active"
    return ctx.ok()


def _bulk_outcome(ctx: Context) -> str:
    item = BulkJobItem.objects.get(integration=ctx.integration)
    if item.state == "done":
        return ctx.ok()
    assert item.state == "failed" and "Meeting BaaS" in item.reason, item.reason
    return "item failed with its reason; re-runnable"


def update_credentials(ctx: Context) -> str:
    data = {
        "action": "replace_refresh_token",
        "_selected_action": [ctx.credential.pk],
        "apply": "1",
        "refresh_token": "rt2:alice@example.com",
    }
    ctx.post(reverse("admin:calendars_credential_changelist"), data)
    return _bulk_outcome(ctx)


def delete(ctx: Context) -> str:
    ctx.post(
        reverse("admin:calendars_integration_changelist"),
        {"action": "disconnect", "_selected_action": [ctx.integration.pk], "confirm": "1"},
    )
    outcome = _bulk_outcome(ctx)
    ctx.integration.refresh_from_db()
    assert (ctx.integration.status == "disconnected") == outcome.startswith("ok")
    return outcome


def resync(ctx: Context) -> str:
    ctx.post(
        reverse("admin:calendars_integration_changelist"),
        {"action": "resync", "_selected_action": [ctx.integration.pk], "confirm": "1"},
    )
    return _bulk_outcome(ctx)


UUID_PATH = "/v2/calendars/[0-9a-f-]{36}"
OPERATIONS: dict[str, tuple[str, str, Callable[[Context], str], bool]] = {
    # name: (method, path regex, how a person or the scheduler does it, needs an integration)
    "list raw calendars": ("POST", "/v2/calendars/list-raw", list_raw, False),
    "create": ("POST", "/v2/calendars", create, False),
    "get / refresh": ("GET", UUID_PATH, refresh, True),
    "list all": ("GET", "/v2/calendars", list_all, True),
    "update credentials": ("PATCH", UUID_PATH, update_credentials, True),
    "delete": ("DELETE", UUID_PATH, delete, True),
    "resync": ("POST", UUID_PATH + "/sync", resync, True),
}


@pytest.mark.once  # about the API's faults: one database engine is enough
@pytest.mark.parametrize("fault_name", list(FAULTS))
@pytest.mark.parametrize("operation_name", list(OPERATIONS))
def test_operation_under_fault(
    admin_client, sandbox, credential, make_integration, operation_name, fault_name
):
    method, path, run, needs_integration = OPERATIONS[operation_name]
    sandbox.state.sync_delay = 0  # first syncs finish at once: a refresh would say active
    RawCalendar.objects.create(
        credential=credential,
        provider_id="alice@example.com",
        name="Alice",
        listed_at=timezone.now(),
    )
    integration = (
        make_integration("alice.team@group.calendar.google.com") if needs_integration else None
    )
    changes_before = set(StatusChange.objects.values_list("pk", flat=True))
    requests_before = len(sandbox.control("GET", "requests"))
    fault = {"count": 1, **FAULTS[fault_name]}
    sandbox.fault(method, path, **fault)
    ctx = Context(admin_client, sandbox, credential, integration, method, path, timezone.now())

    started = time.monotonic()
    outcome = run(ctx)
    seconds = time.monotonic() - started

    assert seconds < TIME_BOUND, f"{operation_name} under {fault_name} took {seconds:.1f} s"
    per_calendar = Counter(
        c["provider_metadata"]["raw_calendar_id"] for c in sandbox.control("GET", "connections")
    )
    duplicates = sum(n - 1 for n in per_calendar.values())
    assert duplicates == 0
    live = Integration.objects.exclude(status="disconnected")
    assert live.values("raw_calendar").distinct().count() == live.count()
    for change in StatusChange.objects.exclude(pk__in=changes_before):
        assert change.from_status != change.to_status  # a StatusChange only for a real change
    log = sandbox.control("GET", "requests")[requests_before:]
    injected = min(
        fault["count"],
        sum(1 for r in log if r["method"] == method and re.fullmatch(path, r["path"])),
    )
    RESULTS.append(
        Cell(operation_name, fault_name, outcome, seconds, len(log), injected, duplicates)
    )


def _markdown(cells: list[Cell]) -> str:
    faults = list(FAULTS)
    by_key = {(c.operation, c.fault): c for c in cells}
    lines = ["| operation | " + " | ".join(faults) + " |", "| --- |" + " --- |" * len(faults)]
    for op in OPERATIONS:
        row = [
            f"{by_key[op, f].outcome} ({by_key[op, f].seconds:.1f} s)" if (op, f) in by_key else ""
            for f in faults
        ]
        lines.append(f"| {op} | " + " | ".join(row) + " |")
    slowest = max(cells, key=lambda c: c.seconds)
    lines += [
        "",
        f"- cells run: {len(cells)}",
        f"- faults injected (answers the sandbox spoiled): {sum(c.faults_injected for c in cells)}",
        f"- requests the portal sent to the sandbox: {sum(c.requests for c in cells)}",
        f"- duplicate connections found: {sum(c.duplicates for c in cells)}",
        f"- slowest cell: {slowest.operation} under {slowest.fault}, {slowest.seconds:.1f} s "
        f"(bound {TIME_BOUND:.0f} s)",
    ]
    return "\n".join(lines) + "\n"
