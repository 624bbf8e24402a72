"""The RNN lab, clicked through as a person would, against a real server."""

from __future__ import annotations

from typing import Any

import pytest
from browser_helpers import pixels, settle

pytestmark = pytest.mark.browser

LAB = "window.nnplay.rnn"
STEP = "Number(document.querySelector('#rnn-step-count').textContent.replace(/,/g, ''))"
STATUS = "document.querySelector('#rnn-status').textContent"


def open_lab(page: Any) -> None:
    """Go to the RNN lab from the top bar and wait until its run is ready with its frames."""
    page.get_by_role("link", name="RNN lab").click()
    page.wait_for_function(f"{LAB} && document.querySelector('#rnn-view').hidden === false")
    assert "view=rnn" in page.url
    wait_ready(page)


def wait_ready(page: Any) -> None:
    """Wait until the run for the settings is parked with its first frames drawn."""
    page.wait_for_function(f"!{LAB}.reloadTimer && !{LAB}.session.loading && {STATUS} === 'ready'"
                           f" && {LAB}.frames.hidden_state && {LAB}.frames.sequence")
    settle(page)  # the frames paint


def train(page: Any, steps: int) -> None:
    """Play until the step counter passes `steps`, then pause."""
    page.locator("#rnn-play").click()
    page.wait_for_function(f"{STEP} > {steps}", timeout=30_000)
    page.locator("#rnn-play").click()
    page.wait_for_function(f"{STATUS} === 'paused'")


def test_pick_a_cell_train_and_watch_the_hidden_state_and_prediction(page: Any) -> None:
    open_lab(page)
    # An LSTM instead of the plain RNN: the stack follows, and its gates appear.
    page.get_by_role("radio", name="LSTM").click()
    page.wait_for_function(f"{LAB}.state.spec.model.layers[0].type === 'lstm'")
    wait_ready(page)
    page.wait_for_function(f"{LAB}.frames.gates && {LAB}.frames.gates.header.names.length === 4")
    hidden_before = pixels(page, "#rnn-hidden canvas")
    train(page, 300)
    settle(page)
    assert pixels(page, "#rnn-hidden canvas") != hidden_before, "the hidden state did not change"
    # The sine's next value is learned: the prediction at the last step meets the target.
    sequence = page.evaluate(f"Array.from({LAB}.frames.sequence.data)")
    time = len(sequence) // 3
    target, prediction = sequence[time + time - 1], sequence[2 * time + time - 1]
    assert abs(target - prediction) < 0.1, (target, prediction)
    assert page.locator("#rnn-gates canvas").count() == 4
    # Pointing at a step reads out its values.
    page.locator("#rnn-unfolded svg").hover(position={"x": 100, "y": 60})
    readout = "document.querySelector('.unfold-readout').textContent"
    page.wait_for_function(f"{readout}.startsWith('t = ')")
    # The free-running continuation is drawn after the probe.
    page.get_by_role("button", name="Continue on its own").click()
    page.wait_for_function(f"{LAB}.continuation && {LAB}.continuation.values.length === {time}")


def test_text_lesson_writes_with_the_sonnets_characters(page: Any) -> None:
    open_lab(page)
    page.get_by_label("Lesson").select_option("char-rnn")
    page.wait_for_function(f"{LAB}.lesson === 'char-rnn'"
                           f" && {LAB}.state.spec.dataset.name === 'text'")
    wait_ready(page)
    train(page, 20)
    page.wait_for_function(f"{LAB}.frames.sample && {LAB}.frames.sample.header.text.length > 0")
    page.get_by_role("button", name="Write 200 characters").click()
    page.wait_for_function("document.querySelector('#rnn-generated').textContent.length >= 200")
    written = page.locator("#rnn-generated").text_content()
    assert page.locator("#rnn-generated").get_attribute("data-tone") != "bad", written


def test_share_link_restores_the_lab_and_a_race_lesson_has_its_board(page: Any,
                                                                     browser: Any) -> None:
    open_lab(page)
    page.get_by_role("radio", name="GRU").click()
    page.get_by_label("Sequence length (time steps)").select_option("30")
    page.wait_for_function("location.hash.includes('len=30') && location.hash.includes('gru')")
    link = page.evaluate(f"{LAB}.shareLink([])")
    other = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    other.goto(link)
    other.wait_for_function("document.body.classList.contains('ready')")
    other.wait_for_function(f"{LAB} && {LAB}.session.job")
    assert "view=rnn" in other.url
    assert other.evaluate(f"{LAB}.state.spec.model.layers[0].type") == "gru"
    assert other.evaluate(f"{LAB}.state.spec.dataset.seq_len") == 30
    assert other.get_by_role("radio", name="GRU").get_attribute("aria-checked") == "true"
    other.context.close()
    # The memory race: RNN, GRU and LSTM in a board.
    page.get_by_label("Lesson").select_option("memory")
    board = page.locator("#rnn-race")
    board.wait_for()
    assert board.locator(".race-entry").count() == 3
    board.get_by_role("button", name="LSTM").click()
    page.wait_for_function(f"{LAB}.state.spec.model.layers[0].type === 'lstm'")
