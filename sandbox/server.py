"""HTTP plumbing for the sandbox: routing, the API-key check, JSON, forms, and the control API.

Every request must name the sandbox by a loopback Host (127.0.0.1, localhost or [::1], with
its port): a web page that rebinds its own DNS name to 127.0.0.1 cannot reach it. The control
endpoints need no API key, so their POSTs must also be `Content-Type: application/json`, which
a cross-origin page cannot send without a CORS preflight the sandbox never grants.

OAuth endpoints (sandbox/oauth.py; no API key: a browser opens the consent page, the portal's
server posts forms to the token endpoint; in the request log, faults and latency like the API):
  GET  /oauth/google/authorize         the consent page (account chooser, scopes, Allow/Cancel)
  POST /oauth/google/authorize         its form: 302 to redirect_uri with code or error
  POST /oauth/google/token             code + PKCE verifier for tokens
  GET  /oauth/google/userinfo          who granted: {"sub", "email", "email_verified"}
  GET  /oauth/google/certs             the keys that sign its ID tokens (a JWKS)
  GET|POST /oauth/microsoft/{tenant}/oauth2/v2.0/authorize, POST .../token
                                       the same at a tenant (common, organizations,
                                       consumers or a GUID)
  GET  /oauth/microsoft/{tenant}/discovery/v2.0/keys   its ID tokens' keys (a JWKS)
  GET  /oauth/microsoft/v1.0/me        who granted: {"id", "mail", "userPrincipalName"}
  GET|POST /oauth/microsoft/{tenant}/v2.0/adminconsent   an administrator approves a client
                                       for the tenant: 302 with admin_consent=True&tenant=

Control endpoints (no API key; the sandbox listens on loopback only):
  GET  /_sandbox/requests              the request log (newest last), secrets redacted
  GET  /_sandbox/connections           every connection, both versions
  POST /_sandbox/connections/{id}      force fields: status, status_message, sync_status,
                                       sync_error, synced (true)
  POST /_sandbox/config                set sync_delay, connection_limit (a create past it is
                                       refused 429 FST_ERR_CALENDAR_LIMIT, no retryAfter),
                                       bots_per_day (a bot joining when that many joined in
                                       the last 24 h fails DAILY_BOT_CAP_REACHED; 0: no cap),
                                       webhook_url, webhook_secret, write_rate, latency
                                       (seconds added to every API answer), event_page_limit
                                       (largest page of events served)
  POST /_sandbox/tenants/{tenant}      {"admin_consent_required": true}: the Microsoft tenant's
                                       users may not consent alone (refused with AADSTS90094)
                                       until its admin accepts the client at adminconsent
  POST /_sandbox/webhooks              send a webhook now: {"connection_id", "event",
                                       "event_id" (an event webhook's event; default: the
                                       next one), "variant": null | "bad_signature" |
                                       "stale" | "duplicate", "shift": seconds,
                                       "overrides": {...}}

Events (sandbox/events.py makes each connection's calendar; these change it like a person in
Google Calendar would, and send the webhooks Meeting BaaS would: v2 calendar.event_created /
event_updated / event_cancelled, v1 calendar.sync_events with the event's id):
  GET  /_sandbox/events?connection_id=  the connection's events, with the bot settings held
  POST /_sandbox/events                add a meeting: {"connection_id", "title", "start",
                                       "end" (ISO 8601; default in 30 min, for an hour),
                                       "meeting_url" (none: a meeting no bot can join)}
  POST /_sandbox/shared_events         one meeting in several calendars of a customer:
                                       {"connection_ids": [...], "title", "start", "end",
                                       "meeting_url", "organizer_email" (default: the first
                                       connection's account)}: an event of its own in each,
                                       the same URL, times and organizer
  POST /_sandbox/events/{event_id}     move or change it: {"start", "end", "title",
                                       "meeting_url"}; {"cancelled": true} cancels it,
                                       {"declined": true} declines it for the calendar's
                                       account; its bot follows, but within 4 minutes of
                                       the start (old or new: the bot keeps its time and
                                       URL); {"keep_bot": false} loses the bot in the change
  For example, with the portal running (`manage.py runserver` and the sandbox):
    curl -H 'Content-Type: application/json' localhost:8765/_sandbox/events -d \
      '{"connection_id": "<remote id>", "title": "Demo", "meeting_url": "https://meet.google.com/abc-defg-hij"}'
Bots (sandbox/bots.py; made when an event gets its bot, either version): they join at the
meeting's start and complete at its end, or fail a minute in (one in ten by default, decided by
the event id), sending the v2 bot webhooks (bot.status_change, bot.completed, bot.failed) as
they go; GET /v2/bots and GET /bots/bots_with_metadata list them.
  GET  /_sandbox/bots                  every bot, with its status and the steps still to play
  POST /_sandbox/bots/{event_id}       choose the event's bot's fate: {"outcome": "completed" |
                                       "failed", "error_code", "error_message", "silent": true
                                       (no webhooks: lost ones), "now": true (play the rest of
                                       its story at once)}; answers the bot and, with "now", the
                                       webhooks it sent ("webhooks", sent before the answer)
  POST /_sandbox/faults                add a Fault (see state.Fault), e.g.
                                       {"method": "GET", "path": "/v2/calendars/.*",
                                        "kind": "status", "status": 503, "count": 2}
                                       "count": null keeps it until the faults are cleared:
                                       Meeting BaaS down for an hour is
                                       {"method": "*", "path": "/v[12]/.*", "kind": "status",
                                        "count": null}, a "hang" fault before it for timeouts
  DELETE /_sandbox/faults              clear every fault (the outage is over)
  POST /_sandbox/reset                 forget everything
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, parse_qsl, urlsplit

from sandbox import api, api_events, oauth
from sandbox import bots as sandbox_bots
from sandbox.accounts import SandboxError
from sandbox.events import SandboxEvent
from sandbox.state import Fault, SandboxState, iso, now, redacted
from sandbox.webhooks import WebhookSender

logger = logging.getLogger(__name__)
MAX_BODY = 1_000_000
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


class RawBody(bytes):
    """A body sent as it is, for answers that must not be valid JSON."""


Routes = list[tuple[str, re.Pattern, Callable[..., api.Answer]]]


def _compile(template: str) -> re.Pattern:
    # Odd parts are the names in braces; the rest is literal ("v2.0" has a dot).
    parts = re.split(r"\{(\w+)\}", template)
    pattern = "".join(
        f"(?P<{part}>[^/]+)" if n % 2 else re.escape(part) for n, part in enumerate(parts)
    )
    return re.compile(f"^{pattern}$")


def _routes(table: list[tuple[str, str, Callable[..., api.Answer]]]) -> Routes:
    return [(method, _compile(path), handler) for method, path, handler in table]


def _route(routes: Routes, method: str, path: str) -> tuple[Callable[..., api.Answer], dict]:
    for route_method, pattern, handler in routes:
        match = pattern.match(path)
        if match and route_method == method:
            return handler, match.groupdict()
    raise SandboxError(404, "FST_ERR_NOT_FOUND", f"Route {method}:{path} not found")


API_ROUTES = _routes(api.ROUTES + api_events.ROUTES)
OAUTH_ROUTES = _routes(oauth.ROUTES)


class SandboxHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without this, delayed ACKs add ~40 ms.
    disable_nagle_algorithm = True
    server: SandboxHTTPServer

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("sandbox %s", format % args)

    def _handle(self, method: str) -> None:
        # One handler serves every request of a kept-alive connection: no header carries over.
        self._extra_headers: dict[str, str] = {}
        state = self.server.state
        parts = urlsplit(self.path)
        path, query = parts.path, dict(parse_qsl(parts.query))
        try:
            raw = self._read_body()
            self._check_host()
            if path.startswith("/_sandbox/"):
                if method != "GET":
                    self._check_json_content_type()
                status, payload = self._control(method, path, query, self._parse_json(raw))
            elif path.startswith("/oauth/"):
                # RFC 6749 5.1: token answers must not be cached; nor should consent pages.
                self._extra_headers["Cache-Control"] = "no-store"
                form = self._parse_form(raw)
                state.log_request(
                    method, path, query=query, headers=dict(self.headers), body={}, form=form
                )
                status, payload = self._faulty(
                    method, path, lambda: self._oauth(method, path, query, form)
                )
            else:
                body = self._parse_json(raw)
                state.log_request(method, path, query=query, headers=dict(self.headers), body=body)
                status, payload = self._faulty(
                    method, path, lambda: self._api(method, path, query, body)
                )
            if status is None:
                return
        except SandboxError as exc:
            status, payload = exc.status, exc.body()
            if exc.retry_after is not None:
                self._extra_headers["retry-after"] = str(exc.retry_after)
        self._reply(status, payload)

    def _check_host(self) -> None:
        port = self.server.server_address[1]
        allowed = {f"{name}:{port}" for name in LOOPBACK_NAMES}
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1 or hosts[0].lower() not in allowed:
            raise SandboxError(
                403,
                "FST_ERR_SANDBOX_HOST",
                f"The sandbox answers to {', '.join(sorted(allowed))} only, not Host {hosts!r}",
            )

    def _check_json_content_type(self) -> None:
        # get_content_type() is "text/plain" when the header is missing.
        if self.headers.get_content_type() != "application/json":
            raise SandboxError(
                415,
                "FST_ERR_CTP_INVALID_MEDIA_TYPE",
                "Control requests must be sent as Content-Type: application/json",
            )

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True  # the unread body must not be taken for a request
            raise SandboxError(413, "FST_ERR_CTP_BODY_TOO_LARGE", "Request body is too large")
        return self.rfile.read(length) if length else b""

    def _parse_json(self, raw: bytes) -> dict:
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise SandboxError(
                400, "FST_ERR_CTP_INVALID_JSON_BODY", "Body is not valid JSON"
            ) from exc
        if not isinstance(body, dict):
            raise SandboxError(400, "FST_ERR_VALIDATION", "body must be object")
        return body

    def _parse_form(self, raw: bytes) -> dict[str, list[str]]:
        # Anything else (JSON included) leaves the form empty: the endpoint says what is missing.
        if self.headers.get_content_type() != "application/x-www-form-urlencoded":
            return {}
        return parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)

    def _faulty(self, method: str, path: str, serve: Callable[[], api.Answer]) -> api.Answer:
        if self.server.state.latency:
            time.sleep(self.server.state.latency)
        fault = self.server.state.take_fault(method, path)
        if fault is None:
            return serve()
        if fault.kind == "status" and path.startswith("/oauth/"):
            if fault.retry_after is not None:
                self._extra_headers["retry-after"] = str(fault.retry_after)
            return oauth.unavailable(path, fault.status)
        if fault.kind == "hang":
            time.sleep(fault.delay)
        if fault.kind in ("status", "hang"):
            raise SandboxError(
                fault.status, "FST_ERR_INJECTED", "Injected fault", fault.retry_after
            )
        answer = serve()
        if fault.kind == "slow":
            time.sleep(fault.delay)
            return answer
        if fault.kind == "reset":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return None, None
        if fault.kind == "malformed":
            return 200, RawBody(b'{"success": true, "data": [')
        if fault.kind == "patched":
            status, body = answer
            if isinstance(body, dict) and isinstance(body.get("data"), dict):
                body = {**body, "data": {**body["data"], **fault.patch}}
            elif isinstance(body, dict) and path.startswith("/oauth/"):
                body = {**body, **fault.patch}  # OAuth answers have no envelope
            return status, body
        return 200, {"success": True, "data": {}}

    def _api(self, method: str, path: str, query: dict, body: dict) -> api.Answer:
        if self.headers.get("x-meeting-baas-api-key") != self.server.state.api_key:
            raise SandboxError(401, "FST_ERR_INVALID_API_KEY", "Invalid or missing API key")
        if method != "GET":
            self.server.state.admit_write()
        handler, names = _route(API_ROUTES, method, path)
        return handler(self.server.state, body=body, query=query, **names)

    def _oauth(self, method: str, path: str, query: dict, form: dict) -> api.Answer:
        handler, names = _route(OAUTH_ROUTES, method, path)
        request = oauth.OAuthRequest(query, form, self.headers.get("Authorization", ""))
        return handler(self.server.state.oauth, request, **names)

    def _control(self, method: str, path: str, query: dict, body: dict) -> api.Answer:
        state = self.server.state
        if method == "GET" and path == "/_sandbox/requests":
            with state.lock:
                return 200, list(state.requests)
        if method == "GET" and path == "/_sandbox/connections":
            return 200, [
                {**api.v2_detail(c), "api_version": c.api_version}
                for version in ("v2", "v1")
                for c in state.listing(version)
            ]
        if method == "POST" and path == "/_sandbox/faults":
            try:
                state.add_fault(Fault(**body))
            except TypeError as exc:
                raise SandboxError(400, "FST_ERR_VALIDATION", str(exc)) from exc
            return 200, body
        if method == "DELETE" and path == "/_sandbox/faults":
            return 200, {"cleared": state.clear_faults()}
        if method == "POST" and path == "/_sandbox/reset":
            state.reset()
            return 200, {"reset": True}
        if method == "POST" and path == "/_sandbox/config":
            knobs = {
                "write_rate": float,
                "latency": float,
                "sync_delay": float,
                "connection_limit": int,
                "bots_per_day": int,
                "event_page_limit": int,
                "webhook_url": str,
                "webhook_secret": str,
            }
            with state.lock:
                for name, kind in knobs.items():
                    if name in body:
                        setattr(state, name, kind(body[name]) if body[name] is not None else None)
            return 200, {name: getattr(state, name) for name in knobs if name != "webhook_secret"}
        if method == "POST" and path == "/_sandbox/webhooks":
            return self._send_webhook(body)
        if method == "GET" and path == "/_sandbox/events":
            connection = state.connection_by_id(query.get("connection_id", ""))
            return 200, [control_event(e) for e in state.events_of(connection)]
        if method == "POST" and path == "/_sandbox/events":
            return 201, control_event(state.add_event(str(body.get("connection_id")), body))
        if method == "POST" and path == "/_sandbox/shared_events":
            return 201, [control_event(e) for e in state.add_shared_event(body)]
        match = re.match(r"^/_sandbox/events/([^/]+)$", path)
        if method == "POST" and match:
            return 200, control_event(state.change_event(match.group(1), body))
        match = re.match(r"^/_sandbox/tenants/([^/]+)$", path)
        if method == "POST" and match:
            required = bool(body.get("admin_consent_required"))
            try:
                return 200, state.oauth.require_admin_consent(match.group(1), required)
            except oauth.OAuthError as exc:
                raise SandboxError(400, "FST_ERR_VALIDATION", exc.description) from exc
        if method == "GET" and path == "/_sandbox/bots":
            with state.lock:
                return 200, [sandbox_bots.control(b) for b in state.bots]
        match = re.match(r"^/_sandbox/bots/([^/]+)$", path)
        if method == "POST" and match:
            return self._choose_bot(match.group(1), body)
        match = re.match(r"^/_sandbox/connections/([^/]+)$", path)
        if method == "POST" and match:
            connection = state.force(match.group(1), body)
            return 200, {**api.v2_detail(connection), "updated_at": iso(connection.updated_at)}
        raise SandboxError(404, "FST_ERR_NOT_FOUND", f"No control endpoint {method}:{path}")

    def _send_webhook(self, body: dict) -> api.Answer:
        state = self.server.state
        if not state.webhook_url:
            raise SandboxError(400, "FST_ERR_VALIDATION", "configure webhook_url first")
        with state.lock:
            try:
                connection = state.connections[uuid.UUID(str(body.get("connection_id")))]
            except (ValueError, KeyError) as exc:
                raise SandboxError(
                    404, "FST_ERR_CALENDAR_NOT_FOUND", "No such connection."
                ) from exc
        try:
            sent, statuses = self.server.sender.send(
                connection,
                str(body.get("event") or ""),
                event_id=body.get("event_id"),
                variant=body.get("variant"),
                shift=float(body.get("shift") or 0),
                overrides=body.get("overrides") or {},
            )
        except ValueError as exc:
            raise SandboxError(400, "FST_ERR_VALIDATION", str(exc)) from exc
        return 200, {"payload": sent, "statuses": statuses}

    def _choose_bot(self, event_id: str, body: dict) -> api.Answer:
        state = self.server.state
        try:
            bot = state.bot_of(uuid.UUID(event_id))
        except ValueError:
            bot = None
        if bot is None:
            raise SandboxError(404, "FST_ERR_BOT_NOT_FOUND", "No bot was scheduled on this event.")
        with state.lock:
            sandbox_bots.choose(bot, body)
            sent = bot.due(now(), hurry=True) if body.get("now") is True else []
        if sent and not bot.silent:
            self.server.sender.send_bot_news(sent)
        return 200, {**sandbox_bots.control(bot), "webhooks": sent}

    def _reply(self, status: int, payload: object) -> None:
        headers = self._extra_headers
        content_type = "application/json; charset=utf-8"
        if isinstance(payload, oauth.Redirect):
            data, headers = b"", {**headers, "Location": payload}
        elif isinstance(payload, oauth.Html):
            data, headers = payload.encode(), {**headers, **oauth.PAGE_HEADERS}
            content_type = "text/html; charset=utf-8"
        elif isinstance(payload, RawBody):
            data = payload
        else:
            data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up first (a timeout test): nothing is left to answer.
            self.close_connection = True


def control_event(event: SandboxEvent) -> dict:
    """An event as the control API shows it: what a newcomer wants to watch."""
    return {
        "event_id": str(event.id),
        "connection_id": str(event.connection_id),
        "series_id": str(event.series_id),
        "title": event.title,
        "start": iso(event.start),
        "end": iso(event.end),
        "status": event.status,
        "meeting_url": event.meeting_url,
        "organizer_email": event.organizer_email,
        "is_recurring": event.is_recurring,
        "bot": redacted(event.bot) if event.bot is not None else None,
    }


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: SandboxState) -> None:
        self.state = state
        self.sender = WebhookSender(state)
        state.on_change = self.sender.notify
        super().__init__(address, SandboxHandler)


class SandboxServer:
    """A sandbox listening on `host:port` (port 0 picks a free one), served from a thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, state: SandboxState | None = None):
        self.state = state or SandboxState()
        self.httpd = SandboxHTTPServer((host, port), self.state)
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve requests, and finish first syncs on time even when nobody asks."""
        ticker = threading.Thread(target=self._tick, daemon=True)
        ticker.start()
        self.httpd.serve_forever()

    def _tick(self) -> None:
        while not self._stopping.wait(0.25):
            self.state.settle_all()
            for bot, sent in self.state.bots_due(now()):
                if not bot.silent:
                    self.httpd.sender.send_bot_news(sent, background=True)

    def stop(self) -> None:
        self._stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def run(state: SandboxState, port: int) -> None:
    """Serve on loopback `port` until interrupted: the sandbox as a process of its own."""
    logging.getLogger("sandbox").setLevel(logging.INFO)
    server = SandboxServer(port=port, state=state)
    print(
        f"Sandbox Meeting BaaS on {server.url} (Google and Microsoft OAuth under /oauth/), "
        f"webhooks to {state.webhook_url or 'nowhere'}; "
        "control POSTs to /_sandbox/ need Content-Type: application/json",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
