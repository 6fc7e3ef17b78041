"""The portal's status rules (calendars/status.py), with no database and no sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from calendars import status
from calendars.meetingbaas.types import ApiVersion
from calendars.status import Cause, PortalStatus

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def test_statusless_versions_are_the_api_versions_without_a_status():
    assert {ApiVersion.V1.value} == status.STATUSLESS_VERSIONS


@pytest.mark.parametrize("reported", list(PortalStatus))
def test_on_v2_the_remote_status_is_taken_whatever_the_current_one(reported):
    for current in PortalStatus:
        assert status.after_remote(ApiVersion.V2, current, reported) == reported


def test_on_v1_nothing_remote_ends_an_error():
    for reported in PortalStatus:
        assert status.after_remote(ApiVersion.V1, PortalStatus.ERROR, reported) == "error"


def test_on_v1_other_statuses_follow_the_remote_one():
    assert status.after_remote(ApiVersion.V1, "syncing", PortalStatus.ACTIVE) == "active"


@pytest.mark.parametrize(
    ("version", "current", "ends"),
    [
        (ApiVersion.V2, PortalStatus.SYNCING, True),
        (ApiVersion.V1, PortalStatus.SYNCING, True),
        (ApiVersion.V1, PortalStatus.ERROR, True),
        (ApiVersion.V2, PortalStatus.ERROR, False),
        (ApiVersion.V2, PortalStatus.ACTIVE, False),
        (ApiVersion.V1, PortalStatus.DISCONNECTED, False),
    ],
)
def test_a_sync_ends_syncing_everywhere_and_an_error_only_on_v1(version, current, ends):
    assert status.ended_by_sync(version, current) is ends


def test_a_subscription_expires_soon_within_a_day():
    assert status.expires_soon(NOW + timedelta(hours=23), NOW)
    assert not status.expires_soon(NOW + timedelta(hours=25), NOW)
    assert not status.expires_soon(None, NOW)


def test_older_news_is_older_only_against_a_held_time_that_is_not_in_the_future(settings):
    settings.MEETINGBAAS_CLOCK_SKEW_SECONDS = 300
    now = datetime.now(UTC)
    assert status.is_older(now - timedelta(minutes=5), now - timedelta(minutes=1))
    assert not status.is_older(now - timedelta(minutes=1), now - timedelta(minutes=5))
    assert not status.is_older(None, now)
    assert not status.is_older(now, None)
    # A time stored from a remote clock years ahead cannot pin the status.
    assert not status.is_older(now, now + timedelta(days=365))


def test_only_a_disconnect_through_the_portal_is_deliberate():
    assert status.is_deliberately_disconnected(PortalStatus.DISCONNECTED, Cause.ADMIN_ACTION)
    assert not status.is_deliberately_disconnected(PortalStatus.DISCONNECTED, Cause.WEBHOOK)
    assert not status.is_deliberately_disconnected(PortalStatus.ERROR, Cause.ADMIN_ACTION)


@pytest.mark.parametrize(
    ("version", "current", "listed", "needed"),
    [
        (ApiVersion.V2, PortalStatus.ACTIVE, PortalStatus.ACTIVE, False),
        (ApiVersion.V2, PortalStatus.ACTIVE, PortalStatus.ERROR, True),
        (ApiVersion.V2, PortalStatus.ERROR, PortalStatus.ERROR, True),  # the list has no details
        (ApiVersion.V1, PortalStatus.SYNCING, PortalStatus.SYNCING, True),
        (ApiVersion.V1, PortalStatus.ERROR, PortalStatus.ACTIVE, False),
        (ApiVersion.V1, PortalStatus.ACTIVE, PortalStatus.ACTIVE, False),
    ],
)
def test_a_listed_connection_needs_its_own_get_only_when_the_list_cannot_settle_it(
    version, current, listed, needed
):
    assert status.needs_detail(version, current, listed) is needed
