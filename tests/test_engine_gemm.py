"""The engine's GEMM road at its default block sizes: more output channels than positions (the GEMM taken as
positions x channels), 1x1 without padding (no column buffer), and images that need several blocks.

Expected values come from a hand-written reference (``sliding_window_view`` patches contracted with ``einsum`` in
float64) and from onnxruntime, each element within the worst-case rounding bound of its sum.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from inspector.engine import flat_correlation
from inspector.engine.numpy_conv import conv, conv_magnitude
from tests.test_numpy_conv_properties import run_onnxruntime

U64, U32 = 2.0**-53, 2.0**-24


def reference(x: np.ndarray, w: np.ndarray, bias: np.ndarray, stride: int, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """A 2-D conv with one group and its magnitude ``conv(|x|, |w|) + |b|``, in float64."""
    padded = np.pad(x.astype(np.float64), [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    patches = sliding_window_view(padded, w.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    weights = w.astype(np.float64)
    y = np.einsum("nchwij,ocij->nohw", patches, weights) + bias.reshape(1, -1, 1, 1)
    magnitude = np.einsum("nchwij,ocij->nohw", np.abs(patches), np.abs(weights)) + np.abs(bias).reshape(1, -1, 1, 1)
    return y, magnitude


CASES = {
    # name: x shape, w shape, stride, pad
    "512 channels on 7x7": ((1, 64, 7, 7), (512, 64, 3, 3), 1, 1),
    "1x1 without padding": ((2, 96, 20, 20), (40, 96, 1, 1), 1, 0),
    "1x1 stride 2, more channels than positions": ((1, 64, 9, 9), (200, 64, 1, 1), 2, 0),
    "several blocks of columns": ((1, 128, 150, 40), (8, 128, 3, 3), 1, 1),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("accumulate", [np.float64, None])
def test_gemm_road_matches_reference_and_onnxruntime(name: str, accumulate) -> None:
    x_shape, w_shape, stride, pad = CASES[name]
    rng = np.random.default_rng(len(name))
    x = rng.standard_normal(x_shape, dtype=np.float32)
    w = rng.standard_normal(w_shape, dtype=np.float32)
    bias = rng.standard_normal(w_shape[0], dtype=np.float32)
    geometry = {"strides": [stride] * 2, "pads": [pad] * 4}
    got = conv(x, w, bias, accumulate=accumulate, **geometry)
    want, magnitude = reference(x, w, bias, stride, pad)
    assert got.shape == want.shape
    terms = int(np.prod(w_shape[1:])) + 1
    unit = U64 if accumulate is np.float64 else U32
    bound = terms * unit / (1 - terms * unit) * magnitude
    einsum_bound = terms * U64 / (1 - terms * U64) * magnitude  # the reference's own rounding
    assert (np.abs(got - want) <= bound + einsum_bound).all()
    runtime = run_onnxruntime("Conv", {"x": x, "w": w, "b": bias}, **geometry)
    runtime_bound = terms * U32 / (1 - terms * U32) * magnitude
    assert (np.abs(got.astype(np.float64) - runtime) <= bound + runtime_bound).all()


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("accumulate", [np.float64, np.float32])
def test_weights_converted_a_block_of_rows_at_a_time(monkeypatch, name: str, accumulate) -> None:
    """Weights narrower than the sums, or taken as ``|w|``, converted 5 rows at a time where the columns are one
    block: the value and the magnitude match the reference within the rounding bound of their sums."""
    monkeypatch.setattr(flat_correlation, "WEIGHT_BLOCK_BYTES", 5 * int(np.prod(CASES[name][1][1:])) * 8)
    x_shape, w_shape, stride, pad = CASES[name]
    rng = np.random.default_rng(len(name) + 1)
    x = rng.standard_normal(x_shape, dtype=np.float32)
    w = rng.standard_normal(w_shape, dtype=np.float32)
    bias = rng.standard_normal(w_shape[0], dtype=np.float32)
    geometry = {"strides": [stride] * 2, "pads": [pad] * 4}
    want, magnitude = reference(x, w, bias, stride, pad)
    terms = int(np.prod(w_shape[1:])) + 1
    unit = U64 if accumulate is np.float64 else U32
    bound = (terms * unit / (1 - terms * unit) + terms * U64 / (1 - terms * U64)) * magnitude
    got = conv(x, w, bias, accumulate=accumulate, **geometry)
    assert (np.abs(got - want) <= bound).all()
    got_magnitude = conv_magnitude(x, w, bias, accumulate=accumulate, **geometry)
    assert got_magnitude.dtype == accumulate and (np.abs(got_magnitude - magnitude) <= bound).all()


def test_grouped_weights_in_blocks_of_rows(monkeypatch) -> None:
    """Two groups of 12 filters, 3 rows converted at a time, against the reference of each group."""
    monkeypatch.setattr(flat_correlation, "WEIGHT_BLOCK_BYTES", 2 * 3 * 16 * 9 * 8)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 32, 6, 6), dtype=np.float32)
    w = rng.standard_normal((24, 16, 3, 3), dtype=np.float32)
    bias = rng.standard_normal(24, dtype=np.float32)
    got = conv(x, w, bias, groups=2, pads=[1] * 4, accumulate=np.float64)
    got_magnitude = conv_magnitude(x, w, bias, groups=2, pads=[1] * 4, accumulate=np.float64)
    for g in range(2):
        part = slice(12 * g, 12 * g + 12)
        want, magnitude = reference(x[:, 16 * g : 16 * g + 16], w[part], bias[part], 1, 1)
        bound = 2 * 145 * U64 / (1 - 145 * U64) * magnitude
        assert (np.abs(got[:, part] - want) <= bound).all()
        assert (np.abs(got_magnitude[:, part] - magnitude) <= bound).all()
