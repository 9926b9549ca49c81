"""The whole hostile corpus: every builder module's cases, names unique."""

from __future__ import annotations

from tests.hostile import (
    corpus_files,
    corpus_found,
    corpus_keras_config,
    corpus_keras_h5,
    corpus_keras_sizes,
    corpus_keras_zip,
    corpus_names,
    corpus_onnx_data,
    corpus_onnx_graph,
)
from tests.hostile.case import Case

MODULES = (
    corpus_files,
    corpus_onnx_data,
    corpus_onnx_graph,
    corpus_keras_config,
    corpus_keras_h5,
    corpus_keras_sizes,
    corpus_keras_zip,
    corpus_found,
    corpus_names,
)


def all_cases() -> list[Case]:
    """Every case of every corpus module, in a stable order."""
    cases = [item for module in MODULES for item in module.cases()]
    names = [item.name for item in cases]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    assert not duplicates, f"corpus cases share names: {duplicates}"
    return cases
