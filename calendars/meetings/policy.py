"""Customers' bot policies: which meetings get a bot without anyone asking, with what settings.

Under "record every meeting with a meeting URL", each meeting the mirror learns about (new, or
changed where it matters) gets its bot from a queued task. The policy asks once per event
(`Meeting.auto_bot_at`, claimed by one conditional UPDATE), so a webhook that comes again, or
a sync that lists the meeting again, never schedules a second bot, and a bot someone removed
stays removed.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from django.db.models import QuerySet
from django.utils import timezone

from calendars import queue
from calendars.meetings import recording
from calendars.models import BotPolicy, Integration, Meeting


def policy_of(customer_id: int) -> BotPolicy:
    """The customer's policy, or the default one (only meetings someone scheduled)."""
    return BotPolicy.objects.select_related("customer").filter(
        customer_id=customer_id
    ).first() or BotPolicy(customer_id=customer_id)


def wanting_a_bot(meetings: QuerySet[Meeting]) -> QuerySet[Meeting]:
    """Meetings a "record every meeting" policy has yet to ask a bot for (its recording rules
    choose among them: calendars/meetings/recording.py)."""
    return (
        meetings.filter(
            has_bot=False,
            is_cancelled=False,
            is_declined=False,
            auto_bot_at__isnull=True,
            starts_at__gt=timezone.now(),
        )
        .exclude(meeting_url="")
        .exclude(bot_override=Meeting.Override.NEVER)
    )


def integrations_to_apply(customer_id: int) -> list[Integration]:
    """The customer's live integrations with known upcoming meetings the policy has yet to ask a
    bot for: the items of the job that applies a policy just saved."""
    waiting = wanting_a_bot(
        Meeting.objects.filter(integration__credential__customer_id=customer_id)
    )
    return list(
        Integration.objects.live()
        .filter(credential__customer_id=customer_id, pk__in=waiting.values("integration_id"))
        .select_related("credential__customer", "raw_calendar")
        .order_by("pk")
    )


def consider(integration: Integration, event_ids: Iterable[UUID] | None = None) -> list[int]:
    """Queue the policy's bots for the integration's meetings (those of the remote
    `event_ids`, or all) that want one; returns the ids of the meetings queued."""
    meetings = Meeting.objects.filter(integration=integration)
    if event_ids is not None:
        event_ids = list(event_ids)
        if not event_ids:
            return []  # news that changed nothing the policy looks at
        meetings = meetings.filter(remote_event_id__in=event_ids)
    # Through the integration's credential, not the integration: one join fewer to plan, on
    # every delivery of news.
    policy = (
        BotPolicy.objects.select_related("customer")
        .filter(customer__credentials=integration.credential_id)
        .first()
    )
    if policy is None or policy.mode != BotPolicy.Mode.RECORD_ALL:
        return []  # no policy is the default one, which records only what someone scheduled
    wanted = recording.worth_asking(policy, wanting_a_bot(meetings).order_by("starts_at"))
    if wanted:
        queue.enqueue_on_commit("apply_bot_policy", wanted, group="bots")
    return wanted
