"""The benchmark's measurements. Each runs in its own process, so its peak memory is its own."""

from __future__ import annotations

import json
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client


class QueryCounter:
    """Counts SQL statements, and rows written, without keeping them."""

    def __init__(self) -> None:
        self.queries = 0
        self.rows_written = 0

    def __call__(self, execute, sql, params, many, context):
        self.queries += 1
        result = execute(sql, params, many, context)
        verb = sql.lstrip().split(" ", 1)[0].upper()
        if verb in ("INSERT", "UPDATE", "DELETE"):
            self.rows_written += max(context["cursor"].rowcount, 0)
        return result


def peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def timed_pages(client: Client, urls: dict[str, str], repeat: int) -> dict[str, dict]:
    results = {}
    for name, url in urls.items():
        client.get(url)  # warm caches and connections
        times, queries = [], []
        for _ in range(repeat):
            counter = QueryCounter()
            with connection.execute_wrapper(counter):
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
            queries.append(counter.queries)
        times.sort()
        results[name] = {
            "median_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
            "queries": max(queries),
        }
    return results


def pages(heavy_integration: int, repeat: int) -> dict:
    user = get_user_model().objects.filter(
        username="bench"
    ).first() or get_user_model().objects.create_superuser("bench", "bench@example.com", "pw")
    client = Client()
    client.force_login(user)
    base = "/admin/calendars/integration/"
    urls = {
        "changelist (default)": base,
        "changelist status=error": base + "?status__exact=error",
        "changelist search e-mail fragment": base + "?q=user4242",
        "changelist sorted by last refreshed": base + "?o=-8",
        "changelist page 2, 50 per page": base + "?p=2",
        "integration page (1,000 history rows)": f"{base}{heavy_integration}/change/",
        "dashboard (admin home)": "/admin/",
    }
    return timed_pages(client, urls, repeat)


def run_senders(send: Callable[[int], float], total: int, senders: int) -> dict:
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(offset: int) -> None:
        for n in range(offset, total, senders):
            elapsed = send(n)
            with lock:
                latencies.append(elapsed)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "deliveries": total,
        "senders": senders,
        "per_second": round(total / wall, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
    }


def iso_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def signed_delivery(secret: str, remote_id: str) -> tuple[bytes, dict[str, str]]:
    from standardwebhooks.webhooks import Webhook

    body = json.dumps({"event": "calendar.event_created", "data": {"calendar_id": remote_id}})
    msg_id = f"msg_{uuid.uuid4().hex}"
    sent_at = datetime.now(UTC)
    headers = {
        "Content-Type": "application/json",
        "svix-id": msg_id,
        "svix-timestamp": str(int(sent_at.timestamp())),
        "svix-signature": Webhook(secret).sign(msg_id, sent_at, body),
    }
    return body.encode(), headers
