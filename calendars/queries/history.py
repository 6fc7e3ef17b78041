"""Connection history for auditors: a readable timeline per object, and a streamed export.

The sources are the status timeline (StatusChange), what people asked for (ActionRecord),
what was asked of meetings' bots (BotAttempt, by a person or the bot policy), field changes
(django-simple-history's records of customers, OAuth apps, credentials, integrations, bot
policies and consent links, secrets excluded), webhook deliveries, and, on one object's page,
the admin's own log (LogEntry).

Values stay as they were read (times as datetimes): the CSV writes them ISO 8601, the pages
in words (calendars/admin/common.py).
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import islice

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import F, Model, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from calendars.lib.spreadsheets import spreadsheet_rows
from calendars.models import (
    ActionRecord,
    BotAttempt,
    BotPolicy,
    ConsentLink,
    Credential,
    Customer,
    Integration,
    OAuthApp,
    StatusChange,
    WebhookDelivery,
)
from calendars.status import Cause

# History keeps no secret; these timestamps say one changed, and are shown as "replaced".
SECRET_MARKERS = {
    "client_secret_replaced_at": "client secret",
    "refresh_token_replaced_at": "refresh token",
    "transcription_api_key_replaced_at": "transcription API key",
}
REPLACED = "replaced"
# What the admin's log says when its entry carries no message of its own.
LOGGED = {ADDITION: "Added.", CHANGE: "Changed.", DELETION: "Deleted."}
CHUNK = 2000
# actions/bulk.py names the job in the action rows it writes ("queued in bulk job 3", "re-run
# bulk job 3"); ActionRecord has no job column, so pages find the job in those words to link it.
BULK_JOB_MENTION = re.compile(r"\bbulk job (\d+)\b")
# Each id sits beside what a person recognises it by (names as they are now; a change row's
# before and after say what they were).
EXPORT_COLUMNS = [
    "time",
    "kind",
    "customer",
    "integration",
    "calendar",
    "Meeting BaaS id",
    "credential",
    "account e-mail",
    "OAuth app",
    "user",
    "summary",
    "field",
    "before",
    "after",
]


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # status, action, bot, change, webhook, admin
    user: str
    summary: str
    integration_id: int | None = None
    credential_id: int | None = None
    customer: str = ""
    # (field, before, after), the values as read: None, a datetime, a bool, text, REPLACED.
    changes: tuple[tuple[str, object, object], ...] = ()
    calendar: str = ""
    remote_id: str = ""
    account_email: str = ""
    oauth_app: str = ""


# What an entry is about, loaded with its row (select_related) so no entry costs a query.
INTEGRATION_NAMES = (
    "integration__raw_calendar",
    "integration__credential__customer",
    "integration__credential__oauth_app",
)
CREDENTIAL_NAMES = ("credential__customer", "credential__oauth_app")
ACTION_NAMES = (*INTEGRATION_NAMES, *CREDENTIAL_NAMES, "oauth_app", "raw_calendar")
CONSENT_LINK_NAMES = ("history_user", "customer", "credential__customer", "credential__oauth_app")


def integration_timeline(integration: Integration, limit: int = 100) -> list[Entry]:
    """The newest `limit` events of one integration, newest first."""
    statuses = integration.status_changes.select_related("user", *INTEGRATION_NAMES)
    statuses = statuses.order_by("-changed_at", "-id")[:limit]
    actions = integration.action_records.select_related(*ACTION_NAMES)
    actions = actions.order_by("-at", "-id")[:limit]
    bots = BotAttempt.objects.filter(integration=integration).select_related(*INTEGRATION_NAMES)
    bots = bots.order_by("-at", "-id")[:limit]
    changes = integration.history.select_related("history_user", "raw_calendar", *CREDENTIAL_NAMES)
    changes = changes.order_by("-history_id")[:limit]
    webhooks = integration.webhook_deliveries.select_related(*INTEGRATION_NAMES)
    webhooks = webhooks.order_by("-received_at", "-id")[:limit]
    return _newest(
        limit,
        (_status_entry(s) for s in statuses),
        (_action_entry(a) for a in actions),
        (_bot_entry(b) for b in bots),
        _change_entries(list(changes)),
        (_webhook_entry(w) for w in webhooks),
        _admin_log(integration, limit),
    )


def credential_timeline(credential: Credential, limit: int = 100) -> list[Entry]:
    """The newest `limit` events of one credential (its token replacements and consent-link
    outcomes among them), newest first."""
    actions = credential.action_records.select_related(*ACTION_NAMES)
    actions = actions.order_by("-at", "-id")[:limit]
    changes = credential.history.select_related("history_user", "customer", "oauth_app")
    changes = changes.order_by("-history_id")[:limit]
    links = ConsentLink.history.filter(credential_id=credential.pk)
    links = links.select_related(*CONSENT_LINK_NAMES).order_by("-history_id")[:limit]
    return _newest(
        limit,
        (_action_entry(a) for a in actions),
        _change_entries(list(changes)),
        _change_entries(list(links)),
        _admin_log(credential, limit),
    )


def oauth_app_timeline(app: OAuthApp, limit: int = 100) -> list[Entry]:
    """The newest `limit` events of one OAuth app (its secret rotations among them)."""
    actions = app.action_records.select_related(*ACTION_NAMES).order_by("-at", "-id")[:limit]
    changes = app.history.select_related("history_user").order_by("-history_id")[:limit]
    return _newest(
        limit,
        (_action_entry(a) for a in actions),
        _change_entries(list(changes)),
        _admin_log(app, limit),
    )


def customer_timeline(customer: Customer, limit: int = 100) -> list[Entry]:
    """The newest `limit` changes of one customer, its bot policy's and its consent links'."""
    changes = customer.history.select_related("history_user").order_by("-history_id")[:limit]
    policies = BotPolicy.history.filter(customer_id=customer.pk)
    policies = policies.select_related("history_user", "customer").order_by("-history_id")[:limit]
    links = ConsentLink.history.filter(customer_id=customer.pk)
    links = links.select_related(*CONSENT_LINK_NAMES).order_by("-history_id")[:limit]
    return _newest(
        limit,
        _change_entries(list(changes)),
        _change_entries(list(policies)),
        _change_entries(list(links)),
        _admin_log(customer, limit),
    )


def bot_policy_timeline(policy: BotPolicy, limit: int = 100) -> list[Entry]:
    """The newest `limit` changes of one bot policy (its key replacements among them)."""
    changes = policy.history.select_related("history_user", "customer")
    changes = changes.order_by("-history_id")[:limit]
    return _newest(limit, _change_entries(list(changes)), _admin_log(policy, limit))


TIMELINES = {
    Integration: integration_timeline,
    Credential: credential_timeline,
    OAuthApp: oauth_app_timeline,
    Customer: customer_timeline,
    BotPolicy: bot_policy_timeline,
}


def object_timeline(obj: Model, limit: int = 100) -> list[Entry]:
    """The newest `limit` events of any object with a timeline, newest first."""
    return TIMELINES[type(obj)](obj, limit)


def export_entries(
    *,
    start: date | None = None,
    end: date | None = None,
    customer_id: int | None = None,
    integration_id: int | None = None,
    credential_id: int | None = None,
) -> Iterator[Entry]:
    """Every history entry matching the filters, oldest first, read in bounded chunks."""
    window = _window(start, end)
    wanted = {"customer": customer_id, "integration": integration_id, "credential": credential_id}
    wanted = {scope: value for scope, value in wanted.items() if value is not None}

    def scoped(qs: QuerySet, time_field: str, lookups: dict[str, list[str]]) -> QuerySet:
        qs = qs.filter(**{f"{time_field}__{op}": moment for op, moment in window.items()})
        for scope, value in wanted.items():
            paths = lookups.get(scope, [])
            condition = Q(pk__in=[])  # a source with no path to the scope has nothing in it
            for path in paths:
                condition |= Q(**{path: value})
            qs = qs.filter(condition)
        return qs.order_by(time_field, "pk")

    through_integration = {
        "customer": ["integration__credential__customer_id"],
        "integration": ["integration_id"],
        "credential": ["integration__credential_id"],
    }
    statuses = scoped(
        StatusChange.objects.select_related("user", *INTEGRATION_NAMES),
        "changed_at",
        through_integration,
    )
    actions = scoped(
        ActionRecord.objects.select_related(*ACTION_NAMES),
        "at",
        {
            "customer": ["integration__credential__customer_id", "credential__customer_id"],
            "integration": ["integration_id"],
            "credential": ["credential_id", "integration__credential_id"],
        },
    )
    integration_changes = scoped(
        Integration.history.select_related("history_user", "raw_calendar", *CREDENTIAL_NAMES),
        "history_date",
        {
            "customer": ["credential__customer_id"],
            "integration": ["id"],
            "credential": ["credential_id"],
        },
    )
    credential_changes = scoped(
        Credential.history.select_related("history_user", "customer", "oauth_app"),
        "history_date",
        {"customer": ["customer_id"], "credential": ["id"]},
    )
    customer_changes = scoped(
        Customer.history.select_related("history_user"), "history_date", {"customer": ["id"]}
    )
    # An OAuth app serves many customers: its changes (like the actions on it) belong to no
    # customer, credential or integration, so only an unscoped export holds them.
    oauth_app_changes = scoped(OAuthApp.history.select_related("history_user"), "history_date", {})
    bots = scoped(BotAttempt.objects.select_related(*INTEGRATION_NAMES), "at", through_integration)
    policy_changes = scoped(
        BotPolicy.history.select_related("history_user", "customer"),
        "history_date",
        {"customer": ["customer_id"]},
    )
    consent_link_changes = scoped(
        ConsentLink.history.select_related(*CONSENT_LINK_NAMES),
        "history_date",
        {"customer": ["customer_id"], "credential": ["credential_id"]},
    )
    webhooks = scoped(
        WebhookDelivery.objects.select_related(*INTEGRATION_NAMES),
        "received_at",
        through_integration,
    )
    return heapq.merge(
        (_status_entry(s) for s in statuses.iterator(chunk_size=CHUNK)),
        (_action_entry(a) for a in actions.iterator(chunk_size=CHUNK)),
        (_bot_entry(b) for b in bots.iterator(chunk_size=CHUNK)),
        _chunked_changes(integration_changes),
        _chunked_changes(credential_changes),
        _chunked_changes(customer_changes),
        _chunked_changes(oauth_app_changes),
        _chunked_changes(policy_changes),
        _chunked_changes(consent_link_changes),
        (_webhook_entry(w) for w in webhooks.iterator(chunk_size=CHUNK)),
        key=lambda e: e.at,
    )


def status_then(integration: str = "integration", moment: str = "at") -> Coalesce:
    """The status `integration` had at each row's `moment`, for one query per list page.

    The last StatusChange at or before the moment says it; an integration with no change
    recorded by then (rows older than the status history) has had its current status since.
    """
    last_change = StatusChange.objects.filter(
        integration=OuterRef(integration), changed_at__lte=OuterRef(moment)
    ).order_by("-changed_at", "-id")
    return Coalesce(Subquery(last_change.values("to_status")[:1]), F(f"{integration}__status"))


def csv_rows(entries: Iterable[Entry]) -> Iterator[list[str]]:
    """The export's rows, every cell safe to open in a spreadsheet: one per entry or changed field.

    Remote text and what people type reach the cells: `spreadsheet_rows` neutralises them.
    """
    yield EXPORT_COLUMNS
    yield from spreadsheet_rows(_raw_rows(entries))


def _raw_rows(entries: Iterable[Entry]) -> Iterator[list[str]]:
    for e in entries:
        base = [
            e.at.isoformat(),
            e.kind,
            e.customer,
            str(e.integration_id or ""),
            e.calendar,
            e.remote_id,
            str(e.credential_id or ""),
            e.account_email,
            e.oauth_app,
            e.user,
            e.summary,
        ]
        for field, before, after in e.changes or [("", "", "")]:
            yield [*base, field, _cell(before), _cell(after)]


def _cell(value: object) -> str:
    """A change's value as the CSV keeps it: machine-readable, times in ISO 8601."""
    return value.isoformat() if isinstance(value, date) else _text(value)


