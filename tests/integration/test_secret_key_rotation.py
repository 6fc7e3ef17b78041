"""Rotating SECRET_KEY: with the old key in SECRET_KEY_FALLBACKS, nobody is signed out."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.system.test_settings import run_with_settings

NEW_KEY = "a-new-secret-key-for-the-rotation-" + "n" * 30


@pytest.fixture
def signed_in(client, django_user_model):
    user = django_user_model.objects.create_user("sam", password="pw", is_staff=True)
    client.force_login(user)
    return client


def test_a_session_signed_under_the_old_key_survives_while_it_is_a_fallback(signed_in, settings):
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = NEW_KEY

    assert signed_in.get(reverse("admin:index")).status_code == 200


def test_without_the_fallback_the_new_key_signs_everyone_out(signed_in, settings):
    settings.SECRET_KEY = NEW_KEY

    response = signed_in.get(reverse("admin:index"))

    assert response.status_code == 302 and reverse("admin:login") in response["Location"]


def test_fallback_keys_come_from_the_environment(tmp_path):
    result = run_with_settings(
        "from portal import settings; print(settings.SECRET_KEY_FALLBACKS)",
        DEBUG="true",
        PORTAL_VAR_DIR=str(tmp_path),
        SECRET_KEY_FALLBACKS="old-key-one,old-key-two",
    )

    assert result.stdout.strip() == "['old-key-one', 'old-key-two']", result.stderr
