"""The admin: presentation, permissions and wiring. API calls go through `calendars.actions`."""

from django.contrib import admin

from calendars.admin import (  # noqa: F401  (registers the admins)
    accounts,
    consent,
    integrations,
    jobs,
    lookups,
    meetings,
    notices,
    outreach,
    queue,
    reconciliation,
    records,
    users,
)

admin.site.site_header = "Calendar-integration portal"
admin.site.site_title = "Calendar-integration portal"
admin.site.index_title = "Home"
# The portal is its admin: Django's "View site" would lead back to this home page.
admin.site.site_url = None

# Last, once every admin (the libraries' too) is registered.
lookups.guard(admin.site)
