"""One training run, as a recipe: check the table → split → fit → baselines → report → register.

:func:`train_and_validate` does everything that can fail before anything is written; :func:`register_run`
then logs and registers the result (by default as ``challenger``, so the champion moves only through
:func:`models.promotion.promote`). :func:`cross_validate_table` is the same fit on a table without dates:
stratified k-fold, each fold's held-out part standing in for the out-of-time window.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from features.catalogue import CATALOGUE_VERSION
from models.artifact import PdModelArtifact, ScorecardScale
from models.baselines import PLAIN_LIGHTGBM, WOE_SCORECARD, evaluate_baselines
from models.calibration import CalibrationChoice
from models.generic import PreparedTable, TableSpec, TrainingInputError, check_split, fingerprint, prepare_table
from models.history import CHALLENGER
from models.monitoring import BaselineError, ScoreBaseline, with_baseline
from models.registry import RegisteredModel, log_and_register
from models.report import ReportInputs, Sample, render_report
from models.train import DataSplit, TrainedModel, feature_matrix, fit_pd_model, split_out_of_time

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ValidationRun:
    """A trained, validated model ready to register: the model, its artifact, baselines and report."""

    trained: TrainedModel
    artifact: PdModelArtifact
    baselines: dict[str, dict[str, dict[str, float]]]
    report_html: str
    spec: TableSpec
    dropped: dict[str, str]

    def summary(self) -> dict[str, float]:
        """Out-of-time AUC and ECE of the model and AUC of each baseline, for printing."""
        oot = self.trained.metrics["oot"]
        out = {"auc_oot": oot["auc"], "ks_oot": oot["ks"], "ece_oot": oot["ece"], "brier_oot": oot["brier"]}
        for name, samples in self.baselines.items():
            out[f"auc_oot_{name}"] = samples["oot"]["auc"]
        return out


def _mean_abs_contribution(trained: TrainedModel, x: np.ndarray) -> dict[str, float]:
    contributions = np.asarray(trained.booster.predict(x, pred_contrib=True), dtype=np.float64)[:, :-1]
    return dict(zip(trained.feature_names, np.abs(contributions).mean(axis=0).tolist(), strict=True))


def _report(
    trained: TrainedModel, split: DataSplit, baselines: Mapping[str, Any], scale: ScorecardScale, title: str,
    record: dict[str, Any],
) -> str:
    names, label = trained.feature_names, str(trained.columns["label"])
    calibrator = trained.calibrator()
    x_train, x_oot = feature_matrix(split.train, names), feature_matrix(split.oot, names)

    def sample(frame: pd.DataFrame, x: np.ndarray) -> Sample:
        return Sample(frame[label].to_numpy(dtype=np.int64), calibrator.log_odds(trained.raw_margin(x)))

    segments = split.oot[[c for c in ("industry_section_code", "region_province_code", "size_class_code")
                          if c in split.oot.columns]]
    return render_report(ReportInputs(
        title=title, metrics=trained.metrics, baselines=baselines, train=sample(split.train, x_train),
        oot=sample(split.oot, x_oot), scale=scale, feature_names=names, x_train=x_train, x_oot=x_oot,
        mean_abs_contribution=_mean_abs_contribution(trained, x_oot), segments=segments.reset_index(drop=True),
        calibration_method=trained.calibration_method, calibration_scores=trained.calibration_scores,
        record=record,
    ))


def baseline_samples(
    trained: TrainedModel, split: DataSplit, label: str
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Feature matrices and labels the baselines are fitted ("train") and judged on, as the main model was.

    A main model refitted on train + validation has its baselines fitted on those same development rows too
    (and then reported on them and out of time only: they have no out-of-fold sample).
    """
    parts = {"train": split.train, "validation": split.validation, "oot": split.oot}
    if trained.refit:
        parts = {"train": pd.concat([split.train, split.validation]), "oot": split.oot}
    x = {key: feature_matrix(part, trained.feature_names) for key, part in parts.items()}
    y = {key: part[label].to_numpy(dtype=np.int64) for key, part in parts.items()}
    return x, y


