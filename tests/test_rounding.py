"""The default tolerance's arithmetic (inspector.validation.rounding), against numbers worked out by hand.

Whether the bound holds on real runs is tested where it matters: every correct model must pass
(test_validate_stress.py, test_validate_zoo.py) and every injected fault must fail (test_validate_faults.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from inspector.report.json_report import bound_dict
from inspector.validation.rounding import FALSE_ALARM_PROBABILITY, rounding_bound, union_lambda, weights_repeat
from tests.conftest import report_json

U32 = 2.0**-24


def test_lambda_of_the_union_bound():
    # sqrt(2 ln(2 * n * E * L / P)) / (1 - u) for n = 289 terms, E = 36,864 elements, L = 2 layers, P = 1e-6
    assert FALSE_ALARM_PROBABILITY == 1e-6
    assert union_lambda(289, 36864, 2, U32) == pytest.approx(7.9225281435, rel=1e-9)


def test_short_sums_take_the_worst_case_bound():
    bound = rounding_bound(
        terms=10, accumulation="float32", output="float32", magnitude_dtype="float64", elements=100, layers=1
    )
    # gamma_10 = 10u / (1 - 10u) = 5.96047e-7, below lambda * sqrt(10) * u
    assert bound.rule == "worst-case" and bound.lam is None
    assert bound.coefficient == pytest.approx(5.960468030e-07, rel=1e-9)


def test_long_sums_take_the_probabilistic_bound():
    bound = rounding_bound(
        terms=4609, accumulation="float32", output="float32", magnitude_dtype="float64", elements=100, layers=1
    )
    # lambda = 7.42288 from the union bound; exp(lambda sqrt(n) u + n u^2/(1-u)) - 1 = 3.00374e-5, below
    # gamma_4609 = 2.74793e-4
    assert bound.rule == "probabilistic" and bound.lam == pytest.approx(7.422883187, rel=1e-9)
    assert bound.coefficient == pytest.approx(3.0037434964e-05, rel=1e-9)
    assert report_json(bound_dict(bound), "bound")["false_alarm_probability"] == 1e-6
    worst = rounding_bound(
        terms=4609,
        accumulation="float32",
        output="float32",
        magnitude_dtype="float64",
        elements=100,
        layers=1,
        choice="worst-case",
    )
    assert worst.rule == "worst-case" and worst.coefficient == pytest.approx(2.747932984e-04, rel=1e-9)


def test_allowance_per_element_scales_with_the_magnitude():
    bound = rounding_bound(
        terms=4609, accumulation="float32", output="float32", magnitude_dtype="float64", elements=100, layers=1
    )
    allowed = bound.allowed(np.array([0.0, 1.0, 1e6]), np.zeros(3))
    assert allowed[0] == pytest.approx(4609 * 2.0**-126, rel=1e-6)  # underflow of each term only
    assert allowed[1] == pytest.approx(3.0037e-05, rel=1e-4) and allowed[2] == pytest.approx(30.037, rel=1e-4)


def test_a_float16_result_summed_in_float32_adds_one_float16_rounding():
    bound = rounding_bound(
        terms=10, accumulation="float32", output="float16", magnitude_dtype="float32", elements=100, layers=1
    )
    # no magnitude, result 1: only the final rounding to float16 (u = 2^-11) and underflow terms are left
    allowed = bound.allowed(np.array([0.0]), np.array([1.0]))
    assert allowed[0] == pytest.approx(2.0**-11 + 2.0**-14, rel=1e-3)
    native = rounding_bound(
        terms=10, accumulation="float16", output="float16", magnitude_dtype="float32", elements=100, layers=1
    )
    assert native.output_roundoff == 0 and native.coefficient == pytest.approx(10 * 2.0**-11 / (1 - 10 * 2.0**-11))


def test_filters_that_repeat_their_weights_are_found():
    rng = np.random.default_rng(0)
    trained = rng.standard_normal((8, 4608)).astype(np.float32)
    int8_levels = (np.round(trained * 40).clip(-127, 127) / 40).astype(np.float32)  # 255 levels per filter
    binomial = np.outer([1, 2, 1], [1, 2, 1]).reshape(1, 9) / 16
    assert not weights_repeat(trained) and not weights_repeat(int8_levels)
    assert weights_repeat(np.full((4, 9), 0.02)) and weights_repeat(binomial)
    assert weights_repeat(np.vstack([trained[:, :9], np.full((1, 9), 1 / 9)]))  # one constant filter is enough
    assert not weights_repeat(np.zeros((2, 9)))  # zeros add no rounding


def test_float16_data_summed_in_float32_allows_for_an_input_read_unrounded():
    bound = rounding_bound(
        terms=10, accumulation="float32", output="float16", magnitude_dtype="float32", elements=100, layers=4
    )
    # v_in = u16 / (1 - u16) of the magnitude, and tiny16 times the filter's sum |w| for subnormal inputs
    v_in = 2.0**-11 / (1 - 2.0**-11)
    assert bound.scale > v_in and bound.input_tiny == 2.0**-14
    with_sums = bound.allowed(np.zeros((1, 2)), np.zeros((1, 2)), np.array([0.0, 1000.0]))
    assert with_sums[0, 1] - with_sums[0, 0] == pytest.approx(
        1000 * 2.0**-14 * (1 + 2.0**-11)
    )  # rounded to float16 too
    assert bound.false_alarm_probability is None  # worst case: no probability involved
    share = rounding_bound(
        terms=4609, accumulation="float32", output="float32", magnitude_dtype="float64", elements=100, layers=4
    )
    assert share.false_alarm_probability == pytest.approx(1e-6 / 4)  # each of 4 layers' share of the run's 1e-6


def test_float16_sums_of_thousands_of_terms_cannot_be_bounded_usefully():
    native = rounding_bound(
        terms=4609,
        accumulation="float16",
        output="float16",
        magnitude_dtype="float32",
        elements=100,
        layers=1,
        choice="worst-case",
    )
    assert not native.useful  # 4609 * 2^-11 > 1: gamma_n is infinite
    assert rounding_bound(
        terms=4609, accumulation="float32", output="float16", magnitude_dtype="float32", elements=100, layers=1
    ).useful
