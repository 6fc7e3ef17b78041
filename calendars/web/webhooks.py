"""The Meeting BaaS webhook receiver: authenticate, store once, queue the work, answer fast.

v2 deliveries come through Svix (`svix-id`, `svix-timestamp`, `svix-signature`, signed with
an endpoint secret `whsec_...`); v1 deliveries carry our API key in `x-meeting-baas-api-key`.
Each version can be switched off (MEETINGBAAS_WEBHOOKS_V1 / _V2). Nothing unauthenticated is
stored, nor anything odd enough to break processing. The effects run in a django-q2 task
(`webhook_deliveries`): one per delivery, but for the bots' news, applied in batches.
"""

from __future__ import annotations

import binascii
import contextlib
import hashlib
import hmac
import json
import logging
import math
import re
from datetime import UTC, datetime
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.constants import OnConflict
from django.db.models.signals import post_save
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_POST
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from calendars.actions.webhook_deliveries import is_bot_news, queue_work
from calendars.lib.remote_values import fit, no_later_than_now
from calendars.meetingbaas.bots import without_artifacts
from calendars.meetingbaas.errors import BadResponse
from calendars.meetingbaas.parsing import timestamp
from calendars.meetingbaas.types import ApiVersion
from calendars.models import WebhookDelivery

logger = logging.getLogger(__name__)

# When the event happened, by event type: the payload's own time where it has one.
EVENT_TIME_FIELDS = {
    "calendar.connection_created": "created_at",
    "calendar.connection_updated": "updated_at",
    "calendar.connection_deleted": "deleted_at",
    "calendar.sync_events": "last_updated_ts",
    "bot.completed": "sent_at",
    "bot.failed": "sent_at",
}
# Which setting switches each version's webhooks on.
SWITCHES = {ApiVersion.V1: "MEETINGBAAS_WEBHOOKS_V1", ApiVersion.V2: "MEETINGBAAS_WEBHOOKS_V2"}
# Real payloads nest a handful of levels; JSON thousands deep exhausts Python's recursion in
# whatever walks it next (the NUL scrub below, the JSON encoder, the admin's rendering).
MAX_JSON_DEPTH = 64
WHOLE_SECONDS = re.compile(r"[0-9]+")


