"""Signed-in sessions end after SESSION_IDLE_MINUTES without a request and SESSION_COOKIE_AGE
after sign-in. Time moves by rewinding the times the session keeps, never by sleeping."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse

from calendars.lib.sessions import LAST_SEEN_AT, SIGNED_IN_AT

INDEX = reverse("admin:index")


@pytest.fixture
def signed_in(client, admin_user):
    client.force_login(admin_user)
    assert client.get(INDEX).status_code == 200  # the first request records the times
    return client


def rewind(client, key: str, seconds: int) -> None:
    session = client.session
    session[key] -= seconds
    session.save()


def is_signed_in(client) -> bool:
    response = client.get(INDEX)
    return response.status_code == 200 and "_auth_user_id" in client.session


def test_the_defaults_are_an_hour_idle_and_twelve_hours_in_all(settings):
    assert settings.SESSION_IDLE_MINUTES == 60
    assert settings.SESSION_COOKIE_AGE == 12 * 60 * 60


def test_a_session_idle_for_longer_than_the_limit_is_signed_out(signed_in, settings):
    rewind(signed_in, LAST_SEEN_AT, settings.SESSION_IDLE_MINUTES * 60 + 1)

    response = signed_in.get(INDEX)

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))
    assert "_auth_user_id" not in signed_in.session


def test_a_request_within_the_limit_keeps_the_session_going(signed_in, settings):
    idle_limit = settings.SESSION_IDLE_MINUTES * 60
    rewind(signed_in, LAST_SEEN_AT, idle_limit - 60)
    assert is_signed_in(signed_in)

    # Another almost-full idle period after that request: still signed in, as it was recorded.
    rewind(signed_in, LAST_SEEN_AT, idle_limit - 60)
    assert is_signed_in(signed_in)


def test_a_session_older_than_the_cookie_age_is_signed_out_even_when_busy(signed_in, settings):
    rewind(signed_in, SIGNED_IN_AT, settings.SESSION_COOKIE_AGE + 1)

    assert not is_signed_in(signed_in)


def test_a_session_younger_than_the_cookie_age_stays(signed_in, settings):
    rewind(signed_in, SIGNED_IN_AT, settings.SESSION_COOKIE_AGE - 60)

    assert is_signed_in(signed_in)


def test_anonymous_requests_create_no_session(client, db):
    client.get("/healthz")
    client.get(reverse("admin:login"))

    assert Session.objects.count() == 0
    assert "sessionid" not in client.cookies


def test_signing_in_again_starts_the_session_s_whole_life_again(client, admin_user, settings):
    admin_user.set_password("pw-for-the-form")
    admin_user.save()
    login = reverse("admin:login")
    client.post(login, {"username": admin_user.username, "password": "pw-for-the-form"})
    rewind(client, SIGNED_IN_AT, settings.SESSION_COOKIE_AGE - 60)

    client.post(login, {"username": admin_user.username, "password": "pw-for-the-form"})
    rewind(client, SIGNED_IN_AT, 120)  # past the first sign-in's limit, not the second's

    assert is_signed_in(client)
