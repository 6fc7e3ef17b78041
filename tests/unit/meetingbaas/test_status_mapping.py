"""The NOTES.md table from remote state to portal status, row by row."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from calendars.meetingbaas.status import v1_portal_status, v2_portal_status
from calendars.status import PortalStatus as S

SYNCED = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "synced_at", "sync_status", "expected", "message"),
    [
        ("active", None, None, S.SYNCING, ""),
        ("active", SYNCED, "success", S.ACTIVE, ""),
        ("active", SYNCED, "partial", S.ACTIVE, ""),
        ("error", SYNCED, "success", S.ERROR, "status says"),
        ("permission_denied", None, None, S.ERROR, "status says"),
        ("active", SYNCED, "failed", S.ERROR, "sync says"),
        ("revoked", SYNCED, "success", S.DISCONNECTED, "status says"),
        ("paused", SYNCED, "success", S.ERROR, "unknown status 'paused'"),
    ],
)
def test_v2_mapping(status, synced_at, sync_status, expected, message):
    portal, text = v2_portal_status(
        status,
        synced_at=synced_at,
        sync_status=sync_status,
        status_message="status says",
        sync_error="sync says",
    )
    assert portal == expected
    assert message in text


def test_v1_derives_syncing_then_active():
    assert v1_portal_status(has_synced=False)[0] == S.SYNCING
    assert v1_portal_status(has_synced=True)[0] == S.ACTIVE
