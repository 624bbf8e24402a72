"""Small helpers the browser tests share: opening watched pages, reading numbers and pixels."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
VIEWPORT = {"width": 1280, "height": 800}

STEP = "Number(document.querySelector('#step-count').textContent.replace(/,/g, ''))"


def open_page(browser: Any, url: str) -> tuple[Any, list[str]]:
    """A page of its own (a fresh context) at 1280x800 on `url`, ready, and the list its
    uncaught errors are collected in."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(15_000)
    page.goto(url)
    page.wait_for_function("document.body.classList.contains('ready')")
    return page, errors


def screenshot_if_failed(page: Any, request: pytest.FixtureRequest) -> None:
    """After a failed test, keep a screenshot of its page in test-artifacts/."""
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def number(page: Any, selector: str) -> float:
    """A number shown in an element ("000,612" -> 612; a dash -> nan)."""
    text = page.locator(selector).text_content() or ""
    cleaned = text.replace(",", "").strip()
    try:
        return float(cleaned)
    except ValueError:
        return float("nan")


def pixels(page: Any, selector: str) -> list[int]:
    """A sample of about 4,096 bytes of a canvas's pixels (all of a small one: a 3x3 kernel
    drawn at its own size has 36), to tell whether it changed."""
    sample: list[int] = page.eval_on_selector(selector, """canvas => {
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        const out = [];
        const step = Math.max(1, Math.floor(data.length / 4096));
        for (let i = 0; i < data.length; i += step) out.push(data[i]);
        return out;
    }""")
    return sample


def settle(page: Any) -> None:
    """Wait until the page has drawn what it holds: frames and resize observers draw on the
    next animation frame, so two frames later they have."""
    page.evaluate("() => new Promise((done) => requestAnimationFrame("
                  "() => requestAnimationFrame(done)))")


def choose_lesson(page: Any, name: str) -> None:
    """Pick a lesson from the menu and wait until its run is prepared."""
    page.get_by_label("Lesson").select_option(name)
    page.wait_for_function("document.querySelector('#status').textContent !== 'preparing…'")


def wait_step_above(page: Any, step: int, timeout: float = 15_000) -> None:
    """Wait until the step counter passes `step`."""
    page.wait_for_function(f"{STEP} > {step}", timeout=timeout)


def wait_step_is(page: Any, step: int) -> None:
    """Wait until the step counter shows exactly `step`."""
    page.wait_for_function(f"{STEP} === {step}")


def wait_status(page: Any, status: str) -> None:
    """Wait until the status pill says `status`."""
    page.wait_for_function(f"document.querySelector('#status').textContent === {status!r}")
