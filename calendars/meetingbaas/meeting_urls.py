"""Which meeting platform a meeting URL leads to, told by its host alone."""

from __future__ import annotations

from urllib.parse import urlsplit

from calendars.meetingbaas.types import MeetingPlatform

# A host is the platform's when it is one of these or ends in "." + one of them
# (us02web.zoom.us, acme.zoom.us); "zoom.us.evil.example" is not.
PLATFORM_DOMAINS = {
    MeetingPlatform.ZOOM: ("zoom.us", "zoomgov.com"),
    MeetingPlatform.GOOGLE_MEET: ("meet.google.com",),
    MeetingPlatform.TEAMS: ("teams.microsoft.com", "teams.live.com"),
}


def platform_of(url: str | None) -> MeetingPlatform:
    """The platform of `url`: NONE without a URL, OTHER for a host no platform owns."""
    if not url or not url.strip():
        return MeetingPlatform.NONE
    text = url.strip()
    if "://" not in text:
        # Calendars often hold "zoom.us/j/123" without a scheme; urlsplit would see a path.
        text = "https://" + text
    try:
        host = (urlsplit(text).hostname or "").rstrip(".")
    except ValueError:
        return MeetingPlatform.OTHER
    for platform, domains in PLATFORM_DOMAINS.items():
        if any(host == domain or host.endswith("." + domain) for domain in domains):
            return platform
    return MeetingPlatform.OTHER
