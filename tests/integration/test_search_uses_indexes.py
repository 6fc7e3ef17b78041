"""Searches find by exact Meeting BaaS id through its unique index, and by part of an e-mail or
a customer's name on each table of its own."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from calendars.admin import records
from calendars.models import WebhookDelivery
from tests.support.seeding import integration_of

INTEGRATIONS = reverse("admin:calendars_integration_changelist")
DELIVERIES = reverse("admin:calendars_webhookdelivery_changelist")


def search(client, url: str, term: str) -> tuple[set[int], list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, {"q": term})
    assert response.status_code == 200
    found = {row.pk for row in response.context["cl"].result_list}
    return found, [q["sql"] for q in queries.captured_queries]


def test_an_exact_id_is_compared_as_stored_so_the_unique_index_serves_it(admin_client, google_app):
    wanted = integration_of(google_app, "Acme Corp", "alice@acme.example")
    integration_of(google_app, "Globex", "bob@globex.example")

    found, queries = search(admin_client, INTEGRATIONS, str(wanted.remote_id).upper())

    assert found == {wanted.pk}
    by_id = [sql for sql in queries if "remote_id" in sql and "WHERE" in sql]
    assert by_id
    assert not [sql for sql in by_id if "UPPER" in sql or "LIKE" in sql]


def test_part_of_an_e_mail_or_of_a_customer_name_finds_its_integrations(admin_client, google_app):
    acme = integration_of(google_app, "Acme Corp", "alice@acme.example")
    globex = integration_of(google_app, "Globex", "bob@globex.example")

    assert search(admin_client, INTEGRATIONS, "ALICE@acme")[0] == {acme.pk}
    assert search(admin_client, INTEGRATIONS, "lobe")[0] == {globex.pk}
    assert search(admin_client, INTEGRATIONS, str(acme.remote_id)[:8])[0] == set()
    _, queries = search(admin_client, INTEGRATIONS, "lobe")
    # Each field on its own table: the customers by name, the credentials by e-mail or by
    # those customers' ids, then the integrations by those credentials' ids.
    (count,) = [sql for sql in queries if "COUNT(" in sql and "calendars_integration" in sql]
    credential = globex.credential_id
    # Counted up to a bound (calendars/admin/big_lists.py).
    assert f'WHERE "calendars_integration"."credential_id" IN ({credential}) LIMIT' in count


def test_a_webhook_delivery_is_found_by_exact_id_without_upper(admin_client, google_app):
    integration = integration_of(google_app, "Acme Corp", "alice@acme.example")
    delivery = WebhookDelivery.objects.create(
        api_version="v2",
        event="calendar.event_created",
        delivery_id="msg_2Lh8kQ",
        payload={"event": "calendar.event_created", "data": {}},
        remote_id=integration.remote_id,
    )

    by_remote_id, queries = search(admin_client, DELIVERIES, str(integration.remote_id))
    by_delivery_id, _ = search(admin_client, DELIVERIES, "msg_2Lh8kQ")

    assert by_remote_id == by_delivery_id == {delivery.pk}
    assert search(admin_client, DELIVERIES, "MSG_2LH8KQ")[0] == set()
    assert not [sql for sql in queries if "UPPER" in sql]


def test_a_term_matching_more_than_the_ids_read_first_finds_them_all(
    admin_client, google_app, monkeypatch
):
    monkeypatch.setattr(records, "IDS_READ_FIRST", 1)
    acme = integration_of(google_app, "Acme Corp", "alice@acme.example")
    globex = integration_of(google_app, "Globex", "bob@globex.example")

    assert search(admin_client, INTEGRATIONS, ".example")[0] == {acme.pk, globex.pk}
