"""Reconciliation: every connection Meeting BaaS holds, compared with the portal's integrations.

A run lists both API versions page by page, in tasks of BULK_TASK_SECONDS that each queue
their successor, and commits its work in parts of PART connections: each part's findings, its
corrections, the ids it listed (ReconciliationListed, for the ghosts) and the run's move past it
(the listing's cursor, or v1's offset, and how far into the page) in one transaction. A task
killed anywhere loses only the part in hand, which the next task does again, so every finding is
recorded once and every correction made once; a lost task's run is queued again by `sweep`.
Its memory is one page, however many connections there are. What it finds:
- orphans (connections no live integration holds) wait for an admin to adopt or delete them;
- ghosts (live integrations Meeting BaaS no longer lists) are confirmed with a GET and marked
  disconnected as a refresh does on a 404;
- drift (status, account, raw calendar) is corrected, each correction in the integration's
  history, or the finding says why it could not be.

Creates in flight: a connection exists on Meeting BaaS a moment before its integration row is
committed. Connections created within CREATE_WINDOW before the run started are not judged, and
an orphan is checked again (no integration holds it, Meeting BaaS still has it, and on
PostgreSQL under the lock a create holds on its raw calendar) right before it is adopted or
deleted. Runs only ever apply what Meeting BaaS says now, through the same locked writes as
refreshes and webhooks, so they can repeat or overlap with either.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from calendars import meetingbaas, queue
from calendars.actions import bot_findings
from calendars.actions.audit import record_action
from calendars.actions.credentials import list_raw_calendars
from calendars.actions.refresh import apply_remote, create_from_remote, mark_disconnected
from calendars.lib.remote_values import fit
from calendars.meetingbaas import errors
from calendars.meetingbaas.types import ApiVersion, RemoteConnection
from calendars.models import (
    Credential,
    Integration,
    RawCalendar,
    Reconciliation,
    ReconciliationFinding,
    ReconciliationListed,
)
from calendars.problems import PROBLEMS
from calendars.status import REVOKED, Cause, PortalStatus, is_revoked, needs_detail

logger = logging.getLogger(__name__)
Kind = ReconciliationFinding.Kind
Outcome = ReconciliationFinding.Outcome

# Longer than any create can take between Meeting BaaS making the connection and the portal
# committing its row: the API call is bounded by MEETINGBAAS_TIMEOUT and its retries, a task by
# Q_TIMEOUT (2 minutes by default).
CREATE_WINDOW = timedelta(minutes=10)
# Connections compared (or integrations checked for ghosts) per transaction: each may cost a
# GET, so a part takes seconds, and a task stops within seconds of its BULK_TASK_SECONDS.
PART = 50


class FindingRefused(Exception):
    """An adopt or delete the portal will not do; `str()` says why, to the person who asked."""


class _Overtaken(Exception):
    """Another task moved the run on first (a task delivered twice, or queued by the sweep)."""


# What a run does, in order: each version's listing, then its ghosts (integrations of that
# version the whole listing did not name); last, the bots of the coming meetings, both versions
# at once (bot_findings.py). `Reconciliation.step` indexes it.
LIST, GHOSTS, BOTS = "list", "ghosts", "bots"
STEPS = [(version, stage) for version in ApiVersion for stage in (LIST, GHOSTS)]
STEPS.append(("", BOTS))


def doing(run: Reconciliation) -> str:
    """What an unfinished run is at, for its page: "listing the API v2 connections"."""
    if run.step >= len(STEPS):
        return "finishing"
    version, stage = STEPS[run.step]
    if stage == BOTS:
        return "comparing the coming meetings' bots with the bot policies"
    if stage == LIST:
        return f"listing the API {version} connections"
    return f"confirming the API {version} integrations no page listed (ghosts)"


def start(*, acting_user: AbstractBaseUser | None) -> Reconciliation:
    """Record a run (asked for by a person, or by the daily schedule: None) and queue it."""
    with transaction.atomic():
        run = Reconciliation.objects.create(
            started_by=acting_user if acting_user and acting_user.is_authenticated else None
        )
        record_action(acting_user, "run reconciliation", succeeded=True, message=f"{run} queued")
        transaction.on_commit(lambda: enqueue(run.pk))
    return run


def enqueue(run_id: int) -> None:
    """Queue a task for the run (its first, its successor, or one the sweep finds missing)."""
    Reconciliation.objects.filter(pk=run_id).update(active_at=timezone.now())
    queue.enqueue(
        "run_reconciliation", run_id, group="reconciliation", task_name=f"reconciliation-{run_id}"
    )


def reconcile_now() -> Reconciliation:
    """A run done at once, to the end, in this process (a shell, the benchmark)."""
    return run_reconciliation(Reconciliation.objects.create().pk, to_the_end=True)


def run_reconciliation(run_id: int, *, to_the_end: bool = False) -> Reconciliation:
    """Go on with the run where it stands: list every connection on Meeting BaaS, both
    versions, and settle what differs, part by part, for BULK_TASK_SECONDS (or `to_the_end`);
    then queue the successor that goes on from there.

    Each part's findings, corrections and the run's move past it commit together, so a task
    killed anywhere loses only the part in hand, which its successor (or the sweep) does again.
    """
    run = Reconciliation.objects.get(pk=run_id)
    if run.finished_at is not None:
        return run
    deadline = None if to_the_end else time.monotonic() + settings.BULK_TASK_SECONDS
    # Both stored with the first part (every later task judges creation times against the
    # same moment): a write now would queue behind creates holding SQLite's write lock, and
    # the run compares only what is committed anyway.
    run.started_at = run.started_at or timezone.now()
    run.tasks += 1
    run.stored = (run.step, run.position, run.in_page)  # where the row says it stands
    try:
        while run.step < len(STEPS):
            _go_on(run, deadline)
            # Out of time once a part is stored (every task moves the run on, however short).
            stored = run.stored == (run.step, run.position, run.in_page)
            out_of_time = deadline is not None and time.monotonic() > deadline
            if stored and out_of_time and run.step < len(STEPS):
                enqueue(run_id)  # the successor
                return Reconciliation.objects.get(pk=run_id)
        _finish(run)
    except _Overtaken:
        logger.info("reconciliation %s: another task has it", run_id)
    return Reconciliation.objects.get(pk=run_id)


def _go_on(run: Reconciliation, deadline: float | None) -> None:
    """Do the run's current step until it ends or the time is up, committing part by part."""
    version, stage = STEPS[run.step]
    if stage == BOTS:
        _find_bots(run)
        return
    client = meetingbaas.client(version)
    if stage == GHOSTS:
        _find_ghosts(run, client)
        return
    not_before = run.started_at - CREATE_WINDOW
    try:
        for page, after in client.connection_pages(run.position):
            while True:
                part = page[run.in_page : run.in_page + PART]
                end = run.in_page + len(part)
                if end < len(page):
                    to = (run.step, run.position, end)
                else:
                    to = (run.step if after else run.step + 1, after, 0)
                _compare_part(run, client, part, not_before, to)
                if deadline is not None and time.monotonic() > deadline:
                    return
                if end >= len(page):
                    break
    except errors.MeetingBaasError as exc:
        # Without a whole listing no connection can be called missing: no ghosts for it.
        logger.warning("reconciliation %s: listing %s failed: %s", run.pk, version, exc)
        with transaction.atomic():
            failed = _locked(run)
            problems = "\n".join(filter(None, [failed.error, f"API {version}: {exc}"]))
            _move(run, (run.step + 2, "", 0), error=fit(Reconciliation, "error", problems))


