"""GET /metrics: the portal's state in Prometheus' text format, for a scraper holding
METRICS_TOKEN (`Authorization: Bearer <token>`, compared in constant time).

Without METRICS_TOKEN set, nobody is answered (403): the figures (customers' problems, queue,
traffic) are not for the public, and a forgotten setting must not publish them.
"""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest

from calendars.metrics.collector import PortalCollector

logger = logging.getLogger(__name__)

# Without describe(), registering reads nothing: the collector reads at each scrape.
REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(PortalCollector())


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    refused = _refusal(request)
    if refused is not None:
        return refused
    try:
        body = generate_latest(REGISTRY)
    except DatabaseError as exc:
        logger.warning("metrics: the database could not be read: %s", type(exc).__name__)
        return _text("The database is unavailable; try again in a minute.", status=503)
    # The classic text format (0.0.4), which every Prometheus reads.
    return HttpResponse(body, content_type=CONTENT_TYPE_PLAIN_0_0_4)


def _refusal(request: HttpRequest) -> HttpResponse | None:
    token = settings.METRICS_TOKEN
    if not token:
        return _text("/metrics is off: METRICS_TOKEN is not set.", status=403)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        response = _text("Send Authorization: Bearer <METRICS_TOKEN>.", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return _text("The token is wrong.", status=403)
    return None


def _text(message: str, *, status: int) -> HttpResponse:
    return HttpResponse(f"{message}\n", status=status, content_type="text/plain; charset=utf-8")
