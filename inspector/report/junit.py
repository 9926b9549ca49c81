"""Reports as JUnit XML, so CI systems list every conv layer as a test case.

One ``<testsuite>`` per model, one ``<testcase>`` per conv layer (and per other layer, or the model as a
whole, when a check fails there).  A case holds at most one outcome: ``<error>`` when onnxruntime or the
engine refuses the layer, else ``<failure>`` when validation or another check fails (every message in its
text), else ``<skipped>`` when validation could not run the layer.  Names and messages from the file are
made visible (``\\x1b``): XML 1.0 has no way to write most control characters, not even as references.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from inspector.report.model_report import Report
from inspector.report.visible import visible

MODEL_CASE = "(model)"


def _outcome(report: Report, name: str | None) -> tuple[str, str, str, str] | None:
    """``(element, type, message, text)`` of the case of layer ``name`` (``None``: the model); ``None`` if it passed."""
    findings = [f for f in report.findings if f.layer == name and f.severity == "error"]
    validated = None if report.validation is None or name is None else report.validation.get(name)
    text = "\n".join(visible(f"[{f.check}] {f.message}") for f in findings)
    kinds = ",".join(dict.fromkeys(f.check for f in findings))
    if validated is not None and validated.status == "error":
        message = visible(validated.message)
        return "error", kinds or "validation", message, text or message
    if findings:
        return "failure", kinds, text.splitlines()[0], text
    if validated is not None and validated.status == "skipped":
        return "skipped", "validation", visible(validated.message), ""
    return None


def _suite(report: Report) -> ET.Element:
    model = report.model
    failing = {f.layer for f in report.findings if f.severity == "error"}
    convs = {layer.name for layer in model.conv_layers}
    names: list[str | None] = [None] if None in failing else []
    names += [layer.name for layer in model.layers if layer.name in failing | convs]
    path = visible(model.path)
    suite = ET.Element("testsuite", name=path)
    counts = {"failure": 0, "error": 0, "skipped": 0}
    for name in names:
        case = ET.SubElement(suite, "testcase", classname=path, name=MODEL_CASE if name is None else visible(name))
        outcome = _outcome(report, name)
        if outcome is None:
            continue
        element, kind, message, text = outcome
        counts[element] += 1
        child = ET.SubElement(case, element, message=message, type=visible(kind))
        child.text = text or None
    suite.set("tests", str(len(names)))
    suite.set("failures", str(counts["failure"]))
    suite.set("errors", str(counts["error"]))
    suite.set("skipped", str(counts["skipped"]))
    return suite


def junit_xml(reports: Sequence[Report]) -> str:
    """The JUnit XML document of ``reports``."""
    root = ET.Element("testsuites", name="conv-inspector")
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for report in reports:
        suite = _suite(report)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
