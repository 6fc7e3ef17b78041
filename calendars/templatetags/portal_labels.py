"""Words the portal's own templates show for stored codes, spelled as the admin spells them."""

from __future__ import annotations

from django import template

from calendars.models import Integration

register = template.Library()

STATUS_LABELS = dict(Integration._meta.get_field("status").choices)


@register.filter
def status_label(status: str) -> str:
    """A stored status ("syncing") as the admin's lists show it ("Syncing")."""
    return STATUS_LABELS.get(status, status)