def _locked(run: Reconciliation) -> Reconciliation:
    """The run's row, locked for this transaction; _Overtaken if another task moved it on."""
    locked = Reconciliation.objects.select_for_update().get(pk=run.pk)
    where = (locked.step, locked.position, locked.in_page)
    if where != run.stored or locked.finished_at is not None:
        raise _Overtaken
    return locked


def _move(run: Reconciliation, to: tuple[int, str, int], **changes: object) -> None:
    """Move the run (locked) on `to` a step, a position and how far into its page, with
    `changes` (F() counts too)."""
    step, position, in_page = to
    Reconciliation.objects.filter(pk=run.pk).update(
        step=step,
        position=position,
        in_page=in_page,
        active_at=timezone.now(),
        started_at=run.started_at,
        tasks=run.tasks,
        **changes,
    )
    _advance(run, to)
    run.stored = to
    for name, value in changes.items():
        if not hasattr(value, "resolve_expression"):
            setattr(run, name, value)


def _advance(run: Reconciliation, to: tuple[int, str, int]) -> None:
    """Move the run on without storing it: for a move with nothing to record (an empty
    listing, no ghosts left to look for), stored by the next write that stores where the run
    stands, so an idle step never waits for SQLite's write lock."""
    run.step, run.position, run.in_page = to


