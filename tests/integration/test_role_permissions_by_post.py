"""Every model on the admin site, for every role, by direct POST to its add, change and delete
views: what each role may write is what the table below says, and a refused POST changes nothing.

The models are read from the admin site when the tests are collected, so a newly registered
model (the portal's, django-q2's, auth's, axes') fails here until the table says who may write it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import quote
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Model
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django_q.models import Failure, OrmQ, Schedule, Success

from calendars.models import (
    ActionRecord,
    BotPolicy,
    BulkJob,
    ConsentLink,
    Credential,
    Customer,
    Integration,
    Meeting,
    OAuthApp,
    Outreach,
    OutreachMessage,
    RawCalendar,
    Reconciliation,
    RefreshRun,
    StatusChange,
    SupportNotice,
    WebhookDelivery,
)
from calendars.queue import TASKS
from calendars.roles import ADMIN, AUDITOR, ROLES, SUPPORT
from calendars.status import Cause

NOBODY: frozenset[str] = frozenset()
ADMIN_ONLY = frozenset({ADMIN})
ADMIN_AND_SUPPORT = frozenset({ADMIN, SUPPORT})


@dataclass(frozen=True)
class May:
    """The roles that may add, change and delete a model's rows through the admin."""

    add: frozenset[str] = NOBODY
    change: frozenset[str] = NOBODY
    delete: frozenset[str] = NOBODY


READ_ONLY = May()

# The expected outcome of every POST below. Auditors write nothing; Support writes only what
# its calendar work needs (consent links are revoked by changing them, bot policies); rows made
# by the API, the queue or the login throttle are written by nobody here.
MAY: dict[str, May] = {
    "auth.Group": READ_ONLY,  # the three roles are kept by code (calendars/roles.py)
    "auth.User": May(add=ADMIN_ONLY, change=ADMIN_ONLY),
    "axes.AccessAttempt": READ_ONLY,
    "axes.AccessFailureLog": READ_ONLY,
    "axes.AccessLog": READ_ONLY,
    "calendars.ActionRecord": READ_ONLY,
    "calendars.BotPolicy": May(add=ADMIN_AND_SUPPORT, change=ADMIN_AND_SUPPORT),
    "calendars.BulkJob": READ_ONLY,
    "calendars.ConsentLink": May(change=ADMIN_AND_SUPPORT),
    "calendars.Credential": May(add=ADMIN_ONLY, change=ADMIN_ONLY, delete=ADMIN_ONLY),
    "calendars.Customer": May(add=ADMIN_ONLY, change=ADMIN_ONLY, delete=ADMIN_ONLY),
    "calendars.Integration": READ_ONLY,
    "calendars.Meeting": READ_ONLY,
    "calendars.OAuthApp": May(add=ADMIN_ONLY, change=ADMIN_ONLY, delete=ADMIN_ONLY),
    # Outreach is written by its task; a person takes one over with "Handle it myself".
    "calendars.Outreach": READ_ONLY,
    "calendars.OutreachMessage": READ_ONLY,
    "calendars.RawCalendar": May(delete=ADMIN_ONLY),
    "calendars.Reconciliation": READ_ONLY,
    "calendars.RefreshRun": READ_ONLY,
    "calendars.StatusChange": READ_ONLY,
    "calendars.SupportNotice": READ_ONLY,
    "calendars.WebhookDelivery": READ_ONLY,
    "django_q.Failure": READ_ONLY,
    "django_q.OrmQ": READ_ONLY,
    "django_q.Schedule": READ_ONLY,
    "django_q.Success": READ_ONLY,
}

# What the portal keeps as history: should any of these be registered, no role writes it.
HISTORY = {
    "calendars.ActionRecord",
    "calendars.BotAttempt",
    "calendars.BulkJob",
    "calendars.BulkJobItem",
    "calendars.IntegrationCount",
    "calendars.Reconciliation",
    "calendars.ReconciliationFinding",
    "calendars.RefreshRun",
    "calendars.StatusChange",
    "calendars.Outreach",
    "calendars.OutreachMessage",
    "calendars.SupportNotice",
    "calendars.WebhookDelivery",
}

