"""Saving a credential checks its refresh token with a raw-calendar listing, recorded."""

from __future__ import annotations

from django.urls import reverse

from calendars.models import ActionRecord, Credential

ADD = reverse("admin:calendars_credential_add")


def form(customer, app, token: str, email: str = "alice@example.com") -> dict:
    return {
        "customer": customer.pk,
        "oauth_app": app.pk,
        "account_email": email,
        "refresh_token": token,
    }


def shown(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def test_a_working_token_is_added_and_says_what_the_check_listed(
    role_client, sandbox, customer, google_app
):
    added = role_client("Admin").post(
        ADD, form(customer, google_app, "1//refresh:alice@example.com"), follow=True
    )

    messages = shown(added)
    assert any(level == "success" and "was added successfully" in m for level, m in messages)
    assert ("info", "Refresh token checked: 3 calendars listed.") in messages
    credential = Credential.objects.get()
    assert credential.last_check_ok is True and credential.raw_calendars.count() == 3
    record = ActionRecord.objects.get(action="list raw calendars")
    assert record.succeeded and record.username == "admin-user"


def test_a_refused_token_is_saved_with_a_warning_not_a_green_success(
    role_client, sandbox, customer, google_app
):
    added = role_client("Admin").post(
        ADD, form(customer, google_app, "revoked:alice@example.com"), follow=True
    )

    credential = Credential.objects.get()
    assert added.redirect_chain[-1][0] == reverse(
        "admin:calendars_credential_change", args=[credential.pk]
    )
    messages = shown(added)
    assert [level for level, _ in messages] == ["warning"]
    assert "was added, but the check of its refresh token failed" in messages[0][1]
    assert "invalid_grant: Token has been expired or revoked." in messages[0][1]
    assert credential.last_check_ok is False
    page = added.content.decode()
    assert "Refresh token refused or revoked" in page  # the check's outcome, on its page
    record = ActionRecord.objects.get(action="list raw calendars")
    assert not record.succeeded


def test_changing_a_credential_checks_it_again(role_client, sandbox, credential):
    url = reverse("admin:calendars_credential_change", args=[credential.pk])
    data = form(credential.customer, credential.oauth_app, "", email="bob@example.com")
    Credential.objects.filter(pk=credential.pk).update(refresh_token="revoked:bob@example.com")

    changed = role_client("Admin").post(url, data, follow=True)

    messages = shown(changed)
    assert [level for level, _ in messages] == ["warning"]
    assert "was changed, but the check of its refresh token failed" in messages[0][1]
    credential.refresh_from_db()
    assert credential.account_email == "bob@example.com" and credential.last_check_ok is False


def test_an_unreachable_api_saves_and_says_the_token_could_not_be_checked(
    role_client, sandbox, customer, google_app
):
    sandbox.fault("POST", "/v2/calendars/list-raw", "status", status=503, count=10)

    added = role_client("Admin").post(
        ADD, form(customer, google_app, "1//refresh:alice@example.com"), follow=True
    )

    messages = shown(added)
    assert [level for level, _ in messages] == ["warning"]
    assert "its refresh token could not be checked now" in messages[0][1]
    assert Credential.objects.get().last_check_ok is None  # a transient failure proves nothing


def test_the_add_form_never_says_leave_blank(role_client, db):
    page = role_client("Admin").get(ADD).content.decode()

    assert "Leave blank" not in page
    assert "Stored encrypted and never shown again." in page
