"""The admin home's dashboard, for people allowed to see integrations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from urllib.parse import urlencode

from django import template
from django.conf import settings
from django.contrib import admin
from django.db import models
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from calendars.actions import lost_refreshes
from calendars.consent import links, outreach
from calendars.lib.durations import duration_words
from calendars.limits import daily_bots
from calendars.meetings import risk
from calendars.models import ActionRecord, Credential, Integration, OAuthApp, StatusChange
from calendars.outage import breaker
from calendars.queries import dashboard, expiry, missed
from calendars.queries.diagnosis import Fix
from calendars.queries.fixes import ACTED_ON, FixButton
from calendars.queries.reconciliation import latest_open_orphans
from calendars.roles import role_permissions
from calendars.status import PortalStatus

register = template.Library()
BAR_WIDTH = 240
ROW_HEIGHT = 26
# The problems chart: one column per day, stacked by cause.
COLUMN_HEIGHT = 120
COLUMN_WIDTH = 36
COLUMN_STEP = 52
# Messages longer than this show their start, the whole text one click away.
MESSAGE_SHOWN_CHARS = 160
# A group fixed on its credentials gives this many of them a fix button; the others are in
# the credentials list, one link away.
FIX_BUTTONS_SHOWN = 3
# Refreshes lost with a stopped worker, counted over this past.
LOST_SHOWN = timedelta(days=7)


@register.inclusion_tag("admin/calendars/dashboard.html", takes_context=True)
def portal_dashboard(context: template.Context) -> dict:
    request = context["request"]
    if not request.user.has_perm("calendars.view_integration"):
        return {"visible": False}
    changelist = reverse("admin:calendars_integration_changelist")
    credentials = reverse("admin:calendars_credential_changelist")
    now = timezone.now()
    # The kinds of problem, as of now, and their first rows, for the worklist and the queue.
    firsts = dashboard.read_firsts(dashboard.problem_kinds(now))
    statuses, providers = dashboard.integration_bars()
    return {
        "visible": True,
        # One notice for the whole outage, however many calls it makes fail.
        "outage": breaker.current(),
        "probe_seconds": settings.MEETINGBAAS_OUTAGE_PROBE_SECONDS,
        "charts": [
            _chart("By status", statuses),
            _chart("By provider", providers),
        ],
        "connections": _connections(statuses),
        "history": _problem_chart(dashboard.problems_by_day(), changelist),
        "changelist": changelist,
        "see_all": _filtered(changelist, dashboard.ANY_PROBLEM),
        "failed_checks": f"{credentials}?{urlencode({'last_check_ok__exact': 0})}",
        "worklist": _worklist(dashboard.worklist(firsts), changelist, credentials, request),
        "queue": _queue(request, firsts, now),
        "message_chars": MESSAGE_SHOWN_CHARS,
        "activity": [_activity(entry) for entry in dashboard.recent_activity()],
        "links_waiting": links.waiting_count(),
        "not_answered": outreach.not_answered_count(),
        "not_answered_url": reverse("admin:calendars_outreach_changelist")
        + "?state__exact=no_answer",
        "lost": lost_refreshes.lost_since(now - LOST_SHOWN),
        "lost_days": LOST_SHOWN.days,
        "not_done_url": reverse("admin:calendars_actionrecord_changelist") + "?outcome=failed",
        "links_url": reverse("admin:calendars_consentlink_changelist") + "?state=open",
        "at_risk": _meetings_at_risk(request),
        "missed": _missed_yesterday(request, now),
        "expiring": _expiring(request, now),
        "orphans": latest_open_orphans(),
    }


def _meetings_at_risk(request: HttpRequest) -> dict | None:
    """The lane that leads to "Meetings at risk", the morning view."""
    if not request.user.has_perm("calendars.view_meeting"):
        return None
    found = risk.find()
    return {
        "hours": settings.AT_RISK_HOURS,
        "found": found,
        "summary": risk.summary(found),
        "url": reverse("admin:calendars_meeting_at_risk"),
        # Tomorrow's bots against the plan's cap (one count): the UTC day, as Meeting BaaS's.
        "tomorrow_bots": daily_bots.tomorrows_bots(),
        "bot_cap": daily_bots.cap(),
    }


def _connections(statuses: list[dashboard.Bar]) -> dict:
    """The live integrations against the plan's connection cap, from the status bars' counts."""
    in_use = sum(bar.count for bar in statuses if bar.label != PortalStatus.DISCONNECTED)
    return {"in_use": in_use, "cap": settings.MEETINGBAAS_MAX_CALENDARS}


def _missed_yesterday(request: HttpRequest, now: datetime) -> dict | None:
    """The lane "Missed yesterday: N" (one indexed count), leading to "Missed meetings"."""
    if not request.user.has_perm("calendars.view_meeting"):
        return None
    days = missed.yesterday(now)
    query = urlencode({"start": days.first.isoformat(), "end": days.last.isoformat()})
    return {
        "count": missed.count_missed(days, now),
        "url": f"{reverse('admin:calendars_meeting_missed')}?{query}",
    }


def _filtered(changelist: str, code: str, customer_id: int | None = None) -> str:
    query = {dashboard.PARAMETER: code} | ({"customer": customer_id} if customer_id else {})
    return f"{changelist}?{urlencode(query)}"


def _chart(title: str, bars: list[dashboard.Bar]) -> dict:
    top = max((bar.count for bar in bars), default=0) or 1
    rows = [
        {"bar": bar, "width": round(BAR_WIDTH * bar.count / top), "y": index * ROW_HEIGHT}
        for index, bar in enumerate(bars)
    ]
    return {"title": title, "rows": rows, "height": len(rows) * ROW_HEIGHT}


def _worklist(
    worklist: dashboard.Worklist, changelist: str, credentials: str, request: HttpRequest
) -> dict:
    # The credential actions this person may run: a fix button only for those.
    allowed = admin.site.get_model_admin(Credential).get_actions(request)
    groups = []
    for group in worklist.groups:
        url, customer_urls = _group_links(group, changelist, credentials)
        groups.append(
            {
                "group": group,
                "url": url,
                "customers": [
                    {"share": share, "url": customer_url}
                    for share, customer_url in zip(group.customers, customer_urls, strict=True)
                ],
                "more_customers": group.customer_count - len(group.customers),
                **_fixes(group, credentials, allowed),
            }
        )
    return {
        "total": worklist.total,
        "integrations": worklist.integrations,
        "credentials": worklist.credentials,
        "groups": groups,
        "ungrouped": worklist.ungrouped,
        "counted_all": worklist.counted_all,
    }


def _group_links(
    group: dashboard.Group, changelist: str, credentials: str
) -> tuple[str, list[str]]:
    """Where a group and each customer it names link: the integrations list filtered to them,
    or for failed checks the credentials list, where their fixes are."""
    if group.noun != "credential":
        return _filtered(changelist, group.code), [
            _filtered(changelist, group.code, share.customer.pk) for share in group.customers
        ]
    failed = {"last_check_ok__exact": 0}
    return _credentials_url(group, credentials) or f"{credentials}?{urlencode(failed)}", [
        f"{credentials}?{urlencode(failed | {'customer': share.customer.pk})}"
        for share in group.customers
    ]


def _credentials_url(group: dashboard.Group, credentials: str) -> str:
    """The credentials list showing exactly the group's credentials, if they all fit in it."""
    if not group.credentials or group.credential_count > len(group.credentials):
        return ""
    ids = ",".join(str(ref.pk) for ref in group.credentials)
    return f"{credentials}?{urlencode({'id__in': ids})}"


