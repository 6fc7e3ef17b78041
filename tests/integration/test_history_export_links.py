"""The export is one click away, from the home page, the sidebar and the integrations list, for
the roles that may use it (Admin, Auditor), and linked for no one else (Support)."""

from __future__ import annotations

import pytest
from django.urls import reverse

EXPORT = reverse("admin:calendars_history_export")
PAGES = {
    "home": reverse("admin:index"),
    "sidebar": reverse("admin:calendars_customer_changelist"),
    "integrations list": reverse("admin:calendars_integration_changelist"),
}


@pytest.mark.parametrize("role", ["Admin", "Auditor"])
@pytest.mark.parametrize("page", PAGES)
def test_roles_that_may_export_find_the_link(role_client, role, page):
    client = role_client(role)

    html = client.get(PAGES[page]).content.decode()

    assert f'href="{EXPORT}"' in html and "Export history (CSV)" in html
    assert client.get(EXPORT).status_code == 200


@pytest.mark.parametrize("page", PAGES)
def test_support_is_not_shown_the_link(role_client, page):
    client = role_client("Support")

    response = client.get(PAGES[page])

    assert response.status_code == 200
    assert EXPORT not in response.content.decode()
    assert client.get(EXPORT).status_code == 403


def test_a_list_narrowed_to_a_customer_exports_that_customer(admin_client, customer):
    html = admin_client.get(PAGES["integrations list"], {"customer": customer.pk}).content.decode()

    assert f'href="{EXPORT}?customer={customer.pk}"' in html
