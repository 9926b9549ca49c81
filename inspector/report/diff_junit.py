"""``inspect diff --junit FILE``: one test case per matched layer and per layer left without a partner, so CI
systems list each one; a case fails with the filters (or outputs) that do not agree."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from inspector.report.diff_text import filter_line
from inspector.report.visible import visible
from inspector.validation.model_diff import DiffResult


def _failure(case: ET.Element, message: str, text: str) -> None:
    child = ET.SubElement(case, "failure", message=visible(message), type="diff")
    child.text = visible(text) if text else None


def diff_junit(result: DiffResult) -> str:
    """The JUnit XML document of ``result``."""
    suite_name = visible(f"{result.path_a} ↔ {result.path_b}")
    root = ET.Element("testsuites", name="conv-inspector diff")
    suite = ET.SubElement(root, "testsuite", name=suite_name)
    failures = 0
    for layer in result.layers:
        case = ET.SubElement(suite, "testcase", classname=suite_name, name=visible(f"{layer.a} ↔ {layer.b}"))
        if layer.agrees:
            continue
        failures += 1
        lines = [filter_line(item) for item in layer.weights.filters if not item.agrees]
        if layer.weights.problem:
            lines.insert(0, layer.weights.problem)
        if layer.output is not None and not layer.output.agrees:
            lines.append(
                f"outputs differ by {layer.output.max_abs:.3g}, {layer.output.used:.3g} × what rounding explains"
            )
        _failure(case, lines[0], "\n".join(lines))
    for side, names in (("A", result.only_a), ("B", result.only_b)):
        for name, op in names:
            failures += 1
            case = ET.SubElement(suite, "testcase", classname=suite_name, name=visible(name))
            _failure(case, f"{op} only in {side}: no layer of the other model holds its values", "")
    for final in result.final:
        case = ET.SubElement(suite, "testcase", classname=suite_name, name=visible(f"graph output {final.a}"))
        if not final.agrees:
            failures += 1
            told = f"differs by {final.max_abs:.3g}, past the {final.tolerance:.3g} the matched convs explain"
            _failure(case, told, "")
    tests = len(result.layers) + len(result.only_a) + len(result.only_b) + len(result.final)
    for element in (suite, root):
        element.set("tests", str(tests))
        element.set("failures", str(failures))
        element.set("errors", "0")
        element.set("skipped", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
