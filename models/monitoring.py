"""模型监控: does the champion still see the population it was trained on, and do its grades still rank risk?

Score drift is the PSI of each month's scores against the training baseline (the training window's score
distribution in ten quantile bins), read against the 0.1 / 0.25 bands; performance is the realised default rate
by grade and the AUC on matured loans. Scores are compared as the model's log-odds (logit of the PD): the
scorecard score is a monotone function of it, so the bins and the PSI are the same as on score points.

Pure pandas/NumPy over frames the caller assembles (``api.model_monitoring`` reads them from the service
database; a notebook may pass batch scores). Training stores the baseline with :func:`baseline_metadata`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from models.artifact import PdModelArtifact
from models.metrics import PSI_ACT, PSI_STABLE, auc

BASELINE_KEY = "score_baseline"
"""Where the baseline sits in the artifact's metadata."""
BASELINE_BINS = 10
EMPTY_SHARE = 1e-4
"""An empty bin counts as this share, as ``models.metrics.psi`` does, so the PSI stays finite."""
AUC_MAX_DROP = 0.05
"""Alert when the AUC on matured loans is more than this below the out-of-time AUC at training."""
MIN_MONTH_SCORES = 100
"""A month with fewer scores gets its PSI but no alert: ten bins of a few dozen scores drift by chance alone."""
AUC_MIN_EACH = 20
"""The AUC alert needs at least this many defaults and as many non-defaults among the matured loans."""
Band = Literal["stable", "watch", "act"]


class BaselineError(ValueError):
    """No usable training baseline: too few training scores, or a stored baseline that does not add up."""


def band_of(value: float) -> Band:
    """PSI band: stable below 0.1, watch from 0.1, act from 0.25."""
    if value >= PSI_ACT:
        return "act"
    return "watch" if value >= PSI_STABLE else "stable"


def log_odds_of(pd_: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The model's log-odds of default from its PD (the quantity scores are a monotone function of)."""
    p = np.clip(np.asarray(pd_, dtype=float), 1e-12, 1 - 1e-12)
    return np.asarray(np.log(p / (1 - p)), dtype=np.float64)


@dataclass(frozen=True)
class ScoreBaseline:
    """The training window's score distribution: inner bin edges (log-odds) and each bin's share of rows."""

    edges: tuple[float, ...]
    shares: tuple[float, ...]
    rows: int
    source: str = "training window"

    def __post_init__(self) -> None:
        if len(self.shares) != len(self.edges) + 1 or abs(sum(self.shares) - 1.0) > 1e-6:
            raise BaselineError("a baseline needs one share per bin (inner edges + 1) summing to 1")

    @classmethod
    def from_log_odds(cls, log_odds: npt.ArrayLike, bins: int = BASELINE_BINS,
                      source: str = "training window") -> ScoreBaseline:
        """Quantile bins of the training scores; each holds about 1/``bins`` of them."""
        values = np.asarray(log_odds, dtype=float).ravel()
        values = values[np.isfinite(values)]
        if values.size < bins:
            raise BaselineError(f"a baseline needs at least {bins} training scores, got {values.size}")
        edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))
        shares = _shares(edges, values)
        return cls(tuple(float(e) for e in edges), tuple(float(s) for s in shares), int(values.size), source)

    def psi(self, log_odds: npt.ArrayLike) -> float:
        """PSI of these scores against the baseline: Σ (a − e)·ln(a / e) over the baseline's bins."""
        actual = np.maximum(_shares(np.asarray(self.edges), np.asarray(log_odds, dtype=float).ravel()), EMPTY_SHARE)
        expected = np.maximum(np.asarray(self.shares), EMPTY_SHARE)
        return float(np.sum((actual - expected) * np.log(actual / expected)))

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready record for the artifact's metadata."""
        return {"edges": list(self.edges), "shares": list(self.shares), "rows": self.rows, "source": self.source}

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> ScoreBaseline:
        """The baseline stored by :meth:`to_json`."""
        return cls(tuple(record["edges"]), tuple(record["shares"]), int(record["rows"]),
                   str(record.get("source", "training window")))


def _shares(edges: npt.NDArray[np.float64], values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    if values.size == 0:
        raise ValueError("no scores to bin")
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=edges.size + 1)
    return np.asarray(counts / values.size, dtype=np.float64)


def baseline_metadata(train_log_odds: npt.ArrayLike) -> dict[str, Any]:
    """What training adds to the artifact's metadata so monitoring has its baseline:
    ``extra_metadata={..., **baseline_metadata(train_log_odds)}``."""
    return {BASELINE_KEY: ScoreBaseline.from_log_odds(train_log_odds).to_json()}


def with_baseline(artifact: PdModelArtifact, baseline: ScoreBaseline) -> PdModelArtifact:
    """A copy of the artifact carrying this baseline."""
    return replace(artifact, metadata={**artifact.metadata, BASELINE_KEY: baseline.to_json()})


def stored_baseline(artifact: PdModelArtifact) -> ScoreBaseline | None:
    """The baseline training stored with the artifact, if it did."""
    record = artifact.metadata.get(BASELINE_KEY)
    return ScoreBaseline.from_json(record) if isinstance(record, dict) else None


