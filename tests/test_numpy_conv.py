"""Hand-worked examples and argument errors of the NumPy convolution engine."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from inspector.engine.numpy_conv import conv, conv_integer, conv_magnitude, conv_transpose, conv_transpose_magnitude
from inspector.errors import ConvolutionError


def _1d(values, dtype=np.float32) -> np.ndarray:
    """A (1, 1, L) array."""
    return np.asarray(values, dtype=dtype).reshape(1, 1, -1)


def test_1d_conv_with_padding_and_bias() -> None:
    # y[i] = x[i - 1] - x[i + 1], zero outside, plus 10
    y = conv(_1d([1, 2, 3, 4, 5]), _1d([1, 0, -1]), np.array([10], np.float32), pads=[1, 1])
    np.testing.assert_array_equal(y, _1d([8, 8, 8, 8, 14]))


def test_1d_conv_strided_and_dilated() -> None:
    # taps at 2i and 2i + 2
    y = conv(_1d(range(7)), _1d([1, 10]), strides=[2], dilations=[2])
    np.testing.assert_array_equal(y, _1d([20, 42, 64]))


def test_1d_conv_asymmetric_pads() -> None:
    np.testing.assert_array_equal(conv(_1d([1, 2, 3]), _1d([1, 1, 1]), pads=[2, 0]), _1d([1, 3, 6]))


def test_2d_conv_sums_windows() -> None:
    x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    y = conv(x, np.ones((1, 1, 2, 2), np.float32))
    np.testing.assert_array_equal(y, [[[[8, 12], [20, 24]]]])


def test_3d_conv_of_ones_counts_taps() -> None:
    x = np.ones((1, 2, 3, 4, 5), np.float64)
    y = conv(x, np.ones((1, 2, 2, 2, 2)), pads=[1, 0, 0, 0, 0, 0])
    assert y.shape == (1, 1, 3, 3, 4)
    np.testing.assert_array_equal(y[0, 0, :, 0, 0], [8, 16, 16])


def test_depthwise_multiplier_channel_order() -> None:
    # output channel c * m + j reads input channel c
    x = np.array([1, 100], np.float32).reshape(1, 2, 1)
    w = np.array([1, 2, 3, 4], np.float32).reshape(4, 1, 1)
    np.testing.assert_array_equal(conv(x, w, groups=2).ravel(), [1, 2, 300, 400])


def test_groups_read_their_own_channels() -> None:
    x = np.array([1, 2, 3, 4], np.float32).reshape(1, 4, 1)
    w = np.array([[1, 10], [1, 10]], np.float32).reshape(2, 2, 1)
    np.testing.assert_array_equal(conv(x, w, groups=2).ravel(), [21, 43])


def test_batch_samples_are_independent() -> None:
    x = np.stack([_1d([1, 2, 3])[0], _1d([10, 20, 30])[0]])
    np.testing.assert_array_equal(conv(x, _1d([1, 1])), [[[3, 5]], [[30, 50]]])


def test_non_contiguous_and_list_inputs() -> None:
    x = np.arange(12, dtype=np.float32).reshape(1, 1, 12)[:, :, ::3]  # [0, 3, 6, 9]
    np.testing.assert_array_equal(conv(x, [[[1.0, -1.0]]]), _1d([-3, -3, -3], np.float64))


def test_1d_conv_transpose_spreads_inputs() -> None:
    # input i adds x[i] * w[k] at output 2i + k
    x, w = _1d([1, 2]), _1d([1, 10, 100])
    np.testing.assert_array_equal(conv_transpose(x, w, strides=[2]), _1d([1, 10, 102, 20, 200]))
    np.testing.assert_array_equal(conv_transpose(x, w, strides=[2], pads=[1, 1]), _1d([10, 102, 20]))
    with_padding = conv_transpose(x, w, np.array([5], np.float32), strides=[2], output_padding=[1])
    np.testing.assert_array_equal(with_padding, _1d([6, 15, 107, 25, 205, 5]))


def test_conv_transpose_output_shape_extends_at_the_end() -> None:
    y = conv_transpose(_1d([1, 2]), _1d([1, 10, 100]), strides=[2], output_shape=[6])
    np.testing.assert_array_equal(y, _1d([1, 10, 102, 20, 200, 0]))


def test_conv_transpose_output_shape_smaller_than_natural_trims_the_start_first() -> None:
    # total padding 2 of the natural 5 outputs: NOTSET puts the odd half at the start, here 1 and 1
    y = conv_transpose(_1d([1, 2]), _1d([1, 10, 100]), strides=[2], output_shape=[3])
    np.testing.assert_array_equal(y, _1d([10, 102, 20]))


def test_conv_transpose_output_padding_below_dilation() -> None:
    # stride 1, dilation 2: inputs land at i + 2k; output_padding 1 < dilation adds a trailing zero
    y = conv_transpose(_1d([1, 2]), _1d([1, 10]), dilations=[2], output_padding=[1])
    np.testing.assert_array_equal(y, _1d([1, 2, 10, 20, 0]))


def test_conv_transpose_groups() -> None:
    x = np.array([1, 2], np.float32).reshape(1, 2, 1)
    w = np.array([3, 5], np.float32).reshape(2, 1, 1)
    np.testing.assert_array_equal(conv_transpose(x, w, groups=2).ravel(), [3, 10])


def test_conv_integer_subtracts_zero_points_per_channel() -> None:
    x = np.array([10, 12, 14], np.uint8).reshape(1, 1, 3)  # minus 10: [0, 2, 4]
    w = np.array([[1, 2], [5, 7]], np.int8).reshape(2, 1, 2)  # minus [0, 5]: [[1, 2], [0, 2]]
    y = conv_integer(x, w, np.uint8(10), np.array([0, 5], np.int8))
    assert y.dtype == np.int32
    np.testing.assert_array_equal(y, [[[4, 10], [4, 8]]])
    # padding adds zeros after the zero point is subtracted
    padded = conv_integer(x, w[:1], np.uint8(10), np.int8(0), pads=[1, 1])
    np.testing.assert_array_equal(padded, [[[0, 4, 10, 4]]])


def test_conv_integer_is_exact_where_float32_is_not() -> None:
    channels = 1000
    x = np.full((1, channels, 3, 3), 255, np.uint8)
    w = np.full((1, channels, 3, 3), -127, np.int8)
    w[0, 0, 0, 0] = -126  # makes the sum odd, beyond float32's 24-bit mantissa
    y = conv_integer(x, w)
    assert y.item() == 255 * (-127 * channels * 9 + 1)


def test_accumulate_float64_keeps_what_float32_loses() -> None:
    x = _1d([1e8, 1, -1e8])
    w = _1d([1, 1, 1])
    y = conv(x, w, accumulate="float64")
    assert y.dtype == np.float64
    assert y.item() == 1.0


def test_float16_accumulates_in_float32_and_rounds() -> None:
    x = _1d([2048, 1, 1], np.float16)  # 2048 + 1 is not representable in float16, 2048 + 2 is
    y = conv(x, _1d([1, 1, 1], np.float16))
    assert y.dtype == np.float16
    assert y.item() == 2050
    assert conv(x, _1d([1, 1, 1], np.float16), accumulate=np.float32).dtype == np.float32


def test_magnitudes() -> None:
    x, w, b = _1d([1, -2]), _1d([-1, 1]), np.array([-3], np.float32)
    np.testing.assert_array_equal(conv_magnitude(x, w, b), _1d([6]))
    np.testing.assert_array_equal(conv_transpose_magnitude(x, w, b), _1d([4, 6, 5]))


def test_threads_share_nothing() -> None:
    rng = np.random.default_rng(1)
    jobs = [(rng.standard_normal((2, 6, 30, 20 + i)), rng.standard_normal((8, 3, 3, 3))) for i in range(8)]
    serial = [conv(x, w, groups=2, pads=[1, 1, 1, 1]) for x, w in jobs]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda job: conv(*job, groups=2, pads=[1, 1, 1, 1]), jobs * 3))
    for i, y in enumerate(parallel):
        np.testing.assert_array_equal(y, serial[i % len(jobs)])


X4 = np.zeros((1, 4, 5, 5), np.float32)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: conv(np.zeros((1, 3, 5, 5)), np.zeros((4, 1, 3, 3)), groups=2), "C=3 are not divisible by groups=2"),
        (lambda: conv(X4, np.zeros((3, 2, 3, 3)), groups=2), "output channels 3 are not divisible by groups=2"),
        (
            lambda: conv(X4, np.zeros((4, 3, 3, 3), np.float32)),
            r"weight axis 1 should be 4 \(in/group = 4/1\), found 3",
        ),
        (
            lambda: conv(X4, np.zeros((4, 4, 3, 3), np.float32), strides=[1, 0]),
            r"strides must be positive, got \[1, 0\]",
        ),
        (lambda: conv(X4, np.zeros((4, 4, 3, 3), np.float32), dilations=[-1, 1]), "dilations must be positive"),
        (lambda: conv(X4, np.zeros((4, 4, 3, 3), np.float32), pads=[1, 1]), r"pads \[1, 1\] has 2 values, expected 4"),
        (lambda: conv(X4, np.zeros((4, 4, 3, 3), np.float32), pads=[0, -1, 0, 0]), "pads must be non-negative"),
        (
            lambda: conv(X4, np.zeros((4, 4, 3, 3), np.float32), dilations=[3, 1]),
            "output size -1 on spatial axis 0 is not positive: padded input 5 < dilated kernel 7",
        ),
        (
            lambda: conv(X4, np.zeros((4, 4, 3, 3), np.float32), np.zeros(3, np.float32)),
            r"bias should hold 4 values \(one per output channel\), found shape \[3\]",
        ),
        (lambda: conv(X4, np.zeros((4, 4, 3), np.float32)), "w of the same rank"),
        (lambda: conv(X4, np.zeros((4, 4, 3, 3), np.float32), groups=0), "Conv: group must be at least 1, found 0"),
        (lambda: conv(X4, np.zeros((4, 4, 3, 3), np.float32), groups=1.5), "group must be an integer, found 1.5"),
        (lambda: conv(X4, np.zeros((4, 4, 0, 3), np.float32)), r"kernel_shape \[0, 3\] has an empty axis"),
        (
            lambda: conv_transpose(X4, np.zeros((4, 2, 3, 3), np.float32), output_shape=[0, 5]),
            r"ConvTranspose: output_shape must be positive, got \[0, 5\]",
        ),
        (lambda: conv(X4.astype(np.int8), np.zeros((4, 4, 3, 3), np.int8)), "conv_integer handles integer"),
        (lambda: conv(X4, np.zeros((4, 4, 3, 3), np.float32), accumulate="float16"), "accumulate must be"),
        (lambda: conv_integer(X4, np.zeros((4, 4, 3, 3), np.int8)), "x must be int8 or uint8"),
        (
            lambda: conv_integer(np.zeros((1, 4, 5), np.uint8), np.zeros((2, 4, 3), np.int8), 0, np.zeros(3, np.int8)),
            r"w_zero_point must be a scalar or have shape \(2,\)",
        ),
        (
            lambda: conv_transpose(X4, np.zeros((3, 2, 3, 3), np.float32)),
            r"weight axis 0 should be 4 \(the input channels\), found 3 \(weight shape \[3, 2, 3, 3\]\)",
        ),
        (
            lambda: conv_transpose(X4, np.zeros((4, 2, 3, 3), np.float32), strides=[2, 2], output_padding=[0, 2]),
            "value 2 on axis 1 must be smaller than the stride 2 or the dilation 1",
        ),
        (
            lambda: conv_transpose(X4, np.zeros((4, 2, 1, 1), np.float32), pads=[3, 0, 2, 0]),
            "output size 0 on spatial axis 0 is not positive",
        ),
    ],
)
def test_inconsistent_arguments_are_named(call, message: str) -> None:
    with pytest.raises(ConvolutionError, match=message):
        call()