def validate_fitted(
    trained: TrainedModel, split: DataSplit, prepared: PreparedTable, spec: TableSpec, *, seed: int,
    num_threads: int, scale: ScorecardScale, title: str,
) -> ValidationRun:
    """Baselines on the same split, the report and the artifact of an already fitted model."""
    names = trained.feature_names
    x, y = baseline_samples(trained, split, spec.label)
    baselines = evaluate_baselines(x, y, names, seed=seed, num_threads=num_threads)
    columns = [c for c in (spec.id, spec.date, spec.label) if c is not None] + list(names)
    record: dict[str, Any] = {
        "catalogue_version": CATALOGUE_VERSION if spec.catalogue_only else f"{CATALOGUE_VERSION} (not enforced)",
        "training_fingerprint": fingerprint(prepared.frame, columns),
        "rows": len(prepared.frame),
        "features": len(names),
        "dropped_columns": prepared.dropped,
        "train_window": f"{trained.train_start}..{trained.train_end}",
        "oot_window": f"{trained.oot_start}..{trained.oot_end}",
        "best_iteration": trained.best_iteration,
        "refit": trained.refit or "no: fitted on train, stopped and calibrated on validation",
        "params": {k: v for k, v in trained.params.items() if k not in ("monotone_constraints", "num_threads")},
    }
    extra = {
        "catalogue_version": record["catalogue_version"],
        "training_fingerprint": record["training_fingerprint"],
        "baselines": {name: samples["oot"] for name, samples in baselines.items()},
        "dropped_columns": prepared.dropped,
    }
    artifact = _with_training_baseline(PdModelArtifact.from_trained(trained, scale, extra_metadata=extra), x["train"])
    html = _report(trained, split, baselines, scale, title, record)
    return ValidationRun(trained, artifact, baselines, html, spec, prepared.dropped)


def _with_training_baseline(artifact: PdModelArtifact, train_x: np.ndarray) -> PdModelArtifact:
    """The artifact carrying its training rows' score distribution, the baseline model monitoring's PSI compares
    served scores with; unchanged when there are too few rows for the baseline's bins."""
    try:
        return with_baseline(artifact, ScoreBaseline.from_log_odds(artifact.predict_log_odds(train_x)))
    except BaselineError:
        return artifact


def train_and_validate(
    frame: pd.DataFrame,
    spec: TableSpec | None = None,
    *,
    seed: int,
    oot_months: int = 12,
    gap_months: int = 0,
    validation_fraction: float = 0.25,
    calibration: CalibrationChoice = "auto",
    params: Mapping[str, Any] | None = None,
    num_threads: int = 1,
    scale: ScorecardScale | None = None,
    title: str = "Validation report: pre-credit PD model (预授信模型)",
    dask_scheduler: Any = None,
    refit: bool = True,
) -> ValidationRun:
    """Check, split out of time, fit the main model and both baselines, render the report; write nothing.

    ``dask_scheduler`` (an address, as ``XINYI_DASK_SCHEDULER``, or a ``distributed.Client``) trains the main
    model on that Dask cluster (:mod:`models.distributed`); the baselines, calibration, report and artifact
    are made here as for a local model. ``refit`` (local only): cross-fit over train + validation and refit
    on all of it (:mod:`models.crossfit`), the baselines then trained on the same rows. ``gap_months`` drops
    development rows dated that close to the window; callers pass ``XINYI_MODEL_GAP_MONTHS`` (the default
    horizon) so every development outcome is observed before the window opens.

    Raises :class:`models.generic.TrainingInputError` for a table that cannot be trained on.
    """
    spec = spec or TableSpec()
    if spec.date is None:
        raise ValueError("train_and_validate needs a date column; use cross_validate_table for undated tables")
    prepared = prepare_table(frame, spec)
    try:
        split = split_out_of_time(
            prepared.frame, oot_months, gap_months=gap_months, validation_fraction=validation_fraction, seed=seed,
            date_column=spec.date, id_column=spec.id,
        )
    except ValueError as exc:  # too short a table for the window and gap: the caller's input, said plainly
        raise TrainingInputError(str(exc)) from exc
    check_split(split, spec.label)
    trained = fit_pd_model(
        split, prepared.feature_names, seed=seed, params=params, num_threads=num_threads,
        calibration=calibration, label=spec.label, date_column=spec.date, id_column=spec.id,
        dask_scheduler=dask_scheduler, refit=refit,
    )
    return validate_fitted(trained, split, prepared, spec, seed=seed, num_threads=num_threads,
                           scale=scale or ScorecardScale(), title=title)


