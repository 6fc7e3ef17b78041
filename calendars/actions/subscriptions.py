"""Push subscriptions (v2): renewed in bulk before they lapse."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from calendars.actions import bulk
from calendars.meetingbaas.types import ApiVersion
from calendars.models import BulkJob, BulkJobItem, Integration
from calendars.status import PortalStatus

# One renewal job takes at most this many integrations; the next hour takes the rest.
RENEWALS_PER_RUN = 5000


def renew_expiring_subscriptions() -> BulkJob | None:
    """Start a bulk job renewing the push subscriptions that lapse within the coming hours.

    Integrations already waiting in an unfinished renewal job are left to it, so a slow job
    is never doubled by the next hour's check.
    """
    lapse_before = timezone.now() + timedelta(hours=settings.SUBSCRIPTION_RENEW_HOURS)
    in_hand = BulkJobItem.objects.filter(
        job__kind=BulkJob.Kind.RESUBSCRIBE,
        job__finished_at__isnull=True,
        state=BulkJobItem.State.PENDING,
    ).values("integration_id")
    lapsing = list(
        Integration.objects.in_status(PortalStatus.ACTIVE)
        .filter(api_version=ApiVersion.V2, subscription_expires_at__lt=lapse_before)
        .exclude(pk__in=in_hand)
        .order_by("subscription_expires_at")
        # Only what the job's description names.
        .select_related("credential__customer")
        .only("credential__customer__name")[:RENEWALS_PER_RUN]
    )
    if not lapsing:
        return None
    return bulk.start(
        BulkJob.Kind.RESUBSCRIBE,
        [i.pk for i in lapsing],
        acting_user=None,
        description=f"{bulk.describe_target(lapsing)}, lapsing within "
        f"{settings.SUBSCRIPTION_RENEW_HOURS} h (scheduled)",
    )
