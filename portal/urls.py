from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from calendars.metrics import views as metrics
from calendars.web import health, icon, webhooks

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("favicon.ico", icon.favicon),
    path("admin/", admin.site.urls),
    path("webhooks/meetingbaas/", webhooks.receive, name="meetingbaas-webhook"),
    path("healthz", health.healthz, name="healthz"),
    path("healthz/", health.healthz),
    path("healthz/live", health.live, name="healthz-live"),
    path("healthz/ready", health.ready, name="healthz-ready"),
    path("metrics", metrics.metrics, name="metrics"),
    # Public: customers' people open consent links here, without an admin login.
    path("connect/", include("calendars.consent.urls")),
]

# A refusal in the admin is an admin page that names the person's role and links back.
handler403 = "calendars.admin.denied.permission_denied"
# The database unreachable: a plain 503 page; anything else: Django's 500 page.
handler500 = "calendars.web.outage.server_error"
