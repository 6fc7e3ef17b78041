"""Automatic re-consent outreach: the portal asks an account's owner to grant access again.

For customers with `Customer.outreach` automatic, a run (every minute, `tasks.run_outreach`)
finds the credentials whose grant a re-consent fixes (refused, revoked, lacking scopes) or
that is about to end (Google's Testing mode, Microsoft's 90 days unused); e-mails the owner a
fresh re-consent link (making it revokes the earlier open one); reminds them after
OUTREACH_REMINDER_DAYS; and hands the credential back to support ("owner did not answer") a
day after the last reminder. An outreach ends as soon as the grant works again; a person takes
over with "Handle it myself" or by making a link. Every e-mail tried is an OutreachMessage
naming its link; the link's URL is only in the e-mail.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Exists, Min, OuterRef, Q
from django.utils import timezone

from calendars.consent import links, mail
from calendars.lib.remote_values import fit
from calendars.models import Credential, Customer, Integration, Outreach, OutreachMessage
from calendars.problems import PERMISSION, REVOKED_GRANT, TOKEN_REFUSED, diagnose
from calendars.queries import expiry
from calendars.status import PortalStatus

logger = logging.getLogger(__name__)

# The diagnoses a re-consent fixes, then the expiries it prevents.
BROKEN = (TOKEN_REFUSED.code, REVOKED_GRANT.code, PERMISSION.code)
PREDICTED = (expiry.TESTING_GRANT, expiry.UNUSED_GRANT)
# What happened, in the owner's words ({provider}: Google or Microsoft).
WHAT_HAPPENED = {
    TOKEN_REFUSED.code: "{provider} stopped accepting the access you gave us to your calendar",
    REVOKED_GRANT.code: "the access you gave us to your calendar was withdrawn at {provider}",
    PERMISSION.code: "{provider} no longer lets us read your calendar: access to it was not "
    "granted, or was limited",
    expiry.TESTING_GRANT: "{provider} ends the access you gave us to your calendar 7 days after "
    "you grant it, while our app is being verified",
    expiry.UNUSED_GRANT: "{provider} ends the access you gave us to your calendar when it has "
    "not been used for 90 days",
}
# After the last reminder, this long before the credential goes back to support.
GIVE_UP_AFTER = timedelta(days=1)
# A message the mail server refused is tried again this long after.
RETRY_AFTER = timedelta(minutes=5)
MAIL_ERRORS = (smtplib.SMTPException, OSError)


@dataclass(frozen=True)
class Need:
    """Why a credential's owner should grant access again, and since (or from) when."""

    reason: str
    since: datetime

    @property
    def is_predicted(self) -> bool:
        return self.reason in PREDICTED


@dataclass(frozen=True)
class Run:
    started: int
    sent: int
    failed: int
    taken_over: int
    no_answer: int
    resolved: int

    def __str__(self) -> str:
        return (
            f"{self.started} started, {self.sent} sent, {self.failed} failed, "
            f"{self.taken_over} taken over, {self.no_answer} not answered, "
            f"{self.resolved} resolved"
        )


def needs(now: datetime, among: Q) -> dict[int, Need]:
    """The credentials `among` whose owner a re-consent would help, by id: what broke first
    (the earliest), else what will end first."""
    found: dict[int, Need] = {}

    def note(credential_id: int, need: Need) -> None:
        held = found.get(credential_id)
        if held is None or (held.is_predicted, held.since) > (need.is_predicted, need.since):
            found[credential_id] = need

    broken = (
        Integration.objects.filter(problem_code__in=BROKEN)
        .filter(credential__in=Credential.objects.filter(among))
        .values_list("credential_id", "problem_code")
        .annotate(since=Min("status_changed_at"))
        .order_by()
    )
    for credential_id, code, since in broken:
        note(credential_id, Need(code, since or now))
    failed = Credential.objects.filter(among, last_check_ok=False)
    for credential_id, message, checked_at in failed.values_list(
        "pk", "last_check_message", "last_checked_at"
    ):
        diagnosis = diagnose(PortalStatus.ERROR, message)
        if diagnosis is not None and diagnosis.code in BROKEN:
            note(credential_id, Need(diagnosis.code, checked_at or now))
    for credential_id, granted_at in (
        expiry.grants_in_testing(now).filter(among).values_list("pk", "granted_at")
    ):
        note(credential_id, Need(expiry.TESTING_GRANT, granted_at + expiry.GOOGLE_TESTING_GRANT))
    for credential_id, used_at in (
        expiry.unused_grants(now).filter(among).values_list("pk", "used_at")
    ):
        note(credential_id, Need(expiry.UNUSED_GRANT, used_at + expiry.MICROSOFT_UNUSED_GRANT))
    return found