def _fixes(group: dashboard.Group, credentials: str, allowed: dict) -> dict:
    """A group fixed on its credentials: a button each for the first few (the action's own
    confirmation page, as on the credential's page), then the rest in the credentials list."""
    if group.fix is None or group.fix.value not in allowed:
        return {"fix_buttons": [], "more_credentials": 0, "credentials_url": ""}
    label = str(allowed[group.fix.value].description)
    shown = group.credentials[:FIX_BUTTONS_SHOWN]
    buttons = [
        FixButton(
            label, credentials, group.fix.value, ref.pk, recommended=False, on=ref.account_email
        )
        for ref in shown
    ]
    return {
        "fix_buttons": buttons,
        "more_credentials": group.credential_count - len(shown),
        "credentials_url": _credentials_url(group, credentials),
    }


def _queue(request: HttpRequest, firsts: dashboard.Firsts, now: datetime) -> list[dict]:
    entries = dashboard.needs_attention(firsts)
    rows = [_queue_row(entry, now) for entry in entries]
    if not request.user.has_perm("calendars.add_consentlink"):
        return rows
    # Entries the owner's new grant fixes offer a re-consent link, or say one is waiting.
    waiting = links.waiting_by_credential(row["credential"].pk for row in rows)
    for row in rows:
        fixes = row["diagnosis"].fixes if row["diagnosis"] else ()
        if Fix.RECONSENT_LINK in fixes:
            row["reconsent"] = {
                "waiting": waiting.get(row["credential"].pk),
                "url": reverse(
                    "admin:calendars_consentlink_reconsent", args=[row["credential"].pk]
                ),
            }
    return rows


