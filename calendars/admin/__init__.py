"""The admin: presentation, permissions and wiring. Every API call goes through `operations`."""

from calendars.admin import accounts, integrations, jobs, records  # noqa: F401  (registers the admins)
