"""The admin home's dashboard, for people allowed to see integrations."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from django import template
from django.db import models
from django.urls import reverse
from django.utils import timezone

from calendars.admin.attention import PARAMETER
from calendars.lib.durations import duration_words
from calendars.models import ActionRecord, Integration, StatusChange
from calendars.queries import dashboard

register = template.Library()
BAR_WIDTH = 240
ROW_HEIGHT = 26
# The problems chart: one column per day, stacked by cause.
COLUMN_HEIGHT = 120
COLUMN_WIDTH = 36
COLUMN_STEP = 52
# Messages longer than this show their start, the whole text one click away.
MESSAGE_SHOWN_CHARS = 160


@register.inclusion_tag("admin/calendars/dashboard.html", takes_context=True)
def portal_dashboard(context: template.Context) -> dict:
    request = context["request"]
    if not request.user.has_perm("calendars.view_integration"):
        return {"visible": False}
    changelist = reverse("admin:calendars_integration_changelist")
    now = timezone.now()
    return {
        "visible": True,
        "charts": [
            _chart("By status", dashboard.status_bars()),
            _chart("By provider", dashboard.provider_bars()),
        ],
        "history": _problem_chart(dashboard.problems_by_day(), changelist),
        "changelist": changelist,
        "see_all": _filtered(changelist, dashboard.ANY_PROBLEM),
        "worklist": _worklist(dashboard.worklist(), changelist),
        "queue": [_queue_row(problem, now) for problem in dashboard.needs_attention()],
        "message_chars": MESSAGE_SHOWN_CHARS,
        "activity": [_activity(entry) for entry in dashboard.recent_activity()],
    }


def _filtered(changelist: str, code: str, customer_id: int | None = None) -> str:
    query = {PARAMETER: code} | ({"customer": customer_id} if customer_id else {})
    return f"{changelist}?{urlencode(query)}"


def _chart(title: str, bars: list[dashboard.Bar]) -> dict:
    top = max((bar.count for bar in bars), default=0) or 1
    rows = [
        {"bar": bar, "width": round(BAR_WIDTH * bar.count / top), "y": index * ROW_HEIGHT}
        for index, bar in enumerate(bars)
    ]
    return {"title": title, "rows": rows, "height": len(rows) * ROW_HEIGHT}


def _worklist(worklist: dashboard.Worklist, changelist: str) -> dict:
    groups = [
        {
            "group": group,
            "url": _filtered(changelist, group.code),
            "customers": [
                {"share": share, "url": _filtered(changelist, group.code, share.customer.pk)}
                for share in group.customers
            ],
            "more_customers": group.customer_count - len(group.customers),
        }
        for group in worklist.groups
    ]
    return {"total": worklist.total, "groups": groups, "ungrouped": worklist.ungrouped}


def _queue_row(problem: dashboard.Problem, now: datetime) -> dict:
    moment = problem.moment
    if moment is None:
        length = ""
    elif problem.kind.ahead:
        length = f"lapses in {duration_words(moment - now)}"
    else:
        length = duration_words(now - moment)
    return {
        "integration": problem.integration,
        "problem": problem.kind.label,
        "diagnosis": problem.diagnosis,
        "moment": moment,
        "length": length,
    }


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
        "partial": history.partial,
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
    failed = "" if entry.succeeded else " (failed)"
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
