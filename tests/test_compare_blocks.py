"""``compare`` walks big outputs a block of channels at a time: its figures are those of the whole array, whatever
the block size (expected values worked out by hand)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inspector.validation import compare as compare_module
from inspector.validation.compare import compare

BLOCKS = [1, 9, 20, 1 << 16]
"""Block sizes in elements: one channel (of 3×3) per block, a block of 2, and the whole array."""


def _pair() -> tuple[np.ndarray, np.ndarray]:
    """2×6×3×3 outputs equal but for errors of 0.5 at (1, 4, 2, 2), 0.2 at (0, 1, 0, 0) and 0.3 at (1, 0, 0, 1),
    against expected values of 2 (4 at (0, 1, 0, 0))."""
    expected = np.full((2, 6, 3, 3), 2.0)
    expected[0, 1, 0, 0] = 4.0
    actual = expected.astype(np.float32)
    actual[1, 4, 2, 2] += 0.5
    actual[0, 1, 0, 0] -= 0.2
    actual[1, 0, 0, 1] += 0.3
    return actual, expected


@pytest.mark.parametrize("block", BLOCKS)
def test_figures_of_the_whole_array(monkeypatch, block):
    monkeypatch.setattr(compare_module, "CHUNK_ELEMENTS", block)
    actual, expected = _pair()
    result = compare(actual, expected, atol=0.1)
    assert not result.passed and result.violations == 3 and result.elements == 108
    assert result.failed_channels == (0, 1, 4) and result.failed_channel_count == 3
    assert result.worst_index == (1, 4, 2, 2) and result.worst_channel == 4
    assert result.tolerance_used == pytest.approx(5.0) and result.worst_allowed == 0.1
    assert result.max_abs_error == pytest.approx(0.5) and result.max_rel_error == pytest.approx(0.25)
    assert result.atol == 0.1


@pytest.mark.parametrize("block", BLOCKS)
def test_first_of_equal_worst_elements_and_rtol(monkeypatch, block):
    """Errors of 0.5 at (0, 2, 1, 1) and (1, 4, 2, 2) against an allowance of 0.25 (rtol 0.125 of 2): the first in
    flat order is the worst; ``atol`` reports the absolute part only."""
    monkeypatch.setattr(compare_module, "CHUNK_ELEMENTS", block)
    expected = np.full((2, 6, 3, 3), 2.0)
    actual = expected.copy()
    actual[0, 2, 1, 1] += 0.5
    actual[1, 4, 2, 2] -= 0.5
    result = compare(actual, expected, atol=0.0, rtol=0.125)
    assert result.worst_index == (0, 2, 1, 1) and result.tolerance_used == pytest.approx(2.0)
    assert result.violations == 2 and result.failed_channels == (2, 4) and result.atol == 0.0


@pytest.mark.parametrize("block", BLOCKS)
def test_no_allowance_and_nan(monkeypatch, block):
    """With nothing allowed the worst element is the largest error (an infinite share); NaN against NaN agrees,
    a number against NaN is an infinite error."""
    monkeypatch.setattr(compare_module, "CHUNK_ELEMENTS", block)
    expected = np.full((1, 4, 5), 1.0)
    expected[0, 0, 0] = np.nan
    actual = expected.copy()
    actual[0, 1, 3] = 1.5
    actual[0, 3, 4] = 1.25
    result = compare(actual, expected)
    assert result.rule == "exact" and result.worst_index == (0, 1, 3) and math.isinf(result.tolerance_used)
    assert result.failed_channels == (1, 3) and result.max_abs_error == 0.5
    expected[0, 2, 2] = np.nan
    result = compare(actual, expected)
    assert result.worst_index == (0, 2, 2) and math.isinf(result.max_abs_error) and result.violations == 3


def test_equal_outputs(monkeypatch):
    monkeypatch.setattr(compare_module, "CHUNK_ELEMENTS", 1)
    same = np.arange(24.0).reshape(2, 3, 4)
    result = compare(same, same.copy())
    assert result.passed and result.worst_index is None and result.tolerance_used == 0.0
    assert result.max_rel_error == 0.0 and result.failed_channels == ()
