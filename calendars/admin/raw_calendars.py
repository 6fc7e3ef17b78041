"""The raw-calendar result page: what "List raw calendars" found, and integrations created from
it, several in one step, without leaving the page."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from calendars.actions.integrations import create_integration
from calendars.admin.common import (
    allows,
    attempt,
    note_the_connection_cap,
    warn_near_the_connection_cap,
)
from calendars.lib.validators import as_id
from calendars.models import Credential, Integration, RawCalendar


@dataclass(frozen=True)
class Listing:
    """One credential's raw calendars as the page shows them, or why they could not be listed."""

    credential: Credential
    calendars: list[RawCalendar]
    problem: str = ""


@dataclass(frozen=True)
class Outcome:
    """What asking for one raw calendar's integration did, in the words of its row."""

    kind: str  # "created", "existed" or "failed"
    note: str


def render_listings(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    listings: list[Listing],
    outcomes: dict[int, Outcome] | None = None,
) -> TemplateResponse:
    """The result page: each credential's calendars with the live integration each has."""
    outcomes = outcomes or {}
    shown = [raw for listing in listings for raw in listing.calendars]
    live = {i.raw_calendar_id: i for i in Integration.objects.live().filter(raw_calendar__in=shown)}
    results = [
        {
            "credential": listing.credential,
            "problem": listing.problem,
            "rows": [
                {"raw": raw, "integration": live.get(raw.pk), "outcome": outcomes.get(raw.pk)}
                for raw in listing.calendars
            ],
        }
        for listing in listings
    ]
    can_create = allows(request, "create_integration")
    creatable = any(raw.pk not in live for raw in shown)
    if can_create and creatable and not outcomes:
        note_the_connection_cap(request)  # after creates, what they met was said
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Raw calendars",
        "opts": model_admin.model._meta,
        "results": results,
        "can_create": can_create,
        "creatable": creatable,
    }
    return TemplateResponse(request, "admin/calendars/credential/raw_calendars.html", context)


def create_from_listing(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """Create the integrations asked for on the result page, one call each, and show it again.

    The form posts every raw calendar it shows ("shown"), the checked ones ("raw_calendar") and
    which button was pressed ("create": "selected", "all" or one raw calendar's id).
    """
    if not allows(request, "create_integration"):
        raise PermissionDenied
    if request.method != "POST":
        return HttpResponseRedirect(reverse("admin:calendars_rawcalendar_changelist"))
    order = _ids(request.POST.getlist("shown"))
    shown = sorted(
        RawCalendar.objects.filter(pk__in=order).select_related(
            "credential__customer", "credential__oauth_app"
        ),
        key=lambda raw: order.index(raw.pk),  # the rows stay where they were
    )
    wanted = _wanted(request, shown)
    warn_near_the_connection_cap(request, len(wanted))
    outcomes = {raw.pk: _create(request, raw) for raw in wanted}
    _summarise(request, outcomes)
    listings: dict[int, Listing] = {}
    for raw in shown:
        listings.setdefault(raw.credential_id, Listing(raw.credential, [])).calendars.append(raw)
    return render_listings(model_admin, request, list(listings.values()), outcomes)


def _wanted(request: HttpRequest, shown: list[RawCalendar]) -> list[RawCalendar]:
    choice = request.POST.get("create", "")
    if choice == "all":
        # Every calendar without a live integration: asking again for one that has its
        # integration would only record that nothing was done.
        live = set(
            Integration.objects.live()
            .filter(raw_calendar__in=shown)
            .values_list("raw_calendar_id", flat=True)
        )
        return [raw for raw in shown if raw.pk not in live]
    # "selected" takes the ticked boxes; a row's own button posts that row's id.
    picked = _ids(request.POST.getlist("raw_calendar") if choice == "selected" else [choice])
    wanted = [raw for raw in shown if raw.pk in picked]
    if not wanted:
        messages.warning(request, "Select at least one raw calendar to create its integration.")
    return wanted


def _create(request: HttpRequest, raw: RawCalendar) -> Outcome:
    """One raw calendar's create; a failure is its row's note and does not stop the others."""
    created = attempt(request, f"{raw}: could not create the integration.", create_integration, raw)
    if not created.succeeded:
        return Outcome("failed", f"Could not create: {created.problem}")
    if not created.result.created:
        return Outcome("existed", "Already had this integration: none created.")
    if created.result.adopted:
        return Outcome("created", "Created (adopted the connection Meeting BaaS already had).")
    return Outcome("created", "Created.")


def _summarise(request: HttpRequest, outcomes: dict[int, Outcome]) -> None:
    if not outcomes:
        return
    kinds = [outcome.kind for outcome in outcomes.values()]
    created, already, failed = (kinds.count(k) for k in ("created", "existed", "failed"))
    parts = [f"{created} integration{'s' if created != 1 else ''} created"]
    if already:
        parts.append(f"{already} already existed")
    if failed:
        parts.append(f"{failed} could not be created (see below)")
    messages.add_message(
        request, messages.WARNING if failed else messages.SUCCESS, ", ".join(parts) + "."
    )


def _ids(values: list[str]) -> list[int]:
    """Posted ids in their order, the malformed ones (and any too long for a key) left out."""
    ids = [pk for pk in map(as_id, values) if pk is not None]
    return list(dict.fromkeys(ids))
