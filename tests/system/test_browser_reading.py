"""Reading the portal in Debian's chromium at 1440 x 900: what the first screen shows, and
long words and addresses wrapped where they can be."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import dateformat, timezone
from playwright.sync_api import Page

from calendars.actions.audit import record_action
from calendars.actions.refresh import refresh_integration
from calendars.models import Credential, WebhookDelivery
from tests.support.browser import WINDOW, signed_in_as_support

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def support_page(live_server, monkeypatch) -> Iterator[Page]:
    yield from signed_in_as_support(live_server, monkeypatch)


@pytest.fixture
def browser_in_auckland(live_server, monkeypatch) -> Iterator[Page]:
    """The same, in a browser whose clock reads New Zealand's time."""
    yield from signed_in_as_support(live_server, monkeypatch, timezone_id="Pacific/Auckland")


def test_the_worklists_first_group_is_on_the_first_screen(
    live_server, support_page, sandbox, make_integration, tmp_path: Path
):
    broken = make_integration()
    make_integration("alice.team@group.calendar.google.com")
    sandbox.force(broken.remote_id, status="error", status_message="invalid_grant: revoked.")
    refresh_integration(broken.pk)

    support_page.goto(live_server.url + reverse("admin:index"))
    support_page.screenshot(path=str(tmp_path / "home.png"))

    first = support_page.locator("ul.attention-groups > li").first.bounding_box()
    charts = support_page.locator("div.charts").bounding_box()
    assert first["y"] + first["height"] <= WINDOW["height"]
    assert charts["y"] > first["y"]


# How many lines each cell's text takes: a word or an address broken across lines takes two.
LINES = """(selector) => [...document.querySelectorAll(selector)].map((cell) => {
  const range = document.createRange();
  range.selectNodeContents(cell);
  const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
  return [cell.textContent.trim(), tops.size];
})"""


def test_the_customer_timeline_breaks_no_word_or_address(
    live_server, support_page, sandbox, credential, make_integration, tmp_path: Path
):
    integration = make_integration()
    Credential.objects.filter(pk=credential.pk).update(
        account_email="someone.longer@subsidiary.example.com"
    )
    words = " ".join(["the connection could not be refreshed"] * 40)
    for n in range(3):
        WebhookDelivery.objects.create(
            api_version="v2",
            event="calendar.updated",
            delivery_id=f"msg_{n}",
            payload={},
            integration=integration,
            outcome="failed",
            error=words,
        )
    record_action(
        None,
        "refresh",
        succeeded=False,
        message="https://example.com/" + "a" * 400,
        credential=credential,
    )
    customer = credential.customer

    support_page.goto(
        live_server.url + reverse("admin:calendars_customer_change", args=[customer.pk])
    )
    support_page.screenshot(path=str(tmp_path / "customer.png"), full_page=True)

    cells = [
        support_page.evaluate(LINES, f"#customer-timeline {cell}")
        for cell in ("td:nth-child(1)", "td:nth-child(2)", "td:nth-child(3) a")
    ]
    assert {kind for kind, _ in cells[1]} == {"webhook", "status", "action"}
    assert [(text, lines) for column in cells for text, lines in column if lines > 1] == []
    assert support_page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_times_follow_the_browsers_time_zone_from_the_next_page(
    live_server, browser_in_auckland: Page, make_integration
):
    integration = make_integration()
    url = live_server.url + reverse("admin:calendars_integration_change", args=[integration.pk])

    browser_in_auckland.goto(url)
    browser_in_auckland.goto(url)

    auckland = timezone.localtime(integration.created_at, ZoneInfo("Pacific/Auckland"))
    assert dateformat.format(auckland, "Y-m-d H:i T") in browser_in_auckland.content()
