"""The JSON report's schema: a valid draft 2020-12 schema, shipped in the package, printed by ``inspect --schema``,
and followed by the report of every sample (with ``--validate``, ``--layer`` and ``--filter`` too)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

import inspector
from inspector.cli.main import main
from inspector.report.json_report import SCHEMA_VERSION, json_document, schema, schema_text
from inspector.report.model_report import inspect_model
from tests.conftest import SAMPLES, report_json
from tests.test_cli import run

PACKAGE_SCHEMA = Path(inspector.__file__).resolve().parent / "report" / "schema.json"
EVERY_SAMPLE = sorted(
    path.relative_to(SAMPLES).as_posix()
    for pattern in ("*.onnx", "*.h5", "*.keras", "keras/*.onnx", "keras/*.h5", "keras/*.keras")
    for path in SAMPLES.glob(pattern)
)
VALIDATED = [
    "seed.onnx",  # captured, passes
    "broken_grouped.onnx",  # an error layer
    "conv_in_if.onnx",  # a conv in an If body
    "quantized.onnx",  # exact comparison of integer outputs
    "keras/k2_lambda_layer.h5",  # standalone, one layer at a placeholder input size
    "keras/k3_depthwise_separable.keras",
]


def _objects(node, where="#"):
    """Every subschema of ``node`` that is a dict, with where it sits."""
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from _objects(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _objects(value, f"{where}/{index}")


def test_the_schema_is_a_valid_draft_2020_12_schema():
    document = schema()
    Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["$id"].endswith(f":{SCHEMA_VERSION}")
    assert document["$defs"]["report"]["properties"]["schema_version"] == {"const": SCHEMA_VERSION}


def test_the_schema_is_package_data():
    assert schema_text() == PACKAGE_SCHEMA.read_text(encoding="utf-8")
    pyproject = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    assert '"report/schema.json"' in pyproject


def test_closed_objects_require_every_field():
    # A field of the document is always there (null when it does not apply): only --layer and --filter add fields.
    optional = {"#/$defs/report": {"explanation", "filters"}}
    listed = [(where, node) for where, node in _objects(schema()) if "required" in node]
    assert len(listed) >= 15
    for where, node in listed:
        assert set(node["required"]) <= set(node["properties"]), where
        assert set(node["properties"]) - set(node["required"]) == optional.get(where, set()), where
    for where, node in _objects(schema()):
        if node.get("additionalProperties") is False or node.get("unevaluatedProperties") is False:
            assert "required" in node or "$ref" in node, f"{where} is closed but requires nothing"


def test_inspect_schema_prints_it(capsys):
    assert main(["--schema"]) == 0
    printed = capsys.readouterr().out
    assert printed == schema_text() and json.loads(printed) == schema()


def test_inspect_schema_from_the_shell_and_to_a_file(tmp_path):
    result = run("--schema")
    assert result.returncode == 0 and result.stderr == ""
    assert json.loads(result.stdout)["$id"] == schema()["$id"]
    target = tmp_path / "report.schema.json"
    assert main(["--schema", "--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == schema_text()


def test_schema_with_a_model_is_a_usage_error():
    result = run("--schema", str(SAMPLES / "seed.onnx"))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == "inspect: error: --schema prints the JSON report's schema and takes no MODEL\n"


def test_no_model_is_still_a_usage_error():
    result = run()
    assert result.returncode == 2 and "the following arguments are required: MODEL" in result.stderr


@pytest.mark.parametrize("sample", EVERY_SAMPLE)
def test_every_sample_follows_the_schema(capsys, sample):
    assert main([str(SAMPLES / sample), "--format", "json"]) in (0, 1)
    document = report_json(capsys.readouterr().out)
    assert isinstance(document, dict) and document["validation"] is None


@pytest.mark.parametrize("sample", VALIDATED)
def test_validated_samples_follow_the_schema(capsys, sample):
    assert main([str(SAMPLES / sample), "--validate", "--threads", "1", "--format", "json"]) in (0, 1)
    document = report_json(capsys.readouterr().out)
    assert document["validation"]["layers"]


def test_every_status_and_mode_occurs_in_the_validated_samples(capsys):
    # The schema's conditional parts (skipped layers, standalone ones) are exercised, not only declared.
    seen = set()
    for sample in VALIDATED:
        main([str(SAMPLES / sample), "--validate", "--threads", "1", "--format", "json"])
        for layer in report_json(capsys.readouterr().out)["validation"]["layers"]:
            seen |= {layer["status"], layer["mode"], layer["tolerance"], layer["placeholder_input"]}
    assert {"passed", "error", "captured", "standalone", "exact", True} <= seen


def test_layer_filters_and_several_models_follow_the_schema(capsys):
    argv = [str(SAMPLES / "seed.onnx"), "--layer", "conv2", "--filter", "conv2:5", "--filter", "conv1:0"]
    assert main([*argv, "--format", "json"]) == 0
    document = report_json(capsys.readouterr().out)
    assert [f["channel"] for f in document["filters"]] == [5, 0] and len(document["explanation"]["text"]) > 1
    assert main([str(SAMPLES / "seed.onnx"), "--layer", "relu1", "--format", "json"]) == 0
    assert report_json(capsys.readouterr().out)["explanation"]["filter_stats"] is None
    assert main([str(SAMPLES / "seed.onnx"), str(SAMPLES / "broken_grouped.onnx"), "--format", "json"]) == 1
    assert len(report_json(capsys.readouterr().out)) == 2


def test_the_python_document_is_the_printed_one(capsys):
    report = inspect_model(SAMPLES / "grouped.onnx")
    assert main([str(SAMPLES / "grouped.onnx"), "--filter", "grouped:5", "--format", "json"]) == 0
    assert report_json(json_document([report], filters=[("grouped", 5)])) == json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda d: d.update(extra=1), "Additional properties"),
        (lambda d: d.update(schema_version=2), "1 was expected"),
        (lambda d: d["layers"][0].update(kind="pool"), "is not one of"),
        (lambda d: d["layers"][0].pop("macs"), "'macs' is a required property"),
        (lambda d: d["layers"][0].update(constant=None), "is not of type 'boolean'"),
        (lambda d: d["layers"][0].update(colour="red"), "Unevaluated properties"),
        (lambda d: d["layers"][0].update(kernel_shape=[3, "3"]), "is not of type 'integer'"),
        (lambda d: d["findings"].append({"severity": "fatal"}), "is not one of"),
        (lambda d: d["model"]["inputs"][0].update(shape=[None, 1]), "is not of type 'integer', 'string'"),
    ],
)
def test_the_schema_rejects_what_the_report_never_holds(capsys, change, complaint):
    assert main([str(SAMPLES / "seed.onnx"), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    report_json(document)
    broken = copy.deepcopy(document)
    change(broken)
    with pytest.raises(AssertionError, match=complaint):
        report_json(broken)


def test_findings_data_is_free_form(capsys):
    assert main([str(SAMPLES / "broken_grouped.onnx"), "--format", "json"]) == 1
    document = report_json(capsys.readouterr().out)
    document["findings"][0]["data"] = {"anything": [1, {"nested": None}]}
    report_json(document)


def test_nan_is_not_json():
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        report_json({"schema_version": float("nan")})
    with pytest.raises(AssertionError, match="holds NaN"):
        report_json('{"schema_version": NaN}')


def test_a_failed_layer_follows_the_schema(capsys):
    assert main([str(SAMPLES / "seed.onnx"), "--validate", "--atol", "0", "--threads", "1", "--format", "json"]) == 1
    layers = report_json(capsys.readouterr().out)["validation"]["layers"]
    assert {layer["status"] for layer in layers} == {"failed"}
    assert all(layer["passed"] is False and layer["failed_channels"] for layer in layers)
