"""The customer's recording rules over HTTP: which meetings the policy's bots go to, the rule's
words on the meeting, and a person's override that no sync or webhook changes."""

from __future__ import annotations

import pytest
from django.urls import reverse

from calendars.meetings import risk
from calendars.models import BotAttempt, BotPolicy, Meeting
from tests.support.meetings import active_integration, add_event, deliver, sync, webhook

CHANGELIST = reverse("admin:calendars_meeting_changelist")
# The customer's accounts are at example.com (tests/conftest.py's credential).
COLLEAGUE = "bob@example.com"
GUEST = "pat@customer.example"


@pytest.fixture(params=["v2", "v1"])
def integration(request, sandbox, make_integration):
    return active_integration(make_integration, sandbox, request.param)


def policy(customer, **rules) -> BotPolicy:
    return BotPolicy.objects.create(customer=customer, mode=BotPolicy.Mode.RECORD_ALL, **rules)


def arrives(client, sandbox, integration, **event) -> Meeting:
    """A new event in the calendar, announced by its webhook."""
    event_id = add_event(sandbox, integration, **event)
    created = webhook(sandbox, integration, "calendar.event_created", [event_id])
    deliver(client, integration, created)
    return Meeting.objects.get(remote_event_id=event_id)


def bot_at_sandbox(sandbox, meeting: Meeting) -> bool:
    events = sandbox.control("GET", f"events?connection_id={meeting.integration.remote_id}")
    return (
        next(e for e in events if e["event_id"] == str(meeting.remote_event_id))["bot"] is not None
    )


def test_external_meetings_only(client, sandbox, integration, customer):
    policy(customer, attendees="external")

    internal = arrives(client, sandbox, integration, title="Planning", attendees=[COLLEAGUE])
    # An hour later: at the same time and URL it would be the same meeting, covered by its bot.
    external = arrives(
        client, sandbox, integration, title="Demo", attendees=[COLLEAGUE, GUEST], in_hours=3
    )

    internal.refresh_from_db()
    assert not internal.has_bot and not bot_at_sandbox(sandbox, internal)
    assert internal.has_external_attendees is False
    reason = "Not recorded: internal meeting, Acme Corp records external meetings only."
    assert internal.rule_reason == reason
    assert (internal.outcome_cause, internal.outcome_reason) == ("policy", reason)
    assert Meeting.objects.get(pk=external.pk).has_bot and bot_at_sandbox(sandbox, external)
    assert not BotAttempt.objects.filter(meeting=internal).exists()
    # Left out on purpose: not "at risk" of having no bot.
    assert internal.pk not in risk.find().ids


def test_internal_meetings_only_by_the_domains_the_policy_lists(
    client, sandbox, integration, customer
):
    policy(customer, attendees="internal", internal_domains="example.com\ncustomer.example")

    shared = arrives(client, sandbox, integration, attendees=[GUEST])
    outside = arrives(client, sandbox, integration, attendees=["eve@elsewhere.example"])

    assert Meeting.objects.get(pk=shared.pk).has_bot
    outside.refresh_from_db()
    assert not outside.has_bot
    assert outside.rule_reason.startswith("Not recorded: external meeting")


def test_only_meetings_the_account_organizes(client, sandbox, integration, customer):
    policy(customer, organizer_only=True)

    invited = arrives(client, sandbox, integration, organizer_email=COLLEAGUE)
    own = arrives(client, sandbox, integration)

    invited.refresh_from_db()
    assert (invited.is_organizer, invited.has_bot) == (False, False)
    assert "the account does not organize it" in invited.rule_reason
    assert Meeting.objects.get(pk=own.pk).has_bot


def test_tentative_meetings_wait_until_confirmed(client, sandbox, integration, customer):
    policy(customer, confirmed_only=True)
    meeting = arrives(client, sandbox, integration, status="tentative")
    meeting.refresh_from_db()
    assert (meeting.is_tentative, meeting.has_bot) == (True, False)
    assert meeting.rule_reason == (
        "Not recorded: tentative meeting, Acme Corp records confirmed meetings only."
    )

    sandbox.control("POST", f"events/{meeting.remote_event_id}", {"status": "confirmed"})
    updated = webhook(
        sandbox, integration, "calendar.event_updated", [str(meeting.remote_event_id)]
    )
    deliver(client, integration, updated)

    meeting.refresh_from_db()
    assert (meeting.is_tentative, meeting.has_bot, meeting.rule_reason) == (False, True, "")


def test_recurring_meetings_and_titles_the_customer_skips(
    client, sandbox, customer, make_integration
):
    integration = active_integration(make_integration, sandbox, "v2")
    policy(customer, one_off_only=True, skipped_title_words="1:1\nfocus")

    weekly = arrives(client, sandbox, integration, title="Weekly review", recurring=True)
    focus = arrives(client, sandbox, integration, title="Focus block")
    review = arrives(client, sandbox, integration, title="Quarterly review")

    assert "recurring meeting" in Meeting.objects.get(pk=weekly.pk).rule_reason
    assert Meeting.objects.get(pk=focus.pk).rule_reason == (
        "Not recorded: its title contains “focus”, which Acme Corp skips."
    )
    assert [
        m.has_bot
        for m in Meeting.objects.filter(pk__in=[weekly.pk, focus.pk, review.pk]).order_by("pk")
    ] == [False, False, True]


def override(client, meeting: Meeting, action: str):
    data = {"action": action, "_selected_action": [meeting.pk], "confirm": "1"}
    return client.post(CHANGELIST, data, follow=True)


