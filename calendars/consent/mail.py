"""Sending a consent link by e-mail (Django's e-mail framework: EMAIL_URL)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from calendars.consent.links import NewLink
from calendars.models import ConsentLink


def available() -> bool:
    """Whether a mailer is configured (EMAIL_URL); without one, links are copied by hand."""
    return "default" in settings.MAILERS


def send_link(new: NewLink, to: str) -> None:
    """Mail the link to `to` and note where it went; raises what the mail backend raises."""
    link = new.link
    context = {
        "company": settings.PORTAL_COMPANY_NAME,
        "contact": settings.PORTAL_CONTACT_EMAIL,
        "customer": link.customer.name,
        "url": new.url,
        "expires_at": link.expires_at,
        "account": link.credential.account_email if link.credential else "",
    }
    subject = (
        f"{settings.PORTAL_COMPANY_NAME}: grant calendar access again"
        if link.kind == ConsentLink.Kind.RECONSENT
        else f"{settings.PORTAL_COMPANY_NAME}: connect your calendar"
    )
    send_mail(
        subject,
        render_to_string("consent/email.txt", context),
        settings.DEFAULT_FROM_EMAIL,
        [to],
        html_message=render_to_string("consent/email.html", context),
    )
    ConsentLink.objects.filter(pk=link.pk).update(sent_to=to)
