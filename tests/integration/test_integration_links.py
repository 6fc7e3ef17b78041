"""What the integrations list and an integration's page name links to its own page: the
customer, and the integration a recreated one replaced, both ways."""

from __future__ import annotations

import re

from django.urls import reverse

from calendars.actions.integrations import disconnect_integration, recreate_integration
from calendars.models import Integration

CHANGELIST = reverse("admin:calendars_integration_changelist")


def url_of(obj: object) -> str:
    return reverse(f"admin:calendars_{obj._meta.model_name}_change", args=[obj.pk])


def shown(client, integration: Integration, name: str) -> str:
    """What the integration's page shows in its read-only field `name`."""
    html = client.get(url_of(integration)).content.decode()
    field = re.search(rf'field-{name}">.*?<div class="readonly">(.*?)</div>', html, re.S)
    return field.group(1)


def test_the_list_links_each_customer_with_the_account_under_it(
    admin_client, sandbox, make_integration, customer
):
    make_integration()

    html = admin_client.get(CHANGELIST).content.decode()

    assert f'<a href="{url_of(customer)}">Acme Corp</a><br><small>alice@example.com</small>' in html


def test_the_integration_page_links_its_customer(admin_client, sandbox, make_integration, customer):
    integration = make_integration()

    assert shown(admin_client, integration, "customer_link") == (
        f'<a href="{url_of(customer)}">Acme Corp</a>'
    )


def test_a_recreated_integration_and_the_one_it_replaced_link_to_each_other(
    admin_client, sandbox, make_integration
):
    old = make_integration()
    disconnect_integration(old.pk)
    new = recreate_integration(old.pk)

    replaced_by = shown(admin_client, old, "replaced_by")
    replaces = shown(admin_client, new, "replaces")

    assert replaced_by.startswith(f'<a href="{url_of(new)}">integration {new.pk}</a> (')
    assert replaces.startswith(f'<a href="{url_of(old)}">integration {old.pk}</a> (Disconnected,')
    assert shown(admin_client, old, "replaces") == "-"
    assert shown(admin_client, new, "replaced_by") == "-"


def test_an_integration_of_another_raw_calendar_is_no_replacement(
    admin_client, sandbox, make_integration
):
    first = make_integration()
    disconnect_integration(first.pk)
    other = make_integration("alice.team@group.calendar.google.com")

    assert shown(admin_client, other, "replaces") == "-"
    assert shown(admin_client, first, "replaced_by") == "-"
