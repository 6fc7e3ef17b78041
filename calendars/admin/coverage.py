"""The coverage report's page (/admin/calendars/meeting/coverage/) and its CSV: for auditors and
account managers, a customer's recordings (or every customer's) over a range of days.

A page to read: it answers GET only, to every role that may view meetings (auditors export it
too), and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.http import urlencode

from calendars.admin.common import csv_download
from calendars.lib.spreadsheets import spreadsheet_rows
from calendars.models import Credential, Customer
from calendars.queries import coverage, missed

# Days charted one column each; a longer range is charted by week.
CHART_DAYS = 62
CHART_HEIGHT = 160
CHART_STEP = 14
# What a column of the chart stacks, bottom up, with its legend.
CHART_PARTS = (
    ("recorded", "Recorded"),
    ("missed_wanted", "Missed (a bot was wanted)"),
    ("pending", "Not settled yet"),
)
EVERY_CUSTOMER = "All customers"


class CoverageForm(forms.Form):
    """The report's range (the last full month when not given) and customer (all if none)."""

    start = forms.DateField(label="From", required=False, widget=forms.DateInput({"type": "date"}))
    end = forms.DateField(label="Until", required=False, widget=forms.DateInput({"type": "date"}))
    customer = forms.ModelChoiceField(Customer.objects.all(), required=False)

    def __init__(self, *args: object, admin_site: admin.AdminSite, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # Autocomplete: a plain select would render every customer.
        widget = AutocompleteSelect(Credential._meta.get_field("customer"), admin_site)
        widget.choices = self.fields["customer"].choices
        self.fields["customer"].widget = widget

    def clean(self) -> dict:
        data = super().clean()
        default = coverage.last_full_month()
        start, end = data.get("start") or default.first, data.get("end") or default.last
        if end < start:
            raise forms.ValidationError("“Until” is before “From”.")
        if (end - start).days >= coverage.MAX_DAYS:
            raise forms.ValidationError(f"At most {coverage.MAX_DAYS} days at once.")
        data["range"] = coverage.Range(start, end)
        return data


def coverage_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    default = coverage.last_full_month()
    # The range shown in the form is the one read, also when the link gave none.
    asked_for = request.GET.copy()
    asked_for.setdefault("start", default.first.isoformat())
    asked_for.setdefault("end", default.last.isoformat())
    form = CoverageForm(asked_for, admin_site=model_admin.admin_site)
    valid = form.is_valid()
    asked = form.cleaned_data["range"] if valid else default
    customer = form.cleaned_data.get("customer") if valid else None
    found = coverage.report(asked, customer.pk if customer else None)
    if valid and "csv" in request.GET:
        return csv_download(spreadsheet_rows(csv_rows(found, customer)), "coverage")
    query = {"start": asked.first.isoformat(), "end": asked.last.isoformat()}
    if customer:
        query["customer"] = str(customer.pk)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Coverage report",
        "opts": model_admin.model._meta,
        "form": form,
        "media": model_admin.media + form.media,
        "customer": customer,
        "report": found,
        "sections": [
            {
                "title": "Whole range",
                "css": "range",
                "period": "Days",
                "rows": _rows(found, [found.total], customer),
            },
            {
                "title": "Per week",
                "css": "weeks",
                "period": "Week",
                "rows": _rows(found, found.weeks, customer),
            },
            {
                "title": "Per day",
                "css": "days",
                "period": "Day",
                "rows": _rows(found, found.days, customer),
            },
        ],
        "history_days": settings.MEETINGS_HISTORY_DAYS,
        "chart": chart(found),
        "csv_url": f"{request.path}?{urlencode({**query, 'csv': '1'})}",
    }
    return TemplateResponse(request, "admin/calendars/meeting/coverage.html", context)


def _rows(
    found: coverage.Report, periods: list[coverage.Counts], customer: Customer | None
) -> list[dict]:
    return [_row(period, found.causes, customer) for period in periods]


