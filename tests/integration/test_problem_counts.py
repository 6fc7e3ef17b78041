"""Each integration's stored class of problem, and the counts the needs-attention worklist reads,
stay exact on every path that changes what they are read from; `recount_integrations`
classifies and counts again rows written around the portal."""

from __future__ import annotations

import io
import time
from collections import Counter
from datetime import date

from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from calendars import meetingbaas
from calendars.actions.integrations import disconnect_integration, recreate_integration
from calendars.actions.refresh import apply_resync_outcome, mark_disconnected, refresh_integration
from calendars.meetingbaas.types import ResyncOutcome
from calendars.models import Credential, Customer, Integration, ProblemCount, ProblemDay
from calendars.problems import problem_code
from tests.support.webhook_signing import post_v2

INDEX = reverse("admin:index")
REVOKED = "invalid_grant: Token has been expired or revoked."
QUOTA = "Calendar API quota exceeded"


def expected_problem(integration: Integration) -> str:
    """What the rules say the row holds: its own fields' class, unless it is a disconnection
    that a newer integration of its raw calendar replaced."""
    newer = Integration.objects.filter(
        raw_calendar=integration.raw_calendar_id, pk__gt=integration.pk
    ).exists()
    if newer and integration.status == "disconnected":
        return ""
    return problem_code(
        integration.status,
        integration.status_cause,
        integration.error_message,
        integration.remote_status,
    )


def kept() -> dict[tuple[str, str, int], int]:
    return {(c.problem, c.scope, c.of): c.count for c in ProblemCount.objects.all() if c.count}


def counted() -> dict[tuple[str, str, int], int]:
    """The counts, counted here from the rows."""
    found: Counter = Counter()
    for integration in Integration.objects.exclude(problem_code="").select_related("credential"):
        problem = integration.problem_code
        found[problem, "all", 0] += 1
        found[problem, "customer", integration.credential.customer_id] += 1
        found[problem, "credential", integration.credential_id] += 1
    for problem, scope, _ in list(found):
        if scope in ("customer", "credential"):
            found[problem, f"{scope}s", 0] += 1
    return dict(found)


def assert_exact() -> None:
    rows = Integration.objects.order_by("pk")
    assert [(i.pk, i.problem_code) for i in rows] == [(i.pk, expected_problem(i)) for i in rows]
    assert kept() == counted()


def test_the_problem_and_its_counts_follow_refresh_disconnection_and_recreation(
    sandbox, make_integration, admin_user
):
    first = make_integration()
    second = make_integration("alice.team@group.calendar.google.com")
    assert kept() == {}

    sandbox.force(first.remote_id, status="error", status_message=REVOKED)
    refresh_integration(first.pk)
    assert Integration.objects.get(pk=first.pk).problem_code == "token_refused"
    assert_exact()

    # Still in error, for another reason: it moves to that cause's counts.
    sandbox.force(first.remote_id, status="error", status_message=QUOTA)
    refresh_integration(first.pk)
    assert Integration.objects.get(pk=first.pk).problem_code == "transient"
    assert_exact()

    # Deleted on Meeting BaaS, as its webhook says.
    meetingbaas.client("v2").delete_connection(second.remote_id)
    mark_disconnected(second.pk, message="Deleted on Meeting BaaS.", cause="webhook")
    assert Integration.objects.get(pk=second.pk).problem_code == "not_found"
    assert_exact()

    # A newer integration of the calendar replaces the disconnected one: not a problem any
    # more, even once the newer one is disconnected on purpose.
    recreated = recreate_integration(second.pk, acting_user=admin_user)
    assert Integration.objects.get(pk=second.pk).problem_code == ""
    assert_exact()
    disconnect_integration(recreated.pk, acting_user=admin_user)
    assert_exact()

    # Disconnected on purpose: history, not a problem.
    disconnect_integration(first.pk, acting_user=admin_user)
    assert Integration.objects.get(pk=first.pk).problem_code == ""
    assert_exact()
    assert kept() == {}


