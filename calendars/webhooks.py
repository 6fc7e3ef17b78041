"""The Meeting BaaS webhook receiver: authenticate, store once, queue the work, answer fast.

v2 deliveries come through Svix (`svix-id`, `svix-timestamp`, `svix-signature`, signed with
an endpoint secret `whsec_...`); v1 deliveries carry our API key in `x-meeting-baas-api-key`.
Nothing unauthenticated is stored. The effects run in a django-q2 task (`webhook_events`).
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import logging
import math
from datetime import UTC, datetime
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_q.tasks import async_task
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

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
}


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


def _authenticate(request: HttpRequest, body: bytes) -> tuple[ApiVersion, str, datetime | None]:
    headers = request.headers
    if "svix-id" in headers or "webhook-id" in headers:
        return ApiVersion.V2, *_verify_svix(body, headers)
    if "x-meeting-baas-api-key" in headers:
        given = headers["x-meeting-baas-api-key"].encode()
        if not hmac.compare_digest(given, settings.MEETINGBAAS_API_KEY.encode()):
            raise Rejected(401, "wrong API key")
        # v1 has no delivery id: the same payload delivered again is the same delivery.
        return ApiVersion.V1, "v1-" + hashlib.sha256(body).hexdigest(), None
    raise Rejected(401, "no signature or API key")


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
            sent_at = datetime.fromtimestamp(int(svix["webhook-timestamp"]), tz=UTC)
            return svix["webhook-id"][:200], sent_at
    raise Rejected(401, last_error)


def _parse(body: bytes) -> dict:
    try:
        payload = json.loads(body, parse_constant=_not_json, parse_float=_finite_float)
    except (ValueError, UnicodeDecodeError):
        raise Rejected(400, "body is not JSON") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
        raise Rejected(400, "body has no 'event'")
    if not isinstance(payload.get("data"), dict):
        raise Rejected(400, "body has no 'data' object")
    return _without_nul(payload)


def _not_json(token: str) -> None:
    """Python reads NaN and Infinity, which JSON (and PostgreSQL's jsonb) does not have."""
    raise ValueError(f"{token} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 reads as infinity, which jsonb cannot store either
        raise ValueError(f"{text} is out of range")
    return value


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
    event = payload["event"][:100]
    data = payload["data"]
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                api_version=api_version,
                event=event,
                delivery_id=delivery_id,
                payload=payload,
                remote_id=_uuid_or_none(data.get("calendar_id")),
                event_time=_event_time(event, data) or sent_at,
            )
            transaction.on_commit(lambda: _enqueue(delivery.pk))
    except IntegrityError:
        WebhookDelivery.objects.filter(delivery_id=delivery_id).update(repeats=F("repeats") + 1)
        return False
    return True


def _enqueue(delivery_pk: int) -> None:
    async_task(
        "calendars.tasks.process_webhook",
        delivery_pk,
        group="webhooks",
        task_name=f"webhook-{delivery_pk}",
    )


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
