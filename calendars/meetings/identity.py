"""Which meeting a meeting URL names, as a short key: two copies of one meeting in different
calendars carry URLs that differ in noise (a Zoom password, a Meet `authuser`, a Teams
context, a tracking parameter, a trailing slash) but name the same meeting.

Pure: no database, no Django. URLs are remote text: anything longer than MAX_URL, or not a
URL, has no key ("") and is never taken for another meeting.

Keys by platform (the meeting's identity, never its credentials):
- Zoom, any subdomain (`zoom.us`, `us02web.zoom.us`, `acme.zoom.us`, `zoomgov.com`):
  `/j/<id>`, `/s/<id>`, `/w/<id>`, `/wc/join/<id>`, `/wc/<id>/join|start` and the
  `zoommtg://…/join?confno=<id>` app link → `zoom:<digits>`; a personal link `/my/<name>` →
  `zoom:my:<name>` (lower case).
- Google Meet: `meet.google.com/<code>` (dashes optional, any case, any query) →
  `meet:abc-defg-hij`; `meet.google.com/lookup/<name>` → `meet:lookup:<name>`.
- Teams: `teams.microsoft.com/l/meetup-join/<thread>/<message>` (percent-encoded or not) →
  `teams:<thread>` (`19:meeting_…@thread.v2`; a channel meeting's thread is its channel's, so
  its message id is kept: `teams:19:…@thread.tacv2/<message>`); the short links
  `teams.microsoft.com/meet/<id>` → `teams:meet:<id>` and `teams.live.com/meet/<id>` →
  `teams-live:<id>`.
- Outlook safe links (`*.safelinks.protection.outlook.com/?url=…`) are unwrapped once.
- Any other URL: compared whole, with the scheme and host in lower case, the default port,
  the fragment and a trailing slash left out, and tracking parameters (`utm_*`, `fbclid`,
  `gclid`, `mc_cid`, `mc_eid`, `_hsenc`, `_hsmi`) dropped → `url:<that URL>`.
A key longer than KEY_LENGTH keeps its platform and gives the rest as a SHA-256.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

MAX_URL = 2000
KEY_LENGTH = 100
# Whitespace and control characters: never in a URL someone can click.
UNSAFE = re.compile(r"[\s\x00-\x1f\x7f]")
TRACKING = re.compile(r"^(utm_.*|fbclid|gclid|mc_cid|mc_eid|_hsenc|_hsmi)$", re.IGNORECASE)
ZOOM_HOSTS = ("zoom.us", "zoomgov.com")
ZOOM_ID = re.compile(r"^\d{9,12}$")
ZOOM_PATHS = (
    re.compile(r"^/(?:j|s|w|wc/join)/(\d+)"),
    re.compile(r"^/wc/(\d+)/(?:join|start)"),
)
ZOOM_PERSONAL = re.compile(r"^/my/([A-Za-z0-9._-]+)")
MEET_CODE = re.compile(r"^/([a-z0-9]{3})-?([a-z0-9]{4})-?([a-z0-9]{3})/?$")
MEET_LOOKUP = re.compile(r"^/lookup/([a-z0-9_-]+)/?$")
TEAMS_JOIN = re.compile(r"^/l/meetup-join/([^/]+)(?:/([^/?]+))?")
TEAMS_SHORT = re.compile(r"^/meet/(\d+)/?$")


def same_meeting_key(url: str) -> str:
    """The key of the meeting `url` names ("" for none): equal keys, the same meeting."""
    url = (url or "").strip()
    if not url or len(url) > MAX_URL or UNSAFE.search(url):
        return ""
    try:
        parts = urlsplit(url if "://" in url else f"https://{url}")
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:
        return ""
    if not host:
        return ""
    if host.endswith(".safelinks.protection.outlook.com"):
        wrapped = dict(parse_qsl(parts.query)).get("url", "")
        return "" if "safelinks.protection" in wrapped else same_meeting_key(wrapped)
    key = _platform_key(parts.scheme.lower(), host, parts.path, parts.query)
    if key:
        return _bounded(key)
    return _bounded("url:" + _whole(parts.scheme.lower(), host, port, parts.path, parts.query))


def _platform_key(scheme: str, host: str, path: str, query: str) -> str:
    if scheme == "zoommtg" or any(host == h or host.endswith(f".{h}") for h in ZOOM_HOSTS):
        return _zoom(path, query)
    if host == "meet.google.com":
        return _meet(path.lower())
    if host == "teams.microsoft.com":
        return _teams(path)
    if host == "teams.live.com":
        found = TEAMS_SHORT.match(path)
        return f"teams-live:{found.group(1)}" if found else ""
    return ""


def _zoom(path: str, query: str) -> str:
    for pattern in ZOOM_PATHS:
        found = pattern.match(path)
        if found and ZOOM_ID.match(found.group(1)):
            return f"zoom:{found.group(1)}"
    found = ZOOM_PERSONAL.match(path)
    if found:
        return f"zoom:my:{found.group(1).lower()}"
    confno = dict(parse_qsl(query)).get("confno", "")
    return f"zoom:{confno}" if ZOOM_ID.match(confno) else ""


def _meet(path: str) -> str:
    found = MEET_CODE.match(path)
    if found:
        return "meet:" + "-".join(found.groups())
    found = MEET_LOOKUP.match(path)
    return f"meet:lookup:{found.group(1)}" if found else ""


def _teams(path: str) -> str:
    found = TEAMS_JOIN.match(path)
    if found:
        thread = unquote(found.group(1))
        if not thread.startswith("19:") or "@thread." not in thread:
            return ""
        message = found.group(2) or "0"
        # A scheduled meeting has a thread of its own (message 0); a channel meeting shares
        # its channel's thread and is told apart by its message.
        return f"teams:{thread}" if message == "0" else f"teams:{thread}/{message}"
    found = TEAMS_SHORT.match(path)
    return f"teams:meet:{found.group(1)}" if found else ""


def _whole(scheme: str, host: str, port: int | None, path: str, query: str) -> str:
    default = {"http": 80, "https": 443}.get(scheme)
    netloc = host if port in (None, default) else f"{host}:{port}"
    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if not TRACKING.match(k)]
    return urlunsplit((scheme, netloc, path.rstrip("/"), urlencode(kept), ""))


def _bounded(key: str) -> str:
    if len(key) <= KEY_LENGTH:
        return key
    kind, _, rest = key.partition(":")
    return f"{kind}#{hashlib.sha256(rest.encode()).hexdigest()}"
