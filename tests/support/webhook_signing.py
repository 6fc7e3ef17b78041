"""Sign webhook bodies the way Svix does, for tests that post to the receiver directly."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.test import TestCase
from standardwebhooks.webhooks import Webhook

URL = "/webhooks/meetingbaas/"


def svix_headers(
    body: str,
    *,
    secret: str | None = None,
    age: timedelta = timedelta(0),
    msg_id: str | None = None,
) -> dict:
    secret = secret or settings.MEETINGBAAS_WEBHOOK_SECRET[0]
    sent_at = datetime.now(UTC) - age
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    return {
        "HTTP_SVIX_ID": msg_id,
        "HTTP_SVIX_TIMESTAMP": str(int(sent_at.timestamp())),
        "HTTP_SVIX_SIGNATURE": Webhook(secret).sign(msg_id, sent_at, body),
    }


def post(client, body: str, **headers: str) -> object:
    """POST like Meeting BaaS, running the on-commit work (the queued task) as a commit would."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(URL, body, content_type="application/json", **headers)


def post_v2(client, payload: dict, **signing) -> object:
    body = json.dumps(payload)
    return post(client, body, **svix_headers(body, **signing))