def _compare_part(
    run: Reconciliation,
    client: meetingbaas.Client,
    page: list[RemoteConnection],
    not_before: datetime,
    to: tuple[int, str, int],
) -> None:
    """Record a part of a page's orphans and settle its drift, and move the run past it `to`
    where the next part starts, in one transaction (the GETs it needs are made before it)."""
    held = {
        row["remote_id"]: row
        for row in Integration.objects.filter(remote_id__in=[r.remote_id for r in page]).values(
            "pk",
            "remote_id",
            "status",
            "status_cause",
            "remote_status",
            "credential__account_email",
            "raw_calendar__provider_id",
        )
    }
    if not page:
        _advance(run, to)
        return
    details = _details(run, client, page, held)
    with transaction.atomic():
        _locked(run)
        found: list[ReconciliationFinding | None] = []
        too_recent = 0
        for remote in page:
            row = held.get(remote.remote_id)
            if row is None and remote.created_at is not None and remote.created_at > not_before:
                too_recent += 1
            elif row is None:
                found.append(_orphan(run, client.api_version, remote))
            elif not _reachable(row):
                # Revoked connections stay on Meeting BaaS by design (new credentials revive
                # them).
                if remote.status != REVOKED:
                    found.append(_orphan(run, client.api_version, remote, held_by=row["pk"]))
            elif remote.remote_id not in details or details[remote.remote_id] is not None:
                found.append(_settle_drift(run, client, row, remote, details))
        _record([finding for finding in found if finding is not None])
        ReconciliationListed.objects.bulk_create(
            [ReconciliationListed(run=run, remote_id=remote.remote_id) for remote in page],
            ignore_conflicts=True,
        )
        _move(run, to, listed=F("listed") + len(page), too_recent=F("too_recent") + too_recent)


def _details(
    run: Reconciliation, client: meetingbaas.Client, page: list[RemoteConnection], held: dict
) -> dict[UUID, RemoteConnection | errors.NotFound | None]:
    """What a GET says of each live connection whose status looks different (None: the GET
    failed); v1 lists no status (the v1 health check speaks for v1), and the v2 list has no
    error details, so only those cost a call."""
    details: dict[UUID, RemoteConnection | errors.NotFound | None] = {}
    if client.api_version != ApiVersion.V2:
        return details
    for remote in page:
        row = held.get(remote.remote_id)
        if row is None or not _reachable(row):
            continue
        if not needs_detail(client.api_version, row["status"], remote.portal_status):
            continue
        try:
            details[remote.remote_id] = client.get_connection(remote.remote_id)
        except errors.NotFound as exc:
            details[remote.remote_id] = exc
        except errors.MeetingBaasError as exc:
            logger.warning("reconciliation %s: GET %s failed: %s", run.pk, remote.remote_id, exc)
            details[remote.remote_id] = None
    return details


