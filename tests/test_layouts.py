"""Layout conversions: each native layout to canonical and back, checked index by index."""

from __future__ import annotations

import numpy as np
import pytest

from inspector.model import layouts


def test_keras_conv_kernel_filter_n_is_last_axis():
    kernel = np.random.default_rng(0).standard_normal((3, 5, 4, 6))  # (kh, kw, cin, cout)
    canonical = layouts.to_canonical(kernel, "HWIO")
    assert canonical.shape == layouts.canonical_shape(kernel.shape, "HWIO") == (6, 4, 3, 5)
    for n in range(6):
        for i in range(4):
            np.testing.assert_array_equal(canonical[n, i], kernel[:, :, i, n])


def test_keras_depthwise_output_channel_is_c_times_m_plus_j():
    kernel = np.random.default_rng(1).standard_normal((3, 3, 4, 2))  # (kh, kw, cin, multiplier)
    canonical = layouts.to_canonical(kernel, "HWIM")
    assert canonical.shape == (8, 1, 3, 3)
    for c in range(4):
        for j in range(2):
            np.testing.assert_array_equal(canonical[c * 2 + j, 0], kernel[:, :, c, j])


def test_keras_transposed_kernel_becomes_in_out_first():
    kernel = np.random.default_rng(2).standard_normal((4, 4, 3, 5))  # (kh, kw, cout, cin)
    canonical = layouts.to_canonical(kernel, "HWOI")
    assert canonical.shape == (5, 3, 4, 4)
    np.testing.assert_array_equal(canonical[4, 2], kernel[:, :, 2, 4])


def test_dense_is_transposed():
    kernel = np.arange(6).reshape(2, 3)  # (in, out)
    np.testing.assert_array_equal(layouts.to_canonical(kernel, "IO"), kernel.T)


@pytest.mark.parametrize(
    ("layout", "shape"),
    [
        ("HWIO", (3, 2, 4, 6)),
        ("WIO", (5, 4, 6)),
        ("DHWIO", (3, 3, 3, 2, 4)),
        ("HWIM", (3, 3, 4, 3)),
        ("HWOI", (4, 4, 3, 5)),
        ("IO", (7, 3)),
        ("OIHW", (6, 4, 3, 3)),
        ("", (5,)),
    ],
)
def test_round_trip(layout, shape):
    native = np.random.default_rng(3).standard_normal(shape)
    canonical = layouts.to_canonical(native, layout)
    assert canonical.shape == layouts.canonical_shape(shape, layout)
    np.testing.assert_array_equal(layouts.from_canonical(canonical, layout, shape), native)


def test_layout_names():
    assert layouts.onnx_conv_layout(2) == "OIHW" and layouts.onnx_conv_layout(1, transposed=True) == "IOW"
    assert layouts.keras_conv_layout(3) == "DHWIO" and layouts.keras_conv_layout(2, "depthwise") == "HWIM"
