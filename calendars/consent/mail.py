"""Sending a consent link by e-mail (Django's e-mail framework: EMAIL_URL)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, send_mail
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


def send_outreach(
    new: NewLink, to: str, *, what: str, since: datetime, predicted: bool, reminder: int
) -> None:
    """Ask the account's owner to grant access again (outreach.py): what happened and since
    when, who asks, what the link does; replies go to PORTAL_SUPPORT_EMAIL."""
    link = new.link
    context = {
        "company": settings.PORTAL_COMPANY_NAME,
        "support": settings.PORTAL_SUPPORT_EMAIL,
        "customer": link.customer.name,
        "account": link.credential.account_email,
        "provider": link.credential.oauth_app.get_provider_display(),
        "what": what,
        "since": since,
        "predicted": predicted,
        "reminder": reminder,
        "url": new.url,
        "expires_at": link.expires_at,
    }
    subject = (
        f"{'Reminder: ' if reminder else ''}{settings.PORTAL_COMPANY_NAME} needs your "
        f"permission again to read your calendar"
    )
    message = EmailMultiAlternatives(
        subject,
        render_to_string("consent/outreach_email.txt", context),
        settings.DEFAULT_FROM_EMAIL,
        [to],
        reply_to=[settings.PORTAL_SUPPORT_EMAIL] if settings.PORTAL_SUPPORT_EMAIL else None,
    )
    message.attach_alternative(
        render_to_string("consent/outreach_email.html", context), "text/html"
    )
    message.send()
    ConsentLink.objects.filter(pk=link.pk).update(sent_to=to)
