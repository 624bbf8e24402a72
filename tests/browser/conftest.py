"""Browser fixtures: Debian's chromium driven by Playwright, a fresh page per test on the live
server (a module may share one it set up, see test_cnn_lab.py).

A failing test leaves a screenshot in `test-artifacts/`. Without /usr/bin/chromium the tests
skip, unless NNPLAY_REQUIRE_BROWSER=1 says a missing browser is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import open_page, screenshot_if_failed

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    """Keep each phase's report on the test item, so fixtures can see whether the test failed."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless chromium for the session's browser tests (each test has its own context).

    Playwright's sync API keeps an asyncio loop running on the main thread while it is
    open; the browser tests run last (tests/conftest.py orders them), so no other test
    runs beside that loop, and one launch serves them all.
    """
    if not CHROMIUM.exists():
        if os.environ.get("NNPLAY_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and NNPLAY_REQUIRE_BROWSER=1 "
                        "(apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any, live_server: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page at 1280x800 on the live server's playground, ready to use."""
    page, errors = open_page(browser, live_server.url)
    yield page
    screenshot_if_failed(page, request)
    page.context.close()
    assert not errors, f"the page raised: {errors}"
