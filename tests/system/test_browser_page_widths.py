"""No page wider than the window at 1440 px: the admin home and every list an Admin can open,
in Debian's chromium, with rows carrying the longest unbroken text each column can hold."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import RequestFactory
from django.urls import reverse
from django_q.conf import Conf
from playwright.sync_api import Page

from tests.conftest import require_service
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.page_width import scrolled_sideways, wider_than_window
from tests.support.wide_rows import wide_rows

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WINDOW = {"width": 1440, "height": 900}


def admin_pages() -> list[str]:
    """The admin home and the list of every registered model the Admin role may view."""
    request = RequestFactory().get("/admin/")
    request.user = get_user_model().objects.get(username="ada")
    lists = [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model, model_admin in admin.site._registry.items()
        if model_admin.has_view_permission(request)
    ]
    return [reverse("admin:index"), *sorted(lists)]


@pytest.fixture
def admin_page(live_server, monkeypatch) -> Iterator[Page]:
    """A 1440 px wide browser window signed in as an Admin, with wide rows on every list."""
    require_service(
        CHROMIUM.exists(), "Debian's chromium is not installed (apt-get install chromium)"
    )
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the ORM runs beside Playwright
    monkeypatch.setattr(Conf, "SYNC", False)  # the queued task stays queued, for its list
    get_user_model().objects.create_user("ada", password="pw")
    call_command("assign_role", "ada", "Admin")
    wide_rows()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport=WINDOW)
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "ada")
        page.fill("#id_password", "pw")
        page.click("input[type=submit]")
        page.wait_for_selector("#site-name")
        yield page
        browser.close()


def misfits(
    page: Page, base_url: str, check: Callable[[Page], str | None], shots: Path
) -> dict[str, str]:
    """Each admin page `check` finds a problem on, with the problem; a screenshot of each."""
    pages = admin_pages()
    assert reverse("admin:calendars_integration_changelist") in pages  # the role sees the lists
    found = {}
    shots.mkdir(exist_ok=True)
    for path in pages:
        response = page.goto(base_url + path)
        assert response.status == 200, f"{path}: {response.status}"
        problem = check(page)
        if problem:
            found[path] = problem
            shot = shots / f"{path.strip('/').replace('/', '-')}.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot: {shot}")
    return found


def listed(found: dict[str, str]) -> str:
    return "\n".join(f"  {path}: {problem}" for path, problem in found.items())


def test_no_admin_page_is_wider_than_the_window(live_server, admin_page, tmp_path):
    too_wide = misfits(admin_page, live_server.url, wider_than_window, tmp_path / "too-wide")

    assert not too_wide, f"Wider than a {WINDOW['width']} px window:\n{listed(too_wide)}"


def test_no_list_must_be_scrolled_sideways(live_server, admin_page, tmp_path):
    sideways = misfits(admin_page, live_server.url, scrolled_sideways, tmp_path / "sideways")

    assert not sideways, f"Scrolled sideways at {WINDOW['width']} px:\n{listed(sideways)}"