REGISTERED = {model._meta.label: model for model in admin.site._registry}


# One existing row of each model, made with no API call.


def _customer(name: str = "Initech") -> Customer:
    return Customer.objects.create(name=name, external_ref=name.lower())


def _oauth_app() -> OAuthApp:
    return OAuthApp.objects.create(
        provider="google",
        name="Initech Google",
        client_id="789.apps.googleusercontent.com",
        client_secret="initech-client-secret",
    )


def _credential() -> Credential:
    return Credential.objects.create(
        customer=_customer(),
        oauth_app=_oauth_app(),
        account_email="carol@example.com",
        refresh_token="1//refresh:carol@example.com",
    )


def _raw_calendar() -> RawCalendar:
    return RawCalendar.objects.create(
        credential=_credential(), provider_id="carol@example.com", listed_at=timezone.now()
    )


def _integration() -> Integration:
    raw = _raw_calendar()
    return Integration.objects.create(
        credential=raw.credential,
        raw_calendar=raw,
        remote_id=uuid.uuid4(),
        api_version="v2",
        provider="google",
        status="active",
    )


def _meeting() -> Meeting:
    starts = timezone.now() + timedelta(hours=2)
    return Meeting.objects.create(
        integration=_integration(),
        remote_event_id=uuid.uuid4(),
        title="Customer call",
        starts_at=starts,
        ends_at=starts + timedelta(minutes=30),
        synced_at=timezone.now(),
    )


def _outreach() -> Outreach:
    return Outreach.objects.create(
        credential=_credential(), reason="token_refused", since=timezone.now()
    )


def _outreach_message() -> OutreachMessage:
    outreach = _outreach()
    return OutreachMessage.objects.create(
        outreach=outreach,
        customer=outreach.credential.customer,
        to="carol@example.com",
        reason=outreach.reason,
        delivery=OutreachMessage.Delivery.SENT,
    )


def _task(model: type[Success | Failure], succeeded: bool) -> Success | Failure:
    now = timezone.now()
    return model.objects.create(
        id=uuid.uuid4().hex,
        name="heartbeat-1",
        func=TASKS["heartbeat"],
        started=now,
        stopped=now,
        success=succeeded,
    )


def _role_holder() -> Model:
    user = get_user_model().objects.create_user("dana")
    user.groups.add(Group.objects.get(name=SUPPORT))
    return user


AXES_REQUEST = {
    "username": "mallory",
    "ip_address": "192.0.2.7",
    "user_agent": "curl",
    "http_accept": "*/*",
    "path_info": "/admin/login/",
}

