"""The plan's calendar connection cap (MEETINGBAAS_MAX_CALENDARS): creates near it say so before
calling, and the 429 Meeting BaaS answers at its cap is told from a rate limit (no retry, and
what to do instead)."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from calendars.meetingbaas import errors
from calendars.meetingbaas.transport import Transport
from calendars.meetingbaas.types import OAuthGrant, Platform
from calendars.meetingbaas.v2 import V2Client
from calendars.models import ActionRecord, Credential, Integration, IntegrationCount, RawCalendar

CHANGELIST = reverse("admin:calendars_rawcalendar_changelist")
CREDENTIALS = reverse("admin:calendars_credential_changelist")
CREATE = reverse("admin:calendars_rawcalendar_create_from_listing")
TEAM = "alice.team@group.calendar.google.com"
CREATES = {"v2": "/v2/calendars", "v1": "/calendars/"}


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def raw_calendar(credential: Credential, provider_id: str) -> RawCalendar:
    return RawCalendar.objects.create(
        credential=credential, provider_id=provider_id, name=provider_id, listed_at=timezone.now()
    )


def create(client, *raws: RawCalendar):
    return client.post(
        CHANGELIST, {"action": "create_integration", "_selected_action": [r.pk for r in raws]}
    )


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_a_create_at_the_cap_is_explained_and_not_retried(
    admin_client, settings, sandbox, credential, make_integration, version
):
    settings.MEETINGBAAS_API_VERSION = version
    settings.MEETINGBAAS_MAX_CALENDARS = 1
    make_integration()
    sandbox.control("POST", "config", {"connection_limit": 1})

    response = create(admin_client, raw_calendar(credential, TEAM))

    shown = " ".join(messages_of(response))
    assert "Meeting BaaS refused a new calendar connection" in shown
    assert "Trying again will not help" in shown
    assert "The portal holds 1 live integration of the plan's 1." in shown
    assert "rate limiting" not in shown
    creates = [
        r
        for r in sandbox.requests_to("POST", CREATES[version])
        if r["path"] != "/v2/calendars/list-raw"
    ]
    assert len(creates) == 2  # the first integration's, then one refused: no retry
    assert Integration.objects.count() == 1
    record = ActionRecord.objects.filter(action="create integration").latest("pk")
    assert not record.succeeded and "refused a new calendar connection" in record.message


def test_a_rate_limit_429_is_still_a_rate_limit(sandbox):
    transport = Transport(sandbox.transport_config(max_retries=0))
    sandbox.state.write_rate = 0.5  # the sandbox's own rate limit: 429 with retryAfter
    client = V2Client(transport)
    grant = OAuthGrant(Platform.GOOGLE, "cid", "csecret", "rt:alice@example.com")
    client.create_connection(grant, "alice@example.com")

    with pytest.raises(errors.RateLimited) as caught:
        client.create_connection(grant, TEAM)

    assert not isinstance(caught.value, errors.PlanLimitReached)


def test_creating_near_the_cap_says_so_before_calling(admin_client, settings, sandbox, credential):
    settings.MEETINGBAAS_MAX_CALENDARS = 10

    response = create(admin_client, raw_calendar(credential, "alice@example.com"))

    assert not any("MEETINGBAAS_MAX_CALENDARS" in m for m in messages_of(response))  # 1 of 10
    settings.MEETINGBAAS_MAX_CALENDARS = 2
    response = create(admin_client, raw_calendar(credential, TEAM))

    *_, warning, outcome = messages_of(response)  # said before the create's outcome
    assert "integration created" in outcome
    assert warning == (
        "The plan allows 2 calendar connections (MEETINGBAAS_MAX_CALENDARS) and the portal "
        "holds 1: after this one, 2 of 2 are in use, and Meeting BaaS refuses any past 2 "
        "(HTTP 429)."
    )
    assert Integration.objects.count() == 2


def test_creating_past_the_cap_from_the_listing_says_how_many_fit(
    role_client, settings, sandbox, credential
):
    settings.MEETINGBAAS_MAX_CALENDARS = 2
    sandbox.control("POST", "config", {"connection_limit": 2})
    client = role_client("Support")
    listing = client.post(
        CREDENTIALS, {"action": "list_raw_calendars", "_selected_action": [credential.pk]}
    )
    shown = re.findall(r'name="shown" value="(\d+)"', listing.content.decode())

    response = client.post(CREATE, {"shown": shown, "create": "all"})

    said = messages_of(response)
    assert said[0].endswith(
        "holds 0: only 2 of the 3 asked for fit. Meeting BaaS refuses the others (HTTP 429, its "
        "connection limit: trying again will not help). Disconnect integrations no one needs, "
        "or move to a larger plan and set MEETINGBAAS_MAX_CALENDARS."
    )
    assert Integration.objects.count() == 2
    page = response.content.decode()
    assert page.count("Could not create: Meeting BaaS refused a new calendar connection") == 1


def test_no_cap_set_says_nothing_before_calling(admin_client, settings, sandbox, credential):
    settings.MEETINGBAAS_MAX_CALENDARS = 0

    response = create(admin_client, raw_calendar(credential, "alice@example.com"))

    assert not any("MEETINGBAAS_MAX_CALENDARS" in m for m in messages_of(response))


def test_an_auditor_cannot_create_near_the_cap_by_direct_post(
    role_client, settings, sandbox, credential
):
    settings.MEETINGBAAS_MAX_CALENDARS = 1
    raw = raw_calendar(credential, "alice@example.com")

    response = role_client("Auditor").post(CREATE, {"shown": [raw.pk], "create": "all"})

    assert response.status_code == 403
    assert not sandbox.requests_to("POST", "/v2/calendars")


def test_the_home_page_shows_the_connections_against_the_cap(admin_client, settings, db):
    settings.MEETINGBAAS_MAX_CALENDARS = 10
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "Calendar connections: 0 live of the plan's 10" in page
    settings.MEETINGBAAS_MAX_CALENDARS = 0
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "no connection cap set" in page


@pytest.mark.parametrize(
    ("cap", "said"),
    [
        (11, None),  # 1 of 11: far from it
        # 1 of 1 (and of 10, counting nine connections more where the counts are kept)
        (1, "none more fit. Meeting BaaS refuses a create (HTTP 429"),
        (10, "1 more fit, and Meeting BaaS refuses any create past 10 (HTTP 429)."),
    ],
)
def test_the_pages_offering_creates_say_how_many_fit_before_any_is_asked(
    admin_client, settings, sandbox, credential, make_integration, cap, said
):
    settings.MEETINGBAAS_MAX_CALENDARS = cap
    make_integration()
    if cap == 10:
        IntegrationCount.objects.filter(count=1).update(count=F("count") + 8)
    raw_calendar(credential, TEAM)

    listing = admin_client.post(
        CREDENTIALS, {"action": "list_raw_calendars", "_selected_action": [credential.pk]}
    )
    changelist = admin_client.get(CHANGELIST)

    for response in (listing, changelist):
        notes = [m for m in messages_of(response) if "MEETINGBAAS_MAX_CALENDARS" in m]
        if said is None:
            assert not notes
        else:
            (note,) = notes
            assert note.startswith(
                f"The plan allows {cap} calendar connections (MEETINGBAAS_MAX_CALENDARS) and "
                f"the portal holds {9 if cap == 10 else 1}: {said}"
            )
    assert len(sandbox.requests_to("POST", "/v2/calendars")) == 1 + 1  # the first, the listing
    assert Integration.objects.count() == 1


def test_after_a_create_near_the_cap_its_own_warning_stands_alone(
    admin_client, settings, sandbox, credential
):
    settings.MEETINGBAAS_MAX_CALENDARS = 2
    raws = [raw_calendar(credential, "alice@example.com"), raw_calendar(credential, TEAM)]

    response = admin_client.post(
        CHANGELIST,
        {"action": "create_integration", "_selected_action": [r.pk for r in raws]},
        follow=True,
    )

    page = response.content.decode()
    assert response.redirect_chain[-1][0].startswith(CHANGELIST)  # back to the list
    assert page.count("(MEETINGBAAS_MAX_CALENDARS)") == 1
    assert "after these 2, 2 of 2 are in use" in page
    assert Integration.objects.count() == 2


def test_the_raw_calendars_list_says_nothing_of_the_cap_to_whom_cannot_create(
    role_client, settings, sandbox, credential, make_integration
):
    settings.MEETINGBAAS_MAX_CALENDARS = 1
    make_integration()

    response = role_client("Auditor").get(CHANGELIST)

    assert response.status_code == 200
    assert not any("MEETINGBAAS_MAX_CALENDARS" in m for m in messages_of(response))