def test_always_record_survives_the_next_sync_and_webhook(
    role_client, sandbox, integration, customer
):
    client = role_client("Support")
    policy(customer, attendees="external")
    meeting = arrives(client, sandbox, integration, attendees=[COLLEAGUE])
    assert not Meeting.objects.get(pk=meeting.pk).has_bot

    override(client, meeting, "record_always")

    meeting.refresh_from_db()
    assert (meeting.bot_override, meeting.has_bot) == ("always", True)
    assert bot_at_sandbox(sandbox, meeting)
    assert list(BotAttempt.objects.filter(meeting=meeting).values_list("action", "username")) == [
        ("always", "support-user"),
        ("schedule", "support-user"),
    ]
    sync(integration)
    again = webhook(sandbox, integration, "calendar.event_updated", [str(meeting.remote_event_id)])
    deliver(client, integration, again)
    meeting.refresh_from_db()
    assert (meeting.bot_override, meeting.has_bot) == ("always", True)
    # v2's listing and webhooks say nothing of attendees: what was learned stays.
    assert meeting.has_external_attendees is False
    page = client.get(reverse("admin:calendars_meeting_change", args=[meeting.pk]))
    assert "Recorded: support-user set it to always be recorded." in page.content.decode()


def test_never_record_removes_the_bot_and_the_policy_never_asks_again(
    role_client, sandbox, customer, make_integration
):
    client = role_client("Support")
    integration = active_integration(make_integration, sandbox, "v2")
    policy(customer)
    meeting = arrives(client, sandbox, integration)
    assert Meeting.objects.get(pk=meeting.pk).has_bot

    override(client, meeting, "record_never")
    sync(integration)
    again = webhook(sandbox, integration, "calendar.event_updated", [str(meeting.remote_event_id)])
    deliver(client, integration, again)

    meeting.refresh_from_db()
    assert (meeting.bot_override, meeting.has_bot) == ("never", False)
    assert not bot_at_sandbox(sandbox, meeting)
    assert meeting.outcome_reason == "Not recorded: support-user set it to never be recorded."
    page = client.get(reverse("admin:calendars_meeting_change", args=[meeting.pk]))
    assert "Not recorded: support-user set it to never be recorded." in page.content.decode()
    assert 'id="bot-follow_recording_rules"' in page.content.decode()


def test_an_auditor_cannot_set_an_override(role_client, sandbox, customer, make_integration):
    integration = active_integration(make_integration, sandbox, "v2")
    policy(customer, attendees="external")
    meeting = arrives(role_client("Support"), sandbox, integration)
    auditor = role_client("Auditor")

    override(auditor, meeting, "record_always")

    meeting.refresh_from_db()
    assert (meeting.bot_override, meeting.has_bot) == ("", False)
    assert not BotAttempt.objects.exists()
    page = auditor.get(
        reverse("admin:calendars_meeting_change", args=[meeting.pk])
    ).content.decode()
    assert "Not recorded: internal meeting, Acme Corp records external meetings only." in page
    assert 'id="bot-record_always"' not in page


def policy_form(customer, **rules) -> dict:
    return {
        "customer": customer.pk,
        "mode": "scheduled_only",
        "bot_name": "Acme notes",
        "recording_mode": "speaker_view",
        "transcription_api_key": "",
        **rules,
    }


def test_the_policy_form_keeps_the_rules_tidy_and_bounded(role_client, customer):
    client = role_client("Support")
    add = reverse("admin:calendars_botpolicy_add")

    too_many = "\n".join(f"word{n}" for n in range(51))
    refused = client.post(add, policy_form(customer, skipped_title_words=too_many))
    assert "At most 50 words or phrases" in refused.content.decode()
    refused = client.post(add, policy_form(customer, internal_domains="acme.com\nnot a domain"))
    assert "Not a domain: not a domain" in refused.content.decode()
    assert not BotPolicy.objects.exists()

    client.post(
        add,
        policy_form(
            customer,
            attendees="external",
            skipped_title_words=" 1:1 \n\nFocus\n1:1",
            internal_domains="@Acme.COM\nacme.com.",
        ),
    )

    saved = BotPolicy.objects.get()
    assert (saved.attendees, saved.skipped_title_words) == ("external", "1:1\nFocus")
    assert saved.internal_domains == "acme.com"
    assert not saved.one_off_only and not saved.confirmed_only and not saved.organizer_only


def test_html_in_a_skipped_word_a_title_and_a_customer_name_is_escaped_on_the_meeting_pages(
    admin_client, client, sandbox, customer, make_integration
):
    customer.name = '<img src=x onerror="alert(1)">Acme'
    customer.save()
    integration = active_integration(make_integration, sandbox, "v2")
    policy(customer, skipped_title_words="<script>boom()</script>")
    meeting = arrives(client, sandbox, integration, title="Sync <script>boom()</script> & more")
    meeting.refresh_from_db()
    assert "<script>boom()</script>" in meeting.rule_reason  # stored as said, shown escaped

    pages = [
        admin_client.get(reverse("admin:calendars_meeting_change", args=[meeting.pk])),
        admin_client.get(CHANGELIST, {"q": "Sync"}),
    ]

    for page in pages:
        html = page.content.decode()
        assert page.status_code == 200
        assert "<script>boom()" not in html and "<img src=x" not in html
        assert "&lt;script&gt;boom()&lt;/script&gt;" in html