def _reachable(row: dict) -> bool:
    """Whether a held row's connection exists on Meeting BaaS: live, or revoked (a new grant
    revives it, and then the row must follow, not be called an orphan)."""
    return row["status"] != PortalStatus.DISCONNECTED or is_revoked(
        row["status"], row["status_cause"], row["remote_status"]
    )


def _record(findings: list[ReconciliationFinding]) -> None:
    # A run done again (its task delivered twice) records nothing twice.
    ReconciliationFinding.objects.bulk_create(findings, ignore_conflicts=True)


def _orphan(
    run: Reconciliation, version: str, remote: RemoteConnection, held_by: int | None = None
) -> ReconciliationFinding:
    differences = (
        f"Integration {held_by} is disconnected in the portal, but Meeting BaaS still holds "
        "its connection (billed, and it schedules bots)."
        if held_by
        else ""
    )
    return _finding(
        run, Kind.ORPHAN, version, remote, differences=differences, integration_id=held_by
    )


def _finding(
    run: Reconciliation, kind: str, version: str, remote: RemoteConnection, **fields: object
) -> ReconciliationFinding:
    """A finding about `remote`, with what Meeting BaaS says of it (cut to fit) and `fields`."""
    return ReconciliationFinding(
        run=run,
        kind=kind,
        api_version=version,
        remote_id=remote.remote_id,
        account_email=fit(ReconciliationFinding, "account_email", remote.account_email),
        platform=fit(ReconciliationFinding, "platform", remote.platform or ""),
        remote_created_at=remote.created_at,
        remote_status=fit(ReconciliationFinding, "remote_status", remote.status or ""),
        **fields,
    )


def _settle_drift(
    run: Reconciliation,
    client: meetingbaas.Client,
    row: dict,
    remote: RemoteConnection,
    details: dict[UUID, RemoteConnection | errors.NotFound | None],
) -> ReconciliationFinding | None:
    """Compare a live integration with its listed connection and correct what differs; the
    finding, if anything did."""
    before = row["status"]
    raw_calendar_id = remote.raw_calendar_id
    differences, problems = [], []
    detail = details.get(remote.remote_id)
    if isinstance(detail, errors.NotFound):
        return _mark_ghost(run, row["pk"], remote.remote_id, client.api_version, detail)
    if detail is not None:
        after = apply_remote(row["pk"], detail, cause=Cause.REFRESH).status
        if after != before:
            differences.append(f"status: {before} → {after}")
        raw_calendar_id = detail.raw_calendar_id
    account = remote.account_email
    account_differs = bool(account) and account.lower() != row["credential__account_email"].lower()
    raw_differs = (
        raw_calendar_id is not None and raw_calendar_id != row["raw_calendar__provider_id"]
    )
    if account_differs or raw_differs:
        if account_differs:
            differences.append(f"account: {row['credential__account_email']} → {account}")
        if raw_differs:
            differences.append(
                f"raw calendar: {row['raw_calendar__provider_id']} → {raw_calendar_id}"
            )
        why_not = _repoint(
            run,
            row,
            account if account_differs else None,
            raw_calendar_id if raw_differs else None,
            "; ".join(differences),
        )
        if why_not:
            problems.append(why_not)
    if not differences:
        return None
    return _drift(run, client.api_version, row["pk"], remote, differences, problems)


