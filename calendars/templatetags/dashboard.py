"""The admin home's dashboard, for people allowed to see integrations."""

from __future__ import annotations

from django import template
from django.urls import reverse

from calendars.queries import dashboard
from calendars.queries.diagnosis import diagnosis_of

register = template.Library()
BAR_WIDTH = 240
ROW_HEIGHT = 26


@register.inclusion_tag("admin/calendars/dashboard.html", takes_context=True)
def portal_dashboard(context: template.Context) -> dict:
    request = context["request"]
    if not request.user.has_perm("calendars.view_integration"):
        return {"visible": False}
    changes, actions = dashboard.recent_activity()
    queue = [
        {"integration": i, "problem": dashboard.problem_of(i), "diagnosis": diagnosis_of(i)}
        for i in dashboard.needs_attention()
    ]
    return {
        "visible": True,
        "charts": [
            _chart("By status", dashboard.status_bars()),
            _chart("By provider", dashboard.provider_bars()),
        ],
        "changelist": reverse("admin:calendars_integration_changelist"),
        "queue": queue,
        "changes": changes,
        "actions": actions,
    }


def _chart(title: str, bars: list[dashboard.Bar]) -> dict:
    top = max((bar.count for bar in bars), default=0) or 1
    rows = [
        {"bar": bar, "width": round(BAR_WIDTH * bar.count / top), "y": index * ROW_HEIGHT}
        for index, bar in enumerate(bars)
    ]
    return {"title": title, "rows": rows, "height": len(rows) * ROW_HEIGHT}
