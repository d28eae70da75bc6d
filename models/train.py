"""Train the pre-credit PD model (预授信模型): out-of-time split, monotone LightGBM, chosen calibration, metrics."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd

from features.catalogue import FEATURE_SPECS
from models.calibration import (
    CalibrationChoice,
    CalibrationMethod,
    IsotonicCalibrator,
    PlattCalibrator,
    calibrator_from_dict,
    choose_calibration,
)
from models.crossfit import CV_FOLDS, CrossFit, cross_fit
from models.metrics import discrimination, probability_metrics, psi

logger = logging.getLogger(__name__)

__all__ = [
    "DATE_COLUMN",
    "DEFAULT_PARAMS",
    "ID_COLUMN",
    "TARGET_COLUMN",
    "DataSplit",
    "PlattCalibrator",
    "TrainedModel",
    "feature_matrix",
    "finish_fit",
    "fit_pd_model",
    "leaf_minimum",
    "monotone_constraints",
    "split_out_of_time",
    "train_pd_model",
    "training_recipe",
]

ID_COLUMN = "uscc"
DATE_COLUMN = "as_of"
TARGET_COLUMN = "default_12m"

# Chosen by a small seeded search on the demo's development rows only (4 folds by enterprise, lowest mean
# held-out log-loss; never the out-of-time window): slow learning, small trees, a third of the features per
# tree, large leaves and L2 shrinkage beat the earlier 15 leaves at 0.05 (mean log-loss 0.16538 vs 0.16592).
# The synthetic region's risk is close to additive in many noisy signals, so variance is what costs AUC.
DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "metric": ["binary_logloss", "auc"],  # early stopping on the first: steadier than AUC on few defaults
    "num_leaves": 7,  # reason codes (TreeSHAP) cost grows with leaves: ~1 ms per row at 15, ~3.6 ms at 31
    "learning_rate": 0.02,
    "min_data_in_leaf": 300,  # for tables of ~75,000 rows and more; smaller ones: leaf_minimum
    "feature_fraction": 0.4,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 10.0,
    "max_bin": 255,
    "deterministic": True,
    "force_row_wise": True,  # with deterministic=True: same data, seed and threads give the same model
    "verbosity": -1,
}
MAX_BOOST_ROUNDS = 2_000
EARLY_STOPPING_ROUNDS = 100
TRAINING_VERSION = 3  # 2: trees from cross-fitting, calibration on out-of-fold margins, refit on development;
# 3: the leaf minimum scales down for tables smaller than the one it was chosen on (leaf_minimum)
ROWS_PER_LEAF_MINIMUM = 250
"""The search chose 300 rows per leaf on 79,216 development rows, about 1/250 of them: a table's leaf minimum is
that share of its rows, capped at 300 and never below LightGBM's own default of 20."""


