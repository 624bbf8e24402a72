"""The Runs view and spec import, clicked through as a person would, against a real server."""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_helpers import pixels, wait_step_above

from realserver import CLASS_TOKEN, CLASSROOM

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1280, "height": 800}
LABELS = "window.nnplay.runs.compare.chart.chart.series.slice(1).map((s) => s.label)"


def finished_runs(page: Any, url: str, bodies: list[dict[str, Any]],
                  timeout: float = 30.0) -> list[str]:
    """Start runs over REST as the page's own identity (its cookie), and wait until every
    one has completed; returns their ids."""
    cookies = {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}
    ids = []
    for body in bodies:
        response = httpx.post(f"{url}/api/jobs", json=body, cookies=cookies)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        statuses = {httpx.get(f"{url}/api/jobs/{job_id}").json()["status"] for job_id in ids}
        if statuses == {"completed"}:
            return ids
        time.sleep(0.1)
    raise AssertionError(f"runs did not complete: {statuses}")


def row(page: Any, job_id: str) -> Any:
    return page.locator(f'#runs-table tbody tr[data-id="{job_id}"]')


def row_order(page: Any, *ids: str) -> list[str]:
    """The given runs in the order the table shows them."""
    shown: list[str] = page.eval_on_selector_all(
        "#runs-table tbody tr", "rows => rows.map((r) => r.dataset.id)")
    return [job_id for job_id in shown if job_id in ids]


def open_runs_view(page: Any) -> None:
    page.get_by_role("navigation", name="Views").get_by_role("link", name="Runs").click()
    page.locator("#runs-view").wait_for()
    assert "view=runs" in page.url


def test_runs_table_compare_open_rename_export_delete(page: Any, live_server: Any) -> None:
    tag = uuid.uuid4().hex[:6]
    name = f"runs-{tag}"
    sgd, adam = finished_runs(page, live_server.url, [
        {"preset": "circle", "overrides": {"max_steps": 200, "name": name}},
        {"preset": "circle", "overrides": {"max_steps": 200, "name": name,
                                           "optimizer": {"name": "adam", "lr": 0.01}}},
    ])
    open_runs_view(page)
    row(page, sgd).wait_for()
    row(page, adam).wait_for()
    for job_id, optimizer in ((sgd, "SGD"), (adam, "Adam")):
        cells = row(page, job_id).locator("td")
        texts = [text.strip() for text in cells.all_text_contents()]
        assert name in texts[1]
        assert texts[2] == "Circle"
        assert texts[3] == "4 tanh → 2 tanh"
        assert texts[4] == optimizer
        assert texts[7] == "completed"
        assert texts[9].endswith("%") and float(texts[9].rstrip("%")) > 50

    # Sorting: by optimizer, ascending then descending.
    optimizer_head = page.get_by_role("columnheader", name="Optimizer")
    optimizer_head.get_by_role("button").click()
    assert optimizer_head.get_attribute("aria-sort") == "ascending"
    assert row_order(page, sgd, adam) == [adam, sgd]
    optimizer_head.get_by_role("button").click()
    assert optimizer_head.get_attribute("aria-sort") == "descending"
    assert row_order(page, sgd, adam) == [sgd, adam]

    # Filtering: every word must match; the SGD run drops out.
    search = page.get_by_role("searchbox", name="Filter runs")
    search.fill(f"{tag} adam")
    row(page, sgd).wait_for(state="detached")
    assert row(page, adam).is_visible()
    search.fill(tag)
    row(page, sgd).wait_for()
    assert page.locator("#runs-table tbody tr").count() == 2

    # Two ticked runs: one chart, two labelled curves (same names told apart by optimizer).
    row(page, sgd).get_by_role("checkbox").check()
    row(page, adam).get_by_role("checkbox").check()
    page.wait_for_function(f"{LABELS}.length === 2")
    assert page.evaluate(LABELS) == [f"{name} · SGD", f"{name} · Adam"]
    page.wait_for_function("""() => window.nnplay.runs.compare.chart.data.slice(1)
        .every((ys) => ys.some((y) => y !== null && y !== undefined))""")
    assert page.locator("#compare-legend li").count() == 2

    # Open one: its final boundary comes over the websocket and is drawn.
    row(page, sgd).get_by_role("button", name=name).click()
    detail = page.locator("#run-detail")
    detail.wait_for()
    page.wait_for_function("""() => {
        const c = document.querySelector('#run-detail .hm-base');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true;
        return false;
    }""")
    assert any(value != 0 for value in pixels(page, "#run-detail .hm-base"))
    assert "SGD, lr 0.1" in (detail.locator("#run-spec").text_content() or "")

    # Rename in place.
    new_name = f"renamed-{tag}"
    detail.get_by_role("button", name="Rename").click()
    field = detail.get_by_role("textbox", name="Run name")
    field.fill(new_name)
    field.press("Enter")
    row(page, sgd).get_by_role("button", name=new_name).wait_for()
    assert httpx.get(f"{live_server.url}/api/jobs/{sgd}").json()["name"] == new_name

    # Export links: the routes, and each answers with a file.
    expected = {
        "Metrics CSV": f"/api/jobs/{sgd}/metrics?format=csv",
        "Weights (.safetensors)": f"/api/jobs/{sgd}/weights",
        "ONNX": f"/api/jobs/{sgd}/onnx",
        "Spec JSON": f"/api/jobs/{sgd}/spec",
    }
    for label, href in expected.items():
        link = detail.get_by_role("link", name=label)
        assert link.get_attribute("href") == href
        assert link.get_attribute("download") is not None
        response = page.request.get(f"{live_server.url}{href}")
        assert response.status == 200, label
        assert len(response.body()) > 0
    csv = page.request.get(f"{live_server.url}{expected['Metrics CSV']}").text()
    assert csv.startswith("step,")
    spec = page.request.get(f"{live_server.url}{expected['Spec JSON']}").json()
    assert spec["dataset"]["name"] == "circle"
    assert spec["optimizer"]["name"] == "sgd"

    # Delete, after saying yes.
    detail.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete run").click()
    row(page, sgd).wait_for(state="detached")
    assert detail.is_hidden()
    assert httpx.get(f"{live_server.url}/api/jobs/{sgd}").status_code == 404
    assert row(page, adam).is_visible()

    # The other run's settings go into the playground, ready to train again.
    row(page, adam).get_by_role("button", name=name).click()
    load = detail.get_by_role("button", name="Load into playground")
    page.wait_for_function("!document.querySelector('#run-load').disabled")
    load.click()
    page.locator(".workspace").wait_for()
    assert page.get_by_role("radio", name="Circle").get_attribute("aria-checked") == "true"
    assert page.get_by_label("Optimizer", exact=True).input_value() == "adam"
    assert page.get_by_label("Learning rate", exact=True).input_value() == "0.01"