def run(now: datetime | None = None) -> Run:
    """Start, continue and end outreach: one pass, safe to run again at any time."""
    now = now or timezone.now()
    open_ones = {
        o.credential_id: o for o in Outreach.objects.exclude(state=Outreach.State.RESOLVED)
    }
    automatic = Q(customer__outreach=Customer.Outreach.AUTOMATIC)
    found = needs(now, automatic | Q(pk__in=list(open_ones)))
    resolved = [o.pk for cid, o in open_ones.items() if cid not in found]
    Outreach.objects.filter(pk__in=resolved).update(state=Outreach.State.RESOLVED, ended_at=now)
    started = 0
    wanted = Credential.objects.filter(automatic, pk__in=[c for c in found if c not in open_ones])
    for credential_id in wanted.values_list("pk", flat=True):
        started += _start(credential_id, found[credential_id])
    counts = {"sent": 0, "failed": 0, "taken_over": 0, "no_answer": 0}
    # Under the daily limit, an owner not yet told goes before another's reminder.
    told = OutreachMessage.objects.filter(
        outreach=OuterRef("pk"), delivery=OutreachMessage.Delivery.SENT
    )
    writing = (
        Outreach.objects.filter(
            state=Outreach.State.WRITING, credential__customer__outreach=Customer.Outreach.AUTOMATIC
        )
        .annotate(told=Exists(told))
        .order_by("told", "started_at", "pk")
    )
    for outreach_id in writing.values_list("pk", flat=True):
        done = _write_if_due(outreach_id, now)
        if done:
            counts[done] += 1
    return Run(started=started, resolved=len(resolved), **counts)


def _start(credential_id: int, need: Need) -> int:
    try:
        with transaction.atomic():
            Outreach.objects.create(
                credential_id=credential_id, reason=need.reason, since=need.since
            )
    except IntegrityError:  # another run started it (one_outreach_per_credential)
        return 0
    return 1


def _write_if_due(outreach_id: int, now: datetime) -> str:
    """Send the outreach's next message if it is due: "sent", "failed", "taken_over",
    "no_answer" or ""."""
    with transaction.atomic():
        # Held while the mail goes out (at most EMAIL_TIMEOUT): a second run skips it.
        outreach = (
            Outreach.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("credential__customer", "credential__oauth_app")
            .filter(pk=outreach_id, state=Outreach.State.WRITING)
            .first()
        )
        if outreach is None:
            return ""
        if _someone_sent_a_link(outreach):
            return "taken_over"
        due = _next_due(outreach, now)
        if due is None:
            outreach.state = Outreach.State.NO_ANSWER
            outreach.ended_at = now
            outreach.save(update_fields=["state", "ended_at"])
            return "no_answer"
        if due > now or _over_daily_limit(outreach.credential.customer_id, now):
            return ""
        if not mail.available():
            logger.warning("outreach %s waits: no mailer configured (EMAIL_URL)", outreach.pk)
            return ""
        return _send(outreach, now)


