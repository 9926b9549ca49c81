"""The HTML report (``inspect --html``) read as a file: self-contained, deterministic, escaped, small, and saying
what the models hold (expected values from how each test model was built, colours from the scale's definition).

Pages are also opened in a real browser: tests/test_html_browser.py.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import re
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

import inspector
from inspector.cli.main import main
from inspector.report.html_report import render_html
from inspector.report.model_report import Report

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
EXTRA = "pip install 'conv-inspector[html]'"


def save(path: Path, nodes, inputs, outputs, weights: dict[str, np.ndarray]) -> Path:
    """An ONNX model built with onnx.helper (IR 10, opset 17)."""
    initializers = [numpy_helper.from_array(value, name) for name, value in weights.items()]
    graph = helper.make_graph(nodes, path.stem, inputs, outputs, initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10
    onnx.save(model, path)
    return path


def one_conv(path: Path, weight: np.ndarray, name: str = "conv", size: int = 8) -> Path:
    """``x → Conv(weight, pads 0) → y`` for a 2-D ``weight`` (out, in, kh, kw)."""
    cin = weight.shape[1]
    return save(
        path,
        [helper.make_node("Conv", ["x", "W"], ["y"], name=name)],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        {"W": weight.astype(np.float32)},
    )


def resnet50(path: Path, size: int = 64, seed: int = 0) -> Path:
    """ResNet-50's 53 convs in its topology (bottlenecks joined by Add, no batch norm), He-scaled random weights."""
    rng = np.random.default_rng(seed)
    nodes, weights = [], {}

    def conv(x: str, cout: int, cin: int, k: int, stride: int, name: str) -> str:
        weights[f"{name}.W"] = (rng.standard_normal((cout, cin, k, k)) * np.sqrt(2 / (cin * k * k))).astype(np.float32)
        weights[f"{name}.B"] = np.zeros(cout, np.float32)
        nodes.append(
            helper.make_node(
                "Conv", [x, f"{name}.W", f"{name}.B"], [name], name=name, strides=[stride] * 2, pads=[k // 2] * 4
            )
        )
        return name

    def relu(x: str) -> str:
        nodes.append(helper.make_node("Relu", [x], [f"{x}.relu"], name=f"{x}.relu"))
        return f"{x}.relu"

    x, cin = relu(conv("image", 64, 3, 7, 2, "conv1")), 64
    for stage, (blocks, width, stride) in enumerate(((3, 64, 1), (4, 128, 2), (6, 256, 2), (3, 512, 2)), 1):
        for b in range(blocks):
            step, prefix = (stride if b == 0 else 1), f"layer{stage}.{b}"
            shortcut = conv(x, width * 4, cin, 1, step, f"{prefix}.downsample") if b == 0 else x
            y = relu(conv(x, width, cin, 1, 1, f"{prefix}.conv1"))
            y = relu(conv(y, width, width, 3, step, f"{prefix}.conv2"))
            y = conv(y, width * 4, width, 1, 1, f"{prefix}.conv3")
            nodes.append(helper.make_node("Add", [y, shortcut], [f"{prefix}.add"], name=f"{prefix}.add"))
            x, cin = relu(f"{prefix}.add"), width * 4
    return save(
        path,
        nodes,
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)],
        weights,
    )