def _repoint(
    run: Reconciliation,
    row: dict,
    account: str | None,
    raw_calendar_id: str | None,
    what: str,
) -> str:
    """Point the integration at the credential and raw calendar Meeting BaaS names; returns why
    it could not, or ""."""
    integration = Integration.objects.select_related("credential", "raw_calendar").get(pk=row["pk"])
    credential = integration.credential
    if account is not None:
        fitting = list(
            Credential.objects.filter(
                account_email__iexact=account, oauth_app__provider=integration.provider
            )
        )
        if len(fitting) != 1:
            return _no_single_credential(account, integration.provider, fitting)
        credential = fitting[0]
    provider_id = raw_calendar_id or integration.raw_calendar.provider_id
    raw = RawCalendar.objects.filter(credential=credential, provider_id=provider_id).first()
    if raw is None:
        return (
            f"The credential {credential.account_email} has no raw calendar {provider_id}: "
            "list its raw calendars, then run a reconciliation again."
        )
    with transaction.atomic():
        integration = Integration.objects.select_for_update().get(pk=row["pk"])
        taken = raw.integrations.live().exclude(pk=integration.pk).first()
        if taken is not None:
            return f"{raw} already has integration {taken.pk}; they need a person's look."
        integration.credential = credential
        integration.raw_calendar = raw
        integration.save()  # field history records the change
        record_action(
            run.started_by,
            "reconciliation correction",
            integration=integration,
            succeeded=True,
            message=f"{run} corrected {what}.",
        )
    return ""


def _no_single_credential(account: str, provider: str, fitting: list[Credential]) -> str:
    if not fitting:
        return f"No credential for {account} on a {provider} OAuth app."
    names = ", ".join(f"{c.account_email} ({c.customer}, {c.oauth_app.name})" for c in fitting)
    return f"{len(fitting)} credentials fit {account}: {names}; which one is for a person to say."


def _drift(
    run: Reconciliation,
    version: str,
    integration_id: int,
    remote: RemoteConnection,
    differences: list[str],
    problems: list[str],
) -> ReconciliationFinding:
    return _finding(
        run,
        Kind.DRIFT,
        version,
        remote,
        differences="; ".join(differences),
        outcome=Outcome.NOT_CORRECTED if problems else Outcome.CORRECTED,
        reason=" ".join(problems),
        integration_id=integration_id,
        resolved_at=None if problems else timezone.now(),
    )


def _find_ghosts(run: Reconciliation, client: meetingbaas.Client) -> None:
    """The next few live integrations of the version the whole listing did not name, each
    confirmed gone with a GET (made before the transaction that records them)."""
    # Younger integrations may belong to connections made after the listing passed their page.
    named = ReconciliationListed.objects.filter(run=run, remote_id=OuterRef("remote_id"))
    missing = list(
        Integration.objects.reachable()
        .filter(
            api_version=client.api_version,
            created_at__lt=run.started_at,
            pk__gt=int(run.position or 0),
        )
        .exclude(Exists(named))
        .order_by("pk")
        .values_list("pk", "remote_id")[:PART]
    )
    if not missing:
        _advance(run, (run.step + 1, "", 0))
        return
    answers: list[tuple[int, UUID, RemoteConnection | errors.NotFound]] = []
    for pk, remote_id in missing:
        try:
            answers.append((pk, remote_id, client.get_connection(remote_id)))
        except errors.NotFound as exc:
            answers.append((pk, remote_id, exc))
        except errors.MeetingBaasError as exc:
            logger.warning("reconciliation %s: GET %s failed: %s", run.pk, remote_id, exc)
    with transaction.atomic():
        _locked(run)
        ghosts = []
        for pk, remote_id, answer in answers:
            if isinstance(answer, errors.NotFound):
                ghosts.append(_mark_ghost(run, pk, remote_id, client.api_version, answer))
            else:
                # Listed by no page, yet there: whatever it says now is the truth.
                apply_remote(pk, answer, cause=Cause.REFRESH)
        _record(ghosts)
        _move(run, (run.step, str(missing[-1][0]), 0))


def _mark_ghost(
    run: Reconciliation, integration_id: int, remote_id: UUID, version: str, exc: Exception
) -> ReconciliationFinding:
    reason = f"{exc} Found missing by {run}."
    mark_disconnected(integration_id, message=reason, cause=Cause.REFRESH)
    return ReconciliationFinding(
        run=run,
        kind=Kind.GHOST,
        api_version=version,
        remote_id=remote_id,
        outcome=Outcome.DISCONNECTED,
        reason=reason,
        integration_id=integration_id,
        resolved_at=timezone.now(),
    )


