"""The GAN lab, clicked through as a person would, against a real server."""

from __future__ import annotations

from typing import Any

import pytest
from browser_helpers import pixels, settle

pytestmark = pytest.mark.browser

GAN_STEP = "Number(document.querySelector('#gan-step-count').textContent.replace(/,/g, ''))"
GAN_STATUS = "document.querySelector('#gan-status').textContent"
LAB = "window.nnplay.gan"

# Mean distance of a fake frame's points from the ring of radius 4 (the gan-ring target).
RING_ERROR = """(which) => {
    const frame = which === 'first' ? window.nnplay.gan.firstFake : window.nnplay.gan.frames.fake;
    const d = frame.data;
    let sum = 0;
    for (let i = 0; i < frame.header.shape[0]; i++) {
        sum += Math.abs(Math.hypot(d[2 * i], d[2 * i + 1]) - 4);
    }
    return sum / frame.header.shape[0];
}"""


def open_lab(page: Any) -> None:
    """Go to the GAN lab from the top bar and wait until its run is prepared."""
    page.get_by_role("link", name="GAN lab").click()
    page.wait_for_function(f"{LAB} && document.querySelector('#gan-view').hidden === false")
    assert "view=gan" in page.url
    wait_ready(page)


def wait_ready(page: Any) -> None:
    """Wait until the lab's run is parked with its first frames drawn."""
    page.wait_for_function(f"{GAN_STATUS} === 'ready' && {LAB}.frames.fake"
                           f" && {LAB}.frames.discriminator")
    settle(page)  # the first frames paint


def choose_lesson(page: Any, name: str) -> None:
    page.get_by_label("Lesson").select_option(name)
    page.wait_for_function(f"{LAB}.lesson === {name!r} && {LAB}.session.job"
                           f" && {GAN_STATUS} === 'ready'")
    if name != "gan-digits":
        page.wait_for_function(f"{LAB}.frames.fake && {LAB}.frames.discriminator")
    settle(page)


def fake_points(page: Any) -> list[float]:
    """The latest fake points the page decoded, flattened: x1, x2, x1, x2, ..."""
    points: list[list[float]] = page.evaluate(f"{LAB}.fakePoints()")
    return [v for point in points for v in point]


def test_ring_lesson_trains_and_fakes_move_to_the_ring(page: Any) -> None:
    open_lab(page)
    choose_lesson(page, "gan-ring")
    assert page.get_by_role("heading", name="GAN: a ring").is_visible()  # the lesson's explanation
    heatmap = pixels(page, "#gan-plane .gan-heatmap")
    fakes = pixels(page, "#gan-plane .gan-fake")
    chart = page.evaluate(f"{LAB}.lossChart.length")

    page.get_by_role("button", name="Play").click()
    page.wait_for_function(f"{GAN_STEP} > 100")
    settle(page)
    fakes_mid = pixels(page, "#gan-plane .gan-fake")
    page.wait_for_function(f"{GAN_STEP} > 600", timeout=20_000)
    page.get_by_role("button", name="Pause").click()
    page.wait_for_function(f"{GAN_STATUS} === 'paused'")
    settle(page)

    assert page.evaluate(f"{LAB}.lossChart.length") > chart + 5
    assert pixels(page, "#gan-plane .gan-heatmap") != heatmap
    assert fakes != fakes_mid != pixels(page, "#gan-plane .gan-fake")
    first = page.evaluate(RING_ERROR, "first")
    latest = page.evaluate(RING_ERROR, "latest")
    assert latest < 0.6 * first, (first, latest)
    assert page.locator("#gan-alert").is_hidden()


