"""A list accepts in its query string the filters it offers and nothing else: no lookup on a
secret (an oracle on the stored ciphertext), no `__regex` (seconds per request on SQLite), on
every model the admin site shows, the libraries' included; an id filter given anything but an
id lists nothing and says why, never a 500."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db import models
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calendars.admin.lookups import offered_lookups
from calendars.admin.records import IdFilter
from calendars.models import BotPolicy, Credential

REGISTERED = [
    pytest.param(model, model_admin, id=model._meta.label)
    for model, model_admin in sorted(admin.site._registry.items(), key=lambda p: p[0]._meta.label)
]


def changelist(model: type[models.Model]) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def own_fields(model: type[models.Model]) -> list[str]:
    return [f.name for f in model._meta.concrete_fields]


@pytest.mark.parametrize(
    ("model", "lookup"),
    [
        (Credential, "refresh_token__regex"),
        (Credential, "refresh_token__startswith"),
        (Credential, "refresh_token"),
        (BotPolicy, "transcription_api_key__startswith"),
    ],
)
@pytest.mark.parametrize("role", ["Admin", "Support", "Auditor"])
def test_no_role_filters_a_list_by_a_secret(role_client, credential, model, lookup, role):
    BotPolicy.objects.create(customer=credential.customer, transcription_api_key="gladia-key")
    client = role_client(role)

    response = client.get(changelist(model), {lookup: "gAAAAAB"})

    assert response.status_code == 400


def test_an_oauth_apps_secret_is_no_filter_either(admin_client, google_app):
    response = admin_client.get(changelist(type(google_app)), {"client_secret__startswith": "g"})

    assert response.status_code == 400


@pytest.mark.parametrize(("model", "model_admin"), REGISTERED)
def test_no_list_takes_a_regex_or_a_lookup_it_does_not_offer(admin_user, rf, model, model_admin):
    request = rf.get("/")
    request.user = admin_user
    offered = offered_lookups(model_admin, request)
    for field in own_fields(model):
        for lookup in (f"{field}__regex", f"{field}__iregex", f"{field}__contains", field):
            if lookup not in offered:  # a filter of its own may be named like a field
                assert not model_admin.lookup_allowed(lookup, "^(a+)+$", request), lookup
    assert not {lookup for lookup in offered if "regex" in lookup}


def test_a_lookup_not_offered_is_refused_with_a_400(admin_client):
    response = admin_client.get(changelist(Credential), {"account_email__regex": "^(a+)+$"})

    assert response.status_code == 400


@pytest.mark.parametrize(("model", "model_admin"), REGISTERED)
def test_every_filter_a_list_offers_still_works(admin_client, rf, model, model_admin):
    request = rf.get("/")
    request.user = admin_client.get(reverse("admin:index")).wsgi_request.user
    for lookup in sorted(offered_lookups(model_admin, request)):
        value = "2026-01-01 00:00:00+00:00" if lookup.endswith(("__gte", "__lt")) else "1"
        value = "2026" if lookup.endswith("__year") else value
        response = admin_client.get(changelist(model), {lookup: value})
        # A value the filter cannot use is Django's own "?e=1" page, not a refusal.
        assert response.status_code in (200, 302), lookup
        assert response.status_code == 200 or "e=1" in response.url, lookup


ID_FILTERS = [
    (model, spec.parameter_name)
    for model, model_admin in admin.site._registry.items()
    for spec in model_admin.list_filter
    if isinstance(spec, type) and issubclass(spec, IdFilter)
]


def test_the_id_filters_are_found():
    assert {name for _, name in ID_FILTERS} >= {"customer", "integration"}
    assert len(ID_FILTERS) >= 4


@pytest.mark.parametrize(
    ("model", "parameter"), ID_FILTERS, ids=[f"{m._meta.model_name}-{p}" for m, p in ID_FILTERS]
)
@pytest.mark.parametrize(
    "value", ["\u00b2", "\u00b3", "99999999999999999999999", "9223372036854775808", "-1", "0"]
)
def test_an_odd_id_lists_nothing_and_says_so(admin_client, model, parameter, value):
    response = admin_client.get(changelist(model), {parameter: value})

    assert response.status_code == 200
    assert "is not the id of a" in response.content.decode()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    pair=st.sampled_from(ID_FILTERS),
    value=st.text(max_size=30) | st.integers(min_value=-(2**70), max_value=2**70).map(str),
)
def test_any_text_in_any_id_filter_is_never_a_500(admin_client, pair, value):
    model, parameter = pair

    response = admin_client.get(changelist(model), {parameter: value})

    assert response.status_code == 200


@pytest.mark.parametrize("year", ["1", "0", "10000", "\u00b2\u00b2", "2026" * 1200])
def test_an_odd_year_in_a_date_hierarchy_is_refused_not_a_500(admin_client, settings, year):
    settings.TIME_ZONE = "Pacific/Auckland"  # where year 1 begins before datetime.min in UTC
    url = reverse("admin:calendars_refreshrun_changelist")

    assert admin_client.get(url, {"started_at__year": year}).status_code == 400
    assert admin_client.get(url, {"started_at__year": "2026"}).status_code == 200


def test_a_link_to_selected_credentials_lists_exactly_those(admin_client, customer, google_app):
    made = [
        Credential.objects.create(
            customer=customer,
            oauth_app=google_app,
            account_email=f"u{n}@example.com",
            refresh_token="rt",
        )
        for n in range(3)
    ]
    ids = f"{made[0].pk},{made[2].pk},\u00b2,99999999999999999999999"

    page = admin_client.get(changelist(Credential), {"id__in": ids}).content.decode()

    assert "u0@example.com" in page and "u2@example.com" in page
    assert "u1@example.com" not in page
