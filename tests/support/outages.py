"""Outages made for a test: a TCP proxy that can refuse, cut connections, a Redis to restart.

The machine's PostgreSQL and Redis are shared (other test runs, CI): they are never stopped.
A test breaks only what it owns: the proxy it puts between the portal and PostgreSQL, its own
database's connections, or a redis-server it started on a port of its own.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import redis
from django.db import connection

from calendars.actions.webhook_deliveries import queue_processing
from calendars.models import WebhookDelivery
from tests.support.gunicorn import free_port


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `target`; `refuse()` drops every connection and refuses new
    ones (as a stopped server does), `let_through()` listens again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.let_through()

    def let_through(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def refuse(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            doomed, self._sockets = self._sockets, set()
        if listener is not None:
            _close(listener)
        for sock in doomed:
            _close(sock)

    def close(self) -> None:
        self.refuse()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # refused: the listener was closed
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            server.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    _close(client)
                    _close(server)
                    return
                self._sockets |= {client, server}
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                _close(sock)
            with self._lock:
                self._sockets -= {source, sink}


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


@contextlib.contextmanager
def proxy_to_test_database() -> Iterator[TcpProxy]:
    """A proxy in front of the test's PostgreSQL server (stopped afterwards, whatever happens)."""
    db = connection.settings_dict
    proxy = TcpProxy((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)))
    try:
        yield proxy
    finally:
        proxy.close()


def database_url_through(proxy: TcpProxy) -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@127.0.0.1:{proxy.port}/{db['NAME']}"


def terminate_database_connections() -> int:
    """pg_terminate_backend every connection to this test's database but this process's own;
    returns how many. Other databases on the server are never touched."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


REDIS_SERVER = shutil.which("redis-server")
NOTHING_KEPT = ("--bind", "127.0.0.1", "--save", "", "--appendonly", "no")


class ThrowawayRedis:
    """A redis-server of the test's own, on a free port, keeping nothing on disk: killed and
    started again, it comes back empty, as a Redis restarted without persistence does."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.TemporaryDirectory(prefix="portal-redis-")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 (our own server, on a port of our own)
            [REDIS_SERVER, "--port", str(self.port), *NOTHING_KEPT, "--dir", self._dir.name],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def close(self) -> None:
        self.kill()
        self._dir.cleanup()


REPORT_HEADER = (
    "| fault | what was running | lost | duplicates | time to recover |\n"
    "| --- | --- | --- | --- | --- |\n"
)


def report(fault: str, running: str, lost: int, duplicates: int | str, recovery: str) -> None:
    """Print one row of docs/reliability.md's outage table, and append it to $OUTAGE_REPORT."""
    row = f"| {fault} | {running} | {lost} | {duplicates} | {recovery} |\n"
    print(row, end="")
    path = os.environ.get("OUTAGE_REPORT")
    if not path:
        return
    target = Path(path)
    with target.open("a") as out:
        if target.stat().st_size == 0:
            out.write(REPORT_HEADER)
        out.write(row)


def doubled_effects(calls: list[int]) -> str:
    """The duplicates cell: repeated idempotent calls are not duplicates, but are shown."""
    repeated = sum(n - 1 for n in calls)
    return f"0 ({repeated} resync(s) sent again, idempotent)" if repeated else "0"


def connection_updates(
    integrations: list, count: int, *, sent_at: datetime
) -> list[WebhookDelivery]:
    """`count` stored `calendar.connection_updated` deliveries, round the integrations, each a
    second newer than the last, queued for processing."""
    rows = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            api_version="v2",
            event="calendar.connection_updated",
            delivery_id=f"msg_{uuid.uuid4().hex}",
            payload={
                "event": "calendar.connection_updated",
                "data": {"calendar_id": str(integration.remote_id), "status": "active"},
            },
            remote_id=integration.remote_id,
            event_time=sent_at + timedelta(seconds=n // len(integrations)),
        )
        for n, integration in zip(range(count), itertools.cycle(integrations), strict=False)
    )
    for delivery in rows:
        queue_processing(delivery.pk)
    return rows


def fails_once(monkeypatch, owner: object, name: str, error: BaseException) -> None:
    """`owner.name` raises `error` at its next call, and is itself again after it."""
    original = getattr(owner, name)

    def once(*args: object, **kwargs: object) -> None:
        monkeypatch.setattr(owner, name, original)
        raise error

    monkeypatch.setattr(owner, name, once)
