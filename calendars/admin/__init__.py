"""The admin: presentation, permissions and wiring. Every API call goes through `operations`."""

from django.contrib import admin

from calendars.admin import accounts, integrations, jobs, records  # noqa: F401  (registers the admins)

admin.site.site_header = "Calendar-integration portal"
admin.site.site_title = "Calendar-integration portal"
admin.site.index_title = "Home"