def test_a_webhook_error_is_unknown_until_the_refresh_it_queues_learns_why(
    sandbox, make_integration
):
    integration = make_integration()
    time.sleep(0.35)  # the sandbox ends the first sync
    refresh_integration(integration.pk)
    forced = sandbox.force(integration.remote_id, status="error", status_message=REVOKED)

    post_v2(
        Client(),
        {
            "event": "calendar.connection_updated",
            "data": {
                "calendar_id": str(integration.remote_id),
                "calendar_platform": "google",
                "account_email": "alice@example.com",
                "status": "error",
                "created_at": forced["created_at"],
                "updated_at": forced["updated_at"],
            },
        },
    )

    # The webhook says only "error"; the refresh it queued (run as it committed) read why, and
    # the chart's count of that day follows.
    assert Integration.objects.get(pk=integration.pk).problem_code == "token_refused"
    assert_exact()
    kept_counts = charted()
    ProblemDay.recount()
    assert kept_counts == charted() == {(timezone.localdate(), "token_refused"): 1}


def test_a_v1_resync_answer_moves_the_problems_it_names(sandbox, make_integration, settings):
    settings.MEETINGBAAS_API_VERSION = "v1"
    integration = make_integration()

    apply_resync_outcome(
        ResyncOutcome(synced=[], errors={integration.remote_id: REVOKED}), cause="refresh"
    )
    assert Integration.objects.get(pk=integration.pk).problem_code == "token_refused"
    assert_exact()

    apply_resync_outcome(ResyncOutcome(synced=[integration.remote_id], errors={}), cause="refresh")
    assert Integration.objects.get(pk=integration.pk).problem_code == ""
    assert_exact()


def test_a_credential_moved_to_another_customer_takes_its_counts_along(
    sandbox, make_integration, credential
):
    integration = make_integration()
    sandbox.force(integration.remote_id, status="error", status_message=REVOKED)
    refresh_integration(integration.pk)
    globex = Customer.objects.create(name="Globex", external_ref="globex")

    moved = Credential.objects.get(pk=credential.pk)
    moved.customer = globex
    moved.save()

    assert kept()[("token_refused", "customer", globex.pk)] == 1
    assert ("token_refused", "customer", credential.customer_id) not in kept()
    assert_exact()


def test_recount_classifies_and_counts_rows_written_around_the_portal(sandbox, make_integration):
    integration = make_integration()
    # As SQL would: no save(), so neither the row's problem nor the counts know.
    Integration.objects.filter(pk=integration.pk).update(status="error", error_message=REVOKED)
    assert Integration.objects.get(pk=integration.pk).problem_code == ""

    out = io.StringIO()
    call_command("recount_integrations", stdout=out)

    assert Integration.objects.get(pk=integration.pk).problem_code == "token_refused"
    assert_exact()
    assert "problem token_refused: 1 (was 0)" in out.getvalue()


def test_the_worklist_reads_the_counts_not_the_rows(admin_client, sandbox, make_integration):
    integration = make_integration()
    Integration.objects.filter(pk=integration.pk).update(status="error", error_message=REVOKED)

    before = admin_client.get(INDEX).content.decode()
    ProblemCount.recount()
    after = admin_client.get(INDEX).content.decode()

    assert "Refresh token refused or revoked</strong>" not in before
    assert "<strong>Refresh token refused or revoked</strong>: 1 integration, 1 customer" in after


def charted() -> dict[tuple[date, str], int]:
    return {(d.day, d.problem): d.count for d in ProblemDay.objects.all() if d.count}


def test_the_chart_counts_each_change_as_recorded_and_agrees_with_a_recount(
    sandbox, make_integration, admin_user
):
    first = make_integration()
    second = make_integration("alice.team@group.calendar.google.com")
    today = timezone.localdate()
    sandbox.force(first.remote_id, status="error", status_message=REVOKED)
    refresh_integration(first.pk)
    meetingbaas.client("v2").delete_connection(second.remote_id)
    mark_disconnected(second.pk, message="Deleted on Meeting BaaS.", cause="webhook")
    disconnect_integration(first.pk, acting_user=admin_user)  # on purpose: not a problem

    kept_counts = charted()
    ProblemDay.recount()

    assert kept_counts == charted() == {(today, "token_refused"): 1, (today, "not_found"): 1}