def _find_bots(run: Reconciliation) -> None:
    """Record the run's bot findings and move it past its last step, in one transaction."""
    found = bot_findings.find(run)
    with transaction.atomic():
        _locked(run)
        _record(found)
        _move(run, (run.step + 1, "", 0))


def _finish(run: Reconciliation) -> None:
    with transaction.atomic():
        _locked(run)
        counts = dict(run.findings.values_list("kind").annotate(n=Count("pk")).order_by())
        # The counts the pages stored; where it stands and its start are this task's to store.
        run.refresh_from_db(fields=["listed", "too_recent", "error"])
        run.orphans = counts.get(Kind.ORPHAN, 0)
        run.ghosts = counts.get(Kind.GHOST, 0)
        run.drift = counts.get(Kind.DRIFT, 0)
        run.bot_findings = sum(counts.get(kind, 0) for kind in bot_findings.BOT_KINDS)
        run.succeeded = not run.error
        run.finished_at = timezone.now()
        run.save()
        if run.succeeded:
            # Every orphan still there is this run's finding now: one list of open orphans.
            # Likewise the open bot findings: this run found again those still true.
            superseded = open_orphans(before=run) | ReconciliationFinding.objects.filter(
                kind__in=bot_findings.BOT_KINDS, outcome=Outcome.OPEN, run_id__lt=run.pk
            )
            superseded.update(
                outcome=Outcome.SETTLED,
                reason=f"Superseded by {run}.",
                resolved_at=run.finished_at,
            )
    # What it compared is of no use once its ghosts are known.
    ReconciliationListed.objects.filter(run=run).delete()
    logger.info(
        "%s: %s listed, %s orphans, %s ghosts, %s drift, %s about bots, in %s task(s)",
        run,
        run.listed,
        run.orphans,
        run.ghosts,
        run.drift,
        run.bot_findings,
        run.tasks,
    )


def sweep() -> list[int]:
    """Queue again the unfinished runs no task has moved on lately (their task was lost: a
    killed worker, Redis restarted, a page slower than Q_TIMEOUT)."""
    silent_since = timezone.now() - timedelta(seconds=settings.Q_CLUSTER["retry"])
    silent = Q(active_at__lt=silent_since) | Q(active_at__isnull=True, created_at__lt=silent_since)
    stalled = list(
        Reconciliation.objects.filter(silent, finished_at__isnull=True).values_list("pk", flat=True)
    )
    for run_id in stalled:
        logger.warning("reconciliation %s had no live task: queued again", run_id)
        enqueue(run_id)
    return stalled


def open_orphans(before: Reconciliation | None = None) -> QuerySet[ReconciliationFinding]:
    orphans = ReconciliationFinding.objects.filter(kind=Kind.ORPHAN, outcome=Outcome.OPEN)
    return orphans if before is None else orphans.filter(run_id__lt=before.pk)


# --- what an admin does with an orphan -----------------------------------------------------


def adopt_orphan(finding_id: int, *, acting_user: AbstractBaseUser | None) -> Integration:
    """Make an orphan an integration of the one credential its account and platform fit."""
    finding = _open_orphan(finding_id)
    try:
        remote = _recheck(finding)
        credential = _credential_for(finding, remote)
        raw = _raw_calendar_for(credential, remote, acting_user)
        integration = _adopt(finding, remote, credential, raw, acting_user)
    except (FindingRefused, *PROBLEMS) as exc:
        if isinstance(exc, FindingRefused):
            ReconciliationFinding.objects.filter(pk=finding.pk, outcome=Outcome.OPEN).update(
                reason=fit(ReconciliationFinding, "reason", f"Not adopted: {exc}")
            )
        record_action(
            acting_user,
            "adopt connection",
            succeeded=False,
            message=f"{_named(finding)}: {exc}",
        )
        raise
    return integration


