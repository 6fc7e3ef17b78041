"""The sandbox's daily bot cap, set through its control API: calendar bots are scheduled
whatever the cap (Meeting BaaS checks it as each bot joins), and a bot joining when the cap's
worth joined in the last 24 hours fails with DAILY_BOT_CAP_REACHED, in both bots lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.test_sandbox_bots import api, meeting
from tests.support.meetings import active_integration


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_the_bot_joining_past_the_daily_cap_fails(sandbox, make_integration, version):
    calendar_id = str(active_integration(make_integration, sandbox, version).remote_id)
    sandbox.control("POST", "config", {"bots_per_day": 1})
    first = meeting(sandbox, calendar_id, version, extra={"n": "1"}, in_minutes=60)
    second = meeting(sandbox, calendar_id, version, extra={"n": "2"}, in_minutes=90)
    for event_id in (second, first):
        sandbox.control("POST", f"bots/{event_id}", {"outcome": "completed", "silent": True})

    sandbox.state.bots_due(datetime.now(UTC) + timedelta(hours=3))

    bots = {b["event_id"]: b for b in sandbox.control("GET", "bots")}
    assert (bots[first]["status"], bots[first]["outcome"]) == ("completed", "completed")
    assert (bots[second]["status"], bots[second]["outcome"]) == ("failed", "DAILY_BOT_CAP_REACHED")
    if version == "v2":
        failed = api(sandbox, "GET", "/v2/bots", params={"status": "failed"}).json()["data"]
        assert [b["error_code"] for b in failed] == ["DAILY_BOT_CAP_REACHED"]
    else:
        listed = api(sandbox, "GET", "/bots/bots_with_metadata").json()["bots"]
        assert [b["errors"] for b in listed if b["errors"]] == [
            "DAILY_BOT_CAP_REACHED: The team's daily bot cap is reached."
        ]


def test_without_a_cap_every_bot_joins(sandbox, make_integration):
    calendar_id = str(active_integration(make_integration, sandbox, "v2").remote_id)
    events = [meeting(sandbox, calendar_id, "v2", extra={}, in_minutes=m) for m in (60, 90)]
    for event_id in events:
        sandbox.control("POST", f"bots/{event_id}", {"outcome": "completed", "silent": True})

    sandbox.state.bots_due(datetime.now(UTC) + timedelta(hours=3))

    assert [b["status"] for b in sandbox.control("GET", "bots")] == ["completed", "completed"]
