"""A malformed id in any admin URL is the admin's "not found", never a server error."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.test import RequestFactory
from django.urls import NoReverseMatch, reverse

MALFORMED = ["abc", "1e3", "99999999999999999999999"]
VIEWS = ["change", "delete", "history"]
NOT_FOUND = "doesn\N{RIGHT SINGLE QUOTATION MARK}t exist. Perhaps it was deleted?"


def admin_urls() -> list[tuple[type, str, str]]:
    """(model, view, URL) for every registered model's change, delete and history view, each
    with each malformed id."""
    urls = []
    for model in admin.site._registry:
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        for view in VIEWS:
            for object_id in MALFORMED:
                try:
                    urls.append((model, view, reverse(f"{name}_{view}", args=[object_id])))
                except NoReverseMatch:  # a view this admin does not have
                    continue
    return urls


def test_every_registered_model_is_walked():
    walked = {model for model, _, _ in admin_urls()}

    assert walked == set(admin.site._registry) and len(walked) > 10


@pytest.mark.parametrize(("model", "view", "url"), admin_urls(), ids=lambda v: str(v))
def test_a_malformed_id_is_not_found_never_a_500(admin_client, admin_user, model, view, url):
    response = admin_client.get(url)  # a server error raises here

    if response.status_code == 403:
        # Permissions come before the object: a view refused to everyone says no for any id.
        request = RequestFactory().get(url)
        request.user = admin_user
        assert view == "delete" and not admin.site._registry[model].has_delete_permission(request)
    else:
        assert response.status_code == 302 and response.url == reverse("admin:index"), url
        assert NOT_FOUND in " ".join(str(m) for m in get_messages(response.wsgi_request))


@pytest.mark.parametrize("view", ["calendars_bulkjob_progress", "calendars_bulkjob_rerun"])
def test_a_bulk_job_page_with_a_malformed_id_is_not_found(admin_client, view):
    url = reverse(f"admin:{view}", args=["abc"])
    response = admin_client.post(url) if view.endswith("rerun") else admin_client.get(url)

    assert response.status_code == 302 and response.url == reverse("admin:index")
    assert NOT_FOUND in " ".join(str(m) for m in get_messages(response.wsgi_request))