def run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def pictures(page: str) -> list[Image.Image]:
    """The filter grids of a page, decoded."""
    found = re.findall(r'<img class="grid" src="data:image/png;base64,([^"]+)"', page)
    return [Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB") for data in found]


def test_page_is_written_self_contained_and_deterministic(tmp_path, capsys):
    first, second = tmp_path / "a.html", tmp_path / "b.html"
    assert run([str(SAMPLES / "seed.onnx"), "--html", str(first)], capsys)[0] == 0
    assert run([str(SAMPLES / "seed.onnx"), "-q", "--html", str(second)], capsys)[0] == 0
    page = first.read_text(encoding="utf-8")
    assert first.read_bytes() == second.read_bytes()
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)|@import|url\((?!#)|<link\b""", page), "loads nothing"
    assert re.findall(r"<script\b[^>]*>", page) == ["<script>"], "one inline script, no src"
    assert re.findall(r'<section class="layer" id="([^"]+)"', page) == ["m0-layer-0", "m0-layer-2"]
    assert len(pictures(page)) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.html", "b.html"]  # no temporary file left


def test_names_from_the_file_are_escaped(tmp_path):
    hostile = '<script>alert("x")</script>&\x1b[2J'
    path = one_conv(tmp_path / "names.onnx", np.ones((2, 1, 3, 3)), name=hostile)
    page = render_html([inspector.inspect_model(path)])
    assert "<script>alert" not in page and "\x1b" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;\\x1b[2J" in page


def test_text_from_the_file_never_drives_the_terminal_or_the_page(tmp_path):
    """Hostile text in every kind of name the page shows: node, tensors, graph input, a symbolic dim, producer."""
    hostile = '<b>"&\x1b[2J\u202e'
    conv = helper.make_node("Conv", [f"x{hostile}", f"w{hostile}"], [f"y{hostile}"], name=f"conv{hostile}")
    graph = helper.make_graph(
        [conv],
        f"g{hostile}",
        [helper.make_tensor_value_info(f"x{hostile}", TensorProto.FLOAT, [f"N{hostile}", 1, 8, 8])],
        [helper.make_tensor_value_info(f"y{hostile}", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), f"w{hostile}")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)
    model.producer_name = f"p{hostile}"
    onnx.save(model, tmp_path / "hostile.onnx")
    page = render_html([inspector.inspect_model(tmp_path / "hostile.onnx")])
    assert "\x1b" not in page and "\u202e" not in page and "<b>" not in page
    shown = "&lt;b&gt;&#34;&amp;\\x1b[2J\\u202e"
    for text in (f"conv{shown}", f"x{shown}", f"N{shown}", f"p{shown}"):
        assert text in page, text


def test_grid_colours_follow_the_scale(tmp_path):
    # filter 0 = [+1, 0, -1] (the layer's largest magnitude is 1), filter 1 = [NaN, 0, 0]
    weight = np.array([[[[1.0, 0.0, -1.0]]], [[[np.nan, 0.0, 0.0]]]])
    page = render_html([inspector.inspect_model(one_conv(tmp_path / "scale.onnx", weight))])
    (grid,) = pictures(page)
    assert grid.size == (1 + 4, 1 + 2 * 2)  # one 1×3 tile per row, one grey pixel around each
    red, white, blue, magenta, grey = (178, 24, 43), (247, 247, 247), (33, 102, 172), (230, 0, 230), (150, 150, 150)
    assert [grid.getpixel((x, 1)) for x in range(5)] == [grey, red, white, blue, grey]
    assert [grid.getpixel((x, 3)) for x in range(5)] == [grey, magenta, white, white, grey]
    assert {grid.getpixel((x, y)) for x in range(5) for y in (0, 2, 4)} == {grey}
    assert "Colour scale ±1." in page


def test_a_big_layer_is_shown_by_the_stated_rule(tmp_path):
    weight = np.random.default_rng(1).standard_normal((100, 40, 1, 1))
    page = render_html([inspector.inspect_model(one_conv(tmp_path / "big.onnx", weight))])
    (grid,) = pictures(page)
    assert grid.size == (1 + 32 * 2, 1 + 64 * 2)
    assert "filters 0…63 of 100 and, of each, the first 32 of the 40 input maps it reads" in page
    assert "4,000 weights in" in page  # the histogram counts every weight
    assert "L2 norm of each of the 100 filters" in page


def flagged_weight() -> np.ndarray:
    weight = np.random.default_rng(2).standard_normal((16, 3, 3, 3))
    weight[3] = 0  # dead
    weight[5] = weight[4]  # a duplicate of filter 4
    weight[7] *= 0.01  # 100× smaller than the others: crushed by per-tensor int8
    return weight


def test_flagged_filters_are_marked_and_findings_link_to_their_layer(tmp_path, capsys):
    out = tmp_path / "flagged.html"
    path = one_conv(tmp_path / "flagged.onnx", flagged_weight(), name="stem")
    assert run([str(path), "-q", "--html", str(out)], capsys)[0] == 0
    page = out.read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", "", page)
    assert "dead (all zero): 3." in text
    assert "duplicate (equal to another filter bit for bit): 4, 5." in text
    assert "out of range (per-tensor int8 would crush it): 7." in text
    assert re.search(r'\[dead_filter\]\s*<a href="#m0-layer-0">stem</a>', page)
    assert 'id="m0-layer-0"' in page


def test_failed_validation_names_its_channels(tmp_path):
    weight = np.random.default_rng(3).standard_normal((8, 4, 3, 3)).astype(np.float32)
    original = one_conv(tmp_path / "original.onnx", weight, name="c")
    faulty = weight.copy()
    faulty[[2, 5]] *= 2.0  # what onnxruntime runs differs in filters 2 and 5
    mutated = one_conv(tmp_path / "mutated.onnx", faulty, name="c")
    model = dataclasses.replace(inspector.load(original), path=str(mutated))
    result = inspector.validate(model)
    report = Report.build(model, []).with_validation(result)
    page = render_html([report])
    assert "failed output channels: 2, 5" in page
    assert '<circle class="dot-failed"' in page
    assert "0 of 1 conv layer match onnxruntime, 1 failed" in page


def test_no_weights_shows_no_filters(tmp_path, capsys):
    out = tmp_path / "r.html"
    assert run([str(SAMPLES / "seed.onnx"), "-q", "--no-weights", "--html", str(out)], capsys)[0] == 0
    page = out.read_text(encoding="utf-8")
    assert page.count("weights not read (--no-weights): no filters to show") == 2
    assert not pictures(page)


def test_resnet50_page_is_under_5_mb(tmp_path, capsys):
    path = resnet50(tmp_path / "resnet50.onnx")
    out = tmp_path / "resnet50.html"
    code, _, _ = run([str(path), "-q", "--validate", "--html", str(out)], capsys)
    assert code == 0
    page = out.read_text(encoding="utf-8")
    size = out.stat().st_size
    print(f"ResNet-50 (53 convs) report: {size / 2**20:.2f} MiB")
    assert size <= 5 * 10**6
    assert page.count('<section class="layer"') == 53 and len(pictures(page)) == 53
    assert page.count("<circle ") == 53


def test_missing_extra_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "jinja2", None)  # import jinja2 raises ImportError
    out = tmp_path / "r.html"
    code, stdout, stderr = run([str(SAMPLES / "seed.onnx"), "--html", str(out)], capsys)
    assert code == 2 and not stdout and not out.exists()
    assert stderr.count("\n") == 1 and EXTRA in stderr and stderr.startswith("inspect: error: --html needs")


def test_unwritable_target_is_one_line_and_exit_2(tmp_path, capsys):
    out = tmp_path / "missing-folder" / "r.html"
    code, _, stderr = run([str(SAMPLES / "seed.onnx"), "-q", "--html", str(out)], capsys)
    assert code == 2 and stderr.count("\n") == 1 and str(out) in stderr and "Traceback" not in stderr
