"""Cross-fitting: trees chosen on held-out enterprises, out-of-fold margins, the refit on all development rows."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from features.catalogue import FEATURE_NAMES
from models.calibration import enterprise_folds
from models.crossfit import cross_fit
from models.metrics import auc
from models.train import split_out_of_time, train_pd_model
from tests.utils.training_frames import make_training_frame

NAMES = ("enterprise_number", "noise")


def _memorisable(n_enterprises: int = 600, dates: int = 6, seed: int = 0):
    """Each enterprise has a fixed outcome at every date and a feature that names it: learnable only by heart."""
    rng = np.random.default_rng(seed)
    enterprise = np.repeat(np.arange(n_enterprises), dates)
    outcome = (rng.random(n_enterprises) < 0.2).astype(np.int64)[enterprise]
    x = np.column_stack([enterprise.astype(float), rng.normal(size=enterprise.size)])
    return x, outcome, enterprise


def _params() -> dict:
    """Fixed parameters (not the project's defaults, which may change): quick to learn enterprises by heart."""
    return {"objective": "binary", "metric": ["binary_logloss"], "num_leaves": 31, "learning_rate": 0.1,
            "min_data_in_leaf": 5, "seed": 1, "num_threads": 1, "deterministic": True, "force_row_wise": True,
            "verbosity": -1}


def test_out_of_fold_margins_come_from_models_that_never_saw_the_enterprise():
    x, y, enterprise = _memorisable()
    crossed = cross_fit(x, y, enterprise, NAMES, _params(), max_rounds=300, early_stopping_rounds=20, seed=2)
    refitted = lgb.Booster(model_str=crossed.model_string)
    in_sample = auc(y, refitted.predict(x, raw_score=True))
    out_of_fold = auc(y, crossed.out_of_fold_margin)
    assert in_sample > 0.7  # even the few rounds the folds allow let the refit learn enterprises by heart
    assert abs(out_of_fold - 0.5) < 0.1  # no fold model knew its held-out enterprises


def test_refit_runs_the_best_round_scaled_by_the_extra_rows():
    x, y, enterprise = _memorisable(seed=3)
    crossed = cross_fit(x, y, enterprise, NAMES, _params(), max_rounds=300, early_stopping_rounds=20, seed=2,
                        folds=4)
    folds = enterprise_folds(enterprise, 4, 2)
    per_fold_model = np.mean([(folds != k).sum() for k in range(4)])
    assert crossed.rounds == round(crossed.cv_best_iteration * y.size / per_fold_model)
    assert lgb.Booster(model_str=crossed.model_string).current_iteration() == crossed.rounds
    assert crossed.record() == {"folds": 4, "cv_best_iteration": crossed.cv_best_iteration,
                                "refit_rounds": crossed.rounds, "development_rows": y.size}


def test_cross_fitting_is_deterministic():
    x, y, enterprise = _memorisable(seed=4)
    first = cross_fit(x, y, enterprise, NAMES, _params(), max_rounds=100, early_stopping_rounds=10, seed=5)
    again = cross_fit(x, y, enterprise, NAMES, _params(), max_rounds=100, early_stopping_rounds=10, seed=5)
    assert first.model_string == again.model_string
    np.testing.assert_array_equal(first.out_of_fold_margin, again.out_of_fold_margin)


def test_a_fold_without_defaults_is_refused():
    x, y, enterprise = _memorisable(n_enterprises=8, dates=3)
    y = np.zeros_like(y)
    y[:3] = 1  # the first enterprise's rows are the only defaults: three folds have none
    with pytest.raises(ValueError, match="fold has no defaults"):
        cross_fit(x, y, enterprise, NAMES, _params(), max_rounds=10, early_stopping_rounds=5, folds=4)


def test_refitted_model_is_calibrated_on_out_of_fold_margins_of_all_development_rows():
    frame = make_training_frame(n_enterprises=800, n_dates=8, seed=12)
    model = train_pd_model(frame, FEATURE_NAMES, seed=4)
    split = split_out_of_time(frame, seed=4)
    development_rows = len(split.train) + len(split.validation)
    assert model.refit["development_rows"] == development_rows
    assert model.metrics["train"]["rows"] == model.metrics["validation"]["rows"] == development_rows
    assert model.booster.current_iteration() == model.refit["refit_rounds"] == model.best_iteration
    # a Platt line fitted by maximum likelihood on the out-of-fold margins reproduces their default rate
    validation = model.metrics["validation"]
    if model.calibration_method == "platt":
        assert validation["mean_pd"] == pytest.approx(validation["default_rate"], abs=1e-4)
    # the out-of-fold sample is honest: it ranks no better than the rows the refitted model saw
    assert validation["auc"] < model.metrics["train"]["auc"]


def test_without_refit_the_model_is_stopped_and_calibrated_on_validation():
    frame = make_training_frame(n_enterprises=800, n_dates=8, seed=12)
    model = train_pd_model(frame, FEATURE_NAMES, seed=4, refit=False)
    split = split_out_of_time(frame, seed=4)
    assert model.refit == {}
    assert model.metrics["train"]["rows"] == len(split.train)
    assert model.metrics["validation"]["rows"] == len(split.validation)
