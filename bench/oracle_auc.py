"""Model quality against the oracle: AUC of the champion and of the true PD on the out-of-time window.

The synthetic region knows each application's true probability of default (``truth/oracle_pd.parquet``),
which no model can beat on average. Prints both AUCs on the same rows, their ratio, KS, and the bar
([foundation]: ratio >= 0.9); exits 1 below the bar. Run after ``xinyi demo --no-serve``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

from config.settings import get_settings
from features.outcomes import LABEL
from models.metrics import auc, ks
from models.registry import load_model_by_alias

BAR = 0.9


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
    window = applications[applications["as_of"] >= oot_start].merge(oracle, on=["uscc", "as_of"], how="inner")
    x = window[list(artifact.feature_names)].to_numpy(dtype=np.float64)
    model_pd = artifact.predict_pd(x, num_threads=2)
    y = window[LABEL].to_numpy()
    model_auc, oracle_auc = auc(y, model_pd), auc(y, window["true_pd"].to_numpy())
    ratio = model_auc / oracle_auc
    print(f"region {settings.region_name!r}: {settings.demo_enterprises:,} enterprises, seed {settings.seed}")
    print(f"model {settings.model_name} v{version}; out-of-time window from {oot_start.date()}: "
          f"{len(window):,} applications ({y.mean():.2%} defaulted) on {window['as_of'].nunique()} dates")
    print(f"AUC model  {model_auc:.4f}   KS {ks(y, model_pd):.4f}")
    print(f"AUC oracle {oracle_auc:.4f}   KS {ks(y, window['true_pd'].to_numpy()):.4f}")
    print(f"ratio      {ratio:.3f}   (bar {args.bar:.2f}: {'met' if ratio >= args.bar else 'NOT met'})")
    return 0 if ratio >= args.bar else 1


if __name__ == "__main__":
    sys.exit(main())
