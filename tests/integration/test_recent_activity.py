"""Recent activity on the admin home: one list, newest first, each entry linked to its target."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from calendars.models import ActionRecord, StatusChange
from tests.support.broken_rows import broken_integrations

pytestmark = pytest.mark.clock

INDEX = reverse("admin:index")


def test_changes_and_actions_are_one_list_newest_first_each_linked_to_its_target(
    role_client, customer, google_app
):
    integration = broken_integrations(customer, google_app, 1, message="quota")[0]
    now = timezone.now()
    StatusChange.objects.create(
        integration=integration,
        from_status="active",
        to_status="error",
        cause="refresh",
        changed_at=now - timedelta(minutes=30),
    )
    resync = ActionRecord.objects.create(
        action="resync", username="sam", integration=integration, succeeded=False
    )
    ActionRecord.objects.filter(pk=resync.pk).update(at=now - timedelta(minutes=20))
    token = ActionRecord.objects.create(
        action="replace refresh token",
        username="sam",
        credential=integration.credential,
        succeeded=True,
    )
    ActionRecord.objects.filter(pk=token.pk).update(at=now - timedelta(minutes=40))

    support = role_client("Support")  # giving the role is recorded too: not this test's subject
    ActionRecord.objects.filter(action__startswith="give role").delete()
    page = support.get(INDEX).content.decode()
    activity = page[page.index('<ol class="recent-activity">') :]
    activity = activity[: activity.index("</ol>")]

    integration_link = reverse("admin:calendars_integration_change", args=[integration.pk])
    credential_link = reverse("admin:calendars_credential_change", args=[integration.credential.pk])
    calendar = str(integration.raw_calendar)
    entries = [
        f'<a href="{integration_link}">{calendar}</a>: resync by sam (failed)',
        f'<a href="{integration_link}">{calendar}</a>: active → error (Refresh)',
        f'<a href="{credential_link}">{integration.credential}</a>: replace refresh token by sam',
    ]
    assert [activity.index(entry) for entry in entries] == sorted(
        activity.index(entry) for entry in entries
    )
    assert activity.count("<li>") == 3
    # written in TIME_ZONE, naming it, like every time the admin shows
    assert (
        date_format(timezone.localtime(now - timedelta(minutes=20)), "DATETIME_FORMAT") in activity
    )
