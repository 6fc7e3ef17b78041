"""What support is told, and when: each kind of news at most once an hour, grouped, with the
link to the page that fixes it, by e-mail (SUPPORT_NOTIFY_EMAIL) and to a Slack- or
Teams-compatible incoming webhook (SUPPORT_NOTIFY_WEBHOOK_URL, a JSON `{"text": ...}`).

The kinds: a class of problem appears or surges; meetings in the next 2 hours at risk with no
fix under way (no open re-consent link, no outreach writing or taken over); owners who did not
answer outreach; no webhook from Meeting BaaS for WEBHOOK_SILENCE_MINUTES while integrations
are live. Every message sent is a SupportNotice.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.core.mail import EmailMessage
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from calendars.consent import links, mail
from calendars.meetings import risk
from calendars.models import Integration, Outreach, SupportNotice, WebhookDelivery
from calendars.problems import CAUSES

logger = logging.getLogger(__name__)

Kind = SupportNotice.Kind
EVERY = timedelta(hours=1)
# A class of problem surges when this many integrations take it within SURGE_WINDOW.
SURGE_COUNT = 20
SURGE_WINDOW = timedelta(minutes=10)
AT_RISK_WITHIN = timedelta(hours=2)
TITLES = {cause.code: cause.title for cause in CAUSES}
WEBHOOK_TIMEOUT = 5.0


@dataclass(frozen=True)
class News:
    kind: str
    text: str
    path: str  # the page that fixes it, under PORTAL_PUBLIC_URL


def problems(now: datetime, since: datetime) -> News | None:
    """The classes of problem integrations took since the last notice, a surge said first."""
    broken = Integration.objects.exclude(problem_code="").filter(status_changed_at__gt=since)
    counts = dict(broken.values_list("problem_code").annotate(n=Count("pk")).order_by())
    if not counts:
        return None
    recent = dict(
        broken.filter(status_changed_at__gt=now - SURGE_WINDOW)
        .values_list("problem_code")
        .annotate(n=Count("pk"))
        .order_by()
    )
    lines = [
        f"- {TITLES.get(code, code)}: {n} integration{'s' if n != 1 else ''}"
        + (
            " (surge: " + str(recent[code]) + " in 10 minutes)"
            if recent.get(code, 0) >= SURGE_COUNT
            else ""
        )
        for code, n in sorted(counts.items(), key=lambda item: -item[1])
    ]
    return News(
        Kind.PROBLEMS,
        "New problems since " + _at(since) + ":\n" + "\n".join(lines),
        reverse("admin:calendars_integration_changelist") + "?status__exact=error",
    )


def meetings_at_risk(now: datetime, since: datetime) -> News | None:
    """Meetings of the next 2 hours at risk whose calendar no one is fixing."""
    h = risk.Horizon(
        now=now,
        until=now + AT_RISK_WITHIN,
        stale_before=now - timedelta(hours=settings.MEETINGS_SYNC_STALE_HOURS),
    )
    meetings = risk.at_risk(risk.find(h).ids)
    fixing = _credentials_being_fixed({m.integration.credential_id for m in meetings})
    unattended = [m for m in meetings if m.integration.credential_id not in fixing]
    if not unattended:
        return None
    n = len(unattended)
    return News(
        Kind.AT_RISK,
        f"{n} meeting{'s' if n != 1 else ''} in the next 2 hours at risk, no fix under way; "
        f"the first starts {_at(unattended[0].starts_at)}.",
        reverse("admin:calendars_meeting_at_risk"),
    )


def _credentials_being_fixed(ids: set[int]) -> set[int]:
    waiting = set(links.waiting_by_credential(ids))
    handled = Outreach.objects.filter(
        credential_id__in=ids, state__in=[Outreach.State.WRITING, Outreach.State.TAKEN_OVER]
    ).values_list("credential_id", flat=True)
    return waiting | set(handled)


def owners_not_answering(now: datetime, since: datetime) -> News | None:
    ended = Outreach.objects.filter(state=Outreach.State.NO_ANSWER, ended_at__gt=since)
    n = ended.count()
    if not n:
        return None
    return News(
        Kind.NO_ANSWER,
        f"{n} account owner{'s' if n != 1 else ''} did not answer re-consent outreach: "
        "yours to follow up.",
        reverse("admin:calendars_outreach_changelist") + "?state__exact=no_answer",
    )


def webhook_silence(now: datetime, since: datetime) -> News | None:
    """No delivery for WEBHOOK_SILENCE_MINUTES while integrations older than that are live
    (Meeting BaaS disables an endpoint after days of failed deliveries)."""
    quiet_since = now - timedelta(minutes=settings.WEBHOOK_SILENCE_MINUTES)
    live = Integration.objects.live().filter(created_at__lt=quiet_since)
    if WebhookDelivery.objects.filter(received_at__gt=quiet_since).exists() or not live.exists():
        return None
    last = WebhookDelivery.objects.order_by("-received_at").values_list("received_at", flat=True)
    heard = f"the last one arrived {_at(last[0])}" if last else "none has ever arrived"
    return News(
        Kind.WEBHOOK_SILENCE,
        f"No webhook from Meeting BaaS for {settings.WEBHOOK_SILENCE_MINUTES} minutes while "
        f"integrations are live ({heard}): check the endpoint at Meeting BaaS.",
        reverse("admin:calendars_webhookdelivery_changelist"),
    )


FINDERS: dict[str, Callable[[datetime, datetime], News | None]] = {
    Kind.PROBLEMS: problems,
    Kind.AT_RISK: meetings_at_risk,
    Kind.NO_ANSWER: owners_not_answering,
    Kind.WEBHOOK_SILENCE: webhook_silence,
}


def configured() -> bool:
    return bool(settings.SUPPORT_NOTIFY_EMAIL or settings.SUPPORT_NOTIFY_WEBHOOK_URL)


def run(now: datetime | None = None) -> list[SupportNotice]:
    """Tell support what is new, each kind at most once an hour; the notices sent."""
    now = now or timezone.now()
    if not configured():
        return []
    sent = []
    for kind, find in FINDERS.items():
        last = SupportNotice.objects.filter(kind=kind).order_by("-sent_at").first()
        if last is not None and last.sent_at > now - EVERY:
            continue
        news = find(now, last.sent_at if last else now - EVERY)
        if news is not None:
            sent.append(_send(news))
    return sent


def _send(news: News) -> SupportNotice:
    url = settings.PORTAL_PUBLIC_URL + news.path
    subject = f"{settings.PORTAL_COMPANY_NAME} portal: {Kind(news.kind).label}"
    text = f"{news.text}\n\nFix it here: {url}"
    errors = []
    recipients = settings.SUPPORT_NOTIFY_EMAIL
    if recipients and not mail.available():
        errors.append("e-mail: no mailer configured (EMAIL_URL)")
    elif recipients:
        try:
            EmailMessage(subject, text, settings.DEFAULT_FROM_EMAIL, recipients).send()
        except (smtplib.SMTPException, OSError) as exc:
            errors.append(f"e-mail: {type(exc).__name__}: {exc}")
    hook = settings.SUPPORT_NOTIFY_WEBHOOK_URL
    if hook:
        try:
            answer = requests.post(
                hook, json={"text": f"*{subject}*\n{text}"}, timeout=WEBHOOK_TIMEOUT
            )
            answer.raise_for_status()
        except requests.RequestException as exc:
            errors.append(f"webhook: {type(exc).__name__}")
    for error in errors:
        logger.warning("support notice %s not delivered: %s", news.kind, error)
    return SupportNotice.objects.create(
        kind=news.kind,
        text=text,
        url=url[:500],
        email_to=", ".join(recipients)[:500],
        webhook=bool(hook),
        error="; ".join(errors)[:500],
    )


def _at(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")
