"""Bulk jobs: the confirmation before one starts and the progress page while it runs."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Case, Count, IntegerField, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse

from calendars.actions import bulk
from calendars.admin.common import (
    ReadOnlyAdmin,
    allows,
    shown_or_redirect,
    viewable_or_redirect,
)
from calendars.lib.words import counted
from calendars.models import BulkJob, BulkJobItem, Integration

PREVIEW_LIMIT = 200
# Items listed on a job's page, what did not succeed first.
ITEM_LIMIT = 500
State = BulkJobItem.State


def confirm_and_start(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    *,
    kind: str,
    action: str,
    integrations: list[Integration],
    explanation: str,
    skipped: int = 0,
    extra_fields: dict[str, str] | None = None,
) -> HttpResponse:
    """Show exactly what will happen; on confirmation start the job and go to its progress."""
    if "confirm" in request.POST and integrations:
        job = bulk.start(
            kind,
            [i.pk for i in integrations],
            acting_user=request.user,
            description=bulk.describe_target(integrations),
            action=action,
        )
        return HttpResponseRedirect(reverse("admin:calendars_bulkjob_change", args=[job.pk]))
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"{BulkJob.Kind(kind).label}: confirm",
        "opts": model_admin.model._meta,
        "action": action,
        "explanation": explanation,
        "integrations": integrations[:PREVIEW_LIMIT],
        "count": len(integrations),
        "more": max(0, len(integrations) - PREVIEW_LIMIT),
        "skipped": skipped,
        "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
        "extra_fields": extra_fields or {},
        "aim": bulk.AIM[kind],
        "check_seconds": bulk.check_seconds(),
    }
    return TemplateResponse(request, "admin/calendars/confirm_bulk.html", context)


def _items_in(state: str) -> Coalesce:
    """How many of a job's items are in `state`, counted for the listed rows only."""
    counted = (
        BulkJobItem.objects.filter(job=OuterRef("pk"), state=state)
        .order_by()
        .values("job")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted[:1]), 0)


@admin.register(BulkJob)
class BulkJobAdmin(ReadOnlyAdmin):
    list_display = ("job", "created_at", "created_by", "outcome", "finished_at")
    list_filter = ("kind",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[BulkJob]:
        return (
            super()
            .get_queryset(request)
            .select_related("created_by")
            .annotate(
                fixed=_items_in(State.DONE),
                not_fixed=_items_in(State.NOT_FIXED),
                failed=_items_in(State.FAILED),
                pending=_items_in(State.PENDING),
            )
        )

    @admin.display(description="Job")
    def job(self, job: BulkJob) -> str:
        return str(job)

    @admin.display(description="Outcome")
    def outcome(self, job: BulkJob) -> str:
        text = (
            f"{job.fixed} {bulk.fixed_word(job.kind)}, {job.not_fixed} did not fix, "
            f"{job.failed} failed"
        )
        return f"{text}; {job.pending} to go" if job.pending else text

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        return [
            path(
                "<str:object_id>/progress.json",
                wrap(self.progress_json),
                name="calendars_bulkjob_progress",
            ),
            path("<str:object_id>/rerun/", wrap(self.rerun_view), name="calendars_bulkjob_rerun"),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        job = shown_or_redirect(self, request, object_id)
        if isinstance(job, HttpResponse):
            return job
        progress = bulk.progress(job)
        items = job.items.select_related(
            "integration__raw_calendar",
            "integration__credential__customer",
            "recreated_as__raw_calendar",
        ).order_by(
            Case(
                When(state=State.FAILED, then=Value(0)),
                When(state=State.NOT_FIXED, then=Value(1)),
                When(state=State.PENDING, then=Value(2)),
                default=Value(3),
                output_field=IntegerField(),
            ),
            "pk",
        )
        hosts = list(
            job.items.exclude(worked_by="")
            .values("worked_by")
            .annotate(items=Count("pk"))
            .order_by("worked_by")
        )
        context = {
            **self.admin_site.each_context(request),
            "title": str(job),
            "opts": self.model._meta,
            "job": job,
            "progress": progress,
            "items": items[:ITEM_LIMIT],
            "more_items": max(0, progress.total - ITEM_LIMIT),
            # Which host did what matters only when several shared the job.
            "hosts": hosts if len(hosts) > 1 else [],
            "can_rerun": _can_rerun(request, job, progress),
        }
        return TemplateResponse(request, "admin/calendars/bulkjob/progress.html", context)

    def progress_json(self, request: HttpRequest, object_id: str) -> HttpResponse:
        job = viewable_or_redirect(self, request, object_id)
        if isinstance(job, HttpResponse):
            return job
        result = bulk.progress(job)
        return JsonResponse(
            {
                "total": result.total,
                "fixed": result.done,
                "not_fixed": result.not_fixed,
                "failed": result.failed,
                "pending": result.pending,
                "percent": result.percent,
                "finished": result.finished,
                "summary": result.summary,
            }
        )

    def rerun_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        job = viewable_or_redirect(self, request, object_id)
        if isinstance(job, HttpResponse):
            return job
        if request.method != "POST" or not allows(request, bulk.PERMISSION[job.kind]):
            raise PermissionDenied
        if not bulk.progress(job).finished:
            self.message_user(
                request,
                "The job is still running: what is left can be run again once it has finished.",
                messages.WARNING,
            )
        elif again := bulk.rerun(job, acting_user=request.user):
            self.message_user(
                request, f"Running {counted(again, 'item')} of the job again.", messages.SUCCESS
            )
        else:
            self.message_user(request, "Nothing is left to run again.", messages.INFO)
        return HttpResponseRedirect(reverse("admin:calendars_bulkjob_change", args=[job.pk]))


def _can_rerun(request: HttpRequest, job: BulkJob, progress: bulk.Progress) -> bool:
    """Offered once the job has finished, for what did not succeed, to those who may start it."""
    unsucceeded = progress.failed + progress.not_fixed
    return progress.finished and unsucceeded > 0 and allows(request, bulk.PERMISSION[job.kind])
