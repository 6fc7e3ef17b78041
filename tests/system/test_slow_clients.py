"""Slow clients do not stop the portal: under gunicorn as the Procfile runs it, 20 connections
trickling their headers or a webhook's body leave /healthz answering at once, and each is
dropped once it sends nothing for WEB_READ_TIMEOUT seconds."""

from __future__ import annotations

import socket
import time

import pytest
import requests

from tests.support.gunicorn import gunicorn

# How gunicorn treats slow clients does not depend on the database engine.
pytestmark = [pytest.mark.slow, pytest.mark.once, pytest.mark.django_db(transaction=True)]

READ_TIMEOUT = 6
BODY_START = (
    b"POST /webhooks/meetingbaas/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b'Content-Length: 900000\r\n\r\n{"event": "calendar.sync_events", "data": '
)
HEADERS_START = b"GET /admin/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: trick"


def slow_client(address: tuple[str, int], start: bytes) -> socket.socket:
    client = socket.create_connection(address, timeout=30)
    client.sendall(start)  # and then nothing more
    return client


def answer_before_close(client: socket.socket) -> bytes | None:
    """What the server sent before it closed the connection; None if it kept it open."""
    received = b""
    try:
        while chunk := client.recv(65536):
            received += chunk
    except TimeoutError:
        return None
    except OSError:
        pass  # reset: closed too
    return received


def test_healthz_answers_while_twenty_slow_clients_hold_connections():
    env = {"WEB_CONCURRENCY": "2", "WEB_READ_TIMEOUT": str(READ_TIMEOUT)}
    with gunicorn(**env) as web:
        url, address = web.url, ("127.0.0.1", web.port)
        clients = [slow_client(address, BODY_START) for _ in range(10)]
        clients += [slow_client(address, HEADERS_START) for _ in range(10)]
        held_since = time.monotonic()
        time.sleep(1)

        # Bounded by the slow clients' hold, not tighter: on a loaded machine an answer may take
        # seconds, and one held up by them would come only once they are dropped.
        answers = [requests.get(f"{url}/healthz", timeout=READ_TIMEOUT) for _ in range(5)]
        answered_in = time.monotonic() - held_since

        assert all(a.status_code in (200, 503) for a in answers)
        assert answered_in < READ_TIMEOUT  # while every slow client still held its connection
        for client in clients:
            client.settimeout(READ_TIMEOUT * 3)
        answers = [answer_before_close(client) for client in clients]
        dropped_in = time.monotonic() - held_since
        # a body that stopped arriving is the client's fault; headers that did are just closed
        assert all(a.startswith(b"HTTP/1.1 400 ") for a in answers[:10]), answers[:10]
        assert answers[10:] == [b""] * 10
        assert READ_TIMEOUT - 1 < dropped_in < READ_TIMEOUT * 3
        for client in clients:
            client.close()