def register_run(
    run: ValidationRun,
    *,
    tracking_uri: str,
    artifact_location: str | Path,
    model_name: str,
    alias: str | None = CHALLENGER,
    history_path: Path | None = None,
) -> RegisteredModel:
    """Log the run with its report (``validation_report.html``) and register it under ``alias``."""
    tags = {
        "catalogue_version": str(run.artifact.metadata["catalogue_version"]),
        "training_fingerprint": str(run.artifact.metadata["training_fingerprint"]),
        "calibration_method": run.trained.calibration_method,
    }
    return log_and_register(
        run.trained, run.artifact, tracking_uri=tracking_uri, artifact_location=artifact_location,
        model_name=model_name, alias=alias, report_html=run.report_html, tags=tags, history_path=history_path,
    )


@dataclass(frozen=True)
class CrossValidation:
    """Per-fold held-out AUC of the main model and of plain LightGBM on the same folds."""

    model_auc: tuple[float, ...]
    plain_lightgbm_auc: tuple[float, ...]
    woe_scorecard_auc: tuple[float, ...]
    feature_names: tuple[str, ...]
    dropped: dict[str, str]


def cross_validate_table(
    frame: pd.DataFrame,
    spec: TableSpec,
    *,
    folds: int = 5,
    seed: int = 0,
    validation_fraction: float = 0.25,
    calibration: CalibrationChoice = "auto",
    params: Mapping[str, Any] | None = None,
    num_threads: int = 1,
    refit: bool = True,
) -> CrossValidation:
    """Stratified k-fold on an undated table: each fold's training part is split (stratified) into train
    and validation exactly as the dated path splits development rows (and, with ``refit``, cross-fitted and
    refitted on both, as the dated path does); the held-out fold is the test."""
    prepared = prepare_table(frame, replace(spec, date=None))
    data, label = prepared.frame.reset_index(drop=True), spec.label
    y_all = data[label].to_numpy()
    scores: dict[str, list[float]] = {"model": [], PLAIN_LIGHTGBM: [], WOE_SCORECARD: []}
    for fold, (development, held_out) in enumerate(
        StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(data, y_all)
    ):
        train_index, validation_index = train_test_split(
            development, test_size=validation_fraction, stratify=y_all[development], random_state=seed + fold
        )
        split = DataSplit(data.iloc[train_index], data.iloc[validation_index], data.iloc[held_out], None)
        check_split(split, label)
        trained = fit_pd_model(split, prepared.feature_names, seed=seed, params=params, num_threads=num_threads,
                               calibration=calibration, label=label, date_column=None, id_column=None,
                               refit=refit)
        scores["model"].append(trained.metrics["oot"]["auc"])
        x, y = baseline_samples(trained, split, label)
        baselines = evaluate_baselines(x, y, prepared.feature_names, seed=seed, num_threads=num_threads)
        scores[PLAIN_LIGHTGBM].append(baselines[PLAIN_LIGHTGBM]["oot"]["auc"])
        scores[WOE_SCORECARD].append(baselines[WOE_SCORECARD]["oot"]["auc"])
        logger.info("fold %d: AUC model %.4f, plain LightGBM %.4f", fold, scores["model"][-1],
                    scores[PLAIN_LIGHTGBM][-1])
    return CrossValidation(tuple(scores["model"]), tuple(scores[PLAIN_LIGHTGBM]), tuple(scores[WOE_SCORECARD]),
                           prepared.feature_names, prepared.dropped)