def _window(start: date | None, end: date | None) -> dict[str, datetime]:
    window = {}
    if start:
        window["gte"] = timezone.make_aware(datetime.combine(start, time.min))
    if end:
        window["lt"] = timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min))
    return window


def _name(user: Model | None) -> str:
    return user.get_username() if user is not None else "system"


def _about_credential(credential: Credential | None) -> dict[str, object]:
    """The names an entry about `credential` carries (its related rows selected with it)."""
    if credential is None:
        return {}
    return {
        "credential_id": credential.pk,
        "account_email": credential.account_email,
        "customer": credential.customer.name,
        "oauth_app": credential.oauth_app.name,
    }


def _about_integration(integration: Integration | None) -> dict[str, object]:
    if integration is None:
        return {}
    return {
        **_about_credential(integration.credential),
        "integration_id": integration.pk,
        "calendar": _text(integration.raw_calendar),
        "remote_id": str(integration.remote_id),
    }


def _newest(limit: int, *sources: Iterable[Entry]) -> list[Entry]:
    """The newest `limit` entries of the sources (each already cut to its own newest `limit`)."""
    entries = [entry for source in sources for entry in source]
    return sorted(entries, key=lambda e: e.at, reverse=True)[:limit]


def _admin_log(obj: Model, limit: int) -> Iterator[Entry]:
    """What the admin's own log (LogEntry) says of `obj`: additions, edits and deletions made
    on its forms."""
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
    )
    for log in entries.select_related("user").order_by("-action_time", "-id")[:limit]:
        said = log.get_change_message() or LOGGED[log.action_flag]
        yield Entry(log.action_time, "admin", _name(log.user), f"admin form: {said}")