def test_runs_view_has_its_own_address_and_keeps_the_playground(page: Any,
                                                                 live_server: Any) -> None:
    page.goto(f"{live_server.url}/?view=runs#data=xor&lr=0.1&opt=sgd")
    page.wait_for_function("document.body.classList.contains('ready')")
    assert page.locator("#runs-view").is_visible()
    assert not page.locator(".workspace").is_visible()
    playground = page.get_by_role("navigation", name="Views").get_by_role("link", name="Playground")
    playground.click()
    page.locator(".workspace").wait_for()
    assert "view=runs" not in page.url
    assert page.get_by_role("radio", name="Exclusive or").get_attribute("aria-checked") == "true"
    assert page.get_by_label("Learning rate", exact=True).input_value() == "0.1"
    # The share link holds the experiment, never the view.
    assert "view=" not in page.evaluate("window.nnplay.share.link([])")
    # Back goes to the runs again; the playground's settings stay.
    page.go_back()
    page.locator("#runs-view").wait_for()
    page.go_forward()
    page.locator(".workspace").wait_for()
    assert page.get_by_label("Learning rate", exact=True).input_value() == "0.1"


def test_imported_spec_loads_into_the_playground_and_trains(page: Any, live_server: Any,
                                                             tmp_path: Path) -> None:
    # A run's exported spec, as a person would have downloaded it.
    (job_id,) = finished_runs(page, live_server.url, [
        {"preset": "xor", "overrides": {"max_steps": 50, "optimizer": {"name": "adam", "lr": 0.003},
                                        "batch_size": 20}}])
    path = tmp_path / "xor-spec.json"
    path.write_text(httpx.get(f"{live_server.url}/api/jobs/{job_id}/spec").text)

    page.set_input_files("#import-file", str(path))
    page.wait_for_function("document.querySelector('#lr').value === '0.003'")
    assert page.get_by_role("radio", name="Exclusive or").get_attribute("aria-checked") == "true"
    assert page.get_by_label("Optimizer", exact=True).input_value() == "adam"
    assert page.locator('output[for="batch"]').text_content() == "20"
    assert "xor-spec.json" in (page.locator("#note").text_content() or "")
    page.wait_for_function("document.querySelector('#status').textContent === 'ready'")
    page.get_by_role("button", name="Play").click()
    wait_step_above(page, 20)
    page.get_by_role("button", name="Pause").click()


def test_refused_spec_file_is_explained(page: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"dataset": {"name": "circle"}, "optimizer": {"lr": 100}}))
    page.set_input_files("#import-file", str(bad))
    alert = page.locator("#alert-text")
    page.wait_for_function("document.querySelector('#alert-text').textContent.includes('bad.json')")
    text = alert.text_content() or ""
    assert "refused" in text and "optimizer.lr" in text and "between" in text
    # The controls kept their values.
    assert page.get_by_label("Learning rate", exact=True).input_value() != "100"

    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    page.set_input_files("#import-file", str(broken))
    page.wait_for_function("document.querySelector('#alert-text').textContent.includes('broken.json')")
    assert "not JSON" in (alert.text_content() or "")


