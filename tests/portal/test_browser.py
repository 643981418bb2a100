"""The portal's main flows in a real headless Chromium (Debian's ``chromium``, driven by Playwright) against
a uvicorn server on a free loopback port: sign in → access point → quarter-hour chart → who has my data →
approve a pending mandate through its consent link → revoke it → create a personal token; at a phone
viewport (390×844, Dutch) and a desktop one (1280×800, English). Screenshots are kept in
``test-artifacts/screenshots/``; at the phone size no page may scroll sideways."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, Route, sync_playwright
from tests.conftest import REPO
from tests.portal.conftest import C1, E1, PASSWORD, RETURN_URL, Clock, PortalWorld

from kwartier.server import create_app

CHROMIUM: Final = Path("/usr/bin/chromium")
ARGS: Final = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS: Final = REPO / "test-artifacts" / "screenshots"
VIEWPORTS: Final = {"phone": (390, 844, "nl-BE"), "desktop": (1280, 800, "en-GB")}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"),
]


@pytest.fixture
def server(world: PortalWorld, clock: Clock) -> Iterator[str]:
    """The portal served by uvicorn on a free loopback port; its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(world.settings, clock=clock), log_level="warning", lifespan="on")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not running.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


class Steps:
    """Takes a screenshot of each step and checks that the phone page does not scroll sideways."""

    def __init__(self, page: Page, name: str, phone: bool) -> None:
        self.page, self.name, self.phone, self.number = page, name, phone, 0
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def shot(self, step: str) -> None:
        self.number += 1
        self.page.screenshot(path=SCREENSHOTS / f"{self.name}-{self.number:02d}-{step}.png", full_page=True)
        if self.phone:
            width = self.page.evaluate("document.documentElement.scrollWidth")
            viewport = self.page.viewport_size
            assert viewport is not None and width <= viewport["width"], (
                f"{step}: the page is {width} px wide at the phone size"
            )


def _provider_page(route: Route) -> None:
    route.fulfill(
        status=200, content_type="text/html", body="<!doctype html><title>provider</title><h1>back</h1>"
    )


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_the_main_flows_in_a_real_browser(
    browser: Browser, server: str, world: PortalWorld, size: str
) -> None:
    width, height, locale = VIEWPORTS[size]
    context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
    context.route("https://provider.example/**", _provider_page)
    page = context.new_page()
    page.set_default_timeout(15_000)
    steps = Steps(page, size, phone=size == "phone")
    try:
        page.goto(f"{server}/")
        assert page.url.endswith("/signin")
        assert page.locator("html").get_attribute("lang") == locale[:2]
        steps.shot("signin")
        page.fill("#login", C1)
        page.fill("#password", PASSWORD)
        page.click("form[action='/signin'] button[type=submit]")
        page.wait_for_url("**/access-points")
        assert page.locator(f"text={E1}").count() >= 1
        steps.shot("access-points")

        page.click(f"a[href='/access-points/{E1}']")
        page.wait_for_url(f"**/access-points/{E1}")
        assert page.locator("svg.chart").count() == 2  # history and quarter hours
        steps.shot("access-point")

        page.fill("#day", "2025-04-28")
        page.click("form:has(#day) button[type=submit]")
        page.wait_for_url("**day=2025-04-28*")
        chart = page.locator("svg[aria-labelledby='qh-title qh-desc']")
        assert chart.locator("rect[fill='url(#qh-hatch-offtake)']").count() == 24
        assert chart.locator("circle").count() == 24
        summary = page.locator("#quarter-summary").inner_text()
        assert "96" in summary and "24" in summary
        chart.scroll_into_view_if_needed()
        steps.shot("quarter-hours")

        page.click("nav a[href='/my-data']")
        page.wait_for_url("**/my-data")
        assert page.locator("text=order-17").count() == 1
        steps.shot("who-has-my-data")

        page.goto(f"{server}/consent/{world.consent}")
        assert page.locator("text=order-17").count() == 1
        steps.shot("consent")
        page.click("button[name=decision][value=approve]")
        page.wait_for_url("https://provider.example/**")
        assert "status=approved" in page.url and RETURN_URL.split("?")[0] in page.url

        page.goto(f"{server}/my-data")
        revoke = page.locator("form[action$='/revoke'] button")
        assert revoke.count() == 1
        revoke.click()
        page.wait_for_url("**/my-data?revoked=1")
        assert page.locator("p.notice[role=status]").count() == 1
        assert page.locator("form[action$='/revoke'] button").count() == 0
        steps.shot("revoked")

        page.click("nav a[href='/tokens']")
        page.fill("#label", "Home Assistant")
        page.click("form[action='/tokens'] button[type=submit]")
        token = page.locator("#token-value").inner_text()
        assert token.startswith("kwp_")
        steps.shot("token")
        page.goto(f"{server}/tokens")
        assert page.locator("#token-value").count() == 0
        assert page.locator("li strong", has_text="Home Assistant").count() == 1
    finally:
        context.close()
