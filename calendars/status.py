"""The portal's statuses, why they change, and every rule for moving between them.

Rules only: no queries, no HTTP (Django's TextChoices and the clock-skew setting aside). The
Meeting BaaS client maps remote state onto these statuses (`meetingbaas/status.py`);
`Integration.move_to` is the one writer of a status and its `StatusChange`; the actions decide,
with the rules here, where an integration moves.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from django.db import models

from calendars.lib.remote_values import lies_ahead


class PortalStatus(enum.StrEnum):
    """The statuses support staff see, in the product guide's words."""

    SYNCING = "syncing"
    ACTIVE = "active"
    ERROR = "error"
    DISCONNECTED = "disconnected"


class Cause(models.TextChoices):
    """Why a status changed."""

    CREATED = "created", "Created"
    ADMIN_ACTION = "admin_action", "Admin action"
    REFRESH = "refresh", "Refresh"
    WEBHOOK = "webhook", "Webhook"
    # The account's owner granted access again through a consent link: nobody at the portal.
    OWNER_CONSENT = "owner_consent", "Owner's consent"


# API versions whose connections carry no status (v1): nothing remote can say an error is over,
# so only a sync of events ends it.
# Spelled as ApiVersion's values: the client's module imports this one, not the reverse.
STATUSLESS_VERSIONS = frozenset({"v1"})

# A push subscription lapsing within this long needs attention (and renewal).
EXPIRY_WARNING = timedelta(days=1)


def expiry_horizon(now: datetime) -> datetime:
    """Subscriptions lapsing before this moment are about to lapse."""
    return now + EXPIRY_WARNING


def expires_soon(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and expires_at < expiry_horizon(now)


def is_older(moment: datetime | None, held: datetime | None) -> bool:
    """Whether remote news from `moment` predates the newest remote state we hold.

    A held time in the future (stored before remote times were clamped) says nothing: it
    cannot pin the status.
    """
    return moment is not None and held is not None and moment < held and not lies_ahead(held)


def after_remote(api_version: str, current: str, reported: PortalStatus) -> PortalStatus:
    """The status an integration takes when Meeting BaaS reports `reported` for it."""
    if api_version in STATUSLESS_VERSIONS and current == PortalStatus.ERROR:
        return PortalStatus.ERROR
    return reported


def ended_by_sync(api_version: str, current: str) -> bool:
    """Whether a reported sync of events makes the integration active again."""
    if current == PortalStatus.SYNCING:
        return True
    return api_version in STATUSLESS_VERSIONS and current == PortalStatus.ERROR


def needs_detail(api_version: str, current: str, listed: PortalStatus) -> bool:
    """Whether a listed connection needs a GET of its own to settle the integration's status.

    The list omits error details, and on statusless versions only a GET (events seen) can end
    syncing.
    """
    if api_version in STATUSLESS_VERSIONS:
        return current == PortalStatus.SYNCING
    return listed != current or current == PortalStatus.ERROR


def is_deliberately_disconnected(status: str, cause: str) -> bool:
    """Disconnected by someone through the portal: history, not a problem to diagnose."""
    return status == PortalStatus.DISCONNECTED and cause == Cause.ADMIN_ACTION


# The v2 status of a connection whose grant its owner (or their admin) withdrew.
REVOKED = "revoked"


def is_revoked(status: str, cause: str, remote_status: str) -> bool:
    """Disconnected because Meeting BaaS reports the grant revoked: unlike a connection deleted
    or gone (404), it still exists there, and new credentials bring it back to active."""
    return (
        status == PortalStatus.DISCONNECTED
        and remote_status == REVOKED
        and not is_deliberately_disconnected(status, cause)
    )


def cause_of_news(cause: str, to_status: str) -> str:
    """The cause a status learned from Meeting BaaS is recorded under.

    A disconnection found while a person's action checked the connection (a 404, a revoked
    grant) is Meeting BaaS's news, not that person's decision: recorded as an admin action, it
    would read as disconnected on purpose, and no fix would be offered for it.
    """
    if to_status == PortalStatus.DISCONNECTED and cause == Cause.ADMIN_ACTION:
        return Cause.REFRESH
    return cause