def test_interrupted_run_resumes_from_the_runs_view(browser: Any,
                                                    server_factory: Callable[..., Any]) -> None:
    # Jobs on threads (a server that starts faster), checkpointed often.
    env = {"NNPLAY_WORKERS": "0", "NNPLAY_CHECKPOINT_INTERVAL": "0.2"}
    first = server_factory(env=env)
    owner = httpx.Client()  # the run's identity, handed to the browser below
    job_id = owner.post(f"{first.url}/api/jobs", json={
        "preset": "circle", "overrides": {"max_steps": 100_000, "name": "cut short"}}).json()["id"]
    checkpoint = first.data_dir / "checkpoints" / f"{job_id}.pt"
    deadline = time.monotonic() + 20
    while httpx.get(f"{first.url}/api/jobs/{job_id}").json()["step"] < 200 \
            or not checkpoint.exists():  # trained, and a checkpoint is written
        assert time.monotonic() < deadline, "the run did not train and save a checkpoint"
        time.sleep(0.05)
    first.stop(signal.SIGTERM)
    again = server_factory(env=env, data_dir=first.data_dir)

    context = browser.new_context(viewport=VIEWPORT)
    # The same identity as the one that started the run (it survives the restart).
    context.add_cookies([{"name": cookie.name, "value": cookie.value, "url": again.url}
                         for cookie in owner.cookies.jar])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{again.url}/?view=runs")
        page.get_by_role("button", name="cut short").click()
        detail = page.locator("#run-detail")
        detail.get_by_role("status").filter(has_text="interrupted").wait_for()
        detail.get_by_role("button", name="Resume").click()
        detail.get_by_role("status").filter(has_text="training").wait_for()
        stored = httpx.get(f"{again.url}/api/jobs/{job_id}").json()["step"]
        page.wait_for_function(f"Number(document.querySelector('#run-steps').textContent"
                               f".replace(/,/g, '')) > {stored + 50}")
        assert not detail.get_by_role("button", name="Resume").is_visible()
        response = httpx.post(f"{again.url}/api/jobs/{job_id}/stop", cookies=owner.cookies)
        assert response.status_code == 200, response.text
    finally:
        context.close()
        owner.close()
    assert not errors, errors


def test_someone_elses_run_is_read_only(page: Any, live_server: Any) -> None:
    # Another person's run (another identity: a client without the page's cookie).
    name = f"theirs-{uuid.uuid4().hex[:6]}"
    response = httpx.post(f"{live_server.url}/api/jobs", json={
        "preset": "circle", "overrides": {"max_steps": 100, "name": name}})
    assert response.status_code == 201, response.text
    job_id = response.json()["id"]
    (mine,) = finished_runs(page, live_server.url, [
        {"preset": "circle", "overrides": {"max_steps": 100, "name": f"mine-{name}"}}])
    open_runs_view(page)
    row(page, job_id).locator(".run-tag.read-only").wait_for()
    assert not row(page, mine).locator(".run-tag.read-only").is_visible()
    page.get_by_role("button", name=name, exact=True).click()
    detail = page.locator("#run-detail")
    detail.locator("#run-read-only").wait_for()
    for label in ("Rename", "Delete", "Resume"):
        assert not detail.get_by_role("button", name=label).is_visible()
    # Its curves still show: watching is allowed.
    page.wait_for_function("Number(document.querySelector('#run-steps').textContent"
                           ".replace(/,/g, '')) > 0")
    page.get_by_role("button", name=f"mine-{name}", exact=True).click()
    detail.get_by_role("button", name="Delete").wait_for()
    assert not detail.locator("#run-read-only").is_visible()


def test_the_class_link_opens_the_page_and_leaves_the_address_bar(
        browser: Any, shared_server: Callable[[dict[str, str]], Any]) -> None:
    token = CLASS_TOKEN
    server = shared_server(CLASSROOM)  # tests/api/test_security.py's: no fresh state needed
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{server.url}/?token={token}")
        page.wait_for_function("document.body.classList.contains('ready')")
        assert "token" not in page.url
        cookie = next(c for c in context.cookies() if c["name"] == "nnplay_token")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
        # The page trains over its websocket with nothing but the cookie.
        page.wait_for_function("document.querySelector('#status').textContent === 'ready'")
        page.get_by_role("button", name="Play").click()
        wait_step_above(page, 20)
        page.get_by_role("button", name="Pause").click()
        # A browser without the link is sent to the teacher.
        stranger = browser.new_page()
        try:
            response = stranger.goto(server.url)
            assert response.status == 401
            assert "Ask your teacher for the link" in stranger.content()
        finally:
            stranger.close()
    finally:
        context.close()
    assert not errors, errors
