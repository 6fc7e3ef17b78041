from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from calendars import webhooks

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("webhooks/meetingbaas/", webhooks.receive, name="meetingbaas-webhook"),
]
