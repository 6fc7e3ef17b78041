"""The client keeps write calls under the team's rate, so a burst never draws a 429."""

from __future__ import annotations

import time

import pytest

from calendars.actions import bulk
from calendars.meetingbaas.transport import WriteLimiter
from calendars.models import BulkJob
from tests.support.seeding import integrations_in_sandbox


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


def test_a_turn_is_held_until_its_call_is_answered():
    clock = FakeClock()
    limiter = WriteLimiter(5, clock=clock)
    with limiter.turn(clock.sleep):
        clock.now += 0.5  # the first call is answered half a second after it was sent
    for _ in range(4):
        with limiter.turn(clock.sleep):
            pass

    with limiter.turn(clock.sleep):
        pass

    # A second (and the margin) from the first answer, not from its sending.
    assert clock.slept == [pytest.approx(1.05)]


def test_a_zero_rate_never_waits():
    clock = FakeClock()
    limiter = WriteLimiter(0, clock=clock)
    for _ in range(100):
        limiter.wait_for_turn(clock.sleep)
    assert clock.slept == []


BURST = 50  # ten times the team's rate: ten seconds of pacing, enough to draw 429s if unpaced


@pytest.mark.slow
@pytest.mark.once
def test_a_burst_of_bulk_updates_at_five_per_second_draws_no_429(
    sandbox, customer, google_app, settings
):
    settings.MEETINGBAAS_WRITE_RATE = 5.0
    integrations = integrations_in_sandbox(
        sandbox.state, customer, google_app, BURST, status="syncing"
    )
    ids = [i.pk for i in integrations]
    sandbox.control("POST", "config", {"write_rate": 5})

    started = time.monotonic()
    job = bulk.start(BulkJob.Kind.PUSH_CREDENTIALS, ids, acting_user=None, description="burst")
    result = bulk.run(job.pk)
    elapsed = time.monotonic() - started

    assert (result.done, result.failed) == (BURST, 0)
    assert sandbox.state.throttled == 0
    assert len(sandbox.requests_to("PATCH", "/v2/calendars/")) == BURST
    # Five go at once, then five per window: it really was paced, not lucky.
    assert elapsed >= BURST / 5 - 1
    print(f"{BURST} PATCH at 5/s: {elapsed:.1f} s, 0 throttled")
