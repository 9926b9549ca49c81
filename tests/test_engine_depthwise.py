"""The engine's tap-by-tap depthwise road (images of at least ``DIRECT_MIN_SPAN`` positions), at its default sizes.

Expected values come from a hand-written reference (zero-pad, then one strided slice per tap, summed in float64)
and from onnxruntime; an element passes within the worst-case rounding bound of its sum, ``gamma_n * (|x| * |w|
summed + |b|)``, for each side's accumulation type.
"""

from __future__ import annotations

import itertools
from unittest import mock

import numpy as np
import pytest

from inspector.engine import flat_correlation
from inspector.engine.numpy_conv import conv
from tests.test_numpy_conv_properties import run_onnxruntime

U64, U32 = 2.0**-53, 2.0**-24


def reference(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, strides, dilations, pads) -> tuple:
    """Depthwise conv (output channel ``c * m + j`` reads channel ``c``) and its magnitude, summed in float64."""
    rank = x.ndim - 2
    multiplier = w.shape[0] // x.shape[1]
    padded = np.pad(x.astype(np.float64), [(0, 0), (0, 0), *zip(pads[:rank], pads[rank:], strict=True)])
    axes = list(zip(padded.shape[2:], w.shape[2:], dilations, strides, strict=True))
    out_size = [(p - (k - 1) * d - 1) // s + 1 for p, k, d, s in axes]
    source = np.repeat(padded, multiplier, axis=1)  # channel c * m + j holds input channel c
    y = np.zeros((x.shape[0], w.shape[0], *out_size))
    magnitude = np.zeros_like(y)
    for tap in itertools.product(*(range(k) for k in w.shape[2:])):
        window = tuple(
            slice(t * d, t * d + (n - 1) * s + 1, s)
            for t, d, n, s in zip(tap, dilations, out_size, strides, strict=True)
        )
        tap_weight = w[(slice(None), 0, *tap)].astype(np.float64).reshape(1, -1, *[1] * rank)
        y += source[(slice(None), slice(None), *window)] * tap_weight
        magnitude += np.abs(source[(slice(None), slice(None), *window)] * tap_weight)
    if bias is not None:
        y += bias.astype(np.float64).reshape(1, -1, *[1] * rank)
        magnitude += np.abs(bias.astype(np.float64)).reshape(1, -1, *[1] * rank)
    return y, magnitude


CASES = {
    # name: x shape, multiplier, kernel, strides, dilations, pads (begins, ends), bias
    "3x3 several channel blocks": ((1, 20, 64, 64), 1, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), True),
    "multiplier 2, stride 2": ((2, 6, 100, 96), 2, (3, 3), (2, 2), (1, 1), (1, 0, 1, 2), True),
    "5x5 dilated, no bias": ((1, 4, 60, 60), 1, (5, 5), (1, 1), (2, 2), (4, 4, 4, 4), False),
    "one channel per block, image in row blocks": ((1, 2, 300, 300), 1, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), True),
    "1-D": ((1, 8, 5000), 3, (7,), (1,), (1,), (3, 3), True),
    "3-D": ((1, 3, 10, 30, 30), 1, (3, 3, 3), (1, 2, 1), (1, 1, 1), (1, 1, 1, 1, 1, 1), True),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("accumulate", [np.float64, None])
def test_direct_depthwise_matches_reference_and_onnxruntime(name: str, accumulate) -> None:
    shape, multiplier, kernel, strides, dilations, pads, with_bias = CASES[name]
    rng = np.random.default_rng(len(name))
    x = rng.standard_normal(shape, dtype=np.float32)
    channels = shape[1]
    w = rng.standard_normal((channels * multiplier, 1, *kernel), dtype=np.float32)
    bias = rng.standard_normal(channels * multiplier, dtype=np.float32) if with_bias else None
    geometry = {"strides": list(strides), "dilations": list(dilations), "pads": list(pads)}
    with mock.patch.object(flat_correlation, "_depthwise", wraps=flat_correlation._depthwise) as direct:
        got = conv(x, w, bias, groups=channels, accumulate=accumulate, **geometry)
    assert direct.called, "the case should take the tap-by-tap road"
    want, magnitude = reference(x, w, bias, strides, dilations, pads)
    terms = int(np.prod(kernel)) + with_bias
    unit = U64 if accumulate is np.float64 else U32
    assert got.dtype == (np.float64 if accumulate is np.float64 else np.float32)
    assert got.shape == want.shape
    bound = terms * unit / (1 - terms * unit) * magnitude
    assert (np.abs(got - want) <= bound).all()
    inputs = {"x": x, "w": w} if bias is None else {"x": x, "w": w, "b": bias}
    runtime = run_onnxruntime("Conv", inputs, group=channels, **geometry)
    runtime_bound = terms * U32 / (1 - terms * U32) * magnitude
    assert (np.abs(got.astype(np.float64) - runtime) <= bound + runtime_bound).all()
