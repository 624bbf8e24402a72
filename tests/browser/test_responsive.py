"""Every view at phone, tablet and laptop widths: no sideways scrolling, a toolbar menu on
phones, a diagram that scrolls in its own box, and text that can be read (contrast)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_helpers import settle

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

WIDTHS = (360, 390, 768, 1024, 1280)  # 1280: a laptop, where the top bar is one row
SCREENSHOT_WIDTHS = (390, 768)
LAB_WIDTHS = (390, 768)  # the CNN and RNN labs
OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"
# The elements wider than the window, for a failure message that names the culprit.
CULPRITS = """() => [...document.querySelectorAll('body *')].filter((el) => {
    const r = el.getBoundingClientRect();
    return r.width && r.right > window.innerWidth + 1 && el.offsetParent !== null;
}).slice(0, 8).map((el) => `${el.tagName.toLowerCase()}#${el.id}.${el.className}`)"""
# WCAG contrast of an element's text against the first opaque background behind it.
CONTRAST = """(el) => {
    const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
    const lum = ([r, g, b]) => {
        const f = (c) => {
            c /= 255;
            return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
        };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    let node = el, back = null;
    while (node && node.nodeType === 1) {
        const c = rgb(getComputedStyle(node).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3] === 1)) { back = c; break; }
        node = node.parentElement;
    }
    back = back || [255, 255, 255];
    const style = getComputedStyle(el);
    const fore = rgb(style.color);
    const alpha = fore.length === 4 ? fore[3] : 1;
    // an element faded with opacity shows its colour mixed into the background
    let opacity = 1;
    for (let n = el; n && n.nodeType === 1; n = n.parentElement) {
        opacity *= Number(getComputedStyle(n).opacity);
    }
    const a = alpha * opacity;
    const seen = fore.slice(0, 3).map((c, i) => c * a + back[i] * (1 - a));
    const [hi, lo] = [lum(seen), lum(back)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
}"""


@pytest.fixture(scope="module")
def finished_run(live_server: Any) -> str:
    """One completed run, for the run-detail view."""
    body = {"preset": "circle", "overrides": {"max_steps": 100, "name": "narrow"}}
    response = httpx.post(f"{live_server.url}/api/jobs", json=body)
    assert response.status_code == 201, response.text
    job_id: str = response.json()["id"]
    deadline = time.monotonic() + 30
    while httpx.get(f"{live_server.url}/api/jobs/{job_id}").json()["status"] != "completed":
        assert time.monotonic() < deadline, "the run did not complete"
        time.sleep(0.1)
    return job_id


@pytest.fixture
def narrow(browser: Any, live_server: Any) -> Iterator[Any]:
    """Open pages at a given width (height 800) that fail the test if the page raises."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_at(width: int, query: str = "") -> Any:
        context = browser.new_context(viewport={"width": width, "height": 800})
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/{query}")
        page.wait_for_function("document.body.classList.contains('ready')")
        return page

    yield open_at
    for context in contexts:
        context.close()
    assert not errors, f"the page raised: {errors}"


def assert_fits(page: Any, where: str) -> None:
    """The page is no wider than the window (no sideways scrolling)."""
    settle(page)  # resize observers re-lay the diagram and charts
    overflow = page.evaluate(OVERFLOW)
    assert overflow <= 0, f"{where}: {overflow}px too wide, from {page.evaluate(CULPRITS)}"


def shoot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"responsive-{name}.png"), full_page=True)


def show_view(page: Any, view: str) -> None:
    """Switch the page to `view` with its tab, as a click does (no reload; on a phone the
    tabs sit behind the toolbar menu, so the click is sent from the page)."""
    page.evaluate("(view) => document.querySelector(`#view-${view}`).click()", view)
    page.wait_for_function("(view) => document.body.dataset.view === view", arg=view)


@pytest.mark.parametrize("width", WIDTHS)
def test_no_view_scrolls_sideways(narrow: Any, finished_run: str, width: int) -> None:
    # One page per width, its views shown in turn. The CNN and RNN labs (the slowest to
    # draw) are checked at a phone's and a tablet's width; the other views at every width.
    views = ["playground", "gan", "runs"]
    if width in LAB_WIDTHS:
        views[2:2] = ["cnn", "rnn"]
    page = narrow(width)
    for view in views:
        show_view(page, view)
        if view == "gan":
            page.wait_for_function("window.nnplay.gan && window.nnplay.gan.frames.fake")
        if view == "cnn":  # its kernels, feature maps and test images drawn
            page.wait_for_function("window.nnplay.cnn && window.nnplay.cnn.frames.feature_maps"
                                   " && document.querySelector('#cnn-test-images canvas')")
        if view == "rnn":  # the unfolded network and the hidden state drawn
            page.wait_for_function("window.nnplay.rnn && window.nnplay.rnn.frames.hidden_state")
        assert_fits(page, f"{view} at {width}px")
        if width > 640:  # the view tabs are in the bar (not the phone menu): one line each
            heights = page.evaluate(
                "[...document.querySelectorAll('.view-tab')].map(t => t.offsetHeight)")
            assert max(heights) <= 30, f"{view} at {width}px: a view tab wraps {heights}"
        if width in SCREENSHOT_WIDTHS:
            shoot(page, f"{view}-{width}")
    # The run detail, opened from the table.
    page.locator(f'#runs-table tbody tr[data-id="{finished_run}"] .run-open').click()
    page.locator("#run-detail").wait_for()
    page.wait_for_function("document.querySelector('#run-detail .hm-base') !== null")
    assert_fits(page, f"run detail at {width}px")
    if width in SCREENSHOT_WIDTHS:
        shoot(page, f"run-detail-{width}")


