"""The portal's models, one module per responsibility; every one is importable from here, as
`from calendars.models import Integration`.

The modules depend one way: accounts, then integrations, then the rest (meetings, consent,
jobs, reconciliation, records), none of which imports another of the rest.
"""

from calendars.models.accounts import (
    Credential,
    Customer,
    OAuthApp,
    PublishingStatus,
    RawCalendar,
    grant_last_used_at,
)
from calendars.models.consent import ConsentLink, Outreach, OutreachMessage
from calendars.models.integrations import (
    Integration,
    IntegrationCount,
    IntegrationQuerySet,
    ProblemCount,
    ProblemDay,
    StatusChange,
    classify_again,
)
from calendars.models.jobs import BulkJob, BulkJobItem, Heartbeat, RefreshRun, ServiceOutage
from calendars.models.meetings import BotAttempt, BotPolicy, CoverageDay, Meeting, SharedMeeting
from calendars.models.reconciliation import (
    Reconciliation,
    ReconciliationFinding,
    ReconciliationListed,
)
from calendars.models.records import ActionRecord, MetricTotal, SupportNotice, WebhookDelivery

__all__ = [
    "ActionRecord",
    "BotAttempt",
    "BotPolicy",
    "BulkJob",
    "BulkJobItem",
    "ConsentLink",
    "CoverageDay",
    "Credential",
    "Customer",
    "Heartbeat",
    "Integration",
    "IntegrationCount",
    "IntegrationQuerySet",
    "Meeting",
    "MetricTotal",
    "OAuthApp",
    "Outreach",
    "OutreachMessage",
    "ProblemCount",
    "ProblemDay",
    "PublishingStatus",
    "RawCalendar",
    "Reconciliation",
    "ReconciliationFinding",
    "ReconciliationListed",
    "RefreshRun",
    "ServiceOutage",
    "SharedMeeting",
    "StatusChange",
    "SupportNotice",
    "WebhookDelivery",
    "classify_again",
    "grant_last_used_at",
]