def _queue_row(entry: dashboard.Problem | dashboard.FailedCheck, now: datetime) -> dict:
    moment = entry.moment
    if moment is None:
        length = ""
    elif isinstance(entry, dashboard.Problem) and entry.kind.ahead:
        length = f"lapses in {duration_words(moment - now)}"
    else:
        length = duration_words(now - moment)
    if isinstance(entry, dashboard.FailedCheck):
        credential = entry.credential
        target = {
            "label": f"Credential {credential}",
            "url": reverse("admin:calendars_credential_change", args=[credential.pk]),
        }
        problem, message = dashboard.FAILED_CHECK_LABEL, credential.last_check_message
    else:
        credential = entry.integration.credential
        target = _target(entry.integration)
        problem, message = entry.kind.label, entry.integration.error_message
    return {
        "target": target,
        "credential": credential,
        "customer": credential.customer,
        "account": credential.account_email,
        "problem": problem,
        "diagnosis": entry.diagnosis,
        "moment": moment,
        "length": length,
        "message": message,
    }


def _expiring(request: HttpRequest, now: datetime) -> dict:
    """The "Expiring soon" lane: each entry's break date and its fix, for those who may run it."""
    found = expiry.expiring_soon(now)
    # Asked only of the models an entry is fixed on (each asks every action's permission).
    actions = {
        model: admin.site.get_model_admin(model).get_actions(request)
        for model in {ACTED_ON[entry.fix] for entry in found.entries}
    }
    reconsents = [e.credential.pk for e in found.entries if e.fix is Fix.RECONSENT_LINK]
    waiting = links.waiting_by_credential(reconsents)
    rows = []
    for entry in found.entries:
        model = ACTED_ON[entry.fix]
        target = {Credential: entry.credential, OAuthApp: entry.oauth_app}.get(
            model, entry.integration
        )
        allowed = actions[model]
        buttons = []
        fixed_by = None
        if entry.fix.value not in allowed:
            fixed_by = _fixed_by(model, entry.fix)
        else:
            buttons.append(
                FixButton(
                    label=str(allowed[entry.fix.value].description),
                    changelist_url=reverse(f"admin:calendars_{model._meta.model_name}_changelist"),
                    action=entry.fix.value,
                    pk=target.pk,
                    recommended=False,
                    on="",
                    waiting=waiting.get(target.pk) if entry.fix is Fix.RECONSENT_LINK else None,
                )
            )
        shown = entry.integration or entry.credential or entry.oauth_app
        ahead = entry.breaks_at - now
        rows.append(
            {
                "target": _target(shown),
                "credential": entry.credential,
                "title": entry.title,
                "breaks_at": entry.breaks_at,
                "when": f"in {duration_words(ahead)}"
                if ahead.total_seconds() > 0
                else f"broke {duration_words(-ahead)} ago",
                "fix_buttons": buttons,
                "fixed_by": fixed_by,
            }
        )
    return {"rows": rows, "total": found.total, "days": settings.EXPIRY_WARNING_DAYS}


