"""Which platform a meeting URL leads to: by its host, never by a look-alike."""

from __future__ import annotations

import pytest

from calendars.meetingbaas.meeting_urls import platform_of
from calendars.meetingbaas.types import MeetingPlatform as P


@pytest.mark.parametrize(
    ("url", "platform"),
    [
        ("https://us02web.zoom.us/j/81234567890?pwd=abc", P.ZOOM),
        ("https://zoom.us/j/81234567890", P.ZOOM),
        ("https://acme.zoomgov.com/j/1600000000", P.ZOOM),
        ("zoom.us/j/81234567890", P.ZOOM),
        ("https://meet.google.com/abc-defg-hij", P.GOOGLE_MEET),
        ("HTTPS://MEET.GOOGLE.COM/abc-defg-hij", P.GOOGLE_MEET),
        ("https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0", P.TEAMS),
        ("https://teams.live.com/meet/9312345678", P.TEAMS),
        ("https://whereby.com/acme", P.OTHER),
        ("https://zoom.us.evil.example/j/1", P.OTHER),
        ("https://notzoom.us/j/1", P.OTHER),
        ("https://google.com/meet.google.com", P.OTHER),
        ("https://[::1", P.OTHER),
        ("Room 4B, second floor", P.OTHER),
        ("", P.NONE),
        ("   ", P.NONE),
        (None, P.NONE),
    ],
)
def test_it_tells_the_platform_by_the_host(url, platform):
    assert platform_of(url) == platform
