"""All HTTP to Meeting BaaS: one session, timeouts, bounded retries, typed errors.

Only this module imports `requests` for Meeting BaaS. Retrying is decided per call:
an idempotent call (GET, DELETE, PATCH with the same body, sync) is retried after a
timeout, a dropped connection, a 5xx or a 429; a create is retried only when the server
cannot have acted on it (a refused connection, or a 429, which rejects a request unread).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import requests
from django.views.decorators.debug import sensitive_variables

from calendars.meetingbaas import errors
from calendars.meetingbaas.observed import ObservedAdapter

logger = logging.getLogger(__name__)

WRITE_METHODS = {"POST", "PATCH", "DELETE", "PUT"}
# The client keeps this much under the team's rate, so network jitter never tips it over.
RATE_MARGIN = 1.05


@dataclass(frozen=True)
class TransportConfig:
    base_url: str
    api_key: str
    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    max_retries: int = 3
    backoff: float = 0.5
    # A retry-after longer than this is reported to the person instead of waited out.
    max_wait: float = 5.0
    # Meeting BaaS limits POST/PATCH/DELETE per team (5-20 per second); 0 disables the limiter.
    write_rate: float = 5.0

    def __repr__(self) -> str:
        return f"TransportConfig(base_url={self.base_url!r}, api_key=<hidden>)"


class WriteLimiter:
    """At most `rate` calls in any rolling second (plus a margin), shared by a process's threads.

    A turn is held until its call is answered (`turn`): Meeting BaaS counts a call when it
    arrives, which is later than it was sent by however long the network or a loaded host
    took, so a window counted from the sending could let the next calls arrive inside the
    first one's second there. Counted from the answer, no call arrives in it.
    """

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.window = RATE_MARGIN
        self._clock = clock
        self._recent: deque[list[float]] = deque()
        self._lock = threading.Lock()

    @contextmanager
    def turn(self, sleep: Callable[[float], None]) -> Iterator[None]:
        """Wait for a turn, and hold it until the call made inside has been answered."""
        slot = self.wait_for_turn(sleep)
        try:
            yield
        finally:
            if slot is not None:
                with self._lock:
                    slot[0] = self._clock()

    def wait_for_turn(self, sleep: Callable[[float], None]) -> list[float] | None:
        """Wait for a turn; its slot holds when it was taken (None: no limit)."""
        if self.rate <= 0:
            return None
        limit = max(1, int(self.rate))
        while True:
            with self._lock:
                now = self._clock()
                while self._recent and now - self._recent[0][0] >= self.window:
                    self._recent.popleft()
                if len(self._recent) < limit:
                    slot = [now]
                    self._recent.append(slot)
                    return slot
                delay = self.window - (now - self._recent[0][0])
            sleep(delay)


class CallGuard(Protocol):
    """What every process knows of Meeting BaaS' health (calendars/outage/ keeps it shared)."""

    def before_call(self) -> None:
        """Raise `errors.Unreachable` when the call must not be sent (an outage under way)."""

    def answered(self) -> None:
        """Meeting BaaS answered (any answer, an error included): it is reachable."""

    def failed(self, exc: errors.Unavailable) -> None:
        """No answer, or a 5xx."""