class Rejected(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@csrf_exempt
@require_POST
def receive(request: HttpRequest) -> JsonResponse:
    """Take one webhook delivery from Meeting BaaS (either API version)."""
    try:
        body = _read_body(request)
        api_version, delivery_id, sent_at = _authenticate(request, body)
        payload = _parse(body)
    except Rejected as exc:
        logger.warning("webhook rejected (%s): %s", exc.status, exc.reason)
        return JsonResponse({"error": exc.reason}, status=exc.status)
    created = _store(api_version, delivery_id, sent_at, payload)
    return JsonResponse({"received": True, "duplicate": not created})


def _read_body(request: HttpRequest) -> bytes:
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise Rejected(400, "invalid Content-Length") from None
    if declared > limit:
        raise Rejected(413, f"body larger than {limit} bytes")
    body = request.body
    if len(body) > limit:
        raise Rejected(413, f"body larger than {limit} bytes")
    return body


@sensitive_variables("headers")  # a v1 delivery's headers hold the API key
def _authenticate(request: HttpRequest, body: bytes) -> tuple[ApiVersion, str, datetime | None]:
    headers = request.headers
    if "svix-id" in headers or "webhook-id" in headers:
        api_version = ApiVersion.V2
        delivery_id, sent_at = _verify_svix(body, headers)
    elif "x-meeting-baas-api-key" in headers:
        api_version = ApiVersion.V1
        _verify_api_key(headers)
        # v1 has no delivery id: the same payload delivered again is the same delivery.
        delivery_id, sent_at = "v1-" + hashlib.sha256(body).hexdigest(), None
    else:
        raise Rejected(401, "no signature or API key")
    # Said only once authenticated: to anyone else, a switched-off version looks like any other.
    if not getattr(settings, SWITCHES[api_version]):
        raise Rejected(
            403,
            f"API {api_version} webhooks are switched off on this portal ({SWITCHES[api_version]})",
        )
    return api_version, delivery_id, sent_at


@sensitive_variables()
def _verify_api_key(headers: object) -> None:
    given = headers["x-meeting-baas-api-key"].encode()
    if not hmac.compare_digest(given, settings.MEETINGBAAS_API_KEY.encode()):
        raise Rejected(401, "wrong API key")


@sensitive_variables()
def _verify_svix(body: bytes, headers: object) -> tuple[str, datetime]:
    svix = {
        "webhook-id": headers.get("svix-id") or headers.get("webhook-id") or "",
        "webhook-timestamp": headers.get("svix-timestamp")
        or headers.get("webhook-timestamp")
        or "",
        "webhook-signature": headers.get("svix-signature")
        or headers.get("webhook-signature")
        or "",
    }
    secrets = settings.MEETINGBAAS_WEBHOOK_SECRET
    if not secrets:
        raise Rejected(401, "MEETINGBAAS_WEBHOOK_SECRET is not configured")
    last_error = "signature does not match"
    for secret in secrets:
        try:
            Webhook(secret).verify(body, svix, json_parse=False)
        except WebhookVerificationError as exc:
            last_error = str(exc)
            if "timestamp" in last_error or "headers" in last_error.lower():
                break  # the same for every secret: no need to try the others
        except (ValueError, binascii.Error, UnicodeDecodeError):
            last_error = "malformed signature headers"  # the library raises these on junk
        else:
            return svix["webhook-id"], _sent_at(svix["webhook-timestamp"])
    raise Rejected(401, last_error)


def _sent_at(header: str) -> datetime:
    # The library reads the timestamp as a number and signs its whole seconds, so a signed
    # "1700000000.5" passes its check: authentic, but not what Svix sends.
    if not WHOLE_SECONDS.fullmatch(header):
        raise Rejected(400, "svix-timestamp is not a whole number of seconds")
    return datetime.fromtimestamp(int(header), tz=UTC)


def _parse(body: bytes) -> dict:
    try:
        # Decoded as json.loads decodes bytes (UTF-8, -16 or -32), to look at the text too.
        text = body.decode(json.detect_encoding(body), "surrogatepass")
        payload = json.loads(text, parse_constant=_not_json, parse_float=_finite_float)
    except RecursionError:
        raise Rejected(400, f"body is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError):
        raise Rejected(400, "body is not JSON") from None
    if _is_nested_deeper(payload, MAX_JSON_DEPTH):
        raise Rejected(400, f"body is nested deeper than {MAX_JSON_DEPTH} levels")
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
        raise Rejected(400, "body has no 'event'")
    if not isinstance(payload.get("data"), dict):
        raise Rejected(400, "body has no 'data' object")
    # JSON strings hold U+0000 only escaped (a raw control character is not JSON): without
    # the escape in the text, there is nothing to replace.
    return _without_nul(payload) if "\\u0000" in text else payload


def _not_json(token: str) -> None:
    """Python reads NaN and Infinity, which JSON (and PostgreSQL's jsonb) does not have."""
    raise ValueError(f"{token} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 reads as infinity, which jsonb cannot store either
        raise ValueError(f"{text} is out of range")
    return value


def _is_nested_deeper(value: object, limit: int) -> bool:
    """Whether JSON `value` has containers more than `limit` deep (without recursing)."""
    containers = (dict, list)
    pending = [(value, 1)] if isinstance(value, containers) else []
    while pending:
        item, depth = pending.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        pending.extend((child, depth + 1) for child in children if isinstance(child, containers))
    return False


def _without_nul(value: object) -> object:
    """PostgreSQL's jsonb cannot hold U+0000; keep the delivery with the character replaced."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def _store(
    api_version: ApiVersion, delivery_id: str, sent_at: datetime | None, payload: dict
) -> bool:
    event = fit(WebhookDelivery, "event", payload["event"])
    delivery_id = fit(WebhookDelivery, "delivery_id", delivery_id)
    payload = without_artifacts(payload)  # a recording's signed links are never kept
    data = payload["data"]
    delivery = WebhookDelivery(
        api_version=api_version,
        event=event,
        delivery_id=delivery_id,
        payload=payload,
        remote_id=_uuid_or_none(data.get("calendar_id")),
        event_time=no_later_than_now(_event_time(event, data) or sent_at),
        sent_at=sent_at,
    )
    # Bot news is queued once the row is committed: its one INSERT, committed as it runs, needs
    # no transaction around it. Any other delivery's task is written in the row's transaction.
    bot_news = is_bot_news(api_version, event)
    with contextlib.nullcontext() if bot_news else transaction.atomic():
        created = _insert_new(delivery)
        if created:
            queue_work(delivery)
    if not created:
        WebhookDelivery.objects.filter(delivery_id=delivery_id).update(repeats=F("repeats") + 1)
    return created


def _insert_new(delivery: WebhookDelivery) -> bool:
    """INSERT the delivery unless its id is stored already (ON CONFLICT DO NOTHING: one
    statement, no error, savepoint or rollback for a repeat); whether it was new."""
    manager = WebhookDelivery._base_manager
    fields = [f for f in WebhookDelivery._meta.local_concrete_fields if not f.primary_key]
    pk = WebhookDelivery._meta.pk
    rows = manager._insert([delivery], fields, returning_fields=[pk], on_conflict=OnConflict.IGNORE)
    if not rows:
        return False
    delivery.pk = rows[0][0]
    delivery._state.adding = False
    # What save() sends: the metrics count each delivery received.
    post_save.send(
        WebhookDelivery,
        instance=delivery,
        created=True,
        update_fields=None,
        raw=False,
        using=manager.db,
    )
    return True


def _uuid_or_none(value: object) -> UUID | None:
    try:
        return UUID(str(value)) if value is not None else None
    except ValueError:
        return None


def _event_time(event: str, data: dict) -> datetime | None:
    field = EVENT_TIME_FIELDS.get(event)
    if field is None:
        return None
    try:
        return timestamp(data, field)
    except BadResponse:  # an odd timestamp must not lose the delivery
        return None
