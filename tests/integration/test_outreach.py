"""Automatic re-consent outreach: the owner of a broken grant is e-mailed a re-consent link
through a real SMTP server, reminded, and handed back to support when they do not answer; it
stops when the grant works again or a person takes over."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from calendars import tasks
from calendars.actions.refresh import refresh_integration
from calendars.consent import outreach
from calendars.models import (
    ConsentLink,
    Credential,
    Customer,
    Integration,
    Outreach,
    OutreachMessage,
    PublishingStatus,
)
from calendars.status import PortalStatus
from tests.support.consent import token_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def automatic(customer: Customer) -> Customer:
    customer.outreach = Customer.Outreach.AUTOMATIC
    customer.save()
    return customer


@pytest.fixture
def broken(providers, make_integration, credential, settings) -> Integration:
    """An integration whose refresh token Google refused, as a refresh learns it."""
    settings.PORTAL_COMPANY_NAME = "Notetakers Ltd"
    settings.PORTAL_SUPPORT_EMAIL = "help@notetakers.example"
    integration = make_integration()
    providers.force(
        integration.remote_id,
        status="error",
        status_message="invalid_grant: Token has been expired or revoked.",
    )
    return refresh_integration(integration.pk)


def url_in(smtp, message) -> str:
    return re.search(r"http://testserver/connect/[^/\s]+/", smtp.inbox.text(message)).group(0)


def open_links(credential: Credential) -> int:
    return sum(link.is_usable for link in ConsentLink.objects.filter(credential=credential))


# Transactional: the grant's credential push is queued when its transaction commits.
@pytest.mark.django_db(transaction=True)
def test_the_owner_of_a_refused_grant_is_written_to_and_one_click_fixes_it(
    automatic, broken, credential, smtp, person, caplog
):
    caplog.set_level(logging.DEBUG)
    assert broken.problem_code == "token_refused"

    summary = tasks.run_outreach()

    assert summary == "1 started, 1 sent, 0 failed, 0 taken over, 0 not answered, 0 resolved"
    (message,) = smtp.inbox.messages
    assert message["To"] == "alice@example.com"
    assert message["Reply-To"] == "help@notetakers.example"
    assert message["Subject"] == "Notetakers Ltd needs your permission again to read your calendar"
    text = smtp.inbox.text(message)
    assert "Google stopped accepting the access you gave us to your calendar" in text
    assert "Since " in text and "What one click does" in text and "Notetakers Ltd" in text
    url = url_in(smtp, message)
    record = OutreachMessage.objects.get()
    assert (record.to, record.reason, record.delivery, record.reminder) == (
        "alice@example.com",
        "token_refused",
        "sent",
        0,
    )
    assert record.link.is_usable and record.link.sent_to == "alice@example.com"
    token = token_of(url)
    assert token not in caplog.text
    assert all(token not in str(value) for value in OutreachMessage.objects.values().get().values())

    done = person.grant(token)

    assert b"All set" in done.content
    broken.refresh_from_db()
    assert broken.status == PortalStatus.ACTIVE
    assert tasks.run_outreach().endswith("1 resolved")
    assert Outreach.objects.get().state == Outreach.State.RESOLVED
    assert len(smtp.inbox.messages) == 1


def test_a_customer_with_outreach_off_is_not_written_to(customer, broken, smtp):
    assert customer.outreach == Customer.Outreach.OFF

    tasks.run_outreach()

    assert not smtp.inbox.messages and not Outreach.objects.exists()


def test_the_contact_address_the_customer_gave_is_written_to(automatic, broken, smtp):
    automatic.contact_email = "it@acme.example"
    automatic.save()

    tasks.run_outreach()

    assert [m["To"] for m in smtp.inbox.messages] == ["it@acme.example"]


def test_reminders_follow_the_days_then_support_gets_it_back(
    automatic, broken, credential, smtp, role_client
):
    start = timezone.now()
    sent_on = []
    for hours in (0, 1, 12, 24, 25, 48, 72, 144, 150, 167):
        with time_machine.travel(start + timedelta(hours=hours), tick=False):
            before = len(smtp.inbox.messages)
            tasks.run_outreach()
            if len(smtp.inbox.messages) > before:
                sent_on.append(hours)
            assert open_links(credential) == 1
    assert sent_on == [0, 24, 72, 144]  # the first, then after 1, 3 and 6 days
    # (A long subject is folded: its first line is empty.)
    assert [m["Subject"].strip().startswith("Reminder: ") for m in smtp.inbox.messages] == [
        False,
        True,
        True,
        True,
    ]
    assert Outreach.objects.get().state == Outreach.State.WRITING

    with time_machine.travel(start + timedelta(hours=168)):
        assert tasks.run_outreach().endswith("1 not answered, 0 resolved")
        support = role_client("Support")
        home = support.get(reverse("admin:index")).content.decode()
        page = support.get(reverse("admin:calendars_credential_change", args=[credential.pk]))

    assert "1 owner did not answer re-consent outreach" in home
    assert "Owner did not answer" in page.content.decode()
    assert len(smtp.inbox.messages) == 4


@pytest.mark.parametrize("mode", ["refuse", "hang"])
def test_a_mail_server_that_refuses_or_times_out_leaves_it_to_retry(
    automatic, broken, credential, smtp, mode, role_client
):
    smtp.inbox.mode = mode

    assert "1 failed" in tasks.run_outreach()

    failed = OutreachMessage.objects.get()
    assert failed.delivery == OutreachMessage.Delivery.FAILED
    assert ("554" if mode == "refuse" else "timed out") in failed.error
    assert failed.link.state == "revoked" and open_links(credential) == 0
    page = role_client("Support").get(reverse("admin:calendars_outreachmessage_changelist"))
    assert page.status_code == 200 and "retried" in page.content.decode()
    smtp.inbox.mode = "accept"
    assert "0 sent" in tasks.run_outreach()  # not at once: RETRY_AFTER later
    with time_machine.travel(timezone.now() + outreach.RETRY_AFTER):
        assert "1 sent" in tasks.run_outreach()
    assert len(smtp.inbox.messages) == 1 and open_links(credential) == 1


def test_a_person_who_takes_over_stops_the_outreach(
    automatic, broken, credential, smtp, role_client
):
    tasks.run_outreach()
    support = role_client("Support")
    page = support.get(reverse("admin:calendars_credential_change", args=[credential.pk]))
    assert "Handle it myself" in page.content.decode()

    emails = support.get(
        reverse("admin:calendars_outreach_change", args=[Outreach.objects.get().pk])
    )
    assert "alice@example.com" in emails.content.decode() and "Sent" in emails.content.decode()

    support.post(reverse("admin:calendars_credential_take_over", args=[credential.pk]))

    taken = Outreach.objects.get()
    assert taken.state == Outreach.State.TAKEN_OVER and taken.handled_by.username == "support-user"
    page = support.get(reverse("admin:calendars_credential_change", args=[credential.pk]))
    assert "Handled by support-user" in page.content.decode()
    assert "Handle it myself" not in page.content.decode()
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        tasks.run_outreach()
    assert len(smtp.inbox.messages) == 1


def test_auditors_cannot_take_over(automatic, broken, credential, smtp, role_client):
    tasks.run_outreach()

    response = role_client("Auditor").post(
        reverse("admin:calendars_credential_take_over", args=[credential.pk])
    )

    assert response.status_code == 403
    assert Outreach.objects.get().state == Outreach.State.WRITING


def test_a_customer_gets_at_most_the_days_limit(
    automatic, broken, credential, google_app, make_integration, providers, smtp, settings
):
    settings.OUTREACH_MAX_PER_CUSTOMER_DAY = 1
    bob = Credential.objects.create(
        customer=automatic,
        oauth_app=google_app,
        account_email="bob@example.com",
        refresh_token="1//refresh:bob@example.com",
        last_check_ok=False,
        last_check_message="invalid_grant: Token has been expired or revoked.",
        last_checked_at=timezone.now(),
    )

    tasks.run_outreach()
    assert len(smtp.inbox.messages) == 1
    first = smtp.inbox.messages[0]["To"]
    with time_machine.travel(timezone.now() + timedelta(hours=23)):
        tasks.run_outreach()
    assert len(smtp.inbox.messages) == 1
    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1)):
        tasks.run_outreach()

    # The second owner's first message before the first owner's reminder.
    assert len(smtp.inbox.messages) == 2
    assert {first, smtp.inbox.messages[1]["To"]} == {"alice@example.com", "bob@example.com"}
    assert Outreach.objects.filter(credential=bob).exists()


def test_a_grant_about_to_end_in_googles_testing_mode_is_renewed_ahead(
    automatic, credential, google_app, smtp
):
    google_app.publishing_status = PublishingStatus.TESTING
    google_app.save()
    Credential.objects.filter(pk=credential.pk).update(
        consented_at=timezone.now() - timedelta(days=6)
    )

    tasks.run_outreach()

    (message,) = smtp.inbox.messages
    text = smtp.inbox.text(message)
    assert "Google ends the access you gave us to your calendar 7 days after" in text
    assert "It ends on " in text
    assert Outreach.objects.get().reason == "testing_grant"


@pytest.mark.parametrize("role", ["Admin", "Support", "Auditor"])
def test_every_role_reads_the_messages_and_nobody_changes_them(
    automatic, broken, smtp, role_client, role
):
    tasks.run_outreach()
    record = OutreachMessage.objects.get()
    client = role_client(role)

    listed = client.get(reverse("admin:calendars_outreachmessage_changelist"))
    page = client.get(reverse("admin:calendars_outreachmessage_change", args=[record.pk]))
    changed = client.post(
        reverse("admin:calendars_outreachmessage_change", args=[record.pk]),
        {"to": "mallory@example.com", "delivery": "failed"},
    )
    deleted = client.post(
        reverse("admin:calendars_outreachmessage_delete", args=[record.pk]), {"post": "yes"}
    )
    outreach_changed = client.post(
        reverse("admin:calendars_outreach_change", args=[record.outreach_id]),
        {"state": "resolved"},
    )

    assert listed.status_code == 200 and "alice@example.com" in listed.content.decode()
    assert "Waiting for the owner" in listed.content.decode()
    assert page.status_code == 200
    assert changed.status_code == 403 and deleted.status_code == 403
    assert outreach_changed.status_code == 403
    record.refresh_from_db()
    assert (record.to, record.delivery) == ("alice@example.com", "sent")
    assert Outreach.objects.get().state == Outreach.State.WRITING


def test_the_customer_page_sets_outreach(role_client, customer):
    admin = role_client("Admin")
    page = admin.get(reverse("admin:calendars_customer_change", args=[customer.pk]))

    assert (
        "Re-consent outreach" in page.content.decode() and "Contact e-mail" in page.content.decode()
    )


def test_outreach_switched_off_pauses_and_says_so(automatic, broken, credential, smtp, role_client):
    tasks.run_outreach()
    automatic.outreach = Customer.Outreach.OFF
    automatic.save()

    with time_machine.travel(timezone.now() + timedelta(days=2)):
        tasks.run_outreach()
    page = role_client("Support").get(
        reverse("admin:calendars_credential_change", args=[credential.pk])
    )

    assert len(smtp.inbox.messages) == 1
    assert "paused: the customer's outreach is off" in page.content.decode()


def test_a_link_someone_in_support_made_is_left_to_them(
    automatic, broken, credential, smtp, role_client
):
    support = role_client("Support")
    support.post(reverse("admin:calendars_consentlink_reconsent", args=[credential.pk]), {})
    made = ConsentLink.objects.get()

    assert "1 taken over" in tasks.run_outreach()

    assert not smtp.inbox.messages and made.is_usable
    taken = Outreach.objects.get()
    assert taken.state == Outreach.State.TAKEN_OVER and taken.handled_by.username == "support-user"
