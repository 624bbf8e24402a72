"""Runs that stay and data of one's own, clicked through as a person would, on a real server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_helpers import STEP, choose_lesson, wait_status, wait_step_above

pytestmark = pytest.mark.browser


def playground_run(page: Any) -> str:
    """The id of the run the playground holds now."""
    page.wait_for_function("window.nnplay.session.job !== null")
    job_id: str = page.evaluate("window.nnplay.session.job.id")
    return job_id


def prepared(page: Any) -> None:
    """Wait for the run of the latest settings (they settle 150 ms before it is prepared)."""
    page.wait_for_function("!window.nnplay.reloadTimer && window.nnplay.session.job !== null"
                           " && !window.nnplay.session.loading")


def test_reload_mid_training_comes_back_to_the_same_run(page: Any, live_server: Any) -> None:
    page.get_by_role("button", name="Play").click()
    wait_step_above(page, 30)
    before = playground_run(page)
    step_before = page.evaluate(STEP)
    page.reload()
    page.wait_for_function("document.body.classList.contains('ready')")
    assert playground_run(page) == before
    # Its curves come back, and it trains on past where it was.
    page.wait_for_function("window.nnplay.curves.loss.length > 1")
    wait_step_above(page, step_before)
    wait_status(page, "training")
    page.get_by_role("button", name="Pause").click()
    wait_status(page, "paused")
    assert httpx.get(f"{live_server.url}/api/jobs/{before}").json()["step"] > step_before


def test_reload_mid_training_in_the_gan_lab_comes_back_too(page: Any) -> None:
    lab = "window.nnplay.gan"
    gan_step = "Number(document.querySelector('#gan-step-count').textContent.replace(/,/g, ''))"
    page.get_by_role("link", name="GAN lab").click()
    page.wait_for_function(f"{lab} && {lab}.session.job && !{lab}.session.loading")
    page.locator("#gan-view").get_by_role("button", name="Play").click()
    page.wait_for_function(f"{gan_step} > 30", timeout=20_000)
    before = page.evaluate(f"{lab}.session.job.id")
    step_before = page.evaluate(gan_step)
    page.reload()
    page.wait_for_function(f"window.nnplay && {lab} && {lab}.session.job "
                           f"&& !{lab}.session.loading")
    assert page.evaluate(f"{lab}.session.job.id") == before
    page.wait_for_function(f"{gan_step} > {step_before}", timeout=20_000)


def test_three_trainings_leave_three_runs(page: Any, live_server: Any) -> None:
    """Switching dataset after training keeps the trained run (stopped), as the Runs view shows."""
    ids = []
    for title in ("Exclusive or", "Two Gaussians", "Two moons"):
        previous = playground_run(page)
        page.get_by_role("radio", name=title).click()
        page.wait_for_function(f"window.nnplay.session.job && !window.nnplay.session.loading "
                               f"&& window.nnplay.session.job.id !== {previous!r}")
        page.get_by_role("button", name="Play").click()
        wait_step_above(page, 5)
        ids.append(playground_run(page))
    assert len(set(ids)) == 3
    page.get_by_role("radio", name="Blobs").click()  # a fourth, untouched run is prepared
    page.wait_for_function(f"window.nnplay.session.job?.id !== {ids[-1]!r}")
    for job_id in ids:
        job = httpx.get(f"{live_server.url}/api/jobs/{job_id}").json()
        assert job["step"] >= 5, job
    page.get_by_role("navigation", name="Views").get_by_role("link", name="Runs").click()
    for job_id in ids:
        page.locator(f'#runs-table tbody tr[data-id="{job_id}"]').wait_for()


def test_drawn_points_train(page: Any) -> None:
    page.get_by_role("radio", name="Your data").click()
    plane = page.locator("#draw-plane")
    plane.wait_for()
    box = plane.bounding_box()
    assert box is not None
    page.locator("#draw-class-0").click()
    for dx, dy in ((0.2, 0.2), (0.25, 0.3), (0.3, 0.2), (0.2, 0.35)):
        page.mouse.click(box["x"] + dx * box["width"], box["y"] + dy * box["height"])
    page.locator("#draw-class-1").click()
    # A drag paints several points.
    page.mouse.move(box["x"] + 0.7 * box["width"], box["y"] + 0.7 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.8 * box["width"], box["y"] + 0.8 * box["height"], steps=8)
    page.mouse.up()
    count = page.evaluate("window.nnplay.state.spec.dataset.points.length")
    assert count > 6
    page.locator("#draw-undo").click()
    assert page.evaluate("window.nnplay.state.spec.dataset.points.length") == count - 1
    prepared(page)
    page.get_by_role("button", name="Play").click()
    wait_step_above(page, 50)
    page.wait_for_function("window.nnplay.latest && window.nnplay.latest.train_accuracy > 0.8",
                           timeout=30_000)


def test_csv_upload_trains_and_a_bad_line_is_named(page: Any, tmp_path: Path) -> None:
    page.get_by_role("radio", name="Your data").click()
    bad = tmp_path / "bad.csv"
    bad.write_text("x1,x2,label\n0.1,0.2,0\n0.3,oops,1\n")
    page.locator("#csv-file").set_input_files(str(bad))
    page.get_by_text("line 3").wait_for()
    good = tmp_path / "good.csv"
    rows = [f"{-0.5 - i / 40:.3f},{(i % 5) / 10:.2f},0" for i in range(20)]
    rows += [f"{0.5 + i / 40:.3f},{(i % 5) / 10:.2f},1" for i in range(20)]
    good.write_text("\n".join(rows) + "\n")  # no header
    page.locator("#csv-file").set_input_files(str(good))
    page.wait_for_function("window.nnplay.state.spec.dataset.points?.length === 40")
    page.wait_for_function("location.hash.includes('pts=')")  # small data travels in the link
    prepared(page)
    page.get_by_role("button", name="Play").click()
    wait_step_above(page, 50)
    page.wait_for_function("window.nnplay.latest && window.nnplay.latest.train_accuracy > 0.9",
                           timeout=30_000)


def test_a_runs_own_exported_spec_imports_without_false_warnings(
        page: Any, live_server: Any, tmp_path: Path) -> None:
    """A page-made run's spec: no "GAN fields were left out", no "stopped at 1,000,000 steps"."""
    page.get_by_role("button", name="Play").click()
    wait_step_above(page, 10)
    page.get_by_role("button", name="Pause").click()
    wait_status(page, "paused")
    job_id = playground_run(page)
    path = tmp_path / "own-spec.json"
    path.write_text(httpx.get(f"{live_server.url}/api/jobs/{job_id}/spec").text)
    page.set_input_files("#import-file", str(path))
    page.wait_for_function("document.querySelector('#note').textContent.includes('own-spec.json')")
    note = page.locator("#note").text_content() or ""
    assert "stopped at" not in note, note
    alert = page.locator("#alert-text")
    assert not (alert.is_visible() and "left out" in (alert.text_content() or ""))


def test_a_diverged_runs_counter_and_banner_name_one_step(page: Any, live_server: Any) -> None:
    choose_lesson(page, "lr-too-high")
    page.get_by_role("button", name="Play").click()
    page.get_by_role("alert").filter(has_text="diverged").first.wait_for(timeout=20_000)
    job = httpx.get(f"{live_server.url}/api/jobs/{playground_run(page)}").json()
    banner = page.locator(".output .hm-banner").text_content() or ""
    page.wait_for_function(f"{STEP} === {job['failure']['step']}")
    assert banner == f"Diverged at step {job['failure']['step']:,}"
    assert job["step"] == job["failure"]["step"]
