"""Cross-fitting over the development window: the number of trees, out-of-fold margins, the refit booster.

A bank's development window (every application before the out-of-time window) is small, and a model trained
on three quarters of it and stopped on the last quarter wastes a quarter of its defaults. So the local path
(:func:`models.train.fit_pd_model`) fits ``folds`` boosters, each on all development enterprises but one fold
of them, and stops all of them on the same round, the one with the lowest mean log-loss on their held-out
folds. Every development row then has an **out-of-fold margin** from a booster that never saw its enterprise,
which is what the calibration is chosen and fitted on. The final booster is refitted on **all** development
rows with that many rounds scaled by the extra rows (``rounds × development rows / rows per fold model``),
so it learns from every default without being calibrated on rows it saw. Nothing here touches the
out-of-time window.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from models.calibration import enterprise_folds

logger = logging.getLogger(__name__)

__all__ = ["CV_FOLDS", "CrossFit", "cross_fit"]

CV_FOLDS = 4  # each fold model trains on three quarters of the development enterprises, as before the refit


@dataclass(frozen=True)
class CrossFit:
    """The refitted booster's text, the cross-fitted evidence behind it and how many rounds each part ran."""

    model_string: str
    out_of_fold_margin: npt.NDArray[np.float64]
    cv_best_iteration: int
    rounds: int
    folds: int

    def record(self) -> dict[str, Any]:
        """What the artifact and the report keep about the refit."""
        return {"folds": self.folds, "cv_best_iteration": self.cv_best_iteration, "refit_rounds": self.rounds,
                "development_rows": int(self.out_of_fold_margin.size)}


def cross_fit(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.int_],
    groups: npt.NDArray[Any],
    feature_names: Sequence[str],
    params: dict[str, Any],
    *,
    max_rounds: int,
    early_stopping_rounds: int,
    folds: int = CV_FOLDS,
    seed: int = 0,
) -> CrossFit:
    """Fold boosters by enterprise with early stopping on their mean held-out log-loss, then refit on all rows.

    ``groups`` (enterprise ids) keep one enterprise in one fold. ``params`` are LightGBM's (the first metric
    is the one stopped on). Deterministic for the same rows, parameters, seed and threads.
    """
    if folds < 2:
        raise ValueError("cross-fitting needs at least two folds")
    fold_of_row = enterprise_folds(np.asarray(groups), folds, seed)
    splits = [(np.nonzero(fold_of_row != k)[0], np.nonzero(fold_of_row == k)[0]) for k in range(folds)]
    for _, held in splits:
        if np.unique(y[held]).size < 2:
            raise ValueError("a cross-fitting fold has no defaults (or only defaults); too few enterprises")
    development = lgb.Dataset(x, label=y, feature_name=list(feature_names), free_raw_data=False)
    result = lgb.cv(
        params, development, num_boost_round=max_rounds, folds=splits, return_cvbooster=True,
        callbacks=[lgb.early_stopping(early_stopping_rounds, first_metric_only=True, verbose=False)],
    )
    cv_booster = cast(lgb.CVBooster, result["cvbooster"])
    best = int(cv_booster.best_iteration) or max_rounds
    out_of_fold = np.empty(y.size, dtype=np.float64)
    for (_, held), booster in zip(splits, cv_booster.boosters, strict=True):
        out_of_fold[held] = booster.predict(x[held], raw_score=True, num_iteration=best)
    rows_per_fold_model = float(np.mean([trained.size for trained, _ in splits]))
    rounds = max(1, round(best * y.size / rows_per_fold_model))
    final = lgb.train(params, lgb.Dataset(x, label=y, feature_name=list(feature_names)), num_boost_round=rounds)
    logger.info("cross-fitted %d folds: best round %d, refitted on %d rows with %d rounds",
                folds, best, y.size, rounds)
    return CrossFit(final.model_to_string(), out_of_fold, best, rounds, folds)
