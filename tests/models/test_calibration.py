"""Calibration: Platt or isotonic chosen on validation by cross-fitted log-loss, both recorded."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from models.calibration import (
    IsotonicCalibrator,
    PlattCalibrator,
    calibrator_from_dict,
    choose_calibration,
)


def _sample(true_log_odds, n: int = 40_000, seed: int = 0):
    rng = np.random.default_rng(seed)
    margin = rng.normal(size=n)
    y = rng.random(n) < 1 / (1 + np.exp(-true_log_odds(margin)))
    return margin, y.astype(int)


def test_platt_is_chosen_when_the_margin_is_already_linear_in_log_odds():
    margin, y = _sample(lambda m: -3.0 + 0.9 * m)
    chosen = choose_calibration(margin, y, seed=1)
    assert chosen.method == "platt"
    assert chosen.scores["platt"]["log_loss"] <= chosen.scores["isotonic"]["log_loss"]
    assert chosen.calibrator is chosen.platt


def test_isotonic_is_chosen_when_the_margin_scale_is_bent():
    # PD is a step in the margin: flat, then jumps; no straight line in log-odds fits it
    margin, y = _sample(lambda m: np.where(m < 0.5, -4.0, np.where(m < 1.2, -0.5, 1.5)), seed=2)
    chosen = choose_calibration(margin, y, seed=1)
    assert chosen.method == "isotonic"
    assert chosen.scores["isotonic"]["log_loss"] < chosen.scores["platt"]["log_loss"]
    assert chosen.scores["isotonic"]["ece"] < chosen.scores["platt"]["ece"]


def test_a_forced_method_still_records_both():
    margin, y = _sample(lambda m: -3.0 + 0.9 * m)
    chosen = choose_calibration(margin, y, choice="isotonic")
    assert chosen.method == "isotonic" and isinstance(chosen.calibrator, IsotonicCalibrator)
    assert set(chosen.scores) == {"platt", "isotonic"}


def test_choice_is_reproducible_with_a_seed_and_groups_stay_in_one_fold():
    margin, y = _sample(lambda m: -2.5 + m, n=6_000)
    groups = np.repeat(np.arange(1_500), 4)
    first = choose_calibration(margin, y, groups=groups, seed=4)
    again = choose_calibration(margin, y, groups=groups, seed=4)
    assert first.scores == again.scores


def test_isotonic_log_odds_are_monotone_finite_and_round_trip():
    margin, y = _sample(lambda m: -3.0 + 1.5 * m, n=5_000)
    fitted = IsotonicCalibrator().fit(margin, y)
    grid = np.linspace(-6, 6, 500)
    log_odds = fitted.log_odds(grid)
    assert np.all(np.isfinite(log_odds)) and np.all(np.diff(log_odds) >= 0)
    rebuilt = calibrator_from_dict(fitted.to_dict())
    np.testing.assert_array_equal(rebuilt.log_odds(grid), log_odds)


def test_platt_round_trips_through_its_record():
    margin, y = _sample(lambda m: -2.0 + m, n=3_000)
    fitted = PlattCalibrator().fit(margin, y)
    assert calibrator_from_dict(fitted.to_dict()).log_odds([0.3])[0] == fitted.log_odds([0.3])[0]


def test_unfitted_and_unknown_calibrators_are_refused():
    with pytest.raises(NotFittedError):
        IsotonicCalibrator().predict_proba([0.0])
    with pytest.raises(ValueError, match="unknown calibration"):
        calibrator_from_dict({"method": "beta"})
    with pytest.raises(ValueError, match="both"):
        choose_calibration([0.1, 0.2, 0.3], [0, 0, 0])
