"""Baselines reported beside the main model: a WOE-binned logistic scorecard and a plain LightGBM.

A bank's model-risk team asks two questions of a gradient-boosted PD model: does it beat the classic
scorecard they already understand, and do its constraints and tuning cost anything against LightGBM out of
the box? Both baselines are trained on the same train rows and judged on the same samples as the main model.

The scorecard is written here rather than taken from optbinning (whose solver pulls in OR-Tools): quantile
bins per feature, missing values as a bin of their own, weight of evidence per bin, and an L2-regularised
logistic regression on the WOE columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

from models.metrics import discrimination, probability_metrics

WOE_SCORECARD = "woe_scorecard"
PLAIN_LIGHTGBM = "plain_lightgbm"
PLAIN_ROUNDS = 100  # LightGBM's own default number of boosting rounds


@dataclass
class _FeatureBins:
    edges: npt.NDArray[np.float64]  # inner edges; bin i holds values in (edges[i-1], edges[i]]
    woe: npt.NDArray[np.float64]  # one per bin, then one for missing


class WoeLogisticScorecard:
    """Quantile bins → weight of evidence → logistic regression (higher WOE is riskier).

    ``n_bins`` equal-count bins per feature from the training rows (fewer where values repeat); a missing
    value is its own bin; WOE = ln(share of defaults in the bin / share of non-defaults), smoothed by 0.5 so
    empty bins stay finite. Fitted state: ``bins_``, ``regression_``, ``information_value_``.
    """

    def __init__(self, n_bins: int = 10, c: float = 1.0, seed: int = 0) -> None:
        self.n_bins = n_bins
        self.c = c
        self.seed = seed

    def _fit_bins(self, column: npt.NDArray[np.float64], y: npt.NDArray[np.int_]) -> tuple[_FeatureBins, float]:
        present = ~np.isnan(column)
        values = column[present]
        quantiles = np.linspace(0, 1, self.n_bins + 1)[1:-1]
        edges = np.unique(np.quantile(values, quantiles)) if values.size else np.empty(0)
        index = np.where(present, np.searchsorted(edges, np.nan_to_num(column), side="left"), edges.size + 1)
        n_bins = edges.size + 2
        bad = np.bincount(index, weights=y, minlength=n_bins)
        total = np.bincount(index, minlength=n_bins).astype(float)
        good = total - bad
        bad_share = (bad + 0.5) / (bad.sum() + 0.5 * n_bins)
        good_share = (good + 0.5) / (good.sum() + 0.5 * n_bins)
        woe = np.log(bad_share / good_share)
        woe[total == 0] = 0.0  # a bin never seen in training (e.g. missing) carries no evidence
        iv = float(np.sum((bad_share - good_share) * woe))
        return _FeatureBins(edges=edges, woe=woe), iv

    def _transform(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        out = np.empty_like(x, dtype=np.float64)
        for j, bins in enumerate(self.bins_):
            column = x[:, j]
            present = ~np.isnan(column)
            index = np.where(present, np.searchsorted(bins.edges, np.nan_to_num(column), side="left"),
                             bins.edges.size + 1)
            out[:, j] = bins.woe[index]
        return out

    def fit(self, x: npt.NDArray[np.float64], y: npt.ArrayLike) -> WoeLogisticScorecard:
        """Bin each column on ``x``, compute WOE and information value, fit the logistic regression."""
        target = np.asarray(y).astype(int).ravel()
        if np.unique(target).size != 2:
            raise ValueError("the scorecard needs both defaults and non-defaults")
        fitted = [self._fit_bins(np.asarray(x[:, j], dtype=np.float64), target) for j in range(x.shape[1])]
        self.bins_ = [bins for bins, _ in fitted]
        self.information_value_ = np.asarray([iv for _, iv in fitted])
        self.regression_ = LogisticRegression(C=self.c, max_iter=2_000, random_state=self.seed).fit(
            self._transform(x), target
        )
        return self

    def predict_log_odds(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Log-odds of default."""
        if not hasattr(self, "regression_"):
            raise NotFittedError("WoeLogisticScorecard is not fitted; call fit(x, y) first")
        return np.asarray(self.regression_.decision_function(self._transform(x)), dtype=np.float64)

    def predict_pd(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Probability of default."""
        return 1.0 / (1.0 + np.exp(-self.predict_log_odds(x)))


def plain_lightgbm(
    x: npt.NDArray[np.float64], y: npt.ArrayLike, feature_names: Sequence[str], *, seed: int, num_threads: int = 1
) -> lgb.Booster:
    """LightGBM with its default parameters and rounds: no constraints, no early stopping, no tuning."""
    params: dict[str, Any] = {
        "objective": "binary", "seed": seed, "num_threads": num_threads, "deterministic": True,
        "force_row_wise": True, "verbosity": -1,
    }
    data = lgb.Dataset(x, label=np.asarray(y), feature_name=list(feature_names))
    return lgb.train(params, data, num_boost_round=PLAIN_ROUNDS)


def evaluate_baselines(
    x: dict[str, npt.NDArray[np.float64]],
    y: dict[str, npt.NDArray[np.int_]],
    feature_names: Sequence[str],
    *,
    seed: int,
    num_threads: int = 1,
) -> dict[str, dict[str, dict[str, float]]]:
    """Fit both baselines on ``x["train"]`` and report each sample: baseline → sample → metrics.

    Metrics are those of the main model (AUC, KS, Gini, default rate, rows, Brier, log-loss, ECE, mean PD)
    on the baselines' own, uncalibrated, probabilities.
    """
    scorecard = WoeLogisticScorecard(seed=seed).fit(x["train"], y["train"])
    booster = plain_lightgbm(x["train"], y["train"], feature_names, seed=seed, num_threads=num_threads)
    predictors = {
        WOE_SCORECARD: scorecard.predict_pd,
        PLAIN_LIGHTGBM: lambda rows: np.asarray(booster.predict(rows), dtype=np.float64),
    }
    report: dict[str, dict[str, dict[str, float]]] = {}
    for name, predict in predictors.items():
        report[name] = {}
        for sample, rows in x.items():
            pd_ = predict(rows)
            report[name][sample] = {**discrimination(y[sample], pd_), **probability_metrics(y[sample], pd_)}
    return report
