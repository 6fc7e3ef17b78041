"""Bulk jobs: the confirmation before one starts and the progress page while it runs."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from calendars.actions import bulk
from calendars.admin.common import ReadOnlyAdmin, allows
from calendars.models import BulkJob, Integration

PREVIEW_LIMIT = 200


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
            description=f"{len(integrations)} integration(s)",
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
    }
    return TemplateResponse(request, "admin/calendars/confirm_bulk.html", context)


@admin.register(BulkJob)
class BulkJobAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "kind", "description", "created_by", "finished_at")
    list_filter = ("kind",)

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:job_id>/progress.json",
                wrap(self.progress_json),
                name="calendars_bulkjob_progress",
            ),
            path("<int:job_id>/rerun/", wrap(self.rerun_view), name="calendars_bulkjob_rerun"),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        job = get_object_or_404(BulkJob, pk=object_id)
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        failures = job.items.filter(state="failed").select_related("integration__raw_calendar")
        context = {
            **self.admin_site.each_context(request),
            "title": str(job),
            "opts": self.model._meta,
            "job": job,
            "progress": bulk.progress(job),
            "failures": failures[:500],
            "hosts": job.items.exclude(worked_by="")
            .values("worked_by")
            .annotate(items=Count("pk"))
            .order_by("worked_by"),
            "can_rerun": allows(request, bulk.PERMISSION[job.kind]),
        }
        return TemplateResponse(request, "admin/calendars/bulkjob/progress.html", context)

    def progress_json(self, request: HttpRequest, job_id: int) -> JsonResponse:
        job = get_object_or_404(BulkJob, pk=job_id)
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        result = bulk.progress(job)
        return JsonResponse(
            {
                "total": result.total,
                "done": result.done,
                "failed": result.failed,
                "pending": result.pending,
                "percent": result.percent,
                "finished": result.finished,
            }
        )

    def rerun_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        job = get_object_or_404(BulkJob, pk=job_id)
        if request.method != "POST" or not allows(request, bulk.PERMISSION[job.kind]):
            raise PermissionDenied
        bulk.rerun(job, acting_user=request.user)
        self.message_user(request, "Running what is left of the job.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:calendars_bulkjob_change", args=[job.pk]))
