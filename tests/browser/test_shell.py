"""The lab shell (frontend/js/shell.js, lab.js) against a real server: switching labs keeps each
lab's run and keys, a failed run's banner comes from its structured `failure`, and the share
link's layer codec round-trips every catalog layer type."""

from __future__ import annotations

from typing import Any

import pytest
from browser_helpers import choose_lesson, wait_status, wait_step_is

pytestmark = pytest.mark.browser

GAN = "window.nnplay.gan"
GAN_STEP = "Number(document.querySelector('#gan-step-count').textContent.replace(/,/g, ''))"


def test_switching_labs_keeps_runs_and_sends_keys_to_the_lab_shown(page: Any) -> None:
    """Keys go to the lab shown only; each lab keeps its run across a switch and back."""
    page.get_by_role("button", name="Step").click()
    wait_step_is(page, 1)
    playground_job = page.evaluate("window.nnplay.session.job.id")

    page.get_by_role("link", name="GAN lab").click()
    page.wait_for_function(f"{GAN} && {GAN}.session.job && document.querySelector('#gan-status')"
                           ".textContent === 'ready'")
    menu = page.get_by_label("Lesson").locator("optgroup").first
    assert menu.get_attribute("label") == "GAN lessons"
    page.locator("#gan-readout").click()  # somewhere neutral, then type
    page.keyboard.press("s")
    page.wait_for_function(f"{GAN_STEP} === 1")
    page.keyboard.press("d")  # the GAN lab's own key: one discriminator iteration
    page.wait_for_function(f"{GAN_STEP} === 2")
    # The playground did not take the keys.
    assert page.evaluate("window.nnplay.session.job.step") == 1

    page.get_by_role("link", name="Playground").click()
    page.wait_for_function("document.querySelector('#playground').hidden === false")
    assert page.evaluate("window.nnplay.session.job.id") == playground_job
    assert page.get_by_label("Lesson").locator("optgroup").first.get_attribute("label") == "Lessons"
    page.locator("#output-title").click()
    page.keyboard.press("s")
    wait_step_is(page, 2)
    page.keyboard.press("r")
    wait_step_is(page, 0)
    assert page.evaluate(f"{GAN}.session.job.step") == 2


def test_failure_banner_names_the_step_from_the_failure_field(page: Any) -> None:
    """A diverging run's banner and pill come from `failure` (kind, step), not from its sentence."""
    choose_lesson(page, "lr-too-high")
    page.get_by_role("button", name="Play").click()
    wait_status(page, "diverged")
    failure = page.evaluate("window.nnplay.session.job.failure")
    assert failure["kind"] == "diverged"
    banner = page.locator(".output .hm-banner").text_content()
    assert banner == f"Diverged at step {failure['step']:,}"
    assert page.locator("#alert").is_visible()
    # The other lab's alert line is its own.
    page.get_by_role("link", name="GAN lab").click()
    page.wait_for_function(f"{GAN} && {GAN}.session.job")
    assert page.locator("#gan-alert").is_hidden()


