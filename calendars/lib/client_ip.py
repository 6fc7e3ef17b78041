"""The address a login attempt came from, as django-axes should count it behind proxies."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ipware.ip import get_client_ip


def client_ip_address(request: HttpRequest) -> str | None:
    """The address the outermost of TRUSTED_PROXY_COUNT proxies received the request from.

    Each proxy appends the address it was connected from to X-Forwarded-For, and the nearest
    one is REMOTE_ADDR, so the client is the TRUSTED_PROXY_COUNT-th entry from the right.
    Whatever stands further left was written by the client and is ignored: a forged left-most
    entry can neither dodge a lockout nor lock someone else out. django-ipware parses the
    header (ports, IPv6, malformed entries); its own defaults are not used because they trust
    the left-most public entry, and strict mode would drop a header a client had prefixed.
    """
    remote = request.META.get("REMOTE_ADDR")
    proxies = settings.TRUSTED_PROXY_COUNT
    if not proxies:
        return remote
    address, _routable = get_client_ip(
        request,
        proxy_count=proxies - 1,  # ipware counts the proxies listed after the client
        request_header_order=["HTTP_X_FORWARDED_FOR"],
        strict=False,
    )
    # A shorter header means the request skipped the outer proxies: REMOTE_ADDR is all we know.
    return address or remote