def _status_entry(change: StatusChange) -> Entry:
    moved = (
        f"{change.from_status} → {change.to_status}"
        if change.from_status
        else f"set to {change.to_status}"
    )
    text = f"status {moved} ({change.get_cause_display()})"
    if change.message:
        text += f": {change.message}"
    about = _about_integration(change.integration)
    return Entry(change.changed_at, "status", _status_actor(change, about), text, **about)


def _status_actor(change: StatusChange, about: dict[str, object]) -> str:
    """Who moved the status: the person, the account's owner granting access again, or the
    portal."""
    if change.user is None and change.cause == Cause.OWNER_CONSENT:
        return f"owner of {about.get('account_email') or 'the account'}"
    return _name(change.user)


def _action_entry(record: ActionRecord) -> Entry:
    text = f"{record.action} ({record.outcome})" + (f": {record.message}" if record.message else "")
    about = {**_about_integration(record.integration), **_about_credential(record.credential)}
    if record.oauth_app is not None:
        about["oauth_app"] = record.oauth_app.name
    if record.raw_calendar is not None and "calendar" not in about:
        about["calendar"] = str(record.raw_calendar)  # a create that failed: no integration
    return Entry(record.at, "action", record.username, text, **about)


def _bot_entry(attempt: BotAttempt) -> Entry:
    outcome = "done" if attempt.succeeded else "failed"
    meeting = attempt.meeting_title or f"event {attempt.remote_event_id}"
    text = f"bot: {attempt.get_action_display()} on {meeting} ({outcome})"
    if attempt.message:
        text += f": {attempt.message}"
    about = _about_integration(attempt.integration)
    return Entry(attempt.at, "bot", attempt.username, text, **about)