def delete_orphan(finding_id: int, *, acting_user: AbstractBaseUser | None) -> None:
    """Delete an orphan's connection on Meeting BaaS (irreversible), once checked again."""
    finding = _open_orphan(finding_id)
    try:
        remote = _recheck(finding)
        with transaction.atomic():
            # A create of this calendar holds its raw calendar's row until its integration is
            # committed: wait for it, then look again.
            _lock_raw_calendars(finding, remote)
            holder = _holder(finding)
            if holder is None:
                meetingbaas.client(finding.api_version).delete_connection(finding.remote_id)
                _resolve(finding, Outcome.DELETED, "Deleted on Meeting BaaS.", acting_user)
                record_action(
                    acting_user,
                    "delete connection on Meeting BaaS",
                    succeeded=True,
                    message=f"{_named(finding)}: deleted.",
                )
        if holder is not None:
            _resolve(finding, Outcome.SETTLED, f"Integration {holder.pk} holds it now.", None)
            raise FindingRefused(f"Integration {holder.pk} holds it now; nothing was deleted.")
    except errors.NotFound:
        _resolve(finding, Outcome.SETTLED, "Meeting BaaS no longer has it.", None)
        record_action(
            acting_user,
            "delete connection on Meeting BaaS",
            succeeded=True,
            message=f"{_named(finding)}: already gone.",
        )
    except (FindingRefused, *PROBLEMS) as exc:
        record_action(
            acting_user,
            "delete connection on Meeting BaaS",
            succeeded=False,
            message=f"{_named(finding)}: {exc}",
        )
        raise


def _named(finding: ReconciliationFinding) -> str:
    return (
        f"Meeting BaaS connection {finding.remote_id} ({finding.account_email or 'no account'}), "
        f"an orphan found by {finding.run}"
    )


def _open_orphan(finding_id: int) -> ReconciliationFinding:
    finding = ReconciliationFinding.objects.select_related("run").get(pk=finding_id)
    if finding.kind != Kind.ORPHAN or finding.outcome != Outcome.OPEN:
        raise FindingRefused(f"This finding is {finding.get_outcome_display().lower()} already.")
    if finding.run.finished_at is None:
        raise FindingRefused(f"{finding.run} has not finished: it may not have seen everything.")
    return finding


def _recheck(finding: ReconciliationFinding) -> RemoteConnection:
    """The orphan as Meeting BaaS has it now, if it is still an orphan and old enough to judge."""
    settled_after = (finding.remote_created_at or finding.run.started_at) + CREATE_WINDOW
    # No create can be storing a connection an integration (disconnected) holds already.
    if finding.integration_id is None and timezone.now() < settled_after:
        raise FindingRefused(
            "It is too recent to judge: a create may still be storing its integration. "
            f"Try again after {timezone.localtime(settled_after):%Y-%m-%d %H:%M}."
        )
    holder = _holder(finding)
    if holder is not None:
        _resolve(finding, Outcome.SETTLED, f"Integration {holder.pk} holds it now.", None)
        raise FindingRefused(f"Integration {holder.pk} holds it now.")
    try:
        return meetingbaas.client(finding.api_version).get_connection(finding.remote_id)
    except errors.NotFound:
        _resolve(finding, Outcome.SETTLED, "Meeting BaaS no longer has it.", None)
        raise FindingRefused("Meeting BaaS no longer has it.") from None


def _holder(finding: ReconciliationFinding) -> Integration | None:
    """An integration that took the connection since it was found (not the disconnected one
    that held it then)."""
    return (
        Integration.objects.filter(remote_id=finding.remote_id)
        .exclude(pk=finding.integration_id)
        .first()
    )


