"""Meetings mirrored from the integrations' calendars, the bot policy that decides their bots,
and every attempt to schedule or remove one."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from calendars.lib.encryption import EncryptedSecretField
from calendars.lib.validators import allowed_callback, reject_control_characters
from calendars.meetingbaas.types import BotConfig, MeetingPlatform, RecordingMode
from calendars.models.accounts import Customer
from calendars.models.integrations import Integration


class BotPolicy(models.Model):
    """Which of a customer's meetings get a bot, and the bot's settings."""

    class Mode(models.TextChoices):
        RECORD_ALL = "record_all", "Record every meeting with a meeting URL"
        SCHEDULED_ONLY = "scheduled_only", "Only meetings someone scheduled"
        NONE = "none", "None"

    class Scope(models.TextChoices):
        """Which copies of one meeting (in several of the customer's calendars) share a bot."""

        CUSTOMER = "customer", "One bot per meeting for the whole customer"
        DOMAIN = "domain", "One bot per meeting for each e-mail domain of the accounts"
        CALENDAR = "calendar", "One bot per calendar (each copy of a meeting gets its own)"

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="bot_policy")
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.SCHEDULED_ONLY)
    bot_scope = models.CharField(
        "one bot per meeting for",
        max_length=16,
        choices=Scope.choices,
        default=Scope.CUSTOMER,
        help_text="A meeting in several calendars (the same meeting URL, starting within a "
        "minute) is recorded once for the whole customer, once per e-mail domain, or once "
        "per calendar.",
    )
    bot_name = models.CharField(
        max_length=255, default="Notetaker", validators=[reject_control_characters]
    )
    recording_mode = models.CharField(
        max_length=16,
        choices=[(m.value, m.value.replace("_", " ").capitalize()) for m in RecordingMode],
        default=RecordingMode.SPEAKER_VIEW.value,
    )
    bot_image = models.URLField("bot image URL", max_length=500, blank=True)
    entry_message = models.CharField(
        max_length=500, blank=True, validators=[reject_control_characters]
    )
    waiting_room_timeout = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds; blank leaves Meeting BaaS's default"
    )
    no_one_joined_timeout = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds; blank leaves Meeting BaaS's default"
    )
    silence_timeout = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds; blank leaves Meeting BaaS's default"
    )
    transcription_enabled = models.BooleanField(default=False)
    # The speech-to-text provider's key: a secret like the others, never shown back.
    transcription_api_key = EncryptedSecretField(
        null=True, blank=True, verbose_name="transcription API key"
    )
    transcription_api_key_replaced_at = models.DateTimeField(
        "transcription API key replaced at", null=True, blank=True
    )
    callback_url = models.URLField("callback URL", max_length=500, blank=True)

    # The recording rules (calendars/meetings/rules.py), read only under RECORD_ALL: which of
    # the meetings with a URL get the policy's bot. Recall.ai's recording preferences alike.
    class Attendees(models.TextChoices):
        BOTH = "both", "Meetings with someone outside the customer's domains, and internal ones"
        EXTERNAL = "external", "Only meetings with someone outside the customer's domains"
        INTERNAL = "internal", "Only internal meetings (everyone in the customer's domains)"

    attendees = models.CharField(
        "record", max_length=8, choices=Attendees.choices, default=Attendees.BOTH
    )
    organizer_only = models.BooleanField(
        "only meetings the account organizes",
        default=False,
        help_text="Skip the meetings the calendar's account was only invited to.",
    )
    one_off_only = models.BooleanField(
        "one-off meetings only", default=False, help_text="Skip recurring meetings."
    )
    confirmed_only = models.BooleanField(
        "confirmed meetings only", default=False, help_text="Skip tentative meetings."
    )
    skipped_title_words = models.TextField(
        "skip titles containing",
        blank=True,
        help_text="One word or phrase a line (e.g. 1:1, Focus), matched in any case.",
    )
    internal_domains = models.TextField(
        "the customer's domains",
        blank=True,
        help_text="One domain a line (e.g. acme.com). Blank: the domains of the customer's "
        "accounts' e-mails. Attendees elsewhere make a meeting external.",
    )
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["transcription_api_key", "updated_at"])

    class Meta:
        verbose_name = "bot policy"
        verbose_name_plural = "bot policies"
        permissions = [
            ("run_bot_actions", "Can schedule, change and remove meeting bots"),
            (
                "change_bot_destinations",
                "Can change where bots send recordings and transcripts (callback, transcription)",
            ),
        ]

    def __str__(self) -> str:
        return f"Bot policy of {self.customer}"

    @property
    def records_every_meeting(self) -> bool:
        return self.mode == self.Mode.RECORD_ALL

    def bot_config(self) -> BotConfig:
        """The settings sent with each bot, the key decrypted for the length of one call."""
        key = self.transcription_api_key
        return BotConfig(
            bot_name=self.bot_name,
            recording_mode=RecordingMode(self.recording_mode),
            bot_image=self.bot_image or None,
            entry_message=self.entry_message or None,
            waiting_room_timeout=self.waiting_room_timeout,
            no_one_joined_timeout=self.no_one_joined_timeout,
            silence_timeout=self.silence_timeout,
            transcription_enabled=self.transcription_enabled,
            transcription_api_key=key.reveal() if key else None,
            # A policy saved before its host left BOT_CALLBACK_HOSTS sends no callback.
            callback_url=self.callback_url if allowed_callback(self.callback_url) else None,
        )