def _webhook_entry(delivery: WebhookDelivery) -> Entry:
    text = f"webhook {delivery.event}: {delivery.get_outcome_display()}"
    about = {"integration_id": delivery.integration_id, **_about_integration(delivery.integration)}
    if delivery.integration is None and delivery.remote_id:
        about["remote_id"] = str(delivery.remote_id)  # a connection the portal does not know
    return Entry(delivery.received_at, "webhook", "Meeting BaaS", text, **about)


def _chunked_changes(records: QuerySet) -> Iterator[Entry]:
    iterator = records.iterator(chunk_size=CHUNK)
    while chunk := list(islice(iterator, CHUNK)):
        yield from _change_entries(chunk)


def _change_entries(records: list) -> Iterator[Entry]:
    if not records:
        return
    previous = _previous_records(records)
    for record in records:
        prev = previous.get(record.history_id)
        changes = _changes(record, prev)
        if record.history_type == "~" and not changes:
            continue  # a save that changed only fields history leaves out
        verb = {"+": "created", "~": "changed", "-": "deleted"}[record.history_type]
        model = record.instance_type._meta.verbose_name
        yield Entry(
            record.history_date,
            "change",
            _name(record.history_user),
            f"{model} {verb}",
            changes=changes,
            **_about_record(record),
        )


def _about_record(record: Model) -> dict[str, object]:
    """The names a field-history row carries: its own values as saved, its relations' today."""
    model = record.instance_type
    if model is Integration:
        return {
            **_about_credential(record.credential),
            "integration_id": record.id,
            "credential_id": record.credential_id,
            "calendar": _text(record.raw_calendar),
            "remote_id": str(record.remote_id),
        }
    if model is Credential:
        return {
            "credential_id": record.id,
            "account_email": record.account_email,
            "customer": _text(record.customer),
            "oauth_app": _text(record.oauth_app and record.oauth_app.name),
        }
    if model is Customer:
        return {"customer": record.name}
    if model is OAuthApp:
        return {"oauth_app": record.name}
    if model is BotPolicy:
        return {"customer": _text(record.customer)}
    if model is ConsentLink:
        return {**_about_credential(record.credential), "customer": _text(record.customer)}
    raise TypeError(f"no history export for {model.__name__}")


def _previous_records(records: list) -> dict[int, Model]:
    """Each record's predecessor for the same object, fetched in two queries per chunk."""
    model = type(records[0])
    before = model.objects.filter(
        id=OuterRef("id"), history_id__lt=OuterRef("history_id")
    ).order_by("-history_id")
    pairs = dict(
        model.objects.filter(history_id__in=[r.history_id for r in records])
        .annotate(prev_id=Subquery(before.values("history_id")[:1]))
        .values_list("history_id", "prev_id")
    )
    found = model.objects.in_bulk([p for p in pairs.values() if p], field_name="history_id")
    return {history_id: found.get(prev_id) for history_id, prev_id in pairs.items() if prev_id}


def _changes(record: Model, prev: Model | None) -> tuple[tuple[str, object, object], ...]:
    if prev is None:
        return ()
    out = []
    for change in record.diff_against(prev).changes:
        if change.field in SECRET_MARKERS:
            out.append((SECRET_MARKERS[change.field], "", REPLACED))
        else:
            label = str(record.instance_type._meta.get_field(change.field).verbose_name)
            out.append((label, change.old, change.new))
    return tuple(out)


def _text(value: object) -> str:
    return "" if value is None else str(value)
