"""Browser tests: Debian's Chromium driven by Playwright against a real server on loopback.

Each test gets its own server process on a fresh copy of the test database (both backends), and a
screenshot of the page is saved under ``test-output/browser/`` when a test fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.e2e.server import ServerProcess
from tests.support import PASSWORD

CHROMIUM = "/usr/lib/chromium/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path("test-output/browser")
TABLET = {"width": 1024, "height": 768}
PHONE = {"width": 390, "height": 844}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call":
        item.stash[FAILED] = report.failed


FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def live_server(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(database_url, tmp_path / "var").start()
    yield server
    server.stop()


@pytest.fixture
def base_url(live_server: ServerProcess) -> str:
    return live_server.url


def _new_page(browser: Browser, base_url: str, viewport: dict[str, int]) -> Page:
    context = browser.new_context(base_url=base_url, viewport=viewport)  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    return context.new_page()


@pytest.fixture
def page(browser: Browser, base_url: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A tablet-sized page (the treatment room's device)."""
    current = _new_page(browser, base_url, TABLET)
    yield current
    _screenshot_if_failed(request, current)
    current.context.close()


@pytest.fixture
def phone(browser: Browser, base_url: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A phone-sized page (the patient's device)."""
    current = _new_page(browser, base_url, PHONE)
    yield current
    _screenshot_if_failed(request, current)
    current.context.close()


def _screenshot_if_failed(request: pytest.FixtureRequest, page: Page) -> None:
    if request.node.stash.get(FAILED, False):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def api(base_url: str) -> Iterator[httpx.Client]:
    """An HTTP client on the live server, for arranging data through the API."""
    with httpx.Client(base_url=base_url, timeout=10) as client:
        yield client
