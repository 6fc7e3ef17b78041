"""Which meeting a URL names: copies of one meeting in several calendars get one key."""

from __future__ import annotations

import pytest

from calendars.meetings.identity import KEY_LENGTH, MAX_URL, same_meeting_key

TEAMS_THREAD = "19:meeting_NjQ2YTc4ZDItNmE5Ny00ZjM0LWI0MzAtNTRmYmE2ZjUxMmQ0@thread.v2"
TEAMS_CONTEXT = "%7b%22Tid%22%3a%2272f988bf%22%2c%22Oid%22%3a%22a1b2%22%7d"


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://zoom.us/j/85712345678?pwd=aBcDeF123.1", "zoom:85712345678"),
        ("https://us02web.zoom.us/j/85712345678", "zoom:85712345678"),
        ("https://acme.zoom.us/j/85712345678?pwd=other#success", "zoom:85712345678"),
        ("us02web.zoom.us/j/85712345678?from=addon", "zoom:85712345678"),
        ("https://zoom.us/s/85712345678", "zoom:85712345678"),
        ("https://zoom.us/w/85712345678?tk=abc", "zoom:85712345678"),
        ("https://zoom.us/wc/join/85712345678", "zoom:85712345678"),
        ("https://zoom.us/wc/85712345678/join?pwd=x", "zoom:85712345678"),
        ("zoommtg://zoom.us/join?action=join&confno=85712345678&pwd=x", "zoom:85712345678"),
        ("https://acme.zoomgov.com/j/1612345678", "zoom:1612345678"),
        ("https://zoom.us/my/Jane.Doe", "zoom:my:jane.doe"),
        ("https://us04web.zoom.us/my/jane.doe?pwd=1", "zoom:my:jane.doe"),
        ("https://meet.google.com/abc-defg-hij", "meet:abc-defg-hij"),
        ("https://meet.google.com/abc-defg-hij?authuser=1", "meet:abc-defg-hij"),
        ("https://meet.google.com/ABC-DEFG-HIJ/?hs=122&authuser=0", "meet:abc-defg-hij"),
        ("meet.google.com/abcdefghij", "meet:abc-defg-hij"),
        ("https://meet.google.com/lookup/weekly-sync", "meet:lookup:weekly-sync"),
        (
            f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_NjQ2YTc4ZDItNmE5Ny00ZjM0LWI0"
            f"MzAtNTRmYmE2ZjUxMmQ0%40thread.v2/0?context={TEAMS_CONTEXT}",
            f"teams:{TEAMS_THREAD}",
        ),
        (
            "https://teams.microsoft.com/l/meetup-join/19%3Ameeting_NjQ2YTc4ZDItNmE5Ny00ZjM0LWI0"
            "MzAtNTRmYmE2ZjUxMmQ0%40thread.v2/0",
            f"teams:{TEAMS_THREAD}",
        ),
        (
            "https://teams.microsoft.com/l/meetup-join/19%3a8a1b2c3d%40thread.tacv2/1612345678901"
            f"?context={TEAMS_CONTEXT}",
            "teams:19:8a1b2c3d@thread.tacv2/1612345678901",
        ),
        ("https://teams.microsoft.com/meet/2345678901234?p=AbCdEf", "teams:meet:2345678901234"),
        ("https://teams.live.com/meet/9876543210987?p=XyZ", "teams-live:9876543210987"),
        (
            "https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fus02web.zoom.us"
            "%2Fj%2F85712345678%3Fpwd%3Dx&data=05%7C01&reserved=0",
            "zoom:85712345678",
        ),
        ("https://Whereby.com/demo-room/", "url:https://whereby.com/demo-room"),
        (
            "https://whereby.com/demo-room?utm_source=cal&utm_medium=x&fbclid=1",
            "url:https://whereby.com/demo-room",
        ),
        ("HTTPS://whereby.com:443/demo-room", "url:https://whereby.com/demo-room"),
        ("https://example.com/Room?b=2&a=1#x", "url:https://example.com/Room?b=2&a=1"),
    ],
)
def test_a_meeting_url_gives_the_key_of_the_meeting_it_names(url, key):
    assert same_meeting_key(url) == key


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("https://zoom.us/j/85712345678", "https://zoom.us/j/85712345679"),
        ("https://zoom.us/my/jane", "https://zoom.us/my/john"),
        ("https://meet.google.com/abc-defg-hij", "https://meet.google.com/abc-defg-hik"),
        # Path case may matter to another service: kept.
        ("https://example.com/Room", "https://example.com/room"),
        ("https://example.com/room?id=1", "https://example.com/room?id=2"),
        # A look-alike host is not Zoom, nor Meet.
        ("https://zoom.us/j/85712345678", "https://zoom.us.evil.example/j/85712345678"),
        ("https://meet.google.com/abc-defg-hij", "https://meet.google.com.evil/abc-defg-hij"),
        (
            "https://teams.microsoft.com/l/meetup-join/19%3aa%40thread.tacv2/1",
            "https://teams.microsoft.com/l/meetup-join/19%3aa%40thread.tacv2/2",
        ),
    ],
)
def test_different_meetings_get_different_keys(one, other):
    assert same_meeting_key(one) != same_meeting_key(other)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "not a url",
        "https://",
        "https://zoom.us/j/1\n2",
        "https://zoom.us/j/857\x0712345678",
        "https://meet.google.com/abc-defg-hij\x7f",
        "https://[::1",
        "https://example.com:99999/x",
        "https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Feur01.safelinks."
        "protection.outlook.com%2F",
        "https://example.com/" + "a" * MAX_URL,
    ],
)
def test_no_url_or_hostile_text_has_no_key(url):
    assert same_meeting_key(url) == ""


def test_a_long_key_keeps_its_platform_and_a_digest_of_the_rest():
    long_room = "https://example.com/" + "r" * 500
    key = same_meeting_key(long_room)
    assert len(key) <= KEY_LENGTH and key.startswith("url#")
    assert key == same_meeting_key(long_room + "/?utm_source=mail")
    assert key != same_meeting_key(long_room + "x")
