"""The recording rules as a pure decision: which rule decides, and its words."""

from __future__ import annotations

import pytest

from calendars.meetings.rules import Facts, Rules, decide, is_outside, undecided

ACME = Rules(customer="Acme")
KNOWN = {"is_organizer": True, "has_external_attendees": True}


def test_with_no_rule_every_meeting_is_recorded():
    decision = decide(ACME, Facts(title="Standup", is_recurring=True, is_tentative=True))

    assert decision.record
    assert decision.reason == "Recorded: Acme records every meeting with a meeting URL."


@pytest.mark.parametrize(
    ("attendees", "external", "record", "reason"),
    [
        (
            "external",
            False,
            False,
            "Not recorded: internal meeting, Acme records external meetings only.",
        ),
        ("external", True, True, "Recorded: Acme records external meetings."),
        (
            "internal",
            True,
            False,
            "Not recorded: external meeting, Acme records internal meetings only.",
        ),
        ("internal", False, True, "Recorded: Acme records internal meetings."),
        ("both", False, True, "Recorded: Acme records every meeting with a meeting URL."),
    ],
)
def test_the_attendee_rule(attendees, external, record, reason):
    rules = Rules(customer="Acme", attendees=attendees)

    decision = decide(rules, Facts(title="Call", has_external_attendees=external))

    assert (decision.record, decision.reason) == (record, reason)


def test_attendees_not_known_are_not_recorded_until_known():
    rules = Rules(customer="Acme", attendees="external")
    facts = Facts(title="Call")

    assert not decide(rules, facts).record
    assert "its attendees are not known yet" in decide(rules, facts).reason
    assert undecided(rules, facts)
    assert not undecided(ACME, facts)


def test_only_what_the_account_organizes():
    rules = Rules(customer="Acme", organizer_only=True)

    assert decide(rules, Facts(title="Call", is_organizer=True)).record
    refused = decide(rules, Facts(title="Call", is_organizer=False))
    assert refused.reason == (
        "Not recorded: the account does not organize it, Acme records only what it organizes."
    )
    assert not refused.record


def test_recurring_meetings_can_be_left_out():
    rules = Rules(customer="Acme", one_off_only=True)

    assert decide(rules, Facts(title="Call")).record
    refused = decide(rules, Facts(title="Call", is_recurring=True))
    assert not refused.record
    assert refused.reason == "Not recorded: recurring meeting, Acme records one-off meetings only."


def test_tentative_meetings_can_be_left_out():
    rules = Rules(customer="Acme", confirmed_only=True)

    assert decide(rules, Facts(title="Call")).record
    refused = decide(rules, Facts(title="Call", is_tentative=True))
    assert not refused.record
    assert refused.reason == (
        "Not recorded: tentative meeting, Acme records confirmed meetings only."
    )


def test_titles_with_a_listed_word_are_skipped_in_any_case():
    rules = Rules(customer="Acme", skipped_title_words=("1:1", "Focus"))

    assert decide(rules, Facts(title="Quarterly review")).record
    refused = decide(rules, Facts(title="FOCUS time"))
    assert not refused.record
    assert refused.reason == "Not recorded: its title contains “Focus”, which Acme skips."
    assert not decide(rules, Facts(title="Ana / Bo 1:1")).record


def test_a_persons_override_beats_every_rule():
    strict = Rules(customer="Acme", attendees="external", confirmed_only=True, organizer_only=True)
    skipped = Facts(
        title="Focus",
        is_tentative=True,
        is_organizer=False,
        override="always",
        override_by="support-user",
    )
    wanted = Facts(title="Call", override="never", **KNOWN)

    assert decide(strict, skipped).record
    assert decide(strict, skipped).reason == (
        "Recorded: support-user set it to always be recorded."
    )
    assert not decide(ACME, wanted).record
    assert decide(ACME, wanted).reason == "Not recorded: a person set it to never be recorded."
    assert not undecided(strict, Facts(title="Call", override="always"))


def test_the_first_rule_that_refuses_decides():
    rules = Rules(customer="Acme", attendees="external", confirmed_only=True)

    refused = decide(rules, Facts(title="Call", is_tentative=True, has_external_attendees=False))

    assert refused.reason.startswith("Not recorded: tentative meeting")


@pytest.mark.parametrize(
    ("domain", "outside"),
    [("acme.com", False), ("eu.acme.com", False), ("notacme.com", True), ("acme.com.evil", True)],
)
def test_a_subdomain_of_the_customers_domain_is_inside(domain, outside):
    assert is_outside(domain, frozenset({"acme.com"})) is outside
