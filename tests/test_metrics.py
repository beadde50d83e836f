"""gaitlab.metrics: the ECE a perfectly calibrated model would still show with few walks a bin;
the faithfulness ratio's floor."""
from __future__ import annotations

import numpy as np
import pytest

from gaitlab.metrics import (RANDOM_DROP_FLOOR, describe_ratio, drop_ratio, ece_sampling_floor,
                             expected_calibration_error, reliability_bins, walks_per_bin)


def _confident(n: int, top: float, seed: int = 0) -> np.ndarray:
    """[n, 9] probabilities with `top` on a random class and the rest spread evenly."""
    rng = np.random.default_rng(seed)
    probs = np.full((n, 9), (1 - top) / 8)
    probs[np.arange(n), rng.integers(0, 9, n)] = top
    return probs


def test_floor_shrinks_with_more_walks_and_sharper_answers():
    small, large = ece_sampling_floor(_confident(216, 0.7)), ece_sampling_floor(_confident(5000, 0.7))
    assert 0.03 < small["mean"] < 0.09 < small["p95"] + 0.05  # ~22 walks a bin: several points
    assert large["mean"] < 0.5 * small["mean"]
    assert ece_sampling_floor(_confident(216, 0.99))["mean"] < 0.02  # near-certain answers: a small floor
    assert small == ece_sampling_floor(_confident(216, 0.7))  # seeded: the same figure twice


def test_a_calibrated_model_sits_at_the_floor_and_an_overconfident_one_above_it():
    probs = _confident(216, 0.7, seed=1)
    rng = np.random.default_rng(2)
    cum = np.cumsum(probs, axis=1)
    y = (rng.random((216, 1)) > cum).sum(axis=1)  # labels drawn from the model itself
    floor = ece_sampling_floor(probs)
    assert expected_calibration_error(y, probs) <= floor["p95"]
    wrong_half = probs.argmax(1).copy()
    wrong_half[::2] = (wrong_half[::2] + 1) % 9  # right only half the time while saying 0.7
    assert expected_calibration_error(wrong_half, probs) == pytest.approx(0.2, abs=0.02)
    assert expected_calibration_error(wrong_half, probs) > floor["p95"] + 0.05


def test_faithfulness_ratio_floors_a_random_drop_of_nothing():
    assert drop_ratio(0.30, 0.03) == pytest.approx(10.0) and describe_ratio(0.30, 0.03) == "10.0×"
    # Random blanking that changes nothing (or raises the probability) cannot make the ratio
    # explode: the floor holds the denominator, and the text says it is a lower bound.
    assert drop_ratio(0.09, -0.0001) == pytest.approx(0.09 / RANDOM_DROP_FLOOR)
    assert describe_ratio(0.09, -0.0001) == f"≥ {0.09 / RANDOM_DROP_FLOOR:.1f}×"
    assert drop_ratio(-0.01, 0.0) < 0  # a map worse than random reads as worse than random


def test_walks_per_bin_is_the_rounded_mean_bin_count():
    probs = _confident(216, 0.7)
    y = probs.argmax(axis=1)
    assert walks_per_bin(reliability_bins(y, probs)) == 22  # 216 walks in 10 equal-count bins
    assert walks_per_bin([]) == 0