ROWS: dict[str, Callable[[], Model]] = {
    "auth.Group": lambda: Group.objects.create(name="Scratch"),
    "auth.User": _role_holder,
    "axes.AccessAttempt": lambda: AccessAttempt.objects.create(
        **AXES_REQUEST, get_data="", post_data="", failures_since_start=1
    ),
    "axes.AccessFailureLog": lambda: AccessFailureLog.objects.create(**AXES_REQUEST),
    "axes.AccessLog": lambda: AccessLog.objects.create(**AXES_REQUEST),
    "calendars.ActionRecord": lambda: ActionRecord.objects.create(
        action="refresh status", username="someone", succeeded=True
    ),
    "calendars.BotPolicy": lambda: BotPolicy.objects.create(customer=_customer()),
    "calendars.BulkJob": lambda: BulkJob.objects.create(
        kind=BulkJob.Kind.RESYNC, description="Resync 1 integration"
    ),
    "calendars.ConsentLink": lambda: ConsentLink.objects.create(
        kind=ConsentLink.Kind.CONNECT,
        token_hash=uuid.uuid4().hex,
        customer=_customer(),
        expires_at=timezone.now() + timedelta(days=1),
    ),
    "calendars.Credential": _credential,
    "calendars.Customer": _customer,
    "calendars.Integration": _integration,
    "calendars.Meeting": _meeting,
    "calendars.OAuthApp": _oauth_app,
    "calendars.Outreach": _outreach,
    "calendars.OutreachMessage": _outreach_message,
    "calendars.RawCalendar": _raw_calendar,
    "calendars.Reconciliation": lambda: Reconciliation.objects.create(),
    "calendars.RefreshRun": lambda: RefreshRun.objects.create(
        api_version="v2", started_at=timezone.now()
    ),
    "calendars.StatusChange": lambda: StatusChange.objects.create(
        integration=_integration(), to_status="active", cause=Cause.CREATED
    ),
    "calendars.SupportNotice": lambda: SupportNotice.objects.create(
        kind=SupportNotice.Kind.PROBLEMS, text="New problems", url="http://testserver/admin/"
    ),
    "calendars.WebhookDelivery": lambda: WebhookDelivery.objects.create(
        api_version="v2", event="calendar.updated", delivery_id="delivery-1", payload={}
    ),
    "django_q.Failure": lambda: _task(Failure, succeeded=False),
    "django_q.OrmQ": lambda: OrmQ.objects.create(key="portal", payload="queued"),
    "django_q.Schedule": lambda: Schedule.objects.create(
        name="Scratch", func=TASKS["heartbeat"], schedule_type=Schedule.MINUTES, minutes=5
    ),
    "django_q.Success": lambda: _task(Success, succeeded=True),
}


def _no_fields(row: Model) -> dict:
    return {}


@dataclass(frozen=True)
class Form:
    """A valid form for a model someone may write: what is posted, given the existing row,
    and the field it sets (None where every field of the change page is read-only)."""

    add: Callable[[Model], dict] = _no_fields
    change: Callable[[Model], dict] = _no_fields
    sets: tuple[str, object] | None = None


def _bot_policy(customer: Customer, bot_name: str) -> dict:
    return {
        "customer": customer.pk,
        "mode": BotPolicy.Mode.SCHEDULED_ONLY,
        "bot_scope": "customer",
        "bot_name": bot_name,
        "recording_mode": "speaker_view",
    }


def _credential_form(row: Credential, account_email: str) -> dict:
    return {
        "customer": row.customer_id,
        "oauth_app": row.oauth_app_id,
        "account_email": account_email,
        "consented_at_0": "",
        "consented_at_1": "",
    }


# The same form is posted for every role, so a refusal is the permission's, not the data's.
FORMS: dict[str, Form] = {
    "auth.User": Form(
        add=lambda row: {
            "username": "erin",
            "usable_password": "false",
            "password1": "",
            "password2": "",
            "role": SUPPORT,
        },
        change=lambda row: {
            "username": row.username,
            "first_name": "Dana",
            "is_active": "on",
            "role": SUPPORT,
        },
        sets=("first_name", "Dana"),
    ),
    "calendars.BotPolicy": Form(
        add=lambda row: _bot_policy(_customer("Globex"), "Globex Notetaker"),
        change=lambda row: _bot_policy(row.customer, "Renamed Notetaker"),
        sets=("bot_name", "Renamed Notetaker"),
    ),
    "calendars.ConsentLink": Form(),
    "calendars.Credential": Form(
        add=lambda row: {
            **_credential_form(row, "dave@example.com"),
            "refresh_token": "1//refresh:dave@example.com",
        },
        change=lambda row: {**_credential_form(row, "carol.new@example.com"), "refresh_token": ""},
        sets=("account_email", "carol.new@example.com"),
    ),
    "calendars.Customer": Form(
        add=lambda row: {
            "name": "Globex",
            "external_ref": "globex",
            "notes": "",
            "outreach": "off",
        },
        change=lambda row: {
            "name": "Initech Inc",
            "external_ref": "initech",
            "notes": "",
            "outreach": "automatic",
        },
        sets=("name", "Initech Inc"),
    ),
    "calendars.OAuthApp": Form(
        add=lambda row: {
            "provider": "google",
            "name": "Globex Google",
            "client_id": "456.apps.googleusercontent.com",
            "client_secret": "globex-client-secret",
            "tenant": "",
            "publishing_status": "",
            "client_secret_expires_on": "",
        },
        change=lambda row: {
            "name": "Initech Google (prod)",
            "client_id": row.client_id,
            "client_secret": "",
            "publishing_status": "",
        },
        sets=("name", "Initech Google (prod)"),
    ),
}