def training_window_baseline(
    artifact: PdModelArtifact, frame: pd.DataFrame, date_column: str = "as_of"
) -> ScoreBaseline:
    """The baseline recomputed from the training table: rows dated in the artifact's training window
    (``train_start``..``train_end`` in its metadata) scored with the artifact. For models trained before
    baselines were stored."""
    start, end = artifact.metadata.get("train_start"), artifact.metadata.get("train_end")
    if start is None or end is None:
        raise BaselineError("the artifact records no training window")
    dates = pd.to_datetime(frame[date_column])
    rows = frame[(dates >= pd.Timestamp(start)) & (dates <= pd.Timestamp(end))]
    if rows.empty:
        raise BaselineError(f"no rows of the table fall in the training window {start}..{end}")
    x = rows.reindex(columns=list(artifact.feature_names)).to_numpy(dtype=np.float64)
    return ScoreBaseline.from_log_odds(artifact.predict_log_odds(x), source=f"training window {start}..{end}")


def psi_by_month(baseline: ScoreBaseline, scores: pd.DataFrame) -> pd.DataFrame:
    """One row per month of ``scores`` (``month`` as YYYY-MM, ``log_odds``): ``scores``, ``psi``, ``band``."""
    rows = [
        {"month": month, "scores": len(group), "psi": baseline.psi(group["log_odds"])}
        for month, group in scores.groupby("month", sort=True)
    ]
    table = pd.DataFrame(rows, columns=["month", "scores", "psi"])
    table["band"] = [band_of(v) for v in table["psi"]]
    return table


def default_rate_by_grade(matured: pd.DataFrame, label: str = "default_12m") -> pd.DataFrame:
    """Realised default rate by grade on matured loans (``grade``, ``pd``, the 0/1 ``label``): ``scores``,
    ``defaults``, ``realised_default_rate``, ``mean_pd``, and a last row ``all`` with the ``auc`` (empty when
    only one outcome occurred)."""
    columns = ["grade", "scores", "defaults", "realised_default_rate", "mean_pd", "auc"]
    if matured.empty:
        return pd.DataFrame(columns=columns)
    table = matured.groupby("grade", sort=True).agg(
        scores=(label, "size"), defaults=(label, "sum"), realised_default_rate=(label, "mean"), mean_pd=("pd", "mean")
    ).reset_index()
    table["auc"] = np.nan
    overall = {"grade": "all", "scores": len(matured), "defaults": int(matured[label].sum()),
               "realised_default_rate": float(matured[label].mean()), "mean_pd": float(matured["pd"].mean()),
               "auc": matured_auc(matured, label)}
    table = pd.concat([table, pd.DataFrame([overall])], ignore_index=True)
    table["defaults"] = table["defaults"].astype(int)
    return table[columns]


def matured_auc(matured: pd.DataFrame, label: str = "default_12m") -> float:
    """AUC of the PD against realised defaults; NaN when only one outcome occurred."""
    if matured[label].nunique() < 2:
        return float("nan")
    return auc(matured[label].to_numpy(), matured["pd"].to_numpy())


@dataclass(frozen=True)
class Alert:
    """告警: a monitored figure crossed its band — which figure, for what (a month, the AUC), and by how much."""

    kind: Literal["score_drift", "discrimination"]
    subject: str
    value: float
    threshold: float
    severity: Literal["watch", "act"]
    message: str


def drift_alerts(psi_table: pd.DataFrame, min_scores: int = MIN_MONTH_SCORES) -> list[Alert]:
    """An alert for every month of at least ``min_scores`` scores whose PSI is in the watch (≥ 0.1) or act
    (≥ 0.25) band."""
    alerts = []
    for month, count, value in zip(psi_table["month"], psi_table["scores"], psi_table["psi"], strict=True):
        band = band_of(float(value))
        if band == "stable" or count < min_scores:
            continue
        threshold = PSI_ACT if band == "act" else PSI_STABLE
        alerts.append(Alert("score_drift", str(month), float(value), threshold, band,
                            f"Scores of {month} drifted from the training baseline: PSI {value:.3f} ≥ "
                            f"{threshold} ({count} scores)."))
    return alerts


def discrimination_alerts(grades: pd.DataFrame, reference_auc: float | None, max_drop: float = AUC_MAX_DROP,
                          min_each: int = AUC_MIN_EACH) -> list[Alert]:
    """An alert when the AUC on matured loans is more than ``max_drop`` below the training out-of-time AUC,
    once there are at least ``min_each`` defaults and ``min_each`` non-defaults to measure it on."""
    overall = grades[grades["grade"] == "all"]
    if reference_auc is None or overall.empty or pd.isna(overall["auc"].iloc[0]):
        return []
    defaults, scores = int(overall["defaults"].iloc[0]), int(overall["scores"].iloc[0])
    if min(defaults, scores - defaults) < min_each:
        return []
    value = float(overall["auc"].iloc[0])
    if value >= reference_auc - max_drop:
        return []
    return [Alert("discrimination", "auc", value, reference_auc - max_drop, "act",
                  f"AUC on matured loans {value:.3f} is more than {max_drop} below the out-of-time AUC at training "
                  f"({reference_auc:.3f}).")]


def reference_auc(artifact: PdModelArtifact) -> float | None:
    """The out-of-time AUC the artifact recorded at training, if any."""
    metrics = artifact.metadata.get("metrics") or {}
    value = (metrics.get("oot") or {}).get("auc") if isinstance(metrics, dict) else None
    return float(value) if value is not None else None


def alerts_table(alerts: Sequence[Alert]) -> pd.DataFrame:
    """Alerts as a table (for CSV)."""
    return pd.DataFrame([a.__dict__ for a in alerts],
                        columns=["kind", "subject", "value", "threshold", "severity", "message"])
