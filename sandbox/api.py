"""The sandbox's answers to the v2 and v1 calendar endpoints, shaped as the specs say."""

from __future__ import annotations

import base64
from datetime import timedelta

from sandbox.accounts import FakeAccount, SandboxError, account_for
from sandbox.state import SandboxConnection, SandboxState, iso, now

OAUTH_FIELDS = ("oauth_client_id", "oauth_client_secret", "oauth_refresh_token")
V1_PLATFORMS = {"Google": "google", "Microsoft": "microsoft"}

Answer = tuple[int, object]


def _require(body: dict, names: tuple[str, ...]) -> None:
    for name in names:
        value = body.get(name)
        if not isinstance(value, str) or not value:
            raise SandboxError(400, "FST_ERR_VALIDATION", f"body/{name} must be a non-empty string")


def _v2_account(body: dict, platform: str | None = None) -> FakeAccount:
    platform = platform or body.get("calendar_platform")
    if platform not in ("google", "microsoft"):
        raise SandboxError(
            400,
            "FST_ERR_VALIDATION",
            "body/calendar_platform must be equal to one of the allowed values",
        )
    _require(body, OAUTH_FIELDS)
    return account_for(platform, body["oauth_client_secret"], body["oauth_refresh_token"])


def v2_detail(c: SandboxConnection) -> dict:
    return {
        "calendar_id": str(c.id),
        "calendar_platform": c.platform,
        "account_email": c.account_email,
        "status": c.status,
        "status_message": c.status_message,
        "subscription_id": f"sub-{c.id.hex[:12]}",
        "subscription_expires_at": iso(c.subscription_expires_at),
        "synced_at": iso(c.synced_at),
        "sync_status": c.sync_status,
        "sync_error": c.sync_error,
        "provider_metadata": {
            "raw_calendar_id": c.raw_calendar_id,
            "calendar_name": c.calendar_name,
        },
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
    }


def v2_list_raw(state: SandboxState, body: dict, **_: object) -> Answer:
    account = _v2_account(body)
    data = [
        {"id": c.id, "name": c.name, "email": c.email, "is_primary": c.is_primary}
        for c in account.calendars
    ]
    return 200, {"success": True, "data": data}


def v2_create(state: SandboxState, body: dict, **_: object) -> Answer:
    account = _v2_account(body)
    _require(body, ("raw_calendar_id",))
    c = state.create("v2", account, body["raw_calendar_id"])
    state.hold_credentials(c, body)
    data = {
        "calendar_id": str(c.id),
        "calendar_platform": c.platform,
        "account_email": c.account_email,
        "status": c.status,
        "created_at": iso(c.created_at),
    }
    return 201, {"success": True, "data": data}


def v2_list(state: SandboxState, query: dict, **_: object) -> Answer:
    try:
        limit = int(query.get("limit", 50))
        offset = (
            int(base64.urlsafe_b64decode(query["cursor"]).decode()) if query.get("cursor") else 0
        )
    except ValueError as exc:
        raise SandboxError(
            400, "FST_ERR_VALIDATION", "querystring/limit or cursor is invalid"
        ) from exc
    if not 1 <= limit <= 250:
        raise SandboxError(400, "FST_ERR_VALIDATION", "querystring/limit must be <= 250 and >= 1")
    found = state.listing("v2")
    for name, attr in (
        ("account_email", "account_email"),
        ("calendar_platform", "platform"),
        ("status", "status"),
    ):
        if query.get(name):
            wanted = set(query[name].split(","))
            found = [c for c in found if getattr(c, attr) in wanted]
    page = found[offset : offset + limit]
    more = offset + limit < len(found)
    data = [
        {
            "calendar_id": str(c.id),
            "calendar_platform": c.platform,
            "account_email": c.account_email,
            "status": c.status,
            "synced_at": iso(c.synced_at),
            "created_at": iso(c.created_at),
        }
        for c in page
    ]
    cursor = base64.urlsafe_b64encode(str(offset + limit).encode()).decode() if more else None
    prev = (
        base64.urlsafe_b64encode(str(max(0, offset - limit)).encode()).decode() if offset else None
    )
    return 200, {"success": True, "data": data, "cursor": cursor, "prev_cursor": prev}


def v2_get(state: SandboxState, calendar_id: str, **_: object) -> Answer:
    return 200, {"success": True, "data": v2_detail(state.get("v2", calendar_id))}


def v2_patch(state: SandboxState, calendar_id: str, body: dict, **_: object) -> Answer:
    c = state.get("v2", calendar_id)
    account = _v2_account(body, platform=c.platform)
    if account.email != c.account_email:
        raise SandboxError(
            403, "FST_ERR_PERMISSION_DENIED", "The credentials belong to another account."
        )
    state.hold_credentials(c, body)
    with state.lock:
        # New credentials revive a connection that failed on the old ones.
        if c.status in ("error", "revoked", "permission_denied"):
            c.status, c.status_message = "active", None
        if c.sync_status == "failed":
            c.sync_status, c.sync_error = "success", None
        c.updated_at = now()
    state.changed(c, "calendar.connection_updated")
    data = {
        "calendar_id": str(c.id),
        "calendar_platform": c.platform,
        "account_email": c.account_email,
        "status": c.status,
        "updated_at": iso(c.updated_at),
    }
    return 200, {"success": True, "data": data}


