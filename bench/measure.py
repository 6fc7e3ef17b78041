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


def alternating(client: Client, urls: dict[str, str], repeat: int) -> dict[str, dict]:
    """The pages in turn, request by request, so that a minute when the shared machine is
    slow slows each of them alike: the ratio of their times is what can be compared."""
    for url in urls.values():
        client.get(url)  # warm caches and connections
    times: dict[str, list[float]] = {name: [] for name in urls}
    queries: dict[str, int] = dict.fromkeys(urls, 0)
    for _ in range(repeat):
        for name, url in urls.items():
            counter = QueryCounter()
            with connection.execute_wrapper(counter):
                started = time.perf_counter()
                response = client.get(url)
                times[name].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
            queries[name] = max(queries[name], counter.queries)
    results = {}
    for name, taken in times.items():
        taken.sort()
        results[name] = {
            "median_ms": round(statistics.median(taken), 1),
            "p95_ms": round(taken[max(0, int(len(taken) * 0.95) - 1)], 1),
            "queries": queries[name],
        }
    return results


def home_beside_list(repeat: int) -> dict[str, dict]:
    """The home page and the integrations list, alternating (the home page's target is a
    ratio of the list's time)."""
    urls = {"home page": "/admin/", "integrations": "/admin/calendars/integration/"}
    return alternating(bench_client(), urls, repeat)


def bench_client() -> Client:
    user = get_user_model().objects.filter(
        username="bench"
    ).first() or get_user_model().objects.create_superuser("bench", "bench@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def page_urls(heavy_integration: int) -> dict[str, tuple[str, str | None]]:
    """Each page a person opens in a day's work: its URL, and its plain counterpart's (on the
    plain admin site of bench/plain_admin.py) where there is one."""
    from calendars.models import Customer, Integration

    remote_id = Integration.objects.order_by("-pk").values_list("remote_id", flat=True).first()
    customer = Customer.objects.order_by("pk").values_list("pk", flat=True)[42]
    ours, plain = "/admin/calendars/", "/plain/calendars/"
    integrations = {
        "": "",
        " status=error": "?status__exact=error",
        " provider=microsoft": "?provider__exact=microsoft",
        " customer=one": f"?customer={customer}",
        " needs attention": "?problem=any",
        " needs attention, refresh token refused": "?problem=token_refused",
        " search e-mail fragment": "?q=user4242",
        " search customer name fragment": "?q=mer+4242",
        " search exact Meeting BaaS id": f"?q={remote_id}",
        " sorted by calendar": "?o=1",
        " sorted by customer": "?o=2",
        " sorted by provider": "?o=3",
        " sorted by status": "?o=4",
        " sorted by provider, descending": "?o=-3",
        " sorted by status, descending": "?o=-4",
        " sorted by refreshed": "?o=6",
        " page 2": "?p=2",
    }
    # Filters and searches the plain admin has too (its columns differ, so its sorts do not).
    plain_has = {"", " status=error", " provider=microsoft", " search e-mail fragment"}
    plain_has |= {" search customer name fragment", " search exact Meeting BaaS id"}
    urls: dict[str, tuple[str, str | None]] = {}
    for name, query in integrations.items():
        plain_url = f"{plain}integration/{query}" if name in plain_has else None
        urls[f"integrations{name}"] = (f"{ours}integration/{query}", plain_url)
    for name, query, plain_query in (
        ("", "", ""),
        (" to status=error", "?to_status=error", "?to_status__exact=error"),
        (" cause=webhook", "?cause__exact=webhook", "?cause__exact=webhook"),
        (" search e-mail fragment", "?q=user4242", "?q=user4242"),
    ):
        urls[f"status changes{name}"] = (
            f"{ours}statuschange/{query}",
            f"{plain}statuschange/{plain_query}",
        )
    for name, query in (
        ("", ""),
        (" outcome=failed", "?outcome__exact=failed"),
        (" event=calendar.event_created", "?event=calendar.event_created"),
        (" API version=v2", "?api_version__exact=v2"),
        (" search exact Meeting BaaS id", f"?q={remote_id}"),
    ):
        plain_query = query.replace("?event=", "?event__exact=")
        urls[f"webhook deliveries{name}"] = (
            f"{ours}webhookdelivery/{query}",
            f"{plain}webhookdelivery/{plain_query}",
        )
    urls["raw calendars"] = (f"{ours}rawcalendar/", f"{plain}rawcalendar/")
    urls["integration page (1,000 history rows)"] = (
        f"{ours}integration/{heavy_integration}/change/",
        None,
    )
    urls["home page"] = ("/admin/", None)
    return urls


def pages(heavy_integration: int, repeat: int) -> dict:
    """Median, p95 and query count of every page, and of its plain counterpart."""
    client = bench_client()
    results = {}
    for name, (url, plain) in page_urls(heavy_integration).items():
        results[name] = timed_pages(client, {name: url}, repeat)[name]
        if plain is not None:
            results[name]["plain"] = timed_pages(client, {name: plain}, repeat)[name]
    return results


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
