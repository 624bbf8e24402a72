"""The README's pictures at 1280x800: screenshot.png (the spiral lesson mid-training) and
gan-screenshot.png (the GAN lab's ring lesson).

They go to the ignored test-artifacts/, so `make test` leaves the git tree clean; `make
screenshots` (NNPLAY_UPDATE_SCREENSHOTS=1) writes them over docs/ instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import choose_lesson, settle, wait_status

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
UPDATE_DOCS = os.environ.get("NNPLAY_UPDATE_SCREENSHOTS") == "1"
SCREENSHOT = REPO / ("docs" if UPDATE_DOCS else "test-artifacts") / "screenshot.png"


def test_readme_screenshot(page: Any) -> None:
    choose_lesson(page, "spiral")
    page.get_by_role("button", name="Play").click()
    page.wait_for_function("parseFloat(document.querySelector('#test-loss').textContent) < 0.25",
                           timeout=30_000)
    page.get_by_role("button", name="Pause").click()
    wait_status(page, "paused")
    settle(page)  # the last frames paint
    page.mouse.move(0, 0)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 50_000


GAN_SCREENSHOT = SCREENSHOT.with_name("gan-screenshot.png")


def test_readme_gan_screenshot(page: Any) -> None:
    """gan-screenshot.png: the GAN lab's ring lesson once the fakes have found the ring."""
    page.get_by_role("link", name="GAN lab").click()
    page.get_by_label("Lesson").select_option("gan-ring")
    page.wait_for_function("window.nnplay.gan.lesson === 'gan-ring'"
                           " && window.nnplay.gan.frames.fake"
                           " && document.querySelector('#gan-status').textContent === 'ready'")
    page.get_by_role("button", name="Play").click()
    page.wait_for_function("window.nnplay.gan.session.step > 1500", timeout=30_000)
    page.get_by_role("button", name="Pause").click()
    page.wait_for_function("document.querySelector('#gan-status').textContent === 'paused'")
    page.get_by_role("button", name="Hide the explanation").click()
    settle(page)  # the last frames paint, the plane re-laid without the explanation
    page.mouse.move(0, 0)
    GAN_SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(GAN_SCREENSHOT))
    assert GAN_SCREENSHOT.stat().st_size > 50_000
