"""Validation metrics a bank's risk team expects: AUC, KS, Gini, calibration by band, PSI.

Pure NumPy/scikit-learn so they run identically in training, in notebooks and in monitoring jobs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.metrics import roc_auc_score, roc_curve

ArrayLike = npt.ArrayLike

PSI_STABLE = 0.10
"""PSI below this: the population is stable."""
PSI_ACT = 0.25
"""PSI above this: the population has shifted; act (between the two: watch)."""


def _binary_targets(y_true: ArrayLike) -> npt.NDArray[np.int_]:
    y = np.asarray(y_true).astype(int).ravel()
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must hold only 0 and 1")
    if y.min(initial=1) == y.max(initial=0):
        raise ValueError("y_true needs both defaults (1) and non-defaults (0)")
    return y


def auc(y_true: ArrayLike, risk: ArrayLike) -> float:
    """Area under the ROC curve; ``risk`` is higher for riskier rows (PD or margin, not score)."""
    return float(roc_auc_score(_binary_targets(y_true), np.asarray(risk, dtype=float).ravel()))


def gini(y_true: ArrayLike, risk: ArrayLike) -> float:
    """Gini (accuracy ratio) = 2·AUC − 1, the form credit teams usually quote."""
    return 2.0 * auc(y_true, risk) - 1.0


def ks(y_true: ArrayLike, risk: ArrayLike) -> float:
    """Kolmogorov–Smirnov statistic: max |TPR − FPR| over all thresholds."""
    fpr, tpr, _ = roc_curve(_binary_targets(y_true), np.asarray(risk, dtype=float).ravel())
    return float(np.max(np.abs(tpr - fpr)))


def discrimination(y_true: ArrayLike, risk: ArrayLike) -> dict[str, float]:
    """AUC, KS, Gini, default rate and row count of one sample, as one flat dict."""
    y = np.asarray(y_true).astype(int).ravel()
    return {
        "auc": auc(y, risk),
        "ks": ks(y, risk),
        "gini": gini(y, risk),
        "default_rate": float(y.mean()),
        "rows": float(y.size),
    }


@dataclass(frozen=True)
class CalibrationRow:
    """One score band: how many rows, mean predicted PD, observed default rate."""

    band: str
    rows: int
    defaults: int
    predicted_pd: float
    observed_rate: float


def calibration_table(
    y_true: ArrayLike,
    predicted_pd: ArrayLike,
    bands: ArrayLike,
    order: Sequence[str] | None = None,
) -> list[CalibrationRow]:
    """Predicted vs observed default per band (grade, decile …); bands in ``order`` or sorted order.

    Bands named in ``order`` but absent from the sample appear with zero rows and NaN rates, so tables
    from different periods line up.
    """
    y = np.asarray(y_true, dtype=float).ravel()
    pd_ = np.asarray(predicted_pd, dtype=float).ravel()
    labels = np.asarray(bands).astype(str).ravel()
    if not y.size == pd_.size == labels.size:
        raise ValueError("y_true, predicted_pd and bands must have the same length")
    names = list(order) if order is not None else sorted(set(labels.tolist()))
    rows = []
    for name in names:
        mask = labels == name
        n = int(mask.sum())
        rows.append(
            CalibrationRow(
                band=name,
                rows=n,
                defaults=int(y[mask].sum()),
                predicted_pd=float(pd_[mask].mean()) if n else float("nan"),
                observed_rate=float(y[mask].mean()) if n else float("nan"),
            )
        )
    return rows


def psi(
    expected: ArrayLike,
    actual: ArrayLike,
    bins: int | Sequence[float] = 10,
    epsilon: float = 1e-4,
) -> float:
    """Population stability index of ``actual`` against ``expected`` (e.g. OOT scores vs training scores).

    PSI = Σ (a_i − e_i)·ln(a_i / e_i) over bins; an int ``bins`` takes quantile edges of ``expected``, a
    sequence gives the inner edges explicitly. Empty bins count as ``epsilon`` so the sum stays finite.
    """
    e = np.asarray(expected, dtype=float).ravel()
    a = np.asarray(actual, dtype=float).ravel()
    if e.size == 0 or a.size == 0:
        raise ValueError("both distributions need at least one value")
    if isinstance(bins, int):
        if bins < 2:
            raise ValueError("bins must be at least 2")
        inner = np.unique(np.quantile(e, np.linspace(0, 1, bins + 1)[1:-1]))
    else:
        inner = np.asarray(sorted(bins), dtype=float)
    e_share = np.bincount(np.searchsorted(inner, e, side="right"), minlength=inner.size + 1) / e.size
    a_share = np.bincount(np.searchsorted(inner, a, side="right"), minlength=inner.size + 1) / a.size
    e_share = np.maximum(e_share, epsilon)
    a_share = np.maximum(a_share, epsilon)
    return float(np.sum((a_share - e_share) * np.log(a_share / e_share)))


def brier(y_true: ArrayLike, predicted_pd: ArrayLike) -> float:
    """Brier score: mean squared difference between predicted PD and the 0/1 outcome (lower is better)."""
    y = np.asarray(y_true, dtype=float).ravel()
    p = np.asarray(predicted_pd, dtype=float).ravel()
    return float(np.mean((p - y) ** 2))


def log_loss(y_true: ArrayLike, predicted_pd: ArrayLike, epsilon: float = 1e-15) -> float:
    """Mean negative log-likelihood of the outcomes under the predicted PDs (clipped away from 0 and 1)."""
    y = np.asarray(y_true, dtype=float).ravel()
    p = np.clip(np.asarray(predicted_pd, dtype=float).ravel(), epsilon, 1.0 - epsilon)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)))


def decile_bands(predicted_pd: ArrayLike, bands: int = 10) -> npt.NDArray[np.str_]:
    """Band label ("01" lowest PD … "10" highest) of each row by equal-count ranks of the predicted PD.

    Ranks rather than quantile edges, so ties and heavy point masses still give bands of equal size.
    """
    p = np.asarray(predicted_pd, dtype=float).ravel()
    if p.size == 0:
        return np.asarray([], dtype=str)
    ranks = np.argsort(np.argsort(p, kind="stable"), kind="stable")
    index = (ranks * bands) // p.size + 1
    return np.char.zfill(index.astype(str), 2)


def expected_calibration_error(y_true: ArrayLike, predicted_pd: ArrayLike, bands: int = 10) -> float:
    """ECE: Σ_b (n_b / n)·|observed rate_b − mean predicted PD_b| over equal-count PD deciles."""
    y = np.asarray(y_true, dtype=float).ravel()
    p = np.asarray(predicted_pd, dtype=float).ravel()
    if y.size != p.size or y.size == 0:
        raise ValueError("y_true and predicted_pd must be non-empty and of the same length")
    rows = calibration_table(y, p, decile_bands(p, bands))
    return float(sum(r.rows * abs(r.observed_rate - r.predicted_pd) for r in rows) / y.size)


def probability_metrics(y_true: ArrayLike, predicted_pd: ArrayLike) -> dict[str, float]:
    """Brier, log-loss, ECE and mean PD of one sample: how good the probabilities are, not only the ranks."""
    return {
        "brier": brier(y_true, predicted_pd),
        "log_loss": log_loss(y_true, predicted_pd),
        "ece": expected_calibration_error(y_true, predicted_pd),
        "mean_pd": float(np.mean(np.asarray(predicted_pd, dtype=float))),
    }
