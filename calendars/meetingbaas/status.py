"""How remote state maps to the portal's status (the table in shared/meetingbaas/NOTES.md)."""

from __future__ import annotations

from datetime import datetime

from calendars.status import PortalStatus

V2_ERROR_STATUSES = {"error", "permission_denied"}
# How the portal words a connection Meeting BaaS reports as revoked.
REVOKED_WORDING = "Access revoked (Meeting BaaS keeps the connection, paused)"


def v2_portal_status(
    status: str | None,
    *,
    synced_at: datetime | None,
    sync_status: str | None,
    status_message: str | None,
    sync_error: str | None,
) -> tuple[PortalStatus, str]:
    """Return the portal status and its message for a v2 connection's fields."""
    if status == "revoked":
        # Worded so that the status change alone says what happened (the home page charts
        # changes by their message; the remote status is not kept with them).
        said = f": {status_message}" if status_message else "."
        return PortalStatus.DISCONNECTED, f"{REVOKED_WORDING}{said}"
    if status in V2_ERROR_STATUSES:
        return PortalStatus.ERROR, status_message or f"Meeting BaaS reports status '{status}'."
    if sync_status == "failed":
        return PortalStatus.ERROR, sync_error or "The last sync failed."
    if status != "active":
        # An unknown value must not pass for healthy: show it to support staff as an error.
        return PortalStatus.ERROR, f"Meeting BaaS reported an unknown status {status!r}."
    if synced_at is None:
        return PortalStatus.SYNCING, ""
    return PortalStatus.ACTIVE, ""


def v1_portal_status(*, has_synced: bool) -> tuple[PortalStatus, str]:
    """v1 carries no status: a readable calendar is active once a sync has been seen."""
    return (PortalStatus.ACTIVE if has_synced else PortalStatus.SYNCING), ""