def url(row: Model, view: str) -> str:
    name = f"admin:{row._meta.app_label}_{row._meta.model_name}_{view}"
    return reverse(name) if view == "add" else reverse(name, args=[quote(row.pk)])


@dataclass(frozen=True)
class Snapshot:
    rows: list[dict]  # every row of the model's table, a proxy's included
    logged: int  # the admin's log of what it changed


def snapshot(model: type[Model]) -> Snapshot:
    return Snapshot(list(model._base_manager.order_by("pk").values()), LogEntry.objects.count())


def assert_refused(response: HttpResponse, model: type[Model], before: Snapshot) -> None:
    assert response.status_code == 403
    assert snapshot(model) == before, "a refused POST changed the table or the admin's log"


@pytest.fixture
def as_role(role_client, sandbox):
    """A client signed in with `role`, and one row of `label` made after the sign-in (a
    credential's save is checked against the sandbox)."""

    def make(role: str, label: str) -> tuple[object, Model]:
        client = role_client(role)
        return client, ROWS[label]()

    return make


def test_every_model_on_the_admin_site_is_in_the_tables():
    # Subsets, not equality: django-q2 registers OrmQ only when the ORM is its broker.
    assert set(REGISTERED) - set(MAY) == set(), "each registered model needs its row in MAY"
    assert set(REGISTERED) - set(ROWS) == set(), "each registered model needs a way to make a row"
    writable = {label for label, may in MAY.items() if may.add or may.change}
    assert writable <= set(FORMS), "a model someone may add or change needs its form"


def test_history_is_written_by_no_role():
    assert [label for label in HISTORY & set(MAY) if MAY[label] != READ_ONLY] == []


def test_auditors_write_nothing():
    writes = {label: may.add | may.change | may.delete for label, may in MAY.items()}
    assert [label for label, roles in writes.items() if AUDITOR in roles] == []


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("label", sorted(REGISTERED))
def test_add_by_post(as_role, label, role):
    client, row = as_role(role, label)
    model = REGISTERED[label]
    before = snapshot(model)

    response = client.post(url(row, "add"), FORMS.get(label, Form()).add(row))

    if role in MAY[label].add:
        assert response.status_code == 302, response.content[:2000]
        assert model._base_manager.count() == len(before.rows) + 1
    else:
        assert_refused(response, model, before)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("label", sorted(REGISTERED))
def test_change_by_post(as_role, label, role):
    client, row = as_role(role, label)
    model = REGISTERED[label]
    form = FORMS.get(label, Form())
    before = snapshot(model)

    response = client.post(url(row, "change"), form.change(row))

    if role in MAY[label].change:
        assert response.status_code == 302, response.content[:2000]
        if form.sets is None:
            assert snapshot(model).rows == before.rows  # nothing on the page is editable
        else:
            field, value = form.sets
            assert getattr(model._base_manager.get(pk=row.pk), field) == value
    else:
        assert_refused(response, model, before)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("label", sorted(REGISTERED))
def test_delete_by_post(as_role, label, role):
    client, row = as_role(role, label)
    model = REGISTERED[label]
    before = snapshot(model)

    response = client.post(url(row, "delete"), {"post": "yes"})

    if role in MAY[label].delete:
        assert response.status_code == 302
        assert not model._base_manager.filter(pk=row.pk).exists()
    else:
        assert_refused(response, model, before)