def _lock_raw_calendars(finding: ReconciliationFinding, remote: RemoteConnection) -> None:
    if remote.raw_calendar_id is None:
        return
    list(
        RawCalendar.objects.select_for_update()
        .filter(
            provider_id=remote.raw_calendar_id,
            credential__account_email__iexact=remote.account_email or finding.account_email,
        )
        .values_list("pk", flat=True)
    )


def _credential_for(finding: ReconciliationFinding, remote: RemoteConnection) -> Credential:
    if finding.integration_id is not None:
        raise FindingRefused(
            f"Integration {finding.integration_id} (disconnected) held it: recreate that "
            "integration from its page, or delete this connection."
        )
    account = remote.account_email or finding.account_email
    if not account:
        raise FindingRefused("Meeting BaaS names no account for it.")
    fitting = Credential.objects.filter(account_email__iexact=account).select_related(
        "customer", "oauth_app"
    )
    platform = remote.platform or finding.platform
    if platform:  # v1 names no platform: any app's credential for the account may fit
        fitting = fitting.filter(oauth_app__provider=platform)
    found = list(fitting[:10])
    if len(found) != 1:
        raise FindingRefused(
            _no_single_credential(account, platform or "Google or Microsoft", found)
        )
    return found[0]


def _raw_calendar_for(
    credential: Credential, remote: RemoteConnection, acting_user: AbstractBaseUser | None
) -> RawCalendar:
    if remote.raw_calendar_id is None:
        raise FindingRefused("Meeting BaaS names no calendar for it.")
    wanted = credential.raw_calendars.filter(provider_id=remote.raw_calendar_id)
    raw = wanted.first()
    if raw is None:
        # The credential's calendars may never have been listed: list them (recorded) once.
        list_raw_calendars(credential, acting_user=acting_user)
        raw = wanted.first()
    if raw is None:
        raise FindingRefused(
            f"{credential.account_email} cannot see the calendar {remote.raw_calendar_id}."
        )
    return raw


def _adopt(
    finding: ReconciliationFinding,
    remote: RemoteConnection,
    credential: Credential,
    raw: RawCalendar,
    acting_user: AbstractBaseUser | None,
) -> Integration:
    with transaction.atomic():
        # Serialises with creates of this calendar (they lock it too).
        raw = RawCalendar.objects.select_for_update().get(pk=raw.pk)
        live = raw.integrations.live().first()
        if live is not None:
            raise FindingRefused(
                f"{raw} already has integration {live.pk} (Meeting BaaS id {live.remote_id}): "
                "this connection duplicates it; delete it instead."
            )
        try:
            with transaction.atomic():
                integration = create_from_remote(credential, raw, remote, finding.api_version)
        except IntegrityError:
            raise FindingRefused("Another integration took it meanwhile.") from None
        note = f"Adopted during {finding.run}. {integration.error_message}".strip()
        integration.record_first_status(note, user=acting_user)
        _resolve(
            finding,
            Outcome.ADOPTED,
            f"Adopted as integration {integration.pk} of {credential}.",
            acting_user,
            integration=integration,
        )
        record_action(
            acting_user,
            "adopt connection",
            integration=integration,
            credential=credential,
            raw_calendar=raw,
            succeeded=True,
            message=f"{_named(finding)}: adopted.",
        )
        # Webhooks that came for the connection while no integration held it apply now.
        queue.enqueue_on_commit(
            "retry_unknown_connection", str(finding.remote_id), group="webhooks"
        )
    return integration


def _resolve(
    finding: ReconciliationFinding,
    outcome: str,
    reason: str,
    acting_user: AbstractBaseUser | None,
    *,
    integration: Integration | None = None,
) -> None:
    changes = {
        "outcome": outcome,
        "reason": fit(ReconciliationFinding, "reason", reason),
        "resolved_at": timezone.now(),
        "resolved_by": acting_user if acting_user and acting_user.is_authenticated else None,
    }
    if integration is not None:
        changes["integration"] = integration
    ReconciliationFinding.objects.filter(pk=finding.pk, outcome=Outcome.OPEN).update(**changes)
