"""Small helpers the browser tests share: reading numbers and pixels off the page."""

from __future__ import annotations

from typing import Any

STEP = "Number(document.querySelector('#step-count').textContent.replace(/,/g, ''))"


def number(page: Any, selector: str) -> float:
    """A number shown in an element ("000,612" -> 612; a dash -> nan)."""
    text = page.locator(selector).text_content() or ""
    cleaned = text.replace(",", "").strip()
    try:
        return float(cleaned)
    except ValueError:
        return float("nan")


def pixels(page: Any, selector: str) -> list[int]:
    """A coarse sample of a canvas's pixels (every 97th byte), to tell whether it changed."""
    sample: list[int] = page.eval_on_selector(selector, """canvas => {
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        const out = [];
        for (let i = 0; i < data.length; i += 97) out.push(data[i]);
        return out;
    }""")
    return sample


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
