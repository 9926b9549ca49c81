"""A mutational fuzzer over the samples, and over a valid ONNX model edited toward the hostile classes: every
mutant gets a clean answer (a report or an ``InspectorError``) within the time and memory ``examine`` allows.

The suite runs a fixed, reproducible set of examples.  ``INSPECTOR_FUZZ_EXAMPLES=N`` runs N random ones per
test instead (README, "Hostile input"); whatever it finds becomes a corpus case.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.hostile.case import examine_clean
from tests.hostile.model_mutations import mutated_models
from tests.hostile.mutations import mutated_bytes, mutated_configs, write_with_config

LONG_RUN = int(os.environ.get("INSPECTOR_FUZZ_EXAMPLES", "0"))
FUZZ = settings(
    max_examples=LONG_RUN or 200,
    derandomize=not LONG_RUN,
    deadline=None,  # examine() enforces its own time limit
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """A folder for the mutants (module-scoped: hypothesis runs many examples per test call)."""
    return tmp_path_factory.mktemp("mutants")


def _fresh(scratch: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=scratch))


@FUZZ
@given(mutant=mutated_bytes())
def test_byte_mutants_get_a_clean_answer(scratch, mutant):
    sample, data = mutant
    path = _fresh(scratch) / sample.name
    path.write_bytes(data)
    examine_clean(path)


@FUZZ
@given(mutant=mutated_configs())
def test_config_mutants_get_a_clean_answer(scratch, mutant):
    sample, config = mutant
    examine_clean(write_with_config(sample, config, _fresh(scratch)))


@FUZZ
@given(build=mutated_models())
def test_model_mutants_get_a_clean_answer(scratch, build):
    folder = _fresh(scratch) / "model"
    folder.mkdir()
    examine_clean(build(folder))
