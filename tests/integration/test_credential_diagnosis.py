"""A credential's page shows its last check's diagnosis, what it breaks, and the fixes."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from calendars.actions.credentials import list_raw_calendars
from calendars.meetingbaas import errors
from calendars.models import BulkJob, Credential


def diagnosis_box(client, credential: Credential) -> str:
    page = client.get(reverse("admin:calendars_credential_change", args=[credential.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "field-last_check_ok" not in html  # the box replaces the icon among the timestamps
    box = re.search(r'<section id="diagnosis".*?</section>', html, re.S)
    assert box, "the page has no diagnosis box"
    return box.group(0)


def buttons(box: str) -> list[str]:
    return re.findall(r"<button[^>]*>(.*?)</button>", box, re.S)


@pytest.fixture
def refused(sandbox, make_integration, credential) -> Credential:
    """A credential whose token the provider refused at its last check, with a live integration."""
    make_integration()
    Credential.objects.filter(pk=credential.pk).update(refresh_token="revoked:alice@example.com")
    with pytest.raises(errors.MeetingBaasError):
        list_raw_calendars(Credential.objects.get(pk=credential.pk))
    return Credential.objects.get(pk=credential.pk)


def test_a_refused_token_shows_its_class_message_time_and_what_it_breaks(role_client, refused):
    box = diagnosis_box(role_client("Support"), refused)

    assert "Refresh token refused or revoked" in box
    assert "invalid_grant" in refused.last_check_message
    assert refused.last_check_message.replace('"', "&quot;") in box  # the exact message
    assert "last checked" in box
    integration = refused.integrations.get()
    assert "This breaks the 1 integration that uses this token" in box
    assert reverse("admin:calendars_integration_change", args=[integration.pk]) in box
    assert buttons(box) == [
        "Recommended: Create re-consent link",
        "Replace refresh token",
        "List raw calendars",
    ]


def test_an_admin_gets_the_same_buttons_and_an_auditor_none(role_client, refused):
    assert buttons(diagnosis_box(role_client("Admin"), refused)) == [
        "Recommended: Create re-consent link",
        "Replace refresh token",
        "List raw calendars",
    ]


def test_an_auditor_reads_the_diagnosis_without_buttons(role_client, refused):
    box = diagnosis_box(role_client("Auditor"), refused)

    assert "Refresh token refused or revoked" in box
    assert buttons(box) == []


def test_the_replace_button_opens_the_replace_form(role_client, refused):
    client = role_client("Support")
    form = client.post(
        reverse("admin:calendars_credential_changelist"),
        {"action": "replace_refresh_token", "_selected_action": [refused.pk]},
    )

    assert form.status_code == 200 and b'name="refresh_token"' in form.content


def test_a_working_token_says_when_it_was_checked(role_client, sandbox, credential):
    list_raw_calendars(credential)

    box = diagnosis_box(role_client("Support"), credential)

    assert "the token worked then." in box
    assert "3 calendars listed." in box
    assert "No integration uses this token." in box
    assert buttons(box) == [
        "List raw calendars",
        "Create re-consent link",
        "Replace refresh token",
    ]


def test_a_credential_never_checked_says_so(role_client, credential):
    box = diagnosis_box(role_client("Admin"), credential)

    assert "Never checked." in box


@pytest.mark.parametrize("in_use", [True, False], ids=["pushed", "unused"])
def test_replace_refresh_token_checks_the_new_token(role_client, refused, in_use):
    """Then the push's progress, or the credential's page when no integration uses the token
    (it landed on the credentials list)."""
    if not in_use:
        refused.integrations.update(status="disconnected", status_cause="admin_action")
    client = role_client("Support")
    refused_at = refused.last_checked_at

    answer = client.post(
        reverse("admin:calendars_credential_changelist"),
        {
            "action": "replace_refresh_token",
            "_selected_action": [refused.pk],
            "apply": "1",
            "refresh_token": "1//new:alice@example.com",
        },
    )

    assert answer.status_code == 302
    if in_use:
        job = BulkJob.objects.get()
        assert answer["Location"] == reverse("admin:calendars_bulkjob_change", args=[job.pk])
    else:
        assert answer["Location"] == reverse("admin:calendars_credential_change", args=[refused.pk])
    refused.refresh_from_db()
    assert refused.last_check_ok is True and refused.last_checked_at > refused_at
    said = [str(m) for m in client.get(answer["Location"]).context["messages"]]
    assert any("Refresh token checked: 3 calendars listed." in m for m in said)
    box = diagnosis_box(client, refused)
    assert "the token worked then" in box and "Refresh token refused" not in box