def _someone_sent_a_link(outreach: Outreach) -> bool:
    """A person made the credential a re-consent link that is still open: theirs to follow
    (a link of the outreach's would revoke it), taken over in their name."""
    made = (
        links.waiting_reconsent(outreach.credential)
        .filter(created_by__isnull=False)
        .order_by("created_at")
        .first()
    )
    if made is None:
        return False
    outreach.state = Outreach.State.TAKEN_OVER
    outreach.handled_by_id = made.created_by_id
    outreach.handled_at = outreach.ended_at = made.created_at
    outreach.save(update_fields=["state", "handled_by", "handled_at", "ended_at"])
    return True


def _next_due(outreach: Outreach, now: datetime) -> datetime | None:
    """When the next message is due; None once the owner had every reminder and a day more."""
    messages = list(outreach.messages.order_by("created_at", "pk"))
    sent = [m for m in messages if m.delivery == OutreachMessage.Delivery.SENT]
    days = settings.OUTREACH_REMINDER_DAYS
    if sent and len(sent) > len(days):
        ends = sent[0].created_at + timedelta(days=days[-1] if days else 0) + GIVE_UP_AFTER
        return None if now >= ends else ends
    due = sent[0].created_at + timedelta(days=days[len(sent) - 1]) if sent else now
    if messages and messages[-1].delivery == OutreachMessage.Delivery.FAILED:
        due = max(due, messages[-1].created_at + RETRY_AFTER)
    return due


def _over_daily_limit(customer_id: int, now: datetime) -> bool:
    sent = OutreachMessage.objects.filter(
        customer_id=customer_id,
        delivery=OutreachMessage.Delivery.SENT,
        created_at__gt=now - timedelta(days=1),
    )
    return sent.count() >= settings.OUTREACH_MAX_PER_CUSTOMER_DAY


def _send(outreach: Outreach, now: datetime) -> str:
    credential = outreach.credential
    to = credential.customer.contact_email or credential.account_email
    reminder = outreach.messages.filter(delivery=OutreachMessage.Delivery.SENT).count()
    new = links.create_reconsent_link(credential, acting_user=None)
    error = ""
    try:
        mail.send_outreach(
            new,
            to,
            what=WHAT_HAPPENED[outreach.reason].format(
                provider=credential.oauth_app.get_provider_display()
            ),
            since=outreach.since,
            predicted=outreach.reason in PREDICTED and outreach.since > now,
            reminder=reminder,
        )
    except MAIL_ERRORS as exc:
        # Nobody has this link's URL: it must not stay open beside the next one.
        links.revoke(new.link, acting_user=None)
        error = f"{type(exc).__name__}: {exc}"
        logger.warning(
            "outreach %s: the mail server did not take the message: %s", outreach.pk, error
        )
    OutreachMessage.objects.create(
        outreach=outreach,
        customer_id=credential.customer_id,
        to=to,
        reminder=reminder,
        reason=outreach.reason,
        link=new.link,
        delivery=OutreachMessage.Delivery.FAILED if error else OutreachMessage.Delivery.SENT,
        error=fit(OutreachMessage, "error", error),
    )
    return "failed" if error else "sent"


def take_over(credential: Credential, *, acting_user: AbstractBaseUser) -> bool:
    """A person handles the credential's re-consent: the portal writes no more; False when no
    outreach was under way."""
    with transaction.atomic():
        outreach = (
            Outreach.objects.select_for_update()
            .filter(
                credential=credential, state__in=[Outreach.State.WRITING, Outreach.State.NO_ANSWER]
            )
            .first()
        )
        if outreach is None:
            return False
        outreach.state = Outreach.State.TAKEN_OVER
        outreach.handled_by = acting_user
        outreach.handled_at = outreach.ended_at = timezone.now()
        outreach.save(update_fields=["state", "handled_by", "handled_at", "ended_at"])
    return True


def current(credential: Credential) -> Outreach | None:
    """The credential's outreach not yet resolved, if any."""
    return (
        Outreach.objects.filter(credential=credential)
        .exclude(state=Outreach.State.RESOLVED)
        .select_related("handled_by")
        .first()
    )


def not_answered_count() -> int:
    """Credentials whose owner did not answer outreach: support's again (an indexed count)."""
    return Outreach.objects.filter(state=Outreach.State.NO_ANSWER).count()
