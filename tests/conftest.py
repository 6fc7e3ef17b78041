from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_q.conf import Conf

from calendars.actions.integrations import create_integration
from calendars.meetingbaas.transport import TransportConfig
from calendars.meetings import bots
from calendars.models import Credential, Customer, Integration, OAuthApp, RawCalendar
from sandbox import SandboxServer
from sandbox.state import SandboxConnection, SandboxState
from tests.support.clocks import MOMENTS, Moment
from tests.support.cluster import REDIS_URL, redis_available
from tests.support.consent import Person, point_providers_at
from tests.support.flush import delete_instead_of_truncate
from tests.support.smtp import SmtpServer

IN_CI = os.environ.get("CI", "").lower() == "true"


def require_service(available: bool, reason: str) -> None:
    """Skip on a developer's laptop when a service is missing; in CI, that is a failure."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: every service must be running)")
    pytest.skip(reason)


# Fixtures that give a test the database (directly or through the ones that need it).
DATABASE_FIXTURES = {"db", "transactional_db", "live_server", "django_db_reset_sequences"}


def uses_database(item: pytest.Item | pytest.Metafunc) -> bool:
    definition = getattr(item, "definition", item)
    return bool(
        definition.get_closest_marker("django_db") or DATABASE_FIXTURES & set(item.fixturenames)
    )


SYSTEM_TESTS = Path(__file__).parent / "system"


@pytest.hookimpl(tryfirst=True)  # before `-m "not once"` deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark what does not depend on the database engine `once`: scripts/test runs it on SQLite only.

    That is every test that touches no database, and the browser tests: what a page queries is
    tested on both engines through the test client, and a browser adds only the rendering.
    With --part, keep only the system tests, or only the others (scripts/test runs the two
    parts side by side: the system tests mostly wait on the processes they start).
    """
    for item in items:
        if item.path.name.startswith("test_browser_") or not uses_database(item):
            item.add_marker(pytest.mark.once)
    part = config.getoption("--part")
    if part is None:
        return
    kept = [i for i in items if i.path.is_relative_to(SYSTEM_TESTS) == (part == "system")]
    config.hook.pytest_deselected(items=[i for i in items if i not in set(kept)])
    items[:] = kept


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--part",
        choices=("system", "others"),
        help="only the tests under tests/system, or only the others",
    )
    parser.addoption(
        "--clocks",
        metavar="all|K/N",
        help="also run each test marked `clock` at the moments of tests/support/clocks.py: all "
        "of them, or with K/N the K-th of N shares of them (K may list several: 2,3/3) for "
        "tests that use the database (passes on the other engines take the other shares; "
        "tests without one take all)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    share = metafunc.config.getoption("--clocks")
    if not share or not metafunc.definition.get_closest_marker("clock"):
        return
    moments = MOMENTS
    if share != "all" and uses_database(metafunc):
        shares, _, of = share.partition("/")
        taken = {int(k) - 1 for k in shares.split(",")}
        moments = tuple(m for i, m in enumerate(MOMENTS) if i % int(of) in taken)
    metafunc.parametrize("clock_moment", [None, *moments], ids=["now", *(m.name for m in moments)])


@pytest.fixture(autouse=True)
def _no_bot_claim_in_hand() -> Iterator[None]:
    """A test that stops in mid-ask leaves the policy's thread-local claim to no other test."""
    yield
    bots._hand.claim, bots._hand.asked = None, False


@pytest.fixture
def clock_moment() -> Moment | None:
    """The moment this run of the test happens at: None is the machine's own clock."""
    return None


@pytest.fixture(autouse=True)
def _travel_to_clock_moment(
    request: pytest.FixtureRequest, clock_moment: Moment | None
) -> Iterator[None]:
    # Autouse, so it starts before the test's other fixtures write their rows.
    if clock_moment is None:
        yield
        return
    request.getfixturevalue("settings").TIME_ZONE = clock_moment.time_zone
    with time_machine.travel(clock_moment.at, tick=True):
        yield


@pytest.fixture(scope="session", autouse=True)
def _flush_by_delete_on_postgresql() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        delete_instead_of_truncate(patch)
        yield


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    server = SandboxServer(state=SandboxState(api_key="test-key", sync_delay=0.3)).start()
    yield server
    server.stop()


class Sandbox:
    """The live sandbox as a test sees it: its URL, its state and its control API."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.url = server.url
        self.state = server.state

    def control(self, verb: str, path: str, body: dict | None = None) -> object:
        response = requests.request(verb, f"{self.url}/_sandbox/{path}", json=body or {}, timeout=5)
        response.raise_for_status()
        return response.json()

    def fault(self, method: str, path: str, kind: str, **options: object) -> None:
        self.control("POST", "faults", {"method": method, "path": path, "kind": kind, **options})

    def force(self, remote_id: object, **fields: object) -> dict:
        return self.control("POST", f"connections/{remote_id}", fields)

    def requests_to(self, method: str, path_start: str) -> list[dict]:
        """The logged requests (secrets redacted: see `connection` for what was pushed)."""
        log = self.control("GET", "requests")
        return [r for r in log if r["method"] == method and r["path"].startswith(path_start)]

    def connection(self, remote_id: object) -> SandboxConnection:
        """A connection as the sandbox holds it, with the OAuth credentials it was last sent."""
        return self.state.connections[uuid.UUID(str(remote_id))]

    def transport_config(self, **overrides: object) -> TransportConfig:
        options = {
            "base_url": self.url,
            "api_key": "test-key",
            "read_timeout": 1.0,
            "backoff": 0.01,
            "write_rate": 50.0,
        }
        return TransportConfig(**(options | overrides))


@pytest.fixture
def sandbox(sandbox_server: SandboxServer, settings: object) -> Iterator[Sandbox]:
    sandbox_server.state.reset()
    sandbox_server.state.sync_delay = 0.3
    sandbox_server.state.webhook_url = None
    sandbox_server.state.write_rate = 0.0
    sandbox_server.state.connection_limit = SandboxState.connection_limit
    sandbox_server.state.bots_per_day = 0
    sandbox_server.state.throttled = 0
    settings.MEETINGBAAS_BASE_URL = sandbox_server.url
    settings.MEETINGBAAS_API_KEY = "test-key"
    yield Sandbox(sandbox_server)
    # A webhook still on its way would reach a live server whose database is being flushed.
    sandbox_server.state.webhook_url = None
    sandbox_server.httpd.sender.drain()


@pytest.fixture
def providers(settings, sandbox: Sandbox) -> Sandbox:
    """The sandbox playing Google's and Microsoft's OAuth endpoints for consent links."""
    point_providers_at(settings, sandbox)
    return sandbox


@pytest.fixture
def smtp(settings) -> Iterator[SmtpServer]:
    """A real SMTP server in this process, which the portal's mailer sends to."""
    server = SmtpServer()
    server.controller.start()
    settings.MAILERS = server.mailers()
    yield server
    server.controller.stop()


@pytest.fixture
def person() -> Person:
    """Someone at the customer, in a browser of their own (no admin login)."""
    return Person(Client())


@pytest.fixture
def role_client(db: None, client):
    """A logged-in test client for a new user holding `role` (Admin, Support, Auditor)."""

    def login(role: str):
        user = get_user_model().objects.create_user(f"{role.lower()}-user", password="pw")
        call_command("assign_role", user.username, role, stdout=io.StringIO())
        client.force_login(user)
        return client

    return login


@pytest.fixture
def customer(db: None) -> Customer:
    return Customer.objects.create(name="Acme Corp", external_ref="acme")


@pytest.fixture
def google_app(db: None) -> OAuthApp:
    return OAuthApp.objects.create(
        provider="google",
        name="Acme Google",
        client_id="123.apps.googleusercontent.com",
        client_secret="google-client-secret-value",
    )


@pytest.fixture
def microsoft_app(db: None) -> OAuthApp:
    return OAuthApp.objects.create(
        provider="microsoft",
        name="Acme Entra",
        client_id="6731de76-14a6-49ae-97bc-6eba6914391e",
        client_secret="microsoft-client-secret-value",
    )


@pytest.fixture
def make_integration(sandbox: Sandbox, credential: Credential):
    """Create an integration (through the sandbox) for one of the credential's calendars."""

    def make(provider_id: str = "alice@example.com") -> Integration:
        raw = RawCalendar.objects.create(
            credential=credential,
            provider_id=provider_id,
            name=f"Cal {provider_id}",
            listed_at=timezone.now(),
        )
        return create_integration(raw).integration

    return make


@pytest.fixture
def credential(customer: Customer, google_app: OAuthApp) -> Credential:
    return Credential.objects.create(
        customer=customer,
        oauth_app=google_app,
        account_email="alice@example.com",
        refresh_token="1//refresh:alice@example.com",
    )


@pytest.fixture(params=["orm", "redis"])
def broker(request, monkeypatch) -> dict[str, str]:
    """A fresh queue on each broker: this process enqueues onto it; pass the dict to clusters."""
    name = f"portal-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", name)
    monkeypatch.setattr(Conf, "PREFIX", name)
    env = {"Q_CLUSTER_NAME": name}
    if request.param == "redis":
        require_service(redis_available(), f"Redis is not reachable at {REDIS_URL}")
        monkeypatch.setattr(Conf, "ORM", None)
        monkeypatch.setattr(Conf, "REDIS", REDIS_URL)
        env["REDIS_URL"] = REDIS_URL
    return env