def _row(period: coverage.Counts, causes_present: dict, customer: Customer | None) -> dict:
    """A period's cells: its counts, each cause's, and the missed meetings view of it when
    that view reads so long a range."""
    causes = [period.missed.get(cause, 0) for cause in causes_present]
    url = ""
    if period.missed_total and (period.last - period.first).days < missed.MAX_DAYS:
        query = {"start": period.first.isoformat(), "end": period.last.isoformat()}
        if customer:
            query["customer"] = str(customer.pk)
        url = f"{reverse('admin:calendars_meeting_missed')}?{urlencode(query)}"
    return {"counts": period, "causes": causes, "missed_url": url}


def chart(found: coverage.Report) -> dict:
    """Stacked columns, one a day (a week past CHART_DAYS): recorded, missed though wanted,
    not settled; the template draws them as SVG, every text escaped."""
    periods = found.days if len(found.days) <= CHART_DAYS else found.weeks
    top = max((p.recorded + p.missed_wanted + p.pending for p in periods), default=0) or 1
    columns = []
    for index, period in enumerate(periods):
        bottom = CHART_HEIGHT + 10
        parts = []
        for name, label in CHART_PARTS:
            n = getattr(period, name)
            if not n:
                continue
            height = max(1, round(CHART_HEIGHT * n / top))
            bottom -= height
            parts.append({"css": name, "label": label, "count": n, "y": bottom, "height": height})
        columns.append(
            {
                "x": 40 + index * CHART_STEP,
                "parts": parts,
                "title": _period_words(period),
                "rate": period.rate_words(),
                "label": date_format(period.first, "j M") if _labelled(period, index) else "",
            }
        )
    return {
        "columns": columns,
        "width": 60 + len(columns) * CHART_STEP,
        "height": CHART_HEIGHT + 30,
        "baseline": CHART_HEIGHT + 10,
        "column_width": CHART_STEP - 3,
        "top": top,
        "legend": [{"css": name, "label": label} for name, label in CHART_PARTS],
        "by_week": periods is found.weeks,
    }


def _labelled(period: coverage.Counts, index: int) -> bool:
    """Whether a column is labelled with its date: the first, then every fortnight or so."""
    if period.first != period.last:
        return index % 4 == 0
    return index == 0 or period.first.day in (1, 15)


def _period_words(period: coverage.Counts) -> str:
    first = date_format(period.first, "DATE_FORMAT")
    if period.first == period.last:
        return first
    return f"{first} to {date_format(period.last, 'DATE_FORMAT')}"


CSV_COLUMNS = [
    "customer",
    "period",
    "first day",
    "last day",
    "meetings",
    "wanted a bot",
    "bots scheduled",
    "recorded",
    "missed (wanted)",
    "missed (all)",
    *(f"missed: {label}" for label in missed.CAUSES.values()),
    "not settled",
    "days not counted",
    "recorded / wanted",
]


def csv_rows(found: coverage.Report, customer: Customer | None) -> Iterator[list[str]]:
    """The report as CSV rows: each day, each week, then the range; every cause a column."""
    name = customer.name if customer else EVERY_CUSTOMER
    yield CSV_COLUMNS
    for kind, periods in (("day", found.days), ("week", found.weeks), ("range", [found.total])):
        for period in periods:
            yield [name, kind, *_csv_counts(period)]


def _csv_counts(period: coverage.Counts) -> list[str]:
    rate = "" if period.rate is None else f"{period.rate:.4f}"
    counts = [
        period.meetings,
        period.wanted,
        period.scheduled,
        period.recorded,
        period.missed_wanted,
        period.missed_total,
        *(period.missed.get(cause, 0) for cause in missed.CAUSES),
        period.pending,
        period.uncounted,
    ]
    return [period.first.isoformat(), period.last.isoformat(), *(str(n) for n in counts), rate]
