"""What an event's attendees leave behind once parsed: their domains, never their addresses."""

from __future__ import annotations

from calendars.meetingbaas.parsing import MAX_ATTENDEES, attendee_domains


def test_only_the_domains_of_those_who_did_not_decline_and_the_organizer():
    attendees = [
        {"email": "Ana@Acme.com", "response_status": "accepted"},
        {"email": "bo@guest.example.", "response_status": "needsAction"},
        {"email": "cy@declined.example", "response_status": "declined"},
        {"email": "no-at-sign"},
        "not an object",
    ]

    assert attendee_domains(attendees, "owner@org.example") == frozenset(
        {"acme.com", "guest.example", "org.example"}
    )


def test_no_list_is_no_attendees_and_a_long_list_is_read_in_part():
    assert attendee_domains(None, None) == frozenset()
    many = [{"email": f"p{n}@d{n}.example"} for n in range(MAX_ATTENDEES + 10)]

    assert len(attendee_domains(many, None)) == MAX_ATTENDEES