@dataclass(frozen=True)
class _RoleHolder:
    """Someone holding exactly a role's permissions: asks a model admin what the role may run."""

    permissions: frozenset[str]
    is_active = True
    is_staff = True
    is_superuser = False

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return perm in self.permissions

    def has_perms(self, perms: list[str], obj: object = None) -> bool:
        return all(perm in self.permissions for perm in perms)

    def has_module_perms(self, app_label: str) -> bool:
        return any(perm.startswith(f"{app_label}.") for perm in self.permissions)


def _fixed_by(model: type[models.Model], fix: Fix) -> dict | None:
    """For a fix the person may not run: its name and the roles that may, asked of the same
    permission checks as the action's own (so that support knows whom to ask)."""
    model_admin = admin.site.get_model_admin(model)
    roles = [
        role
        for role, permissions in role_permissions().items()
        if fix.value
        in model_admin.get_actions(
            SimpleNamespace(user=_RoleHolder(frozenset(permissions)), GET={})
        )
    ]
    action = model_admin.get_action(fix.value)
    if not roles or action is None:
        return None
    return {"label": str(action.description), "roles": roles}


def _problem_chart(history: dashboard.ProblemHistory, changelist: str) -> dict:
    top = max((sum(day.by_cause.values()) for day in history.days), default=0) or 1
    columns = []
    for index, day in enumerate(history.days):
        bottom = COLUMN_HEIGHT + 20
        segments = []
        for code, count in day.by_cause.items():
            height = max(1, round(COLUMN_HEIGHT * count / top))
            bottom -= height
            segments.append(
                {"code": code, "title": history.causes[code], "count": count}
                | {"y": bottom, "height": height}
            )
        columns.append(
            {
                "day": day.day,
                "x": 10 + index * COLUMN_STEP,
                "total": sum(day.by_cause.values()),
                "top": bottom,
                "segments": segments,
            }
        )
    legend = [
        {"code": code, "title": title, "url": _filtered(changelist, code)}
        for code, title in history.causes.items()
    ]
    return {
        "columns": columns,
        "legend": legend,
        "width": 20 + len(columns) * COLUMN_STEP,
        "height": COLUMN_HEIGHT + 40,
        "column_width": COLUMN_WIDTH,
        "baseline": COLUMN_HEIGHT + 20,
    }


def _activity(entry: StatusChange | ActionRecord) -> dict:
    if isinstance(entry, StatusChange):
        who = f", {entry.user}" if entry.user else ""
        return {
            "at": entry.changed_at,
            "target": _target(entry.integration),
            "text": f"{entry} ({entry.get_cause_display()}{who})",
        }
    target = entry.integration or entry.credential or entry.oauth_app or entry.raw_calendar
    failed = "" if entry.succeeded else f" ({entry.outcome})"
    return {
        "at": entry.at,
        "target": _target(target) if target else None,
        "text": f"{entry.action} by {entry.username}{failed}",
    }


def _target(obj: models.Model) -> dict:
    # An integration is named by its calendar alone: its current status beside an old entry
    # would read as the status at the time.
    label = obj.raw_calendar if isinstance(obj, Integration) else obj
    url = reverse(f"admin:calendars_{obj._meta.model_name}_change", args=[obj.pk])
    return {"label": str(label), "url": url}