class Meeting(models.Model):
    """One upcoming (or just past) occurrence of a calendar event, mirrored from Meeting BaaS.

    Only what support needs is kept (title, times, URL, organizer): never attendees or
    descriptions. Neither API names a calendar bot by an id: a bot is its calendar and event.
    """

    class Outcome(models.TextChoices):
        """What became of a meeting, for support ("" while nothing is known yet)."""

        SCHEDULED = "scheduled", "Scheduled"  # a bot is scheduled, the meeting has not begun
        JOINING = "joining", "Joining"  # the bot is joining, or waits in the waiting room
        RECORDING = "recording", "Recording"
        RECORDED = "recorded", "Recorded"
        BOT_FAILED = "bot_failed", "Bot failed"
        NO_BOT = "no_bot", "No bot"  # with its cause
        NO_NEWS = "no_news", "No news"  # ended, nothing heard from Meeting BaaS: the poll asks
        # Another calendar's copy of the same meeting carries its one bot: this copy is never
        # missed (its carrier's outcome is the meeting's).
        COVERED = "covered", "Covered by another calendar's bot"

    class Cause(models.TextChoices):
        """Why a meeting had no bot (outcome NO_BOT), or why its bot failed (BOT_FAILED)."""

        POLICY = "policy", "The customer's bot policy does not record it"
        NO_URL = "no_url", "No meeting URL"
        CALENDAR_BROKEN = "calendar_broken", "The calendar was broken at the time"
        REMOVED = "removed", "A person removed the bot"
        CANCELLED = "cancelled", "Cancelled"
        REFUSED = "refused", "Meeting BaaS refused the bot"
        # "Record every meeting", a URL, the calendar fine, yet no bot asked for (an event
        # added or moved at the last minute, between two syncs).
        NOT_ASKED = "not_asked", "No bot was asked for in time"
        BOT_ERROR = "bot_error", "The bot failed in the meeting"

    class Override(models.TextChoices):
        ALWAYS = "always", "Always record"
        NEVER = "never", "Never record"

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="meetings")
    remote_event_id = models.UUIDField("Meeting BaaS event id")
    # v2's series UUID or v1's provider id of the recurring series.
    series_id = models.CharField("series id", max_length=1024, blank=True)
    title = models.CharField(max_length=500, blank=True)
    starts_at = models.DateTimeField("starts")
    ends_at = models.DateTimeField("ends")
    meeting_url = models.CharField("meeting URL", max_length=2000, blank=True)
    platform = models.CharField(
        max_length=16,
        choices=[(p.value, p.value.replace("_", " ").title()) for p in MeetingPlatform],
        default=MeetingPlatform.NONE.value,
    )
    is_cancelled = models.BooleanField("cancelled", default=False)
    # The calendar's own account declined it: derived from the attendees' answers when the
    # news lists them (never stored), else kept as held.
    is_declined = models.BooleanField("declined", default=False, db_default=False)
    is_recurring = models.BooleanField("recurring", default=False)
    # What the recording rules read, derived when the event is mirrored (attendees themselves
    # are never kept): None while the news has not said (v2 lists no attendees, no organizer).
    is_tentative = models.BooleanField("tentative", default=False, db_default=False)
    is_organizer = models.BooleanField("the account organizes it", null=True, blank=True)
    has_external_attendees = models.BooleanField(
        "someone outside the customer's domains", null=True, blank=True
    )
    organizer_email = models.CharField("organizer", max_length=254, blank=True)
    has_bot = models.BooleanField("bot scheduled", default=False)
    # v2 reports no bot settings back: what the portal sent is kept here.
    bot_summary = models.CharField("bot settings", max_length=300, blank=True)
    # Why the last attempt to schedule or change the bot failed, in the API's words.
    bot_failure = models.TextField(blank=True)
    # Which meeting the URL names (calendars/meetings/identity.py), "" for none: copies with
    # the same key starting within a minute are one meeting (calendars/meetings/sharing.py).
    same_meeting_key = models.CharField(
        "same-meeting key", max_length=100, blank=True, db_default=""
    )
    # The group of copies this one belongs to, once the policy looked at it: it names the copy
    # that carries the bot (the others are covered by it).
    shared_meeting = models.ForeignKey(
        "SharedMeeting",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="copies",
        db_index=False,
    )
    # When the bot policy asked for this event's bot: it asks once per event.
    auto_bot_at = models.DateTimeField(null=True, blank=True)
    # A person's word on this meeting that beats every rule ("" follows the rules); the
    # mirror never writes it, so no sync or webhook changes it.
    bot_override = models.CharField(
        "recording override", max_length=8, choices=Override.choices, blank=True, db_default=""
    )
    # Which recording rule kept the policy from asking for the bot, in words ("" otherwise).
    rule_reason = models.CharField("recording rule", max_length=300, blank=True, db_default="")
    # When news came that the meeting moved, or its URL changed, too close to its start for
    # Meeting BaaS to change its bot (calendars/meetings/follow.py): "Meetings at risk".
    bot_changed_late_at = models.DateTimeField("changed too late at", null=True, blank=True)
    synced_at = models.DateTimeField("last synced")
    # As of when the held state was true remotely (a webhook's time, or when the listing or
    # fetch that brought it began): news older than this is ignored.
    remote_updated_at = models.DateTimeField(null=True, blank=True)

    # What Meeting BaaS said of the meeting's bot (bot webhooks, or the bots list polled for a
    # meeting that ended without news). A bot is matched to its meeting by the calendar event id
    # and, failing that, by the meeting's id the portal puts in the bot's `extra`. Text fields
    # default in the database too: the mirror writes meetings with an INSERT of its own
    # columns (mirror._upsert).
    bot_id = models.UUIDField("Meeting BaaS bot id", null=True, blank=True)
    # The last status code heard (e.g. joining_call, in_waiting_room, in_call_recording), and
    # when it held: a status older than what is held never undoes it.
    bot_status = models.CharField("bot status", max_length=64, blank=True, db_default="")
    bot_status_at = models.DateTimeField("bot status at", null=True, blank=True)
    bot_joined_at = models.DateTimeField("bot joined", null=True, blank=True)
    bot_exited_at = models.DateTimeField("bot left", null=True, blank=True)
    bot_duration_seconds = models.PositiveIntegerField("recorded for (s)", null=True, blank=True)
    # A failed bot: Meeting BaaS's code (MEETING_NOT_FOUND, BOT_NOT_ACCEPTED…) and its message.
    bot_error_code = models.CharField("bot error code", max_length=64, blank=True, db_default="")
    bot_error_message = models.TextField("bot error", blank=True, db_default="")

    # What became of the meeting, in support's words (`Outcome`), when, and why: kept current
    # from the fields above, the bot's scheduling and the integration's status history.
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True, db_default="")
    outcome_at = models.DateTimeField("outcome since", null=True, blank=True)
    # The cause behind a missed meeting (`Cause`), and the plain words shown with it.
    outcome_cause = models.CharField(
        "cause", max_length=24, choices=Cause.choices, blank=True, db_default=""
    )
    outcome_reason = models.CharField("why", max_length=500, blank=True, db_default="")

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "remote_event_id"], name="meeting_unique_per_integration"
            )
        ]
        indexes = [
            # The list's order and its "starts" filters; the window's pruning.
            models.Index(fields=["starts_at", "id"], name="meeting_starts"),
            # At risk and "next 24 h without a bot": meetings without a bot, soonest first.
            models.Index(fields=["has_bot", "starts_at"], name="meeting_bot_starts"),
            # The bots of a day (calendars/limits/daily_bots.py): tomorrow's counted for the
            # home page, and each day's past the plan's cap found, from the index alone (the
            # has_bot index above sends each of a day's 40,000 bots at a million meetings to
            # the table for is_cancelled: 200 ms for the home page's count on SQLite).
            models.Index(
                fields=["has_bot", "is_cancelled", "starts_at", "id"],
                name="meeting_bots_starts",
                condition=Q(has_bot=True, is_cancelled=False),
            ),
            # At risk, the rarer rules read through their own (small) index, soonest first:
            # bots that failed, and meetings without a URL. (Led by has_bot, which the rules
            # test too: SQLite then prefers them to meeting_bot_starts.)
            models.Index(
                fields=["has_bot", "starts_at", "id"],
                name="meeting_bot_failed",
                condition=Q(is_cancelled=False) & ~Q(bot_failure=""),
            ),
            models.Index(
                fields=["has_bot", "starts_at", "id"],
                name="meeting_no_url",
                condition=Q(is_cancelled=False, meeting_url=""),
            ),
            models.Index(
                fields=["starts_at", "id"],
                name="meeting_changed_late",
                condition=Q(bot_changed_late_at__isnull=False),
            ),
            # "Missed meetings" and the home page's lane: outcomes of a range of days; the pass
            # over meetings that just ended (calendars/meetings/outcomes.py). On PostgreSQL it
            # holds the cause and the end as well, so that the counts by cause read the index
            # alone (a day of 10,000,000 meetings: 25 ms instead of 130 ms of heap pages).
            models.Index(
                fields=["outcome", "starts_at"],
                include=["outcome_cause", "ends_at"],
                name="meeting_outcome_covering",
            ),
            # The search by exact event id (the unique constraint leads with the integration).
            models.Index(fields=["remote_event_id"], name="meeting_remote_event"),
            # A bot's news without its event or extra is matched by the bot id once learned.
            models.Index(
                fields=["bot_id"], name="meeting_bot_id", condition=Q(bot_id__isnull=False)
            ),
            # The copies of a meeting: the same key, starting within a minute.
            models.Index(
                fields=["same_meeting_key", "starts_at"],
                name="meeting_same_key",
                condition=~Q(same_meeting_key=""),
            ),
            models.Index(
                fields=["shared_meeting"],
                name="meeting_shared",
                condition=Q(shared_meeting__isnull=False),
            ),
            # The search by part of a title has an index outside Django's, made by migration
            # 0022 (on SQLite, a table kept by triggers that remaking this table would drop).
        ]

    def __str__(self) -> str:
        return self.title or f"Meeting {self.remote_event_id}"


