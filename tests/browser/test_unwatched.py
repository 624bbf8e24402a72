"""A playing run whose tab lost its connection is paused by the server, then plays on when the
tab comes back. The line is cut in the page: its real websocket is closed and, while
"away", new ones are dummies that never reach the server."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from browser_helpers import wait_step_above

pytestmark = pytest.mark.browser

GO_AWAY = """() => {
  window.realWebSocket = window.WebSocket;
  window.WebSocket = class {
    static OPEN = 1;
    constructor() { this.readyState = 0; window.deadSocket = this; }
    send() {}
    close() { this.readyState = 3; }
  };
  window.nnplay.session.stream.ws.close();
}"""
COME_BACK = """() => {
  window.WebSocket = window.realWebSocket;
  window.deadSocket.onclose({ code: 1006 });
}"""


def _listed(server: Any, job_id: str) -> dict[str, Any]:
    # The list, not GET /api/jobs/{id}: reading one job counts as activity on it.
    jobs = httpx.get(f"{server.url}/api/jobs").json()["jobs"]
    job: dict[str, Any] = next(job for job in jobs if job["id"] == job_id)
    return job


def _wait(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not met within {timeout} s"
        time.sleep(0.1)


def test_a_run_paused_while_its_tab_was_away_plays_on_when_it_returns(
        browser: Any, server_factory: Callable[..., Any]) -> None:
    server = server_factory(env={"NNPLAY_WORKERS": "0", "NNPLAY_UNWATCHED_TIMEOUT": "1"})
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(server.url)
    page.wait_for_function("document.body.classList.contains('ready')")
    page.get_by_role("button", name="Play").click()
    wait_step_above(page, 20)
    job_id = page.evaluate("window.nnplay.session.job.id")
    assert _listed(server, job_id)["status"] == "running"

    page.evaluate(GO_AWAY)
    _wait(lambda: _listed(server, job_id)["status"] == "paused", "the server paused the run")
    assert "nobody watching" in str(_listed(server, job_id)["reason"])

    page.wait_for_function("window.deadSocket !== undefined")
    page.evaluate(COME_BACK)
    _wait(lambda: _listed(server, job_id)["status"] == "running", "the page resumed its run")
    step = _listed(server, job_id)["step"]
    _wait(lambda: _listed(server, job_id)["step"] > step, "the run trains again")
    context.close()
