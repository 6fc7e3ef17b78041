"""Reconciliations: the runs, their findings, and what an admin does with an orphan.

Every role that sees integrations sees the runs; running one, adopting an orphan and deleting
one on Meeting BaaS need the `reconcile` permission (the Admin role), checked on every POST.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Case, Count, IntegerField, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from calendars.actions import bot_findings, reconciliation
from calendars.admin.common import ReadOnlyAdmin, allows, shown_or_redirect
from calendars.models import Integration, Meeting, Reconciliation, ReconciliationFinding
from calendars.problems import PROBLEMS

# Findings listed on a run's page, the open orphans first.
FINDING_LIMIT = 500
Outcome = ReconciliationFinding.Outcome
Kind = ReconciliationFinding.Kind


@admin.register(Reconciliation)
class ReconciliationAdmin(ReadOnlyAdmin):
    list_display = ("run", "created_at", "who", "outcome", "finished_at")
    list_select_related = ("started_by",)

    @admin.display(description="Run")
    def run(self, run: Reconciliation) -> str:
        return str(run)

    @admin.display(description="Started by")
    def who(self, run: Reconciliation) -> str:
        return str(run.started_by) if run.started_by else "the daily schedule"

    @admin.display(description="Outcome")
    def outcome(self, run: Reconciliation) -> str:
        if run.finished_at is None:
            return f"Running: {run.listed} listed so far"
        counts = (
            f"{run.orphans} orphans, {run.ghosts} ghosts, {run.drift} drift, "
            f"{run.bot_findings} about bots"
        )
        return f"{run.listed} listed: {counts}" + ("" if run.succeeded else " (failed)")

    def changelist_view(
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse:
        extra = {"can_reconcile": allows(request, "reconcile"), **(extra_context or {})}
        return super().changelist_view(request, extra)

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        return [
            path("run/", wrap(self.run_view), name="calendars_reconciliation_run"),
            path(
                "finding/<int:finding_id>/adopt/",
                wrap(self.adopt_view),
                name="calendars_reconciliation_adopt",
            ),
            path(
                "finding/<int:finding_id>/delete/",
                wrap(self.delete_orphan_view),
                name="calendars_reconciliation_delete_orphan",
            ),
            path(
                "finding/<int:finding_id>/remove-duplicate-bot/",
                wrap(self.remove_duplicate_bot_view),
                name="calendars_reconciliation_remove_duplicate_bot",
            ),
            path(
                "finding/<int:finding_id>/schedule-bot/",
                wrap(self.schedule_bot_view),
                name="calendars_reconciliation_schedule_bot",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        run = shown_or_redirect(self, request, object_id)
        if isinstance(run, HttpResponse):
            return run
        findings = _open_orphans_first(
            run.findings.select_related("integration__raw_calendar", "resolved_by", "meeting")
        )
        if run.finished_at is None:
            # Counted when it finishes; shown meanwhile as far as its pages have gone.
            so_far = dict(run.findings.values_list("kind").annotate(n=Count("pk")).order_by())
            run.orphans, run.ghosts, run.drift = (
                so_far.get(kind, 0) for kind in (Kind.ORPHAN, Kind.GHOST, Kind.DRIFT)
            )
            run.bot_findings = sum(so_far.get(kind, 0) for kind in bot_findings.BOT_KINDS)
        context = {
            **self.admin_site.each_context(request),
            "title": str(run),
            "opts": self.model._meta,
            "run": run,
            "findings": findings[:FINDING_LIMIT],
            "more_findings": max(0, run.findings.count() - FINDING_LIMIT),
            "open_orphans": run.findings.filter(
                kind=ReconciliationFinding.Kind.ORPHAN, outcome=Outcome.OPEN
            ).count(),
            "can_reconcile": allows(request, "reconcile"),
            "window_minutes": int(reconciliation.CREATE_WINDOW.total_seconds() // 60),
            "doing": reconciliation.doing(run),
            "task_seconds": settings.BULK_TASK_SECONDS,
        }
        return TemplateResponse(request, "admin/calendars/reconciliation/run.html", context)

    @staticmethod
    def _require_reconcile(request: HttpRequest) -> None:
        if not allows(request, "reconcile"):
            raise PermissionDenied

    def run_view(self, request: HttpRequest) -> HttpResponse:
        self._require_reconcile(request)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        run = reconciliation.start(acting_user=request.user)
        self.message_user(request, f"{run} started.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:calendars_reconciliation_change", args=[run.pk]))

    def adopt_view(self, request: HttpRequest, finding_id: int) -> HttpResponse:
        self._require_reconcile(request)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        return self._act(request, finding_id, reconciliation.adopt_orphan, "Could not adopt it:")

    def delete_orphan_view(self, request: HttpRequest, finding_id: int) -> HttpResponse:
        self._require_reconcile(request)
        finding = get_object_or_404(
            ReconciliationFinding.objects.select_related("run"), pk=finding_id
        )
        if request.method == "POST" and "confirm" in request.POST:
            return self._act(
                request, finding_id, reconciliation.delete_orphan, "Nothing was deleted:"
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Delete a connection on Meeting BaaS: confirm",
            "opts": self.model._meta,
            "finding": finding,
            "back": reverse("admin:calendars_reconciliation_change", args=[finding.run_id]),
        }
        return TemplateResponse(
            request, "admin/calendars/reconciliation/confirm_delete.html", context
        )

    def remove_duplicate_bot_view(self, request: HttpRequest, finding_id: int) -> HttpResponse:
        return self._act_on_bot(
            request, finding_id, bot_findings.remove_duplicate_bot, "Duplicate bot removed"
        )

    def schedule_bot_view(self, request: HttpRequest, finding_id: int) -> HttpResponse:
        return self._act_on_bot(
            request, finding_id, bot_findings.schedule_missing_bot, "Bot scheduled"
        )

    def _act_on_bot(
        self,
        request: HttpRequest,
        finding_id: int,
        verb: Callable[..., Meeting],
        done: str,
    ) -> HttpResponse:
        self._require_reconcile(request)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        finding = get_object_or_404(ReconciliationFinding, pk=finding_id)
        try:
            meeting = verb(finding_id, acting_user=request.user)
        except (bot_findings.BotFindingRefused, *PROBLEMS) as exc:
            self.message_user(request, f"Nothing was done: {exc}", messages.ERROR)
        else:
            self.message_user(request, f"{done} on “{meeting}”.", messages.SUCCESS)
        return HttpResponseRedirect(
            reverse("admin:calendars_reconciliation_change", args=[finding.run_id])
        )

    def _act(
        self,
        request: HttpRequest,
        finding_id: int,
        verb: Callable[..., Integration | None],
        failure: str,
    ) -> HttpResponse:
        finding = get_object_or_404(ReconciliationFinding, pk=finding_id)
        try:
            result = verb(finding_id, acting_user=request.user)
        except (reconciliation.FindingRefused, *PROBLEMS) as exc:
            self.message_user(request, f"{failure} {exc}", messages.ERROR)
        else:
            done = f"adopted as integration {result.pk}" if result is not None else "deleted"
            self.message_user(request, f"Connection {finding.remote_id} {done}.", messages.SUCCESS)
        return HttpResponseRedirect(
            reverse("admin:calendars_reconciliation_change", args=[finding.run_id])
        )


def _open_orphans_first(findings: QuerySet[ReconciliationFinding]) -> QuerySet:
    return findings.order_by(
        Case(
            When(outcome=Outcome.OPEN, then=Value(0)),
            When(outcome=Outcome.NOT_CORRECTED, then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        ),
        "kind",
        "pk",
    )