def test_step_d_moves_only_the_discriminator_and_step_g_the_generator(page: Any) -> None:
    open_lab(page)
    heatmap = pixels(page, "#gan-plane .gan-heatmap")
    before = fake_points(page)

    page.get_by_role("button", name="Step D").click()
    page.wait_for_function(f"{GAN_STEP} === 1 && {LAB}.frames.discriminator.header.step === 1"
                           f" && {LAB}.frames.fake.header.step === 1")
    settle(page)
    assert fake_points(page) == pytest.approx(before, abs=1e-6)  # G did not move
    assert pixels(page, "#gan-plane .gan-heatmap") != heatmap  # D did

    page.get_by_role("button", name="Step G").click()
    page.wait_for_function(f"{GAN_STEP} === 2 && {LAB}.frames.fake.header.step === 2")
    after = fake_points(page)
    assert max(abs(a - b) for a, b in zip(after, before, strict=True)) > 1e-4

    page.get_by_role("button", name="Step both").click()
    page.wait_for_function(f"{GAN_STEP} === 3")
    assert page.locator("#gan-status").text_content() == "paused"


def test_slow_motion_steps_on_a_timer(page: Any) -> None:
    open_lab(page)
    page.get_by_role("switch", name="Slow motion").check()
    page.get_by_label("One step every").fill("0")  # the fastest: a step every 50 ms
    page.get_by_role("button", name="Play").click()
    page.wait_for_function(f"{GAN_STATUS} === 'slow motion'")
    page.wait_for_function(f"{GAN_STEP} >= 4")
    page.get_by_role("button", name="Pause").click()
    # Stopped, and the last step it asked for has arrived and is shown.
    page.wait_for_function(f"!{LAB}.slow.running && {LAB}.session.step >= {LAB}.slow.awaiting"
                           f" && {GAN_STEP} === {LAB}.session.step")
    stopped = page.evaluate(GAN_STEP)
    page.wait_for_timeout(400)  # eight of its 50 ms steps: none may come
    assert page.evaluate(GAN_STEP) == stopped
    assert stopped < 200  # one step at a time, not free-running
    assert "slow=1" in page.evaluate("location.hash")


def test_drawn_target_trains_and_a_tiny_drawing_is_refused(page: Any) -> None:
    open_lab(page)
    page.get_by_role("radio", name="Draw").click()
    page.wait_for_function(f"{GAN_STATUS} === 'draw a target'")
    pad = page.locator("#gan-draw canvas")
    box = pad.bounding_box()
    for fx, fy in [(0.3, 0.3), (0.7, 0.3)]:
        pad.click(position={"x": box["width"] * fx, "y": box["height"] * fy})
    error = page.locator('[data-field="dataset.points"] .field-error')
    error.wait_for()
    assert "dataset.points" in error.text_content()
    assert "got 2 points" in error.text_content()

    for fx, fy in [(0.5, 0.7), (0.3, 0.6), (0.7, 0.6), (0.5, 0.4)]:
        pad.click(position={"x": box["width"] * fx, "y": box["height"] * fy})
    page.wait_for_function(f"{GAN_STATUS} === 'ready' && {LAB}.frames.points")
    assert error.count() == 0
    assert "pts=" in page.evaluate("location.hash")
    page.get_by_role("button", name="Play").click()
    page.wait_for_function(f"{GAN_STEP} > 50")
    assert page.locator("#gan-alert").is_hidden()
    # The real samples lie around the six drawn points.
    spread = page.evaluate(f"""() => {{
        const f = {LAB}.frames.points; let far = 0;
        for (let i = 0; i < f.header.shape[0]; i++) if (Math.abs(f.data[3 * i + 1]) > 4.5) far++;
        return far; }}""")
    assert spread == 0


def test_digits_lesson_draws_an_evolving_sample_grid(page: Any) -> None:
    open_lab(page)
    choose_lesson(page, "gan-digits")
    page.wait_for_function(f"{LAB}.frames.samples && {LAB}.frames.images")
    settle(page)
    grid = page.locator("#gan-samples canvas")
    assert grid.is_visible() and page.locator("#gan-plane").is_hidden()
    first = pixels(page, "#gan-samples canvas")
    assert len(set(first)) > 5  # drawn, not blank
    assert len(set(pixels(page, "#gan-real-digits canvas"))) > 5
    page.get_by_role("button", name="Play").click()
    page.wait_for_function(f"{GAN_STEP} > 150", timeout=20_000)
    settle(page)
    assert pixels(page, "#gan-samples canvas") != first
    assert page.evaluate(f"{LAB}.qualityChart.length") > 2
    page.get_by_role("button", name="Pause").click()