def test_share_link_round_trips_every_layer_type(page: Any) -> None:
    """Every catalog layer type (and one it does not list yet, lstm) survives encode -> decode."""
    result = page.evaluate("""async () => {
        const { layerCodec } = await import('/js/layercodec.js');
        const catalog = await (await fetch('/api/catalog')).json();
        const codec = layerCodec(catalog.layer_types);
        const sample = (control) => (control.type === 'choice' ? control.choices.at(-1)
            : control.type === 'bool' ? !control.default
            : control.type === 'float'
                ? Math.round(((control.min ?? 0) + (control.max ?? 1)) * 50) / 100
            : (control.max ?? 3));
        const layers = catalog.layer_types.flatMap((t) => [
            { type: t.name },
            Object.fromEntries([['type', t.name], ...t.controls.map((c) => [c.name, sample(c)])]),
        ]);
        layers.push({ type: 'lstm', units: 16 },
                    { type: 'conv2d', filters: 8, kernel_size: 3 },
                    { type: 'maxpool2d', kernel_size: 2, stride: 1 });
        const text = codec.encode(layers);
        return { text, layers, back: codec.decode(text),
                 old: codec.decode('8.tanh,4,d0.3,bn,flat,mp2,ap3,c8k3s1p0.relu') };
    }""")
    assert result["back"] == result["layers"], result["text"]
    assert "lstm(units.16)" in result["text"]
    assert "undefined" not in result["text"]
    # Old links decode as before; the short forms stay for the layers they describe.
    assert result["old"] == [
        {"type": "dense", "units": 8, "activation": "tanh"},
        {"type": "dense", "units": 4, "activation": "tanh"},
        {"type": "dropout", "p": 0.3}, {"type": "batchnorm"}, {"type": "flatten"},
        {"type": "maxpool2d", "kernel_size": 2}, {"type": "avgpool2d", "kernel_size": 3},
        {"type": "conv2d", "filters": 8, "kernel_size": 3, "stride": 1, "padding": 0,
         "activation": "relu"},
    ]
    assert result["text"].startswith("dense(),")


def test_gan_link_keeps_a_convolutional_discriminator(page: Any) -> None:
    """A GAN link whose discriminator holds conv/pool layers opens with them unchanged."""
    link = "?view=gan#data=digits&d=conv2d(filters.4~kernel_size.3~padding.1),mp2,flat,32.relu"
    page.goto(page.url.split("?")[0].split("#")[0] + link)
    page.wait_for_function("document.body.classList.contains('ready')")
    page.wait_for_function(f"{GAN} && {GAN}.state.spec.discriminator.layers.length === 4")
    layers = page.evaluate(f"{GAN}.state.spec.discriminator.layers")
    assert layers[:2] == [{"type": "conv2d", "filters": 4, "kernel_size": 3, "padding": 1},
                          {"type": "maxpool2d", "kernel_size": 2}]
    page.wait_for_function(f"{GAN}.written !== ''")
    written = page.evaluate(f"decodeURIComponent({GAN}.written)")
    assert "d=conv2d(filters.4~kernel_size.3~padding.1),mp2,flat,32.relu" in written


def test_layer_rows_are_built_from_the_catalog_controls(page: Any) -> None:
    """GAN builder rows follow the catalog (labels, ladder, choices); any type gets controls."""
    page.get_by_role("link", name="GAN lab").click()
    page.wait_for_function(f"{GAN} && {GAN}.session.job")
    page.get_by_role("button", name="More neurons in D layer 1").click()
    page.wait_for_function(f"{GAN}.state.spec.discriminator.layers[0].units === 48")
    page.get_by_label("Activation of D layer 1").select_option(label="Tanh")
    page.wait_for_function(f"{GAN}.state.spec.discriminator.layers[0].activation === 'tanh'")
    labels = page.evaluate("""async () => {
        const { layerControls } = await import('/js/layerrow.js');
        const type = { name: 'lstm', controls: [
            { name: 'units', type: 'int', default: 8, min: 1, max: 64 },
            { name: 'bidirectional', type: 'bool', default: false },
            { name: 'cell', type: 'choice', choices: ['lstm', 'gru'], default: 'lstm' }] };
        const changes = [];
        const row = layerControls({ type: 'lstm', units: 64 }, type,
            { name: 'layer 1', key: 0, onChange: (f, v) => changes.push([f, v]) });
        row[0].querySelector('[aria-label="Fewer neurons in layer 1"]').click();
        const more = row[0].querySelector('[aria-label="More neurons in layer 1"]');
        return { changes, upOff: more.disabled, count: row.length,
                 choices: [...row[2].options].map((o) => o.value) };
    }""")
    assert labels == {"changes": [["units", 63]], "upOff": True, "count": 3,
                      "choices": ["lstm", "gru"]}