class SharedMeeting(models.Model):
    """One meeting in several of a customer's calendars (the same meeting URL, starting within
    a minute), within one scope of its bot policy: which copy carries its one bot.

    The row is what two workers applying two copies at once race for: one creates it (the
    unique constraint refuses the other), so one copy is chosen and gets the bot.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    # "" for the whole customer; the accounts' e-mail domain under "one per e-mail domain".
    scope_group = models.CharField("scope", max_length=255, blank=True)
    key = models.CharField("same-meeting key", max_length=100)
    starts_at = models.DateTimeField("starts")
    # The first copy's start to the minute: what the constraint holds (copies a minute apart
    # across a minute's edge are found by their start, under a lock on PostgreSQL).
    starts_minute = models.DateTimeField()
    carrier = models.ForeignKey(
        Meeting, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "scope_group", "key", "starts_minute"],
                name="shared_meeting_once",
            )
        ]
        indexes = [models.Index(fields=["starts_at"], name="shared_meeting_starts")]

    def __str__(self) -> str:
        return f"{self.key} at {self.starts_at:%Y-%m-%d %H:%M}"


class BotAttempt(models.Model):
    """Append-only history of what was asked of a meeting's bot, by whom, and how it went."""

    class Action(models.TextChoices):
        SCHEDULE = "schedule", "Schedule bot"
        SCHEDULE_SERIES = "schedule_series", "Schedule bot on every occurrence"
        CHANGE = "change", "Change bot settings"
        REMOVE = "remove", "Remove bot"
        POLICY = "policy", "Scheduled by the bot policy"
        ALWAYS = "always", "Always record"
        NEVER = "never", "Never record"
        FOLLOW_RULES = "follow_rules", "Follow the recording rules"
        FOLLOW = "follow", "Bot follows the meeting"
        # The copy carrying a shared meeting's bot went away: another copy took it.
        MOVE = "move", "Bot moved from another calendar's copy"

    # History outlives the mirror: a meeting that leaves the window is pruned, its attempts stay,
    # naming the event as it was.
    meeting = models.ForeignKey(
        Meeting, on_delete=models.SET_NULL, null=True, blank=True, related_name="bot_attempts"
    )
    integration = models.ForeignKey(Integration, on_delete=models.PROTECT, related_name="+")
    remote_event_id = models.UUIDField("Meeting BaaS event id")
    meeting_title = models.CharField(max_length=500, blank=True)
    meeting_starts_at = models.DateTimeField("meeting starts")
    action = models.CharField(max_length=20, choices=Action.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    username = models.CharField(max_length=150, help_text="As it was when the action ran")
    at = models.DateTimeField("time", auto_now_add=True)
    succeeded = models.BooleanField()
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["meeting", "-at"], name="bot_attempt_meeting"),
            # The history export reads every attempt in time order.
            models.Index(fields=["at"], name="bot_attempt_at"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.username}"


