"""A refusal is an admin page that names the person's role and links back to the admin home."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from calendars.models import RawCalendar

EXPORT = reverse("admin:calendars_history_export")


def test_support_opening_the_export_gets_a_styled_page_naming_its_role(role_client):
    response = role_client("Support").get(EXPORT)

    assert response.status_code == 403
    html = response.content.decode()
    assert "Your role, <strong>Support</strong>, does not allow this page or action." in html
    assert f'<a class="button" href="{reverse("admin:index")}">Back to the admin home</a>' in html
    assert '<ol class="breadcrumbs">' in html  # the admin's own frame, styles included
    assert "admin/css/base.css" in html


def test_an_auditor_posting_a_create_is_told_its_role(role_client, credential):
    raw = RawCalendar.objects.create(
        credential=credential, provider_id="alice@example.com", listed_at=timezone.now()
    )

    response = role_client("Auditor").post(
        reverse("admin:calendars_rawcalendar_create_from_listing"),
        {"shown": [raw.pk], "create": "all"},
    )

    assert response.status_code == 403
    assert "Your role, <strong>Auditor</strong>" in response.content.decode()


def test_a_user_without_a_role_is_told_so(client, django_user_model):
    user = django_user_model.objects.create_user("newcomer", password="pw", is_staff=True)
    client.force_login(user)

    response = client.get(EXPORT)

    assert response.status_code == 403
    assert "Your account has no role yet" in response.content.decode()
