"""Writes docs/screenshot.png for the README: the spiral lesson mid-training at 1280x800."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser_helpers import choose_lesson, wait_status

pytestmark = pytest.mark.browser

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot.png"


def test_readme_screenshot(page: Any) -> None:
    choose_lesson(page, "spiral")
    page.get_by_role("button", name="Play").click()
    page.wait_for_function("parseFloat(document.querySelector('#test-loss').textContent) < 0.25",
                           timeout=30_000)
    page.get_by_role("button", name="Pause").click()
    wait_status(page, "paused")
    page.wait_for_timeout(300)  # the last frames arrive and paint
    page.mouse.move(0, 0)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 50_000
