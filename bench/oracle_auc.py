"""Model quality against the oracle: AUC of the champion, its baselines and the true PD out of time.

The synthetic region knows each application's true probability of default (``truth/oracle_pd.parquet``),
which no model can beat on average. Prints, from one run: the model's AUC, KS and ECE on the out-of-time
window, the AUC of the plain LightGBM and the WOE scorecard trained beside it on the same rows (train +
validation when the model was refitted on them; stored with the model), the oracle's AUC on the same rows,
and the [models] bars: model AUC ≥ scorecard + 0.01 and ≥ plain LightGBM, ECE ≤ 0.01, model/oracle AUC
≥ ``--bar`` (0.95). Exits 1 when any bar is missed. Run after ``xinyi demo --no-serve``.

It prints the development dates and the gap before the window (``XINYI_MODEL_GAP_MONTHS``, by default the
12-month default horizon: label maturity) and, as a diagnostic beside the bars, how many out-of-time defaults
were already labels of development rows (with a gap shorter than the horizon a development row's outcome reaches
into the window, so a model that recognises the enterprise is rewarded) and the AUCs on the other window rows;
and, for a refitted model, the model − scorecard margin in development: the model's out-of-fold AUC against a
scorecard fitted on the same enterprise folds (no time shift, no out-of-time window), so a margin that is the
same there is the region's, not the window's.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

from bench.results import record
from config.settings import get_settings
from features.outcomes import LABEL
from models.baselines import WoeLogisticScorecard, plain_lightgbm
from models.calibration import enterprise_folds
from models.metrics import auc, expected_calibration_error, ks
from models.registry import load_model_by_alias

BAR = 0.95
SCORECARD_MARGIN = 0.01
ECE_BAR = 0.01


def _label_overlap(development: pd.DataFrame, window: pd.DataFrame, model_pd: np.ndarray,
                   feature_names: tuple[str, ...], seed: int) -> None:
    """Print the out-of-time defaults already labelled in development, and AUCs on the rows without them.

    Both baselines are refitted as the stored ones were (same development rows, seed and settings).
    A diagnostic only: nothing is chosen on it.
    """
    labelled = set(development.loc[development[LABEL] == 1, "uscc"])
    seen = window["uscc"].isin(labelled).to_numpy()
    y = window[LABEL].to_numpy()
    x = development[list(feature_names)].to_numpy(dtype=np.float64)
    x_window = window[list(feature_names)].to_numpy(dtype=np.float64)
    plain = plain_lightgbm(x, development[LABEL], feature_names, seed=seed, num_threads=2)
    plain_pd = np.asarray(plain.predict(x_window))
    scorecard_pd = WoeLogisticScorecard(seed=seed).fit(x, development[LABEL].to_numpy()).predict_pd(x_window)
    rest = ~seen
    oracle_pd = window["true_pd"].to_numpy()
    print(f"label overlap: {int(y[seen].sum()):,} of {int(y.sum()):,} out-of-time defaults were already labels of "
          f"development rows; on the other {int(rest.sum()):,} rows AUC model {auc(y[rest], model_pd[rest]):.4f}, "
          f"plain LightGBM {auc(y[rest], plain_pd[rest]):.4f}, WOE scorecard {auc(y[rest], scorecard_pd[rest]):.4f}, "
          f"oracle {auc(y[rest], oracle_pd[rest]):.4f}")


def _development_margin(development: pd.DataFrame, feature_names: tuple[str, ...], refit: dict,
                        model_out_of_fold_auc: float, seed: int) -> None:
    """Print the model's out-of-fold AUC on the development rows beside a WOE scorecard's on the same folds.

    The folds are the cross-fitting's (``refit["folds"]`` by enterprise, the model's seed; the assignment
    depends on the enterprises only, not the row order). A diagnostic only: nothing is chosen on it.
    """
    x = development[list(feature_names)].to_numpy(dtype=np.float64)
    y = development[LABEL].to_numpy()
    fold = enterprise_folds(development["uscc"].to_numpy(), int(refit["folds"]), seed)
    scorecard = np.empty(y.size)
    for k in range(int(refit["folds"])):
        held = fold == k
        scorecard[held] = WoeLogisticScorecard(seed=seed).fit(x[~held], y[~held]).predict_log_odds(x[held])
    scorecard_auc = auc(y, scorecard)
    print(f"development, out of fold ({refit['folds']} enterprise folds, no time shift): AUC model "
          f"{model_out_of_fold_auc:.4f}, WOE scorecard {scorecard_auc:.4f}, "
          f"model − scorecard {model_out_of_fold_auc - scorecard_auc:+.4f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bar", type=float, default=BAR, help="lowest acceptable model/oracle AUC ratio")
    args = parser.parse_args()
    settings = get_settings()
    root = settings.region_dir()
    applications = pd.read_parquet(root / "profiles" / "applications.parquet")
    oracle = pd.read_parquet(root / "truth" / "oracle_pd.parquet")
    artifact, version = load_model_by_alias(settings.resolved_mlflow_uri, settings.model_name)
    oot_start = pd.Timestamp(artifact.metadata["oot_start"])
    development = applications[applications["as_of"] <= pd.Timestamp(artifact.metadata["train_end"])]
    window = applications[applications["as_of"] >= oot_start].merge(oracle, on=["uscc", "as_of"], how="inner")
    x = window[list(artifact.feature_names)].to_numpy(dtype=np.float64)
    model_pd = artifact.predict_pd(x, num_threads=2)
    y = window[LABEL].to_numpy()
    model_auc, oracle_auc = auc(y, model_pd), auc(y, window["true_pd"].to_numpy())
    ratio = model_auc / oracle_auc
    print(f"region {settings.region_name!r}: {settings.demo_enterprises:,} enterprises, seed {settings.seed}")
    print(f"model {settings.model_name} v{version}; out-of-time window from {oot_start.date()}: "
          f"{len(window):,} applications ({y.mean():.2%} defaulted) on {window['as_of'].nunique()} dates")
    development_end = pd.Timestamp(development["as_of"].max())
    months_to_window = (oot_start.year - development_end.year) * 12 + oot_start.month - development_end.month
    print(f"development rows {development['as_of'].min().date()}..{development_end.date()}: {len(development):,} "
          f"on {development['as_of'].nunique()} dates, the last {months_to_window} months before the window "
          f"(XINYI_MODEL_GAP_MONTHS now {settings.resolved_model_gap_months}; outcomes need "
          f"{settings.default_horizon_months} months)")
    ece = expected_calibration_error(y, model_pd)
    baselines = artifact.metadata.get("baselines", {})
    refit = artifact.metadata.get("refit") or {}
    rows = (f"train + validation ({refit['development_rows']:,} rows)" if refit else "train rows")
    if refit:
        print(f"model refitted on {refit['development_rows']:,} development rows with {refit['refit_rounds']} "
              f"rounds ({refit['folds']} cross-fitted folds stopped at {refit['cv_best_iteration']}); "
              "calibrated on their out-of-fold margins")
    plain = baselines.get("plain_lightgbm", {}).get("auc", float("nan"))
    scorecard = baselines.get("woe_scorecard", {}).get("auc", float("nan"))
    print(f"AUC model          {model_auc:.4f}   KS {ks(y, model_pd):.4f}   ECE {ece:.4f} "
          f"({artifact.metadata.get('calibration_method', 'platt')} calibration)")
    print(f"AUC plain LightGBM {plain:.4f}   (default parameters, 100 rounds, fitted on the same {rows})")
    print(f"AUC WOE scorecard  {scorecard:.4f}   (fitted on the same {rows})")
    print(f"AUC oracle         {oracle_auc:.4f}   KS {ks(y, window['true_pd'].to_numpy()):.4f}")
    bars = {
        f"model/oracle AUC {ratio:.3f} ≥ {args.bar:.2f}": ratio >= args.bar,
        f"model AUC ≥ scorecard + {SCORECARD_MARGIN}": model_auc >= scorecard + SCORECARD_MARGIN,
        "model AUC ≥ plain LightGBM": model_auc >= plain,
        f"ECE {ece:.4f} ≤ {ECE_BAR}": ece <= ECE_BAR,
    }
    if refit:
        _label_overlap(development, window, model_pd, artifact.feature_names, settings.seed)
        out_of_fold = artifact.metadata.get("metrics", {}).get("validation", {}).get("auc")
        if out_of_fold is not None:
            _development_margin(development, artifact.feature_names, refit, float(out_of_fold), settings.seed)
    for words, met in bars.items():
        print(f"bar: {words}: {'met' if met else 'NOT met'}")
    region = f"{settings.demo_enterprises:,} enterprises, seed {settings.seed}, {len(window):,} applications"
    record("synthetic region, enterprises", settings.demo_enterprises, "enterprises", 20_000, ">=", note=region)
    for name, value in (("model", model_auc), ("plain LightGBM", plain), ("WOE scorecard", scorecard),
                        ("oracle (true PD)", oracle_auc)):
        record(f"out-of-time AUC, {name}", value, "AUC")
    record("out-of-time AUC, model ÷ oracle", ratio, "ratio", args.bar, ">=", note=f"oracle {oracle_auc:.4f}")
    record("out-of-time AUC, model − WOE scorecard", model_auc - scorecard, "AUC", SCORECARD_MARGIN, ">=",
           note=f"model {model_auc:.4f}, scorecard {scorecard:.4f}")
    record("out-of-time AUC, model − plain LightGBM", model_auc - plain, "AUC", 0.0, ">=",
           note=f"plain {plain:.4f}")
    record("out-of-time expected calibration error", ece, "", ECE_BAR, "<=")
    record("months from the last development date to the out-of-time window", months_to_window, "months",
           settings.default_horizon_months, ">=", note=f"development rows to {development_end.date()}, window from "
           f"{oot_start.date()}: each development outcome is observed before the window opens")
    return 0 if all(bars.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
