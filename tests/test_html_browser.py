"""HTML reports opened in a real browser: headless Chromium (the system's, Debian's ``chromium`` package) driven by
Playwright.  Pages of the samples and of a 50-layer model render with no console error and no request beyond the
file itself; every conv layer has its section, its filter grid decoded (naturalWidth > 0) and visible, its charts
drawn; every in-page link has a target; sorting the layer table by a column orders its rows.

Skipped, with the reason, only where no Chromium is installed (``.ci/run`` installs it where it can).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper

import inspector
from inspector.errors import FilterError
from inspector.model.common import Model
from inspector.report.html_report import write_html
from tests.test_html_report import save

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
ONNX_SAMPLES = sorted(SAMPLES.glob("*.onnx"))
KERAS_SAMPLES = [
    SAMPLES / "keras" / name
    for name in ("k3_conv2d_family.keras", "k2_depthwise_separable.h5", "k3_conv3d_family.keras", "k3_transpose.keras")
]
CHROMIUM = next(
    (found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))), None
)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


class Opened:
    """A page opened from disk, with what the browser said and asked for while loading it."""

    def __init__(self, browser, path: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1200, "height": 900})
        self.messages: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.messages.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda error: self.messages.append(f"pageerror: {error}"))
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.goto(path.resolve().as_uri(), wait_until="load")
        self.url = path.resolve().as_uri()

    def close(self) -> None:
        self.page.close()


def filters_shown(model: Model) -> list[bool]:
    """For each conv layer, whether it has stored filters to draw."""
    shown = []
    for layer in model.conv_layers:
        try:
            shown.append(layer.as_matrix().size > 0)
        except FilterError:
            shown.append(False)
    return shown


def check_page(browser, html: Path, model: Model) -> Opened:
    """Open ``html`` and check what every page must show; returns the open page for more checks."""
    opened = Opened(browser, html)
    page = opened.page
    assert opened.messages == [], f"{html.name}: the browser said {opened.messages}"
    assert [url for url in opened.requests if not url.startswith("data:")] == [opened.url], "loads nothing else"
    sections = page.locator("section.layer")
    assert sections.count() == len(model.conv_layers)
    for index, has_filters in enumerate(filters_shown(model)):
        section = sections.nth(index)
        assert section.is_visible()
        name = section.locator("h3").inner_text()
        assert name.startswith(model.conv_layers[index].name)
        grids = section.locator("img.grid")
        assert grids.count() == int(has_filters), f"{html.name}: {name}"
        if has_filters:
            grid = grids.first
            grid.scroll_into_view_if_needed()
            assert grid.is_visible()
            assert grid.evaluate("img => img.complete && img.naturalWidth > 0 && img.naturalHeight > 0")
            for chart in ("svg.bars", "svg.histogram"):
                box = section.locator(chart).bounding_box()
                assert box is not None and box["width"] > 0 and box["height"] > 0
    missing = page.evaluate(
        "() => Array.from(document.querySelectorAll('a[href^=\"#\"]'))"
        ".map(a => a.getAttribute('href').slice(1)).filter(id => !document.getElementById(id))"
    )
    assert missing == [], f"{html.name}: links to no element: {missing}"
    return opened


@pytest.mark.parametrize("path", ONNX_SAMPLES + KERAS_SAMPLES, ids=lambda p: p.name)
def test_sample_report_renders(browser, tmp_path, path):
    report = inspector.inspect_model(path)
    with report.model:
        out = tmp_path / "report.html"
        write_html([report], out)
        check_page(browser, out, report.model).close()


def fifty_layers(path: Path) -> Path:
    """50 chained convs: 3×3, 1×1 and 5×5 kernels, strides, dilations, grouped and depthwise layers, 4 to 48
    channels, one dead filter in layer 10."""
    rng = np.random.default_rng(50)
    nodes, weights, channels, x = [], {}, 4, "image"
    for index in range(50):
        out = (8, 16, 24, 48)[index % 4]
        kernel = (3, 1, 5)[index % 3]
        groups = channels if index % 7 == 6 and out % channels == 0 else (2 if index % 5 == 4 else 1)
        weight = rng.standard_normal((out, channels // groups, kernel, kernel)) * np.sqrt(2 / (channels * kernel**2))
        if index == 10:
            weight[1] = 0
        name = f"block{index // 5}.conv{index % 5}"
        weights[f"{name}.W"], weights[f"{name}.B"] = weight.astype(np.float32), np.zeros(out, np.float32)
        attributes = {"pads": [kernel // 2] * 4, "group": groups}
        if index % 9 == 8:
            attributes["dilations"] = [2, 2]
            attributes["pads"] = [2 * (kernel // 2)] * 4
        nodes.append(helper.make_node("Conv", [x, f"{name}.W", f"{name}.B"], [name], name=name, **attributes))
        x, channels = name, out
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 4, 16, 16])
    return save(path, nodes, [image], [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)], weights)


def column(page, table: str, heading: int) -> list[str]:
    return page.evaluate(
        "([table, heading]) => Array.from(document.getElementById(table).tBodies[0].rows)"
        ".map(row => row.cells[heading].getAttribute('data-sort') ?? row.cells[heading].textContent.trim())",
        [table, heading],
    )


def test_fifty_layer_report_with_validation_renders_and_sorts(browser, tmp_path):
    model_path = fifty_layers(tmp_path / "fifty.onnx")
    out = tmp_path / "fifty.html"
    env = {**os.environ, "PYTHONUTF8": "1"}
    command = [sys.executable, "-m", "inspector", str(model_path), "-q", "--validate", "--html", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    with inspector.load(model_path) as model:
        assert len(model.conv_layers) == 50
        opened = check_page(browser, out, model)
    page = opened.page
    assert page.locator("#m0-error-chart circle").count() == 50
    assert page.locator("#m0-error-chart").is_visible()
    assert "dead (all zero): 1" in page.locator("#m0-layer-10").inner_text()

    headings = page.locator("#m0-layers thead th")
    params = next(i for i in range(headings.count()) if headings.nth(i).inner_text().strip() == "params")
    before = [int(v) for v in column(page, "m0-layers", params)]
    headings.nth(params).click()
    ascending = [int(v) for v in column(page, "m0-layers", params)]
    assert ascending == sorted(before) and ascending != before
    headings.nth(params).click()
    assert [int(v) for v in column(page, "m0-layers", params)] == sorted(before, reverse=True)
    headings.nth(1).click()  # by name, as text
    names = column(page, "m0-layers", 1)
    assert names == sorted(names, key=str.lower)
    assert page.locator("#m0-layers th[aria-sort]").count() == 1

    grid = page.locator("#m0-layer-10 img.grid")
    zoom = int(grid.get_attribute("data-zoom"))
    grid.hover(position={"x": 1.5 * zoom, "y": 1.5 * zoom})  # the first weight of the first tile
    assert page.locator("#m0-layer-10 .readout").inner_text().startswith("F(0, 0)")
    assert opened.messages == []
    opened.close()


def test_two_models_share_one_page(browser, tmp_path):
    reports = [inspector.inspect_model(SAMPLES / name) for name in ("seed.onnx", "grouped.onnx")]
    out = tmp_path / "two.html"
    write_html(reports, out)
    opened = Opened(browser, out)
    page = opened.page
    assert opened.messages == []
    assert page.locator("h1").all_inner_texts() == [str(SAMPLES / "seed.onnx"), str(SAMPLES / "grouped.onnx")]
    duplicated = page.evaluate(
        "() => { const ids = Array.from(document.querySelectorAll('[id]'), e => e.id);"
        " return ids.filter((id, i) => ids.indexOf(id) !== i); }"
    )
    assert duplicated == []
    counts = [len(report.model.conv_layers) for report in reports]
    assert [page.locator(f"section.layer[id^=m{k}-]").count() for k in range(2)] == counts
    for report in reports:
        report.model.close()
    opened.close()
