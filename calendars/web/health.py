"""The health probes. No login, no secrets.

- GET /healthz/live: the process answers (200, touches nothing).
- GET /healthz/ready: this web host can serve, its database reachable (200, else 503): the load
  balancer's check. The queue's side (broker, cluster heartbeat, queue, refresh) is not in it: a
  worker outage must not take the web hosts, and the webhook receiver with them, out of rotation.
- GET /healthz (or /healthz/): ready's verdict as its status, and every check's.

Anyone gets each check's verdict and ages. What would help an attacker map the deployment (the
web host that answered, database engine, broker kind, the cluster's node, error names) is shown
only to a caller presenting HEALTHZ_TOKEN as `Authorization: Bearer <token>`. A failing probe
writes no ERROR line: a probe every few seconds would bury the one that matters.
"""

from __future__ import annotations

import hmac
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import OrmQ

from calendars.meetingbaas.types import ApiVersion
from calendars.models import Heartbeat, RefreshRun

CLUSTER_SILENCE = timedelta(minutes=5)  # the heartbeat runs every minute
# What a caller without the token sees of each check.
PUBLIC_FIELDS = frozenset(
    {"ok", "last_seen_seconds", "oldest_queued_seconds", "last_success_seconds"}
)


@never_cache
@require_GET
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


@never_cache
@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    database = _database()
    answer = {"ok": database["ok"], "checks": {"database": database}}
    return _answer(request, answer)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    database = _database()
    if database["ok"]:
        checks = {
            "database": database,
            "broker": _broker(),
            "cluster": _cluster(),
            "queue": _queue(),
            "refresh": _refresh(),
        }
    else:
        # The other checks read the database: each would wait for it in turn, and say less.
        unknown = {"ok": False, "error": "database unavailable"}
        checks = {"database": database} | dict.fromkeys(
            ("broker", "cluster", "queue", "refresh"), unknown
        )
        if not Conf.ORM:
            checks["broker"] = _broker()
    return _answer(request, {"ok": database["ok"], "checks": checks})


def _answer(request: HttpRequest, answer: dict) -> JsonResponse:
    """`answer` as JSON, 200 if its "ok" else 503, with the details only for the token."""
    if not answer["checks"]["database"]["ok"]:
        answer["message"] = "the database is unavailable; try again in a minute"
    if _shows_details(request):
        answer["node"] = settings.NODE_NAME
    else:
        answer["checks"] = {
            name: {k: v for k, v in check.items() if k in PUBLIC_FIELDS}
            for name, check in answer["checks"].items()
        }
    response = JsonResponse(answer, status=200 if answer["ok"] else 503)
    # Django's request logger writes an ERROR line for every 5xx it has not seen logged.
    response._has_been_logged = True
    return response


def _shows_details(request: HttpRequest) -> bool:
    token = settings.HEALTHZ_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def _database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # whatever it is, the answer is "unreachable"
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "engine": connection.vendor}


def _broker() -> dict:
    try:
        reachable = bool(get_broker().ping())
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": reachable, "kind": "redis" if not Conf.ORM else "database"}


def _cluster() -> dict:
    try:
        last = Heartbeat.objects.order_by("-seen_at").first()
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    if last is None:
        return {"ok": False, "error": "no django-q2 cluster has run the heartbeat yet"}
    age = (timezone.now() - last.seen_at).total_seconds()
    return {
        "ok": age < CLUSTER_SILENCE.total_seconds(),
        "last_seen_seconds": round(age),
        "node": last.node,
    }


def _queue() -> dict:
    try:
        waiting = get_broker().queue_size()
        oldest = None
        if Conf.ORM:
            # The ORM broker stamps a waiting task's lock with the time it was queued, and a
            # taken one's with when it may be delivered again (in the future).
            now = timezone.now()
            waiting_tasks = OrmQ.objects.filter(key=Conf.CLUSTER_NAME, lock__lte=now)
            first = waiting_tasks.order_by("lock").first()
            if first is not None:
                oldest = max(0, round((now - first.lock).total_seconds()))
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    stalled = oldest is not None and oldest > Conf.RETRY
    return {"ok": not stalled, "queued": waiting, "oldest_queued_seconds": oldest}


def _refresh() -> dict:
    limit = 2 * settings.STATUS_REFRESH_MINUTES * 60
    try:
        last = RefreshRun.last_success(settings.MEETINGBAAS_API_VERSION or ApiVersion.V2)
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    if last is None:
        return {"ok": True, "last_success_seconds": None}  # a new portal has not refreshed yet
    age = (timezone.now() - last).total_seconds()
    return {"ok": age < limit, "last_success_seconds": round(age)}