@pytest.mark.parametrize("width", (390, 768))
def test_race_keeps_a_usable_chart(narrow: Any, width: int) -> None:
    page = narrow(width)
    if width < 640:
        page.get_by_role("button", name="Menu").click()
    page.locator("#lesson-menu").select_option("learning-rates")
    page.locator("#race-legend .race-item").first.wait_for()
    settle(page)
    assert_fits(page, f"race at {width}px")
    chart = page.locator("#race-chart").bounding_box()
    legend = page.locator("#race-legend").bounding_box()
    assert chart["width"] >= 300, f"the race chart is {chart['width']}px wide"
    assert legend["y"] >= chart["y"] + chart["height"] - 1, "the legend should sit below the chart"
    shoot(page, f"race-{width}")


def test_phone_toolbar_menu_reaches_share_and_import(narrow: Any) -> None:
    page = narrow(390)
    menu = page.get_by_role("button", name="Menu")
    share = page.get_by_role("button", name="Share")
    assert menu.get_attribute("aria-expanded") == "false"
    assert not share.is_visible()
    menu.focus()
    page.keyboard.press("Enter")  # keyboard accessible
    assert menu.get_attribute("aria-expanded") == "true"
    assert share.is_visible()
    assert page.get_by_role("button", name="Import spec").is_visible()
    assert page.locator("#lesson-menu").is_visible()
    box = share.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    share.click()
    assert page.locator("#share-dialog").is_visible()
    assert page.locator("#share-url").input_value().startswith("http")
    page.get_by_role("button", name="Close", exact=True).click()
    # Escape closes the menu and gives the focus back to its button.
    menu.click()
    assert share.is_visible()
    page.keyboard.press("Escape")
    assert menu.get_attribute("aria-expanded") == "false"
    assert not share.is_visible()
    # The lesson menu works from inside it, and picking a lesson closes the menu.
    menu.click()
    shoot(page, "menu-390")
    assert_fits(page, "menu open at 390px")
    page.locator("#lesson-menu").select_option("spiral")
    page.wait_for_function("document.querySelector('#status').textContent !== 'preparing…'")
    assert menu.get_attribute("aria-expanded") == "false"


def test_tablet_toolbar_shows_share_and_import(narrow: Any) -> None:
    page = narrow(768)
    assert not page.get_by_role("button", name="Menu").is_visible()
    for name in ("Share", "Import spec"):
        box = page.get_by_role("button", name=name).bounding_box()
        assert box is not None and box["x"] + box["width"] <= 768, name
    # Layer headers of the diagram (their "- 4 neurons +" steppers) do not overlap.
    page.get_by_role("button", name="Add a hidden layer").click()
    settle(page)
    heads = page.eval_on_selector_all("#network .net-head-layer .stepper",
                                      "els => els.map((e) => e.getBoundingClientRect().toJSON())")
    assert len(heads) == 3
    for left, right in itertools.pairwise(heads):
        assert left["x"] + left["width"] <= right["x"] + 1, (left, right)


def test_phone_diagram_scrolls_in_its_own_box(narrow: Any) -> None:
    page = narrow(390)
    page.get_by_role("button", name="Add a hidden layer").click()
    settle(page)
    box = page.locator("#network")
    sizes = box.evaluate("el => [el.scrollWidth, el.clientWidth, getComputedStyle(el).overflowX]")
    assert sizes[0] > sizes[1] and sizes[2] == "auto", sizes
    box.evaluate("el => { el.scrollLeft = el.scrollWidth; }")
    assert box.evaluate("el => el.scrollLeft") > 0
    assert_fits(page, "diagram at 390px")
    # The panels stack: data above network above output.
    tops = [page.locator(s).bounding_box()["y"] for s in ("#data-panel", ".network", ".output")]
    assert tops == sorted(tops), tops
    assert page.locator("#data-panel").bounding_box()["width"] > 300


def test_faint_text_is_readable(narrow: Any) -> None:
    """Inactive features, heatmap axis numbers, chart axis numbers and captions: >= 4.5:1."""
    page = narrow(1280)
    page.wait_for_function("document.querySelector('.hm-axis span') !== null")
    elements = {
        "inactive feature": "#network .node-label.off",
        "heatmap axis number": ".output .hm-axis span",
        "run caption": ".net-head-note",
        "muted label": "#step-label",
        "chart axis number": "#loss-chart .u-axis",
    }
    ratios = {}
    for name, selector in elements.items():
        ratios[name] = page.locator(selector).first.evaluate(CONTRAST)
    page.goto(page.url.split("#")[0].split("?")[0] + "?view=gan")
    page.wait_for_function("document.body.classList.contains('ready') && window.nnplay.gan")
    for name, selector in {"GAN caption": ".gan-flow", "GAN params": ".gan-params",
                           "GAN layer header": ".gan-layer-head"}.items():
        if page.locator(selector).count():
            ratios[name] = page.locator(selector).first.evaluate(CONTRAST)
    low = {name: round(ratio, 2) for name, ratio in ratios.items() if ratio < 4.5}
    assert not low, f"contrast below 4.5:1: {low}"