class Transport:
    def __init__(
        self,
        config: TransportConfig,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        guard: CallGuard | None = None,
    ) -> None:
        self.config = config
        self.session = session or requests.Session()
        self.session.mount(config.base_url, ObservedAdapter())  # each attempt, for /metrics
        self.session.headers.update(
            {"x-meeting-baas-api-key": config.api_key, "Accept": "application/json"}
        )
        self._sleep = sleep
        self.guard = guard
        self.limiter = WriteLimiter(config.write_rate)

    # Every local of a call, and of requests below it, may hold the API key or a grant's
    # secrets (the JSON body, the prepared request): hidden from error reports.
    @sensitive_variables()
    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotent: bool,
        parse: Callable[[Any], Any] | None = None,
    ) -> Any:
        """Send one request (retrying as allowed) and return `parse(body)`, or the body.

        An answer that cannot be read (not JSON, or rejected by `parse`) counts as a transient
        failure: an idempotent call is sent again. The guard is asked before every attempt, so
        once an outage is declared a retry loop stops at once.
        """
        url = self.config.base_url.rstrip("/") + path
        attempt = 0
        while True:
            attempt += 1
            if self.guard is not None:
                self.guard.before_call()
            try:
                response = self._send(method, url, json=json, params=params)
                self._tell_guard(None)
                body = self._decode(response)
                return parse(body) if parse else body
            except errors.MeetingBaasError as exc:
                self._tell_guard(exc)
                if not self._may_retry(exc, attempt, idempotent):
                    raise
                self._wait(exc, attempt)

    @sensitive_variables()
    def _send(self, method: str, url: str, *, json: Any, params: Any) -> requests.Response:
        turn = self.limiter.turn(time.sleep) if method in WRITE_METHODS else nullcontext()
        try:
            with turn:
                started = time.monotonic()
                response = self.session.request(
                    method,
                    url,
                    json=json,
                    params=params,
                    timeout=(self.config.connect_timeout, self.config.read_timeout),
                )
        except requests.exceptions.ConnectTimeout as exc:
            raise _NotSent("the connection timed out") from exc
        except requests.exceptions.ConnectionError as exc:
            if _never_reached_server(exc):
                raise _NotSent("the connection was refused") from exc
            raise errors.Unavailable("the connection was closed before an answer came") from exc
        except requests.exceptions.Timeout as exc:
            raise errors.Unavailable(f"no answer within {self.config.read_timeout:g} s") from exc
        except requests.exceptions.RequestException as exc:
            raise errors.Unavailable(type(exc).__name__) from exc
        elapsed_ms = (time.monotonic() - started) * 1000
        logger.info(
            "meetingbaas %s %s -> %s in %.0f ms",
            method,
            response.request.path_url.split("?")[0],
            response.status_code,
            elapsed_ms,
        )
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    def _tell_guard(self, exc: errors.MeetingBaasError | None) -> None:
        if self.guard is None or isinstance(exc, errors.BadResponse):
            return  # an unreadable answer was told as answered when it came
        if isinstance(exc, errors.Unavailable):
            self.guard.failed(exc)
        else:
            self.guard.answered()

    def _may_retry(self, exc: errors.MeetingBaasError, attempt: int, idempotent: bool) -> bool:
        if attempt > self.config.max_retries:
            return False
        if isinstance(exc, errors.RateLimited):
            return exc.retry_after is None or exc.retry_after <= self.config.max_wait
        if isinstance(exc, _NotSent):
            return True
        return idempotent and exc.transient

    def _wait(self, exc: errors.MeetingBaasError, attempt: int) -> None:
        delay = exc.retry_after or self.config.backoff * 2 ** (attempt - 1)
        delay = min(delay, self.config.max_wait)
        logger.warning("meetingbaas retry %d in %.2f s after: %s", attempt, delay, exc)
        self._sleep(delay)

    @staticmethod
    def _decode(response: requests.Response) -> Any:
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise errors.BadResponse(
                f"HTTP {response.status_code} with a body that is not JSON",
                http_status=response.status_code,
            ) from exc


class _NotSent(errors.Unavailable):
    """The request never reached the server, so even a create may be sent again."""

    summary = "Meeting BaaS could not be reached"


def _never_reached_server(exc: requests.exceptions.ConnectionError) -> bool:
    text = repr(exc)
    return "NewConnectionError" in text or "Connection refused" in text


def error_from_response(response: requests.Response) -> errors.MeetingBaasError:
    """Turn an HTTP error answer into the matching typed error."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {"message": response.text[:300]} if response.text else {}
    code = str(body.get("code") or "")
    message = str(body.get("message") or body.get("error") or body.get("details") or "")
    status = response.status_code
    kwargs = {"http_status": status, "code": code}
    if status == 429:
        retry_after = _retry_after(response, body)
        if retry_after is None and _names_a_plan_limit(f"{code} {message}"):
            return errors.PlanLimitReached(message, **kwargs)
        return errors.RateLimited(message, retry_after=retry_after, **kwargs)
    if status == 401:
        about_key = any(w in f"{code} {message}".lower() for w in ("api key", "api_key", "apikey"))
        return (errors.ApiKeyRejected if about_key else errors.OAuthRefused)(message, **kwargs)
    by_status = {
        400: errors.InvalidRequest,
        403: errors.PermissionDenied,
        404: errors.NotFound,
        409: errors.Conflict,
        422: errors.InvalidRequest,
    }
    if status in by_status:
        return by_status[status](message, **kwargs)
    if status >= 500:
        return errors.Unavailable(message, retry_after=_retry_after(response, body), **kwargs)
    return errors.MeetingBaasError(message, **kwargs)


def _names_a_plan_limit(words: str) -> bool:
    """Whether a 429 is a plan's cap: Meeting BaaS's rate limit answers carry a retryAfter (and
    a retry-after header); its caps (calendar connections, DAILY_BOT_CAP_REACHED) have none and
    name a limit or cap. The spec gives the connection cap no code of its own."""
    words = words.lower()
    return "rate" not in words and ("limit" in words or "cap" in words)


def _retry_after(response: requests.Response, body: dict) -> float | None:
    header = response.headers.get("retry-after")
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(header).timestamp() - time.time())
            except (TypeError, ValueError):
                pass
    value = body.get("retryAfter")
    return float(value) if isinstance(value, int | float) and value >= 0 else None
