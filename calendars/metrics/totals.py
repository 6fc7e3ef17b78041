"""Running totals counted in processes (web and worker, on any host), added to the database.

Each process keeps what it counted since it last wrote, and a background thread adds that to
`MetricTotal` every METRICS_FLUSH_SECONDS in one statement, on its own connection, outside any
request's or task's transaction (so a rollback there cannot take the counts with it, and a
count never waits on a lock a request holds). The totals are the deployment's: any web host
answers /metrics for all of them, and they never go back, whatever restarts. What a process
counted in its last interval is lost if it dies (a worker killed by its timeout); while the
database is unreachable the counts wait in memory and go with the next write.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
from bisect import bisect_left
from collections import Counter

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from calendars.models import MetricTotal

logger = logging.getLogger(__name__)

Key = tuple[str, str]  # (sample name, labels as MetricTotal stores them)
# Series per statement: three parameters each, under SQLite's oldest limit of 999.
WRITE_BATCH = 300

_lock = threading.Lock()
_pending: Counter[Key] = Counter()
_flusher: threading.Thread | None = None


def labels_text(labels: dict[str, str]) -> str:
    return json.dumps(labels, sort_keys=True, separators=(",", ":"))


def add(name: str, labels: dict[str, str], amount: float = 1) -> None:
    """Add `amount` to the counter `name` with `labels`."""
    with _lock:
        _pending[name, labels_text(labels)] += amount
        _start_flusher()


def observe(name: str, labels: dict[str, str], value: float, buckets: tuple[float, ...]) -> None:
    """Count `value` in the histogram `name`: its bucket (stored by its own upper bound, not
    cumulated: the reader adds them up), its sum and its count."""
    bound = buckets[i] if (i := bisect_left(buckets, value)) < len(buckets) else float("inf")
    with _lock:
        _pending[f"{name}_bucket", labels_text({**labels, "le": _le(bound)})] += 1
        _pending[f"{name}_sum", labels_text(labels)] += value
        _pending[f"{name}_count", labels_text(labels)] += 1
        _start_flusher()


def add_now(name: str, labels: dict[str, str], amount: float = 1) -> None:
    """Add `amount` to the counter at once, in the caller's transaction: for counts that must be
    exact (rare events), not for traffic."""
    _write({(name, labels_text(labels)): amount})


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


def flush() -> None:
    """Add what this process counted to the stored totals, on the calling thread's connection."""
    with _lock:
        taken = dict(_pending)
        _pending.clear()
    if not taken:
        return
    try:
        _write(taken)
    except DatabaseError:
        with _lock:
            _pending.update(taken)  # kept for the next write
        raise


def _write(totals: dict[Key, float]) -> None:
    table = connection.ops.quote_name(MetricTotal._meta.db_table)
    # In one order, so that two processes adding to the same rows cannot deadlock.
    rows = sorted(totals.items())
    # All the batches or none: a failed write is tried again whole.
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, len(rows), WRITE_BATCH):
            batch = rows[start : start + WRITE_BATCH]
            values = ", ".join(["(%s, %s, %s)"] * len(batch))
            # The same upsert on PostgreSQL and SQLite (3.24+).
            cursor.execute(
                f"INSERT INTO {table} (name, labels, value) VALUES {values} "  # noqa: S608
                f"ON CONFLICT (name, labels) DO UPDATE SET value = {table}.value + excluded.value",
                [part for (name, labels), amount in batch for part in (name, labels, amount)],
            )


def _start_flusher() -> None:
    """Start this process's flusher, once (called holding _lock)."""
    global _flusher
    if _flusher is None and settings.METRICS_FLUSH_SECONDS > 0:
        _flusher = threading.Thread(target=_flush_forever, name="metrics-flush", daemon=True)
        _flusher.start()


def _flush_forever() -> None:
    global _flusher
    while (interval := settings.METRICS_FLUSH_SECONDS) > 0:
        time.sleep(interval)
        _flush_quietly()
    with _lock:
        _flusher = None  # switched off (a test that switched it on has ended)


def _flush_quietly() -> None:
    try:
        flush()
    except DatabaseError as exc:
        logger.warning("metrics totals not written yet (%s); kept for the next try", exc)
    finally:
        connection.close()  # this thread's own; the next write opens another


@atexit.register
def _flush_at_exit() -> None:
    # A process that ends cleanly (a gunicorn worker restarted, a command) writes its last
    # counts; with the flusher off (METRICS_FLUSH_SECONDS=0: the tests) nothing is written.
    if _flusher is not None:
        _flush_quietly()


def _forget_in_child() -> None:
    # A forked worker starts with its parent's counts (the parent still writes them) and
    # without its thread.
    global _lock, _flusher
    _lock = threading.Lock()
    _pending.clear()
    _flusher = None


os.register_at_fork(after_in_child=_forget_in_child)
