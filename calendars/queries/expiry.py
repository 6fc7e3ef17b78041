"""What will break on a known date, seen EXPIRY_WARNING_DAYS ahead: the "Expiring soon" lane.

One rule per kind of expiry, each read in SQL, each saying when it breaks and what fixes it:
- grants of Google apps in Testing die 7 days after consent (a re-consent link);
- Microsoft client secrets expire on the date Entra gave them (rotate the client secret);
- Microsoft refresh tokens die after 90 days unused (a re-consent link);
- push subscriptions the renewal job could not renew lapse (renew the subscription).
An entry stays listed after its date, saying it has broken, until it is fixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from calendars.meetingbaas.types import ApiVersion, Platform
from calendars.models import (
    BulkJob,
    BulkJobItem,
    Credential,
    Integration,
    OAuthApp,
    PublishingStatus,
    grant_last_used_at,
)
from calendars.queries.diagnosis import Fix

# Google revokes every refresh token of an app in Testing this long after consent.
GOOGLE_TESTING_GRANT = timedelta(days=7)
# A Microsoft refresh token not used for this long is dead.
MICROSOFT_UNUSED_GRANT = timedelta(days=90)
LISTED = 50
# The Google apps whose grants end 7 days after consent.
IN_TESTING = Q(provider=Platform.GOOGLE, publishing_status=PublishingStatus.TESTING)

TESTING_GRANT = "testing_grant"
CLIENT_SECRET_EXPIRY = "client_secret_expiry"  # noqa: S105 - a rule code
UNUSED_GRANT = "unused_grant"
SUBSCRIPTION = "subscription"
TITLES = {
    TESTING_GRANT: "Google app in Testing: the grant ends 7 days after consent",
    CLIENT_SECRET_EXPIRY: "Microsoft client secret expires",
    UNUSED_GRANT: "Microsoft refresh token unused for 90 days",
    SUBSCRIPTION: "Push subscription the renewal job could not renew",
}
FIXES = {
    TESTING_GRANT: Fix.RECONSENT_LINK,
    CLIENT_SECRET_EXPIRY: Fix.ROTATE_CLIENT_SECRET,
    UNUSED_GRANT: Fix.RECONSENT_LINK,
    SUBSCRIPTION: Fix.RESUBSCRIBE,
}


@dataclass(frozen=True)
class Expiry:
    rule: str
    breaks_at: datetime
    credential: Credential | None = None
    oauth_app: OAuthApp | None = None
    integration: Integration | None = None

    @property
    def title(self) -> str:
        return TITLES[self.rule]

    @property
    def fix(self) -> Fix:
        return FIXES[self.rule]


@dataclass(frozen=True)
class Expiring:
    entries: list[Expiry]  # the first LISTED, the soonest first
    total: int


def horizon(now: datetime) -> datetime:
    """What breaks before this moment is listed."""
    return now + timedelta(days=settings.EXPIRY_WARNING_DAYS)


def grants_in_testing(now: datetime, apps: list[int] | None = None) -> QuerySet[Credential]:
    """Credentials of Google apps in Testing (`apps`, when read already), with `granted_at`:
    consent, else the token's."""
    # The apps first (a handful of rows): joined, the planner may walk every credential in
    # the order of another index, checking each one's app, when no app is in Testing at all.
    if apps is None:
        apps = list(OAuthApp.objects.filter(IN_TESTING).values_list("pk", flat=True))
    return (
        Credential.objects.filter(oauth_app__in=apps)
        .annotate(granted_at=Coalesce("consented_at", "refresh_token_replaced_at", "created_at"))
        .filter(granted_at__lt=horizon(now) - GOOGLE_TESTING_GRANT)
    )


def expiring_client_secrets(now: datetime) -> list[OAuthApp]:
    """Microsoft apps whose client secret expires before the horizon (a handful of rows)."""
    apps = OAuthApp.objects.filter(_secret_expiring(now)).order_by("client_secret_expires_on", "pk")
    return [app for app in apps if _secret_breaks(app, now)]


def _secret_expiring(now: datetime) -> Q:
    return Q(
        provider=Platform.MICROSOFT,
        client_secret_expires_on__lte=timezone.localdate(horizon(now)),
    )


