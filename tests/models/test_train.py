"""Out-of-time split, training, calibration and determinism of the PD model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from features.catalogue import FEATURE_NAMES
from models.train import (
    DEFAULT_PARAMS,
    PlattCalibrator,
    TrainedModel,
    feature_matrix,
    leaf_minimum,
    monotone_constraints,
    split_out_of_time,
    train_pd_model,
)
from tests.utils.training_frames import make_training_frame

QUARTERS = ["2021-01-01", "2021-04-01", "2021-07-01", "2021-10-01",
            "2022-01-01", "2022-04-01", "2022-07-01", "2022-10-01"]


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return make_training_frame(n_enterprises=300, n_dates=8, months_between=3, start="2021-01-01", seed=3)


def test_oot_window_is_the_last_twelve_months(panel):
    split = split_out_of_time(panel, oot_months=12)
    assert sorted(split.oot["as_of"].unique()) == list(pd.to_datetime(QUARTERS[4:]))
    assert split.oot_start == pd.Timestamp("2022-01-01")


def test_no_date_leak_into_development(panel):
    split = split_out_of_time(panel, oot_months=12)
    assert split.train["as_of"].max() < split.oot["as_of"].min()
    assert split.validation["as_of"].max() < split.oot["as_of"].min()
    assert len(split.train) + len(split.validation) + len(split.oot) == len(panel)


def test_no_enterprise_in_both_train_and_validation(panel):
    split = split_out_of_time(panel, oot_months=12, validation_fraction=0.25, seed=5)
    train_ids, validation_ids = set(split.train["uscc"]), set(split.validation["uscc"])
    assert train_ids.isdisjoint(validation_ids)
    assert len(validation_ids) == 75  # a quarter of 300 enterprises


def test_gap_drops_development_dates_close_to_the_window(panel):
    split = split_out_of_time(panel, oot_months=12, gap_months=6)
    development = pd.concat([split.train, split.validation])
    assert sorted(development["as_of"].unique()) == list(pd.to_datetime(QUARTERS[:2]))


def test_split_is_reproducible_and_depends_on_seed(panel):
    first = split_out_of_time(panel, seed=1).validation["uscc"].unique()
    again = split_out_of_time(panel, seed=1).validation["uscc"].unique()
    other = split_out_of_time(panel, seed=2).validation["uscc"].unique()
    assert set(first) == set(again)
    assert set(first) != set(other)


def test_split_refuses_a_window_covering_all_dates(panel):
    with pytest.raises(ValueError, match="no development rows"):
        split_out_of_time(panel, oot_months=24)


def test_trained_model_ranks_out_of_time(trained: TrainedModel):
    assert trained.metrics["oot"]["auc"] > 0.62
    assert trained.metrics["oot"]["gini"] == pytest.approx(2 * trained.metrics["oot"]["auc"] - 1)
    assert set(trained.metrics) == {"train", "validation", "oot"}
    assert trained.feature_names == FEATURE_NAMES
    assert trained.params["num_leaves"] == DEFAULT_PARAMS["num_leaves"] and trained.params["deterministic"] is True
    assert trained.oot_start > trained.train_end
    assert 0 <= trained.metrics["oot"]["psi"] < 0.1  # the synthetic population does not drift


def test_calibration_matches_the_validation_default_rate(trained: TrainedModel):
    validation = trained.metrics["validation"]
    # the maximum-likelihood logistic fit reproduces the mean outcome of the sample it was fitted on
    assert validation["mean_pd"] == pytest.approx(validation["default_rate"], abs=1e-4)
    assert trained.calibration_slope > 0


def test_no_signal_means_no_ranking():
    frame = make_training_frame(n_enterprises=1_000, signal=0.0, seed=4)
    model = train_pd_model(frame, FEATURE_NAMES, seed=1)
    assert abs(model.metrics["oot"]["auc"] - 0.5) < 0.08


@pytest.mark.slow
def test_training_is_deterministic():
    frame = make_training_frame(n_enterprises=400, seed=9)
    first = train_pd_model(frame, FEATURE_NAMES, seed=3, num_threads=2)
    second = train_pd_model(frame, FEATURE_NAMES, seed=3, num_threads=2)
    assert first.booster.model_to_string() == second.booster.model_to_string()
    assert first.calibration_intercept == second.calibration_intercept


def test_leaf_minimum_keeps_the_searched_value_for_large_tables_and_scales_down_below():
    assert leaf_minimum(79_216) == DEFAULT_PARAMS["min_data_in_leaf"] == leaf_minimum(1_000_000) == 300
    assert leaf_minimum(25_000) == 100
    assert leaf_minimum(3_000) == leaf_minimum(10) == 20  # LightGBM's own default is the floor


def test_a_small_table_trains_with_its_own_leaf_minimum_unless_the_caller_sets_one(
    trained: TrainedModel, panel: pd.DataFrame
):
    development_rows = trained.refit["development_rows"]
    assert development_rows < 75_000
    assert trained.params["min_data_in_leaf"] == leaf_minimum(development_rows) < 300
    told = train_pd_model(panel, FEATURE_NAMES, seed=1, params={"min_data_in_leaf": 77})
    assert told.params["min_data_in_leaf"] == 77


def test_training_refuses_missing_columns():
    frame = make_training_frame(n_enterprises=50).drop(columns=["default_12m"])
    with pytest.raises(ValueError, match="default_12m"):
        train_pd_model(frame, FEATURE_NAMES, seed=0)


def test_monotone_constraints_follow_the_catalogue():
    assert monotone_constraints(["si_arrears_months_12m", "age_months", "not_in_catalogue"]) == [1, -1, 0]


def test_feature_matrix_orders_columns_and_fills_absent_with_nan():
    frame = pd.DataFrame({"b": [1.0, 2.0], "a": [3.0, None]})
    x = feature_matrix(frame, ["a", "b", "c"])
    assert x.dtype == np.float64
    np.testing.assert_array_equal(x, [[3.0, 1.0, np.nan], [np.nan, 2.0, np.nan]])


def test_platt_calibrator_recovers_known_coefficients():
    rng = np.random.default_rng(0)
    margin = rng.normal(size=50_000)
    y = rng.random(margin.size) < 1 / (1 + np.exp(-(-3.0 + 0.8 * margin)))
    fitted = PlattCalibrator().fit(margin, y)
    assert fitted.intercept_ == pytest.approx(-3.0, abs=0.1)
    assert fitted.slope_ == pytest.approx(0.8, abs=0.1)
    assert fitted.predict_proba([0.0])[0] == pytest.approx(1 / (1 + np.exp(-fitted.intercept_)))


def test_unfitted_calibrator_raises():
    with pytest.raises(NotFittedError):
        PlattCalibrator().log_odds([0.0])
