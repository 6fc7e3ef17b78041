"""Every family /metrics shows, read at each scrape from what the portal already keeps: the
maintained counts (IntegrationCount, ProblemCount), the totals the processes add to
(MetricTotal), single rows read off an index (the last webhook, heartbeats), the broker's queue
and the consent links. The same dozen queries whatever the number of integrations."""

from __future__ import annotations

import functools
import json
import logging
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime

from django.db.models import Max
from django.utils import timezone
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from calendars.meetingbaas.types import ApiVersion
from calendars.metrics import names, queue
from calendars.models import (
    ConsentLink,
    Heartbeat,
    IntegrationCount,
    MetricTotal,
    ProblemCount,
    WebhookDelivery,
)
from calendars.problems import CAUSES

logger = logging.getLogger(__name__)

Labels = tuple[tuple[str, str], ...]


class PortalCollector:
    """A prometheus_client collector (registered without describe: it reads at collect time)."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        stored = _stored_totals()
        yield _integrations()
        yield _problems()
        yield from _totals(stored)
        yield _last_webhook()
        yield from _queue(now)
        yield _consent_links(now, stored)
        yield from _heartbeats()


def _integrations() -> Metric:
    family = GaugeMetricFamily(
        "portal_integrations",
        "Integrations by status, provider and API version (maintained counts).",
        labels=["status", "provider", "api_version"],
    )
    rows = IntegrationCount.objects.order_by("status", "provider", "api_version")
    for status, provider, api_version, count in rows.values_list(
        "status", "provider", "api_version", "count"
    ):
        family.add_metric([status, provider, api_version], count)
    return family


def _problems() -> Metric:
    family = GaugeMetricFamily(
        "portal_problems",
        "Integrations with each class of problem (the needs-attention worklist's causes).",
        labels=["problem"],
    )
    # Each cause's total, looked up in the counts' unique index (they hold every customer's and
    # credential's share too).
    rows = ProblemCount.objects.filter(
        problem__in=[cause.code for cause in CAUSES], scope=ProblemCount.Scope.ALL, of=0
    ).order_by("problem")
    for problem, count in rows.values_list("problem", "count"):
        family.add_metric([problem], count)
    return family


# The totals the processes add to: (name, help, label names, histogram buckets or None).
TOTALS = [
    (
        names.TASKS_LOST,
        "Tasks a person asked for that a stopped worker lost, by task and outcome (requeued: "
        "queued again; not_done: lost again, recorded as not done).",
        ["task", "outcome"],
        None,
    ),
    (
        names.MEETINGBAAS_CALLS,
        "Requests sent to Meeting BaaS (each attempt), by operation and outcome "
        "(ok, client_error, rate_limited, server_error, timeout, connection_error).",
        ["operation", "outcome"],
        None,
    ),
    (
        names.MEETINGBAAS_CALL_SECONDS,
        "Time each Meeting BaaS request took, answer read, by operation.",
        ["operation"],
        names.CALL_BUCKETS,
    ),
    (
        names.WEBHOOKS_RECEIVED,
        "Webhook deliveries taken in and stored (repeats of a delivery not counted again).",
        ["api_version"],
        None,
    ),
    (
        names.WEBHOOKS_PROCESSED,
        "Webhook deliveries processed, by outcome (applied, recorded, stale, unknown_connection, "
        "unknown_event, failed).",
        ["api_version", "outcome"],
        None,
    ),
    (
        names.WEBHOOK_LAG_SECONDS,
        "From Meeting BaaS sending a delivery (its Svix timestamp; v1, which sends none: its "
        "receipt) to the portal having processed it.",
        ["api_version"],
        names.LAG_BUCKETS,
    ),
    (
        names.BOT_ATTEMPTS,
        "Bot attempts on meetings by action (schedule, schedule_series, policy, move, change, "
        "remove; a person's override: always, never, follow_rules) and outcome (succeeded, "
        "failed).",
        ["action", "outcome"],
        None,
    ),
]


Stored = dict[str, dict[Labels, float]]


def _stored_totals() -> Stored:
    stored: Stored = defaultdict(dict)
    for name, labels, value in MetricTotal.objects.values_list("name", "labels", "value"):
        stored[name][_parsed(labels)] = value
    return stored


def _totals(stored: Stored) -> Iterator[Metric]:
    for name, help_text, label_names, buckets in TOTALS:
        if buckets is None:
            family = CounterMetricFamily(name, help_text, labels=label_names)
            for labels, value in sorted(stored[name].items()):
                family.add_metric(_values(labels, label_names), value)
        else:
            family = _histogram(name, help_text, label_names, buckets, stored)
        yield family


def _histogram(
    name: str,
    help_text: str,
    label_names: list[str],
    buckets: tuple[float, ...],
    stored: Stored,
) -> Metric:
    family = HistogramMetricFamily(name, help_text, labels=label_names)
    by_series: dict[Labels, dict[float, float]] = defaultdict(dict)
    for labels, count in stored[f"{name}_bucket"].items():
        plain = tuple((k, v) for k, v in labels if k != "le")
        by_series[plain][float(dict(labels)["le"])] = count
    for labels, counts in sorted(by_series.items()):
        cumulative, running = [], 0.0
        for bound in (*buckets, float("inf")):
            running += counts.get(bound, 0.0)
            cumulative.append(("+Inf" if bound == float("inf") else repr(bound), running))
        family.add_metric(
            _values(labels, label_names), cumulative, stored[f"{name}_sum"].get(labels, 0.0)
        )
    return family


@functools.lru_cache(maxsize=10_000)  # the same few hundred series at every scrape
def _parsed(labels: str) -> Labels:
    return tuple(sorted(json.loads(labels).items()))


def _values(labels: Labels, label_names: list[str]) -> list[str]:
    given = dict(labels)
    return [str(given.get(label, "")) for label in label_names]


def _last_webhook() -> Metric:
    family = GaugeMetricFamily(
        "portal_webhook_last_received_timestamp_seconds",
        "When the last webhook delivery of each API version was received (Unix time).",
        labels=["api_version"],
    )
    # One index read per version (webhook_api_version: api_version, received_at).
    for version in ApiVersion:
        last = WebhookDelivery.objects.filter(api_version=version).aggregate(at=Max("received_at"))
        if last["at"] is not None:
            family.add_metric([version.value], last["at"].timestamp())
    return family


def _queue(now: datetime) -> Iterator[Metric]:
    up = GaugeMetricFamily(
        "portal_broker_up", "Whether django-q2's broker answered this scrape (1) or not (0)."
    )
    try:
        state = queue.read(now)
    except Exception as exc:  # Redis down, or the broker table unreadable: say so, go on
        logger.warning("metrics: the broker could not be read: %s", type(exc).__name__)
        up.add_metric([], 0)
        yield up
        return
    up.add_metric([], 1)
    yield up
    yield GaugeMetricFamily(
        "portal_queue_tasks",
        "Tasks waiting in django-q2's queue (all groups).",
        value=state.waiting,
    )
    oldest = GaugeMetricFamily(
        "portal_queue_oldest_task_age_seconds",
        "How long the oldest waiting task has waited (absent: none waits).",
    )
    if state.oldest_seconds is not None:
        oldest.add_metric([], state.oldest_seconds)
    yield oldest
    tasks = GaugeMetricFamily(
        "portal_queue_group_tasks",
        f"Waiting tasks by group, among the {queue.HEAD} oldest.",
        labels=["group"],
    )
    ages = GaugeMetricFamily(
        "portal_queue_group_oldest_task_age_seconds",
        f"How long each group's oldest waiting task has waited, among the {queue.HEAD} oldest.",
        labels=["group"],
    )
    for group, count in sorted(state.group_tasks.items()):
        tasks.add_metric([group], count)
    for group, age in sorted(state.group_oldest_seconds.items()):
        ages.add_metric([group], age)
    yield tasks
    yield ages


def _consent_links(now: datetime, stored: Stored) -> Metric:
    family = GaugeMetricFamily(
        "portal_consent_links",
        "Consent links by state: open (waiting for the customer), used, expired, revoked.",
        labels=["state"],
    )
    # The waiting ones off their partial index; the others from the totals kept as links are
    # made, used and revoked (a link ends in one state only): no count of every link ever made.
    waiting = ConsentLink.objects.filter(used_at__isnull=True, revoked_at__isnull=True)
    counts = {"open": waiting.filter(expires_at__gt=now).count()}
    for state, name in (
        ("used", names.CONSENT_LINKS_USED),
        ("revoked", names.CONSENT_LINKS_REVOKED),
    ):
        counts[state] = int(stored[name].get((), 0))
    made = int(stored[names.CONSENT_LINKS_MADE].get((), 0))
    counts["expired"] = max(0, made - sum(counts.values()))
    for state, count in counts.items():
        family.add_metric([state], count)
    return family


def _heartbeats() -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "portal_cluster_heartbeat_timestamp_seconds",
        "When each django-q2 cluster node last ran the heartbeat task (Unix time).",
        labels=["node"],
    )
    last = GaugeMetricFamily(
        "portal_last_heartbeat_timestamp_seconds",
        "When any django-q2 cluster last ran the heartbeat task (Unix time; absent: never).",
    )
    seen = list(Heartbeat.objects.order_by("node").values_list("node", "seen_at"))
    for node, seen_at in seen:
        family.add_metric([node], seen_at.timestamp())
    if seen:
        last.add_metric([], max(seen_at for _, seen_at in seen).timestamp())
    yield family
    yield last
