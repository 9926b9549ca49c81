"""NumPy's OpenBLAS runs on one thread while the engine recomputes layers (two layers at a time), and on as many
as before afterwards."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import inspector
from inspector.validation import blas_threads as module
from inspector.validation.blas_threads import blas_threads, blas_threads_now
from tests.conftest import SAMPLES

BUNDLED = sorted((Path(np.__file__).resolve().parent.parent / "numpy.libs").glob("*openblas*"))


def test_numpys_bundled_openblas_is_found():
    """NumPy's Linux wheels bundle OpenBLAS in ``numpy.libs``: when it is there, its thread count can be read."""
    assert BUNDLED, "this NumPy has no bundled OpenBLAS (installed from a wheel?)"
    assert blas_threads_now() is not None and blas_threads_now() >= 1


def test_the_count_is_set_inside_the_block_and_restored(monkeypatch):
    before = blas_threads_now()
    with blas_threads(1):
        assert blas_threads_now() == 1
        np.ones((64, 64)) @ np.ones((64, 64))
    assert blas_threads_now() == before
    seen = []
    real = module.blas_threads

    def spy(count):
        seen.append((count, blas_threads_now()))
        return real(count)

    monkeypatch.setattr("inspector.validation.run.blas_threads", spy)
    assert inspector.validate(SAMPLES / "seed.onnx").passed
    assert seen == [(1, before)] and blas_threads_now() == before


def test_layers_recomputed_on_two_threads_give_what_one_thread_gives(monkeypatch):
    """Captured layers are recomputed two at a time; the results, and their order, are those of one at a time."""
    path = SAMPLES / "strided_padded.onnx"
    monkeypatch.setattr("inspector.validation.run.RERUN_THREADS", 1)
    alone = inspector.validate(path)
    monkeypatch.setattr("inspector.validation.run.RERUN_THREADS", 2)
    paired = inspector.validate(path)
    assert [layer.name for layer in paired.layers] == [layer.name for layer in alone.layers]
    assert [layer.comparison for layer in paired.layers] == [layer.comparison for layer in alone.layers]
    assert paired.passed and {layer.mode for layer in paired.layers} == {"captured"}