def _secret_breaks(app: OAuthApp, now: datetime) -> bool:
    return app.client_secret_expires_on is not None and (
        start_of(app.client_secret_expires_on) < horizon(now)
    )


def unused_grants(now: datetime) -> QuerySet[Credential]:
    """Microsoft credentials with `used_at`: the last use, consent or new token, whichever is
    latest (each gives a fresh 90 days), read through its index."""
    return (
        Credential.objects.filter(oauth_app__provider=Platform.MICROSOFT)
        .annotate(used_at=grant_last_used_at())
        .filter(used_at__lt=horizon(now) - MICROSOFT_UNUSED_GRANT)
    )


def unrenewed_subscriptions(now: datetime) -> QuerySet[Integration]:
    """Live v2 integrations whose subscription lapses soon and whose last renewal failed."""
    renewals = BulkJobItem.objects.filter(job__kind=BulkJob.Kind.RESUBSCRIBE)
    later = renewals.filter(integration=OuterRef("integration"), pk__gt=OuterRef("pk"))
    # Read from the failed renewals (few), not from every subscription lapsing within the
    # warning (with EXPIRY_WARNING_DAYS at 7, most of them): one renewal lookup per row of those
    # was the home page's slowest query.
    last_failed = renewals.filter(
        state__in=[BulkJobItem.State.FAILED, BulkJobItem.State.NOT_FIXED]
    ).exclude(Exists(later))
    return (
        Integration.objects.live()
        .filter(api_version=ApiVersion.V2, subscription_expires_at__lt=horizon(now))
        .filter(pk__in=last_failed.values("integration_id"))
    )


def expiring_soon(now: datetime | None = None, limit: int = LISTED) -> Expiring:
    """Everything the rules list, the soonest to break first: one query for the OAuth apps (a
    handful), one per rule on credentials and integrations, and a count only for a rule with
    more than `limit` entries."""
    now = now or timezone.now()
    apps = OAuthApp.objects.filter(IN_TESTING | _secret_expiring(now))
    apps = list(apps.order_by("client_secret_expires_on", "pk"))
    in_testing = [app.pk for app in apps if app.provider == Platform.GOOGLE]
    secrets = [
        app for app in apps if app.provider == Platform.MICROSOFT and _secret_breaks(app, now)
    ]
    with_account = ("customer", "oauth_app")
    testing = grants_in_testing(now, in_testing).select_related(*with_account)
    testing = testing.order_by("granted_at", "pk")
    unused = unused_grants(now).select_related(*with_account).order_by("used_at", "pk")
    lapsing = (
        unrenewed_subscriptions(now)
        .select_related("raw_calendar", "credential__customer")
        .order_by("subscription_expires_at", "pk")
    )
    # One more than listed: a rule with no more than `limit` needs no count.
    testing_read, unused_read, lapsing_read = (
        list(rows[: limit + 1]) for rows in (testing, unused, lapsing)
    )
    entries = [
        *(
            Expiry(TESTING_GRANT, c.granted_at + GOOGLE_TESTING_GRANT, credential=c)
            for c in testing_read[:limit]
        ),
        *(
            Expiry(UNUSED_GRANT, c.used_at + MICROSOFT_UNUSED_GRANT, credential=c)
            for c in unused_read[:limit]
        ),
        *(
            Expiry(SUBSCRIPTION, i.subscription_expires_at, integration=i, credential=i.credential)
            for i in lapsing_read[:limit]
        ),
        *(
            Expiry(CLIENT_SECRET_EXPIRY, start_of(a.client_secret_expires_on), oauth_app=a)
            for a in secrets
        ),
    ]
    entries.sort(key=lambda entry: entry.breaks_at)
    total = len(secrets) + sum(
        rows.count() if len(read) > limit else len(read)
        for rows, read in ((testing, testing_read), (unused, unused_read), (lapsing, lapsing_read))
    )
    return Expiring(entries[:limit], total)


def start_of(day: date) -> datetime:
    """A date's first moment in the portal's time zone: when a secret "expiring on" it breaks."""
    return timezone.make_aware(datetime.combine(day, time.min))
