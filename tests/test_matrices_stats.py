"""Statistics of several small layers taken in one pass (stacked by row width and dtype, then cut apart) are each
layer's own, as NumPy computes them row by row."""

from __future__ import annotations

import numpy as np

from inspector.model.filter_stats import matrices_stats


def test_stacked_statistics_are_each_matrixs_own():
    rng = np.random.default_rng(3)
    matrices = {
        0: rng.standard_normal((4, 27)).astype(np.float32),
        1: np.zeros((2, 9), np.float32),
        2: rng.standard_normal((3, 27)).astype(np.float32),
        3: rng.standard_normal((5, 27)),  # float64: stacked apart from the float32 ones
    }
    matrices[2][1, 4] = np.nan
    stats = matrices_stats(matrices)
    assert sorted(stats) == [0, 1, 2, 3]
    for key, matrix in matrices.items():
        values = matrix.astype(np.float64)
        with np.errstate(invalid="ignore"):
            np.testing.assert_allclose(stats[key].l1, np.abs(values).sum(axis=1), rtol=1e-12)
            np.testing.assert_allclose(stats[key].l2, np.sqrt((values**2).sum(axis=1)), rtol=1e-12)
            np.testing.assert_array_equal(stats[key].min, values.min(axis=1))
            np.testing.assert_array_equal(stats[key].max, values.max(axis=1))
        np.testing.assert_array_equal(stats[key].finite, np.isfinite(values).all(axis=1))
        np.testing.assert_array_equal(stats[key].zero_fraction, (values == 0).mean(axis=1))
    assert stats[1].max_abs.tolist() == [0.0, 0.0] and stats[2].finite.tolist() == [True, False, True]
