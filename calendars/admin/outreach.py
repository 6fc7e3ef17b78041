"""Re-consent outreach in the admin: read-only lists of each outreach and every e-mail it sent
or tried (auditors read them; nobody changes them), and the credential page's "Handle it
myself"."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from calendars.admin.common import ReadOnlyAdmin, allows, when
from calendars.consent import outreach
from calendars.models import Credential, Outreach, OutreachMessage


@admin.register(Outreach)
class OutreachAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "customer", "reason", "since", "state", "started_at", "ended_at")
    list_filter = ("state", "reason", "started_at")
    list_select_related = ("credential__customer",)
    search_fields = ("credential__account_email", "credential__customer__name")
    fields = (
        "credential",
        "reason",
        "since",
        "state",
        "started_at",
        "ended_at",
        "handled_by",
        "handled_at",
        "emails",
    )
    readonly_fields = fields

    @admin.display(description="E-mails")
    def emails(self, item: Outreach) -> str:
        rows = format_html_join(
            "",
            '<li><a href="{}">{}</a>: {}, {}</li>',
            (
                (
                    reverse("admin:calendars_outreachmessage_change", args=[m.pk]),
                    when(m.created_at),
                    m.to,
                    m.get_delivery_display(),
                )
                for m in item.messages.order_by("created_at", "pk")
            ),
        )
        return format_html("<ul>{}</ul>", rows) if rows else "None yet"

    @admin.display(description="Customer", ordering="credential__customer__name")
    def customer(self, item: Outreach) -> str:
        return item.credential.customer.name


@admin.register(OutreachMessage)
class OutreachMessageAdmin(ReadOnlyAdmin):
    list_display = (
        "__str__",
        "customer",
        "reason",
        "reminder",
        "created_at",
        "delivery",
        "link",
        "link_became",
    )
    list_filter = ("delivery", "reason", "created_at")
    list_select_related = ("customer", "link", "outreach")
    search_fields = ("to", "customer__name")
    fields = (
        "outreach",
        "customer",
        "to",
        "reason",
        "reminder",
        "created_at",
        "delivery",
        "error",
        "link",
        "link_became",
    )
    readonly_fields = fields

    @admin.display(description="What became of it")
    def link_became(self, message: OutreachMessage) -> str:
        """The link's fate: still open, used (and how that went), expired or revoked."""
        link = message.link
        if link is None:
            return "—"
        if link.state == "used":
            return f"Used: {link.get_outcome_display()}"
        return {"open": "Waiting for the owner", "expired": "Expired unused"}.get(
            link.state, "Revoked (a newer link replaced it, or someone revoked it)"
        )


@require_POST
def take_over_view(request: HttpRequest, credential_id: int) -> HttpResponse:
    """ "Handle it myself": the person takes the credential's re-consent over from outreach."""
    if not allows(request, "add_consentlink"):
        raise PermissionDenied
    credential = get_object_or_404(Credential, pk=credential_id)
    if outreach.take_over(credential, acting_user=request.user):
        messages.success(
            request,
            f"{credential.account_email}: the portal writes to the owner no more; it is yours.",
        )
    else:
        messages.warning(request, f"{credential.account_email}: no outreach under way.")
    return HttpResponseRedirect(reverse("admin:calendars_credential_change", args=[credential.pk]))
