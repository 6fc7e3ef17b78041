"""The client keeps write calls under the team's rate, so a burst never draws a 429."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from calendars import bulk
from calendars.meetingbaas.transport import WriteLimiter
from calendars.models import BulkJob, Credential, Integration, RawCalendar
from calendars.sandbox.accounts import account_for


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_limiter_makes_the_sixth_call_in_a_second_wait():
    clock = FakeClock()
    limiter = WriteLimiter(5, clock=clock)

    for _ in range(5):
        limiter.wait_for_turn(clock.sleep)
    assert clock.slept == []
    limiter.wait_for_turn(clock.sleep)

    assert clock.slept == [pytest.approx(1.05)]


def test_a_zero_rate_never_waits():
    clock = FakeClock()
    limiter = WriteLimiter(0, clock=clock)
    for _ in range(100):
        limiter.wait_for_turn(clock.sleep)
    assert clock.slept == []


@pytest.mark.slow
@pytest.mark.once
def test_five_hundred_bulk_updates_at_five_per_second_draw_no_429(
    sandbox, customer, google_app, settings
):
    settings.MEETINGBAAS_WRITE_RATE = 5.0
    ids = _five_hundred_integrations(sandbox, customer, google_app)
    sandbox.control("POST", "config", {"write_rate": 5})

    started = time.monotonic()
    job = bulk.start(BulkJob.Kind.PUSH_CREDENTIALS, ids, user=None, description="burst")
    result = bulk.run(job.pk)
    elapsed = time.monotonic() - started

    assert (result.done, result.failed) == (500, 0)
    assert sandbox.state.throttled == 0
    assert len(sandbox.requests_to("PATCH", "/v2/calendars/")) == 500
    assert elapsed >= 500 / 5 * 0.95  # it really was paced, not lucky
    print(f"500 PATCH at 5/s: {elapsed:.1f} s, 0 throttled")


def _five_hundred_integrations(sandbox, customer, google_app) -> list[int]:
    """Connections made inside the sandbox (no API writes) and the rows that point at them."""
    now = timezone.now()
    ids = []
    for n in range(500):
        token = f"rt:user{n}@example.com"
        account = account_for("google", "secret", token)
        remote = sandbox.state.create("v2", account, account.email)
        credential = Credential.objects.create(
            customer=customer,
            oauth_app=google_app,
            account_email=account.email,
            refresh_token=token,
        )
        raw = RawCalendar.objects.create(
            credential=credential, provider_id=account.email, listed_at=now
        )
        integration = Integration.objects.create(
            credential=credential,
            raw_calendar=raw,
            remote_id=remote.id,
            api_version="v2",
            provider="google",
            status="syncing",
        )
        ids.append(integration.pk)
    return ids