class CoverageDay(models.Model):
    """One customer's meetings of one day (in TIME_ZONE) counted by what became of them, for
    the coverage report; `customer` empty: every customer's, the day's total.

    Written only by `calendars/meetings/coverage.py`, which counts a day again from its
    meetings (never adds to a count): the rows outlive the meetings, pruned after
    MEETINGS_HISTORY_DAYS.
    """

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    day = models.DateField()
    meetings = models.PositiveIntegerField(default=0)
    # Meetings a bot was wanted for: one was scheduled, or the policy records every meeting
    # (not those cancelled, nor those whose bot a person removed).
    wanted = models.PositiveIntegerField(default=0)
    scheduled = models.PositiveIntegerField("bots scheduled", default=0)
    recorded = models.PositiveIntegerField(default=0)
    # Not ended, or ended without a final word yet (outcome scheduled, joining, recording or
    # not judged).
    pending = models.PositiveIntegerField(default=0)
    # Meetings that ended without a recording, by cause (calendars/queries/missed.py's CAUSES).
    missed = models.JSONField(default=dict)
    counted_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "day"], name="coverage_day_unique"),
            models.UniqueConstraint(
                fields=["day"], condition=Q(customer__isnull=True), name="coverage_day_total"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.customer or 'every customer'}: {self.recorded} recorded"
