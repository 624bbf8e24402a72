"""/docs in chromium: Swagger UI lists the REST operations with no request outside the server."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser


def test_docs_render_offline(browser: Any, live_server: Any) -> None:
    """Every request the page makes is recorded; any to another host (a CDN) fails the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    # Outside requests are refused, as in a classroom without internet: a page that
    # needs a CDN stays blank and the operations below never appear.
    page.route("**/*", lambda route: route.continue_()
               if route.request.url.startswith(live_server.url) else route.abort())
    try:
        page.goto(f"{live_server.url}/docs")
        page.locator(".opblock").first.wait_for(timeout=15_000)
        paths = page.locator(".opblock-summary-path").all_text_contents()
        assert "/api/health" in paths and "/api/jobs" in paths
        assert page.locator(".opblock").count() >= 10
    finally:
        context.close()
    outside = [url for url in requests
               if not url.startswith((live_server.url, "data:", "blob:"))]
    assert not outside, f"/docs asked for {outside}"