def leaf_minimum(rows: int) -> int:
    """``min_data_in_leaf`` for a booster trained on ``rows`` rows: 300 from ~75,000 rows up, in proportion below
    (a bank's loan book of 5,000 rows would otherwise get trees of a few leaves that each hold 6 % of it)."""
    return int(min(DEFAULT_PARAMS["min_data_in_leaf"], max(20, rows // ROWS_PER_LEAF_MINIMUM)))


def training_recipe() -> dict[str, Any]:
    """What decides the model trained from the same table: stamped by pipelines so a change retrains."""
    return {"version": TRAINING_VERSION, "params": DEFAULT_PARAMS, "cv_folds": CV_FOLDS,
            "max_rounds": MAX_BOOST_ROUNDS, "early_stopping_rounds": EARLY_STOPPING_ROUNDS}


@dataclass(frozen=True)
class DataSplit:
    """Train, validation and out-of-time (or held-out test) frames, with the date that starts the test window."""

    train: pd.DataFrame
    validation: pd.DataFrame
    oot: pd.DataFrame
    oot_start: pd.Timestamp | None


def split_out_of_time(
    frame: pd.DataFrame,
    oot_months: int = 12,
    *,
    gap_months: int = 0,
    validation_fraction: float = 0.25,
    seed: int = 0,
    date_column: str = DATE_COLUMN,
    id_column: str | None = ID_COLUMN,
) -> DataSplit:
    """Split by time, then by enterprise: OOT = dates in the last ``oot_months``; the rest by enterprise.

    The OOT window (date > latest date − ``oot_months``) tests the model on applications it could not
    have seen, as a bank would use it. Development rows dated within ``gap_months`` before the window
    are dropped (a gap of the 12-month outcome horizon keeps every development outcome observed before the
    window opens). Development enterprises go wholly to train or wholly to validation: one enterprise's
    rows at successive dates are near copies with correlated labels, so a row-wise split would let early
    stopping and calibration reward memorising enterprises and overstate validation AUC. With
    ``id_column=None`` every row is its own enterprise.
    """
    if oot_months < 1 or gap_months < 0:
        raise ValueError("oot_months must be ≥ 1 and gap_months ≥ 0")
    if not 0 < validation_fraction < 1:
        raise ValueError("validation_fraction must be between 0 and 1")
    as_of = pd.to_datetime(frame[date_column])
    oot_start_exclusive = as_of.max() - pd.DateOffset(months=oot_months)
    is_oot = as_of > oot_start_exclusive
    development = frame[as_of <= oot_start_exclusive - pd.DateOffset(months=gap_months)]
    if development.empty:
        raise ValueError("no development rows before the out-of-time window; lower oot_months or gap_months")
    ids = development.index.to_numpy() if id_column is None else development[id_column].to_numpy()
    enterprises = np.sort(pd.unique(ids))
    shuffled = np.random.default_rng(seed).permutation(enterprises)
    n_validation = max(1, round(validation_fraction * len(enterprises)))
    in_validation = np.isin(ids, shuffled[:n_validation])
    return DataSplit(
        train=development[~in_validation],
        validation=development[in_validation],
        oot=frame[is_oot],
        oot_start=pd.Timestamp(as_of[is_oot].min()),
    )


@dataclass(frozen=True)
class TrainedModel:
    """A fitted booster with its chosen calibration, metrics per sample, parameters and training window.

    ``calibration_intercept``/``calibration_slope`` are always the Platt fit on the calibration sample (the
    linear scale of reason points); ``calibration`` is the chosen calibrator's record, which ``predict_pd``
    applies. A refitted model (``refit`` not empty) was calibrated on cross-fitted out-of-fold margins over
    the development rows, and its ``metrics["validation"]`` are those out-of-fold figures.
    """

    booster: lgb.Booster
    feature_names: tuple[str, ...]
    calibration_intercept: float
    calibration_slope: float
    metrics: dict[str, dict[str, float]]
    params: dict[str, Any]
    best_iteration: int
    train_start: date | None
    train_end: date | None
    oot_start: date | None
    oot_end: date | None
    calibration: dict[str, Any] = field(default_factory=dict)
    calibration_scores: dict[str, dict[str, float]] = field(default_factory=dict)
    columns: dict[str, str | None] = field(default_factory=dict)
    refit: dict[str, Any] = field(default_factory=dict)  # CrossFit.record() when refitted on all development rows

    @property
    def calibration_method(self) -> CalibrationMethod:
        """"platt" or "isotonic": the calibration ``predict_pd`` applies."""
        return "isotonic" if self.calibration.get("method") == "isotonic" else "platt"

    def calibrator(self) -> PlattCalibrator | IsotonicCalibrator:
        """The chosen calibrator, rebuilt from its record."""
        if not self.calibration:
            return calibrator_from_dict(
                {"method": "platt", "intercept": self.calibration_intercept, "slope": self.calibration_slope}
            )
        return calibrator_from_dict(self.calibration)

    def raw_margin(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Raw booster margin (uncalibrated log-odds) for a float64 matrix in feature order."""
        return np.asarray(self.booster.predict(x, raw_score=True), dtype=np.float64)

    def predict_pd(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Calibrated probability of default for a float64 matrix in feature order."""
        return 1.0 / (1.0 + np.exp(-self.calibrator().log_odds(self.raw_margin(x))))

    def flat_metrics(self) -> dict[str, float]:
        """Metrics as ``<name>_<sample>`` (auc_oot, ks_validation …) for tracking stores."""
        return {f"{name}_{sample}": value for sample, values in self.metrics.items()
                for name, value in values.items()}


def monotone_constraints(feature_names: Sequence[str]) -> list[int]:
    """LightGBM monotone constraints from the catalogue: +1 riskier-when-higher, −1 safer, 0 unknown."""
    directions = []
    for name in feature_names:
        spec = FEATURE_SPECS.get(name)
        riskier = None if spec is None else spec.higher_is_riskier
        directions.append(0 if riskier is None else (1 if riskier else -1))
    return directions


def feature_matrix(frame: pd.DataFrame, feature_names: Sequence[str]) -> npt.NDArray[np.float64]:
    """The float64 matrix of ``feature_names`` in order; absent columns are all missing (NaN)."""
    x = np.full((len(frame), len(feature_names)), np.nan, dtype=np.float64)
    for i, name in enumerate(feature_names):
        if name in frame.columns:
            x[:, i] = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
    return x


def _check_frame(frame: pd.DataFrame, feature_names: Sequence[str], label: str, required: Sequence[str]) -> None:
    missing = [c for c in (*required, label, *feature_names) if c not in frame.columns]
    if missing:
        raise ValueError(f"training frame lacks columns: {missing}")
    if len(set(feature_names)) != len(feature_names):
        raise ValueError("feature_names contains duplicates")
    if not frame[label].isin((0, 1)).all():
        raise ValueError(f"{label} must be 0 or 1")


def _window(*frames: pd.DataFrame, column: str | None) -> tuple[date | None, date | None]:
    if column is None:
        return None, None
    dates = pd.to_datetime(pd.concat([f[column] for f in frames]))
    return dates.min().date(), dates.max().date()


def merged_params(
    feature_names: Sequence[str], seed: int, num_threads: int, params: Mapping[str, Any] | None, monotone: bool,
    *, rows: int,
) -> dict[str, Any]:
    """:data:`DEFAULT_PARAMS` with the leaf minimum for ``rows`` training rows, the seed and threads, catalogue
    monotone constraints, then ``params``."""
    merged: dict[str, Any] = {**DEFAULT_PARAMS, "seed": seed, "num_threads": num_threads,
                              "min_data_in_leaf": leaf_minimum(rows)}
    if monotone:
        merged["monotone_constraints"] = monotone_constraints(feature_names)
        merged["monotone_constraints_method"] = "intermediate"
    merged.update(params or {})
    return merged


def fit_pd_model(
    split: DataSplit,
    feature_names: Sequence[str],
    *,
    seed: int,
    params: Mapping[str, Any] | None = None,
    num_threads: int = 1,
    monotone: bool = True,
    calibration: CalibrationChoice = "auto",
    label: str = TARGET_COLUMN,
    date_column: str | None = DATE_COLUMN,
    id_column: str | None = ID_COLUMN,
    dask_scheduler: Any = None,
    refit: bool = True,
) -> TrainedModel:
    """Fit LightGBM on the development rows with the number of trees found by early stopping, calibrate, report.

    With ``refit`` (the default, local only) the trees and the calibration come from cross-fitting by
    enterprise over train + validation and the booster is refitted on all of them
    (:func:`models.crossfit.cross_fit`). Without it, and on Dask, the booster is fitted on ``split.train``,
    stopped early and calibrated on ``split.validation``.

    With ``dask_scheduler`` (an address such as ``XINYI_DASK_SCHEDULER``, or a ``distributed.Client``) the
    booster is trained on that Dask cluster through ``lightgbm.dask`` (:mod:`models.distributed`);
    ``num_threads`` is then each worker's own thread count. Everything after the booster is the same.

    Calibration is Platt or isotonic, chosen by cross-fitted log-loss (``calibration="auto"``) or forced, on
    the out-of-fold margins (refit) or on validation. Metrics per sample: AUC, KS, Gini, default rate, rows,
    Brier, log-loss, ECE, mean PD, and PSI of the margin against train for validation and OOT.
    """
    names = tuple(feature_names)
    if dask_scheduler not in (None, ""):
        from models.distributed import fit_pd_model_dask  # imports dask only when asked for

        return fit_pd_model_dask(
            split, names, scheduler=dask_scheduler, seed=seed, params=params, monotone=monotone,
            calibration=calibration, label=label, date_column=date_column, id_column=id_column,
        )
    trained_on = len(split.train) + len(split.validation) if refit else len(split.train)
    merged = merged_params(names, seed, num_threads, params, monotone, rows=trained_on)
    rounds = int(merged.pop("num_boost_round", MAX_BOOST_ROUNDS))
    samples = {"train": split.train, "validation": split.validation, "oot": split.oot}
    x = {key: feature_matrix(part, names) for key, part in samples.items()}
    y = {key: part[label].to_numpy(dtype=np.int64) for key, part in samples.items()}
    if refit:
        development = pd.concat([split.train, split.validation])
        ids = np.arange(len(development)) if id_column is None else development[id_column].to_numpy()
        crossed = cross_fit(
            np.vstack([x["train"], x["validation"]]), np.concatenate([y["train"], y["validation"]]), ids, names,
            merged, max_rounds=rounds, early_stopping_rounds=EARLY_STOPPING_ROUNDS, seed=seed,
        )
        return finish_fit(
            crossed.model_string, split, names, merged, seed=seed, calibration=calibration, label=label,
            date_column=date_column, id_column=id_column, x=x, crossed=crossed,
        )

    train_set = lgb.Dataset(x["train"], label=y["train"], feature_name=list(names), free_raw_data=False)
    valid_set = lgb.Dataset(x["validation"], label=y["validation"], reference=train_set)
    booster = lgb.train(
        merged,
        train_set,
        num_boost_round=rounds,
        valid_sets=[valid_set],
        valid_names=["validation"],
        callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, first_metric_only=True, verbose=False)],
    )
    best = booster.best_iteration or booster.current_iteration()
    return finish_fit(
        booster.model_to_string(num_iteration=best), split, names, merged, seed=seed, calibration=calibration,
        label=label, date_column=date_column, id_column=id_column, x=x,
    )


def finish_fit(
    model_string: str,
    split: DataSplit,
    feature_names: Sequence[str],
    params: dict[str, Any],
    *,
    seed: int,
    calibration: CalibrationChoice = "auto",
    label: str = TARGET_COLUMN,
    date_column: str | None = DATE_COLUMN,
    id_column: str | None = ID_COLUMN,
    x: Mapping[str, npt.NDArray[np.float64]] | None = None,
    crossed: CrossFit | None = None,
) -> TrainedModel:
    """Calibrate a fitted booster and measure it on train, validation and out-of-time.

    ``model_string`` holds only the trees up to the best iteration, so the saved text, predictions and SHAP
    agree. The local path (:func:`fit_pd_model`) and the Dask path (:mod:`models.distributed`) both end here,
    so both give the same kind of :class:`TrainedModel` and artifact. Without ``crossed`` the calibration is
    chosen and fitted on the booster's own validation margins. With it (a booster refitted on train +
    validation) it is chosen and fitted on the cross-fitted out-of-fold margins of those rows: "train" is
    then every development row, scored by the booster that saw it, and "validation" the same rows out of fold.
    """
    names = tuple(feature_names)
    booster = lgb.Booster(model_str=model_string)
    best = booster.current_iteration()
    samples = {"train": split.train, "validation": split.validation, "oot": split.oot}
    if x is None:
        x = {key: feature_matrix(part, names) for key, part in samples.items()}
    y = {key: part[label].to_numpy(dtype=np.int64) for key, part in samples.items()}
    margins = {key: booster.predict(x[key], raw_score=True) for key in samples}
    calibration_rows = split.validation
    if crossed is not None:
        calibration_rows = pd.concat([split.train, split.validation])
        y["train"] = y["validation"] = np.concatenate([y["train"], y["validation"]])
        margins["train"] = np.concatenate([margins["train"], margins["validation"]])
        margins["validation"] = crossed.out_of_fold_margin
    groups = None if id_column is None else calibration_rows[id_column].to_numpy()
    selection = choose_calibration(margins["validation"], y["validation"], groups=groups, choice=calibration,
                                   seed=seed)
    metrics = {}
    for key in samples:
        pd_ = 1.0 / (1.0 + np.exp(-selection.calibrator.log_odds(margins[key])))
        metrics[key] = {**discrimination(y[key], margins[key]), **probability_metrics(y[key], pd_)}
        if key != "train":  # stability of the margin distribution against training (< 0.1 stable)
            metrics[key]["psi"] = psi(margins["train"], margins[key])
    logger.info(
        "trained PD model: %d trees, %s calibration, AUC validation %.3f, OOT %.3f",
        best, selection.method, metrics["validation"]["auc"], metrics["oot"]["auc"],
    )
    train_start, train_end = _window(split.train, split.validation, column=date_column)
    oot_start, oot_end = _window(split.oot, column=date_column)
    return TrainedModel(
        booster=booster,
        feature_names=names,
        calibration_intercept=selection.platt.intercept_,
        calibration_slope=selection.platt.slope_,
        metrics=metrics,
        params=params,
        best_iteration=int(best),
        train_start=train_start,
        train_end=train_end,
        oot_start=oot_start,
        oot_end=oot_end,
        calibration=selection.calibrator.to_dict(),
        calibration_scores=selection.scores,
        columns={"label": label, "date": date_column, "id": id_column},
        refit={} if crossed is None else crossed.record(),
    )


def train_pd_model(
    frame: pd.DataFrame,
    feature_names: Sequence[str],
    *,
    seed: int,
    params: Mapping[str, Any] | None = None,
    oot_months: int = 12,
    gap_months: int = 0,
    validation_fraction: float = 0.25,
    num_threads: int = 1,
    monotone: bool = True,
    calibration: CalibrationChoice = "auto",
    label: str = TARGET_COLUMN,
    date_column: str = DATE_COLUMN,
    id_column: str | None = ID_COLUMN,
    dask_scheduler: Any = None,
    refit: bool = True,
) -> TrainedModel:
    """Split ``frame`` out of time and by enterprise, then :func:`fit_pd_model` (here, or on Dask).

    ``params`` override :data:`DEFAULT_PARAMS`; ``monotone`` adds catalogue-direction constraints so more
    arrears never raises a score (overridable through ``params["monotone_constraints"]``).
    """
    names = tuple(feature_names)
    _check_frame(frame, names, label, [c for c in (id_column, date_column) if c is not None])
    split = split_out_of_time(
        frame, oot_months, gap_months=gap_months, validation_fraction=validation_fraction, seed=seed,
        date_column=date_column, id_column=id_column,
    )
    if split.oot.empty:
        raise ValueError("out-of-time window is empty")
    return fit_pd_model(
        split, names, seed=seed, params=params, num_threads=num_threads, monotone=monotone,
        calibration=calibration, label=label, date_column=date_column, id_column=id_column,
        dask_scheduler=dask_scheduler, refit=refit,
    )