def v2_delete(state: SandboxState, calendar_id: str, **_: object) -> Answer:
    state.delete(state.get("v2", calendar_id))
    return 200, {"success": True, "data": {"message": "Calendar connection deleted."}}


def v2_sync(state: SandboxState, calendar_id: str, **_: object) -> Answer:
    c = state.get("v2", calendar_id)
    if c.status == "revoked":
        raise SandboxError(
            401,
            "FST_ERR_OAUTH_TOKEN_REFRESH_FAILED",
            "invalid_grant: Token has been expired or revoked.",
        )
    with state.lock:
        c.resyncs += 1
        if c.status == "active":
            c.synced_at, c.sync_status, c.sync_error = now(), "success", None
        c.updated_at = now()
    state.changed(c, "synced")
    return 200, {"success": True, "data": {"message": "Calendar sync started."}}


def v2_resubscribe(state: SandboxState, calendar_id: str, **_: object) -> Answer:
    c = state.get("v2", calendar_id)
    with state.lock:
        c.subscription_expires_at = now() + timedelta(days=7)
    return 200, {"success": True, "data": {"calendar_id": str(c.id), "resubscribed_at": iso(now())}}


def _v1_account(body: dict) -> FakeAccount:
    platform = V1_PLATFORMS.get(body.get("platform"))
    if platform is None:
        raise SandboxError(400, "FST_ERR_VALIDATION", "platform must be 'Google' or 'Microsoft'")
    _require(body, OAUTH_FIELDS)
    return account_for(platform, body["oauth_client_secret"], body["oauth_refresh_token"])


def _v1_calendar(c: SandboxConnection) -> dict:
    return {
        "uuid": str(c.id),
        "google_id": c.raw_calendar_id,
        "name": c.calendar_name,
        "email": c.account_email,
        "resource_id": None,
    }


def _v1_get(state: SandboxState, uuid: str) -> SandboxConnection:
    c = state.get("v1", uuid)
    if c.status == "revoked":  # v1 has no status: a revoked calendar is simply gone
        raise SandboxError(404, "FST_ERR_CALENDAR_NOT_FOUND", "Calendar not found.")
    return c


def v1_list_raw(state: SandboxState, body: dict, **_: object) -> Answer:
    account = _v1_account(body)
    data = [{"id": c.id, "email": c.email, "is_primary": c.is_primary} for c in account.calendars]
    return 200, {"calendars": data}


def v1_create(state: SandboxState, body: dict, **_: object) -> Answer:
    account = _v1_account(body)
    raw_id = body.get("raw_calendar_id") or next(c.id for c in account.calendars if c.is_primary)
    c = state.create("v1", account, raw_id)
    state.hold_credentials(c, body)
    return 200, {"calendar": _v1_calendar(c)}


def v1_list(state: SandboxState, **_: object) -> Answer:
    return 200, [_v1_calendar(c) for c in state.listing("v1") if c.status != "revoked"]


def v1_get(state: SandboxState, uuid: str, **_: object) -> Answer:
    return 200, _v1_calendar(_v1_get(state, uuid))


def v1_patch(state: SandboxState, uuid: str, body: dict, **_: object) -> Answer:
    c = _v1_get(state, uuid)
    if _v1_account(body).email != c.account_email:
        raise SandboxError(
            403, "FST_ERR_PERMISSION_DENIED", "The credentials belong to another account."
        )
    state.hold_credentials(c, body)
    with state.lock:
        c.status, c.status_message, c.updated_at = "active", None, now()
    return 200, {"calendar": _v1_calendar(c)}


def v1_delete(state: SandboxState, uuid: str, **_: object) -> Answer:
    state.delete(_v1_get(state, uuid))
    return 200, None


def v1_resync_all(state: SandboxState, **_: object) -> Answer:
    synced, failed = [], []
    for c in state.listing("v1"):
        if c.status in ("error", "permission_denied"):
            failed.append([str(c.id), c.status_message or "Sync failed."])
        elif c.status == "active":
            with state.lock:
                c.synced_at, c.sync_status = now(), "success"
            state.changed(c, "synced")
            synced.append(str(c.id))
    return 200, {"synced_calendars": synced, "errors": failed}


ROUTES: list[tuple[str, str, object]] = [
    ("POST", "/v2/calendars/list-raw", v2_list_raw),
    ("POST", "/v2/calendars", v2_create),
    ("GET", "/v2/calendars", v2_list),
    ("GET", "/v2/calendars/{calendar_id}", v2_get),
    ("PATCH", "/v2/calendars/{calendar_id}", v2_patch),
    ("DELETE", "/v2/calendars/{calendar_id}", v2_delete),
    ("POST", "/v2/calendars/{calendar_id}/sync", v2_sync),
    ("POST", "/v2/calendars/{calendar_id}/resubscribe", v2_resubscribe),
    ("POST", "/calendars/raw", v1_list_raw),
    ("POST", "/calendars/resync_all", v1_resync_all),
    ("GET", "/calendars/", v1_list),
    ("POST", "/calendars/", v1_create),
    ("GET", "/calendars/{uuid}", v1_get),
    ("PATCH", "/calendars/{uuid}", v1_patch),
    ("DELETE", "/calendars/{uuid}", v1_delete),
]
