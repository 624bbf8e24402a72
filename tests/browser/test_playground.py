"""The playground page, clicked through as a person would, against a real server."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from browser_helpers import (
    choose_lesson,
    number,
    pixels,
    settle,
    wait_status,
    wait_step_above,
    wait_step_is,
)

pytestmark = pytest.mark.browser


def test_spiral_preset_trains_live(page: Any) -> None:
    choose_lesson(page, "spiral")
    page.wait_for_function("window.nnplay.frames.boundary !== null")
    settle(page)  # let the first frame paint
    before = pixels(page, ".output .hm-base")
    chart_before = page.evaluate("window.nnplay.curves.loss.length")

    page.get_by_role("button", name="Play").click()

    wait_step_above(page, 50)
    page.wait_for_function("parseFloat(document.querySelector('#test-loss').textContent) < 0.1",
                           timeout=30_000)
    assert number(page, "#test-loss") < 0.1
    # The spiral can be solved within a handful of metrics points: wait for the chart
    # to keep growing rather than sampling it at the instant the loss crossed 0.1.
    page.wait_for_function(f"window.nnplay.curves.loss.length > {chart_before + 5}",
                           timeout=10_000)
    assert page.evaluate("window.nnplay.curves.loss.length") > chart_before + 5
    assert pixels(page, ".output .hm-base") != before
    assert page.get_by_role("status").filter(has_text="training").count() == 1
    page.get_by_role("button", name="Pause").click()
    wait_status(page, "paused")


def test_step_and_keyboard_shortcuts(page: Any) -> None:
    page.get_by_role("button", name="Step").click()
    wait_step_is(page, 1)
    assert page.locator("#step-count").text_content() == "000,001"
    page.locator("#output-title").click()  # a person clicks somewhere neutral, then types
    page.keyboard.press("s")
    wait_step_is(page, 2)
    page.keyboard.press(" ")
    wait_step_above(page, 10)
    page.keyboard.press(" ")
    wait_status(page, "paused")
    page.keyboard.press("r")
    wait_step_is(page, 0)


def test_layers_and_neurons_change_the_diagram(page: Any) -> None:
    neurons = page.locator(".node-hidden")
    start = neurons.count()
    page.get_by_role("button", name="Add a hidden layer").click()
    # A new layer copies the width of the last one (2 units in the default network).
    assert page.get_by_text("3 hidden layers").is_visible()
    assert neurons.count() == start + 2
    page.get_by_role("button", name="Add a neuron to layer 1").click()
    assert neurons.count() == start + 3
    page.get_by_role("button", name="Remove a neuron from layer 3").click()
    assert neurons.count() == start + 2
    # The new network is what the server builds.
    page.get_by_role("tab", name="Layers").click()
    page.wait_for_function("document.querySelectorAll('.layers-table tbody tr').length === 5")


def test_invalid_learning_rate_is_named_next_to_the_field(page: Any) -> None:
    page.get_by_label("Learning rate", exact=True).select_option("custom")
    custom = page.get_by_label("Custom learning rate")
    custom.fill("100")
    custom.press("Enter")
    error = page.locator('[data-field="optimizer.lr"] .field-error')
    error.wait_for()
    assert "optimizer.lr" in error.text_content()
    assert "between" in error.text_content()
    assert custom.get_attribute("aria-invalid") == "true"
    # Fixing the value clears the message.
    custom.fill("0.01")
    custom.press("Enter")
    error.wait_for(state="detached")


def test_batch_larger_than_training_set_is_refused_by_field(page: Any) -> None:
    page.get_by_role("slider", name="Batch size").fill("0")  # 1
    page.get_by_role("slider", name="Samples").fill("0")  # 20 samples, 10 for training
    page.get_by_role("slider", name="Batch size").fill("4")  # 10: still fits
    page.get_by_role("slider", name="Training / test split").fill("10")  # 2 for training
    error = page.locator('[data-field="batch_size"] .field-error')
    error.wait_for()
    assert "batch_size" in error.text_content()


def test_diverged_run_is_shown_prominently(page: Any) -> None:
    choose_lesson(page, "lr-too-high")
    page.get_by_role("button", name="Play").click()
    alert = page.get_by_role("alert").filter(has_text="diverged")
    alert.first.wait_for(timeout=20_000)
    assert "smaller learning rate" in page.locator("#alert-text").text_content()
    assert page.locator(".output .hm-banner").text_content().startswith("Diverged at step")
    assert page.locator("#status").text_content() == "diverged"


def test_shared_link_reproduces_the_settings(page: Any, browser: Any) -> None:
    choose_lesson(page, "xor")
    page.get_by_role("button", name="Add a hidden layer").click()
    page.get_by_label("Dropout after layer 1").select_option("0.2")
    page.get_by_role("switch", name="Feature x₁²").click()
    page.get_by_label("Optimizer", exact=True).select_option("rmsprop")
    page.get_by_role("slider", name="Noise").fill("0.3")
    page.wait_for_function("location.hash.includes('opt=rmsprop') && "
                           "location.hash.includes('noise=0.3')")
    link = page.evaluate("location.href")
    assert urlsplit(link).fragment

    other = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        other.goto(link)
        other.wait_for_function("document.body.classList.contains('ready')")
        for label in ("Optimizer", "Learning rate", "Activation of layer 1",
                      "Dropout after layer 1", "Loss", "Input normalisation", "Init"):
            assert other.get_by_role("combobox", name=label, exact=True).input_value() == \
                page.get_by_role("combobox", name=label, exact=True).input_value(), label
        assert other.locator(".node-hidden").count() == page.locator(".node-hidden").count()
        feature = other.get_by_role("switch", name="Feature x₁²")
        assert feature.get_attribute("aria-checked") == "true"
        assert other.locator('output[for="noise"]').text_content() == "30%"
        dataset = other.get_by_role("radio", name="Exclusive or")
        assert dataset.get_attribute("aria-checked") == "true"
        assert other.locator("#lesson-title").text_content() == "XOR"
    finally:
        other.close()


def test_classroom_link_hides_controls(page: Any, live_server: Any) -> None:
    page.goto(f"{live_server.url}/#data=circle&opt=adam&lr=0.01&hide=optimizer,loss")
    page.wait_for_function("document.body.classList.contains('ready')")
    assert not page.get_by_role("combobox", name="Optimizer").is_visible()
    assert not page.get_by_role("combobox", name="Loss", exact=True).is_visible()
    assert page.get_by_label("Learning rate", exact=True).is_visible()
    assert page.get_by_text("classroom view").is_visible()
    # Hiding layers keeps the diagram but drops its +/- buttons.
    page.goto(f"{live_server.url}/#data=circle&hide=layers")
    page.wait_for_function("document.body.classList.contains('ready')")
    assert page.locator(".node-hidden").first.is_visible()
    assert not page.get_by_role("button", name="Add a hidden layer").is_visible()
    assert not page.get_by_role("button", name="Add a neuron to layer 1").is_visible()
    assert page.get_by_role("radio", name="Circle").get_attribute("aria-checked") == "true"


def test_race_plots_one_labelled_curve_per_run(page: Any) -> None:
    choose_lesson(page, "optimizers")
    items = page.locator("#race-legend .race-item")
    items.first.wait_for()
    labels = [text.strip() for text in page.locator("#race-legend .race-label").all_text_contents()]
    assert labels == ["SGD", "Momentum", "Nesterov", "Adagrad", "Adadelta", "RMSprop", "Adam",
                      "Nadam"]
    assert page.locator("#race-maps figure").count() == 8

    page.get_by_role("button", name="Play").click()
    # Every run trains and reports: each legend entry shows a test loss past step 20.
    page.wait_for_function("""() =>
        window.nnplay.race.runs.every((run) => (run.points.at(-1)?.step ?? 0) > 20)
        && [...document.querySelectorAll('#race-legend .race-value')]
            .every((node) => Number.isFinite(parseFloat(node.textContent)))""", timeout=30_000)
    series = page.evaluate("window.nnplay.race.chart.chart.series.slice(1).map((s) => s.label)")
    assert series == labels
    # Every run has drawn points on the chart.
    assert page.evaluate("""() => window.nnplay.race.chart.data.slice(1)
        .every((ys) => ys.some((y) => y !== null && y !== undefined))""")
    page.get_by_role("button", name="Pause").click()
    page.get_by_role("button", name="Leave race").click()
    page.locator(".output").wait_for()


def test_a_degraded_server_shows_a_banner_until_it_recovers(browser: Any,
                                                             live_server: Any) -> None:
    """/api/health's degraded answer is substituted in the browser; the server side of
    a full disk is tested in tests/api/test_disk_full.py."""
    import json

    state = {"status": "degraded", "reason": "runs cannot be saved: database or disk is full"}
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def health(route: Any) -> None:
        body = {"status": state["status"], "device": "cpu", "torch": "x", "version": "x"}
        if state["status"] == "degraded":
            body["reason"] = state["reason"]
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    try:
        page.route("**/api/health", health)
        page.goto(live_server.url)
        page.wait_for_function("document.body.classList.contains('ready')")
        banner = page.locator("#health-banner")
        banner.wait_for(state="visible")
        assert "disk is full" in banner.inner_text()
        state["status"] = "ok"
        banner.wait_for(state="hidden", timeout=15_000)  # the next poll, within 5 s
        assert errors == []
    finally:
        page.close()


def test_changing_the_optimizer_keeps_the_learning_rate_and_offers_its_suggestion(
        page: Any) -> None:
    rate = page.get_by_label("Learning rate", exact=True)
    rate.select_option("0.3")
    page.get_by_label("Optimizer", exact=True).select_option("adam")
    hint = page.locator("#lr-hint")
    hint.wait_for()
    assert rate.input_value() == "0.3"  # the person's rate is kept
    assert page.evaluate("window.nnplay.state.spec.optimizer.lr") == 0.3
    assert "Use 0.01" in hint.text_content() and "Adam" in hint.text_content()
    page.wait_for_function("location.hash.includes('opt=adam') && location.hash.includes('lr=0.3')")
    hint.get_by_role("button", name="Use 0.01").click()
    page.wait_for_function("location.hash.includes('lr=0.01')")
    assert rate.input_value() == "0.01"
    assert hint.is_hidden()


def test_race_chart_draws_the_metric_its_lesson_names(page: Any) -> None:
    choose_lesson(page, "regularization")
    page.locator("#race-legend .race-item").first.wait_for()
    assert "training loss (dashed)" in page.locator("#race-metric").text_content()
    series = page.evaluate("window.nnplay.race.chart.chart.series.slice(1).map((s) => s.label)")
    assert series[:2] == ["none", "none (train)"] and len(series) == 8
    choose_lesson(page, "losses")
    page.wait_for_function("document.querySelector('#race-metric').textContent === 'Test accuracy'")
    assert page.locator("#race-log").is_disabled()  # accuracy is drawn on a 0..1 axis
    page.get_by_role("button", name="Play").click()
    page.wait_for_function("""() => [...document.querySelectorAll('#race-legend .race-value')]
        .every((node) => node.textContent.endsWith('%'))""", timeout=30_000)
    page.get_by_role("button", name="Pause").click()


def test_an_empty_address_opens_the_starter_lesson(page: Any) -> None:
    assert page.locator("#lesson-title").text_content() == "First steps: a circle"
    assert "Two spirals" in page.locator("#lesson-text").text_content()
    assert page.get_by_role("radio", name="Circle").get_attribute("aria-checked") == "true"
    page.wait_for_function("location.hash.includes('lesson=first-steps')")
