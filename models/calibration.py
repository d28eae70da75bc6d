"""Calibration of the raw margin into a PD: Platt or isotonic, chosen on validation data.

Both calibrators map the booster's raw margin (uncalibrated log-odds) to calibrated log-odds. Platt is a
straight line, so score points stay additive in the margin's contributions (reason codes are exact).
Isotonic is a monotone, piecewise-linear map, more flexible when the margin's scale is bent. The choice is
made by cross-fitting on the validation sample — each method fitted on k−1 folds of enterprises and judged
on the held-out fold — because judging isotonic on the rows it was fitted on always flatters it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
from sklearn.exceptions import NotFittedError
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from models.metrics import expected_calibration_error, log_loss

logger = logging.getLogger(__name__)

CalibrationMethod = Literal["platt", "isotonic"]
CalibrationChoice = Literal["auto", "platt", "isotonic"]
METHODS: tuple[CalibrationMethod, ...] = ("platt", "isotonic")
_PD_FLOOR = 1e-6  # isotonic steps of 0 or 1 observed defaults would give infinite log-odds


class Calibrator(Protocol):
    """Maps raw margins to calibrated log-odds of default."""

    method: CalibrationMethod

    def fit(self, margin: npt.ArrayLike, y: npt.ArrayLike) -> Calibrator: ...

    def log_odds(self, margin: npt.ArrayLike) -> npt.NDArray[np.float64]: ...

    def to_dict(self) -> dict[str, Any]: ...


def _targets(y: npt.ArrayLike) -> npt.NDArray[np.int_]:
    target = np.asarray(y).astype(int).ravel()
    if np.unique(target).size != 2:
        raise ValueError("calibration needs both defaults and non-defaults")
    return target


def _sigmoid(log_odds: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return 1.0 / (1.0 + np.exp(-log_odds))


class PlattCalibrator:
    """Platt scaling of the raw margin: calibrated log-odds = intercept_ + slope_ · margin."""

    method: CalibrationMethod = "platt"

    def fit(self, margin: npt.ArrayLike, y: npt.ArrayLike) -> PlattCalibrator:
        """Fit an unpenalised one-feature logistic regression of ``y`` on the margin."""
        x = np.asarray(margin, dtype=np.float64).reshape(-1, 1)
        regression = LogisticRegression(C=np.inf, max_iter=1_000).fit(x, _targets(y))
        self.intercept_ = float(regression.intercept_[0])
        self.slope_ = float(regression.coef_[0, 0])
        if self.slope_ <= 0:
            logger.warning("calibration slope %.4f is not positive: the model does not rank", self.slope_)
        return self

    def log_odds(self, margin: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Calibrated log-odds of default for raw margins."""
        if not hasattr(self, "slope_"):
            raise NotFittedError("PlattCalibrator is not fitted; call fit(margin, y) first")
        return self.intercept_ + self.slope_ * np.asarray(margin, dtype=np.float64)

    def predict_proba(self, margin: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Calibrated probability of default for raw margins."""
        return _sigmoid(self.log_odds(margin))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (repr-exact floats) for the artifact."""
        return {"method": "platt", "intercept": self.intercept_, "slope": self.slope_}


class IsotonicCalibrator:
    """Isotonic regression of the outcome on the margin, interpolated linearly between its knots.

    ``margins_`` and ``pd_`` are the knots (increasing margins, non-decreasing PDs); outside them the end
    values hold. PDs are kept within [1e-6, 1 − 1e-6] so log-odds stay finite.
    """

    method: CalibrationMethod = "isotonic"

    def fit(self, margin: npt.ArrayLike, y: npt.ArrayLike) -> IsotonicCalibrator:
        """Fit a non-decreasing step function of the margin by pool-adjacent-violators."""
        regression = IsotonicRegression(
            y_min=_PD_FLOOR, y_max=1.0 - _PD_FLOOR, increasing=True, out_of_bounds="clip"
        ).fit(np.asarray(margin, dtype=np.float64).ravel(), _targets(y))
        self.margins_ = np.asarray(regression.X_thresholds_, dtype=np.float64)
        self.pd_ = np.asarray(regression.y_thresholds_, dtype=np.float64)
        return self

    @classmethod
    def from_knots(cls, margins: npt.ArrayLike, pd: npt.ArrayLike) -> IsotonicCalibrator:
        """Rebuild a fitted calibrator from stored knots."""
        calibrator = cls()
        calibrator.margins_ = np.asarray(margins, dtype=np.float64)
        calibrator.pd_ = np.asarray(pd, dtype=np.float64)
        if calibrator.margins_.shape != calibrator.pd_.shape or calibrator.margins_.size == 0:
            raise ValueError("isotonic knots need as many PDs as margins, at least one")
        return calibrator

    def predict_proba(self, margin: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Calibrated probability of default for raw margins."""
        if not hasattr(self, "margins_"):
            raise NotFittedError("IsotonicCalibrator is not fitted; call fit(margin, y) first")
        values = np.interp(np.asarray(margin, dtype=np.float64), self.margins_, self.pd_)
        return np.clip(values, _PD_FLOOR, 1.0 - _PD_FLOOR)

    def log_odds(self, margin: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Calibrated log-odds of default for raw margins."""
        p = self.predict_proba(margin)
        return np.log(p / (1.0 - p))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the knots) for the artifact."""
        return {"method": "isotonic", "margins": self.margins_.tolist(), "pd": self.pd_.tolist()}


def calibrator_from_dict(data: dict[str, Any]) -> PlattCalibrator | IsotonicCalibrator:
    """Rebuild a calibrator written by ``to_dict`` (an artifact's ``calibration`` entry)."""
    method = data.get("method", "platt")
    if method == "platt":
        platt = PlattCalibrator()
        platt.intercept_, platt.slope_ = float(data["intercept"]), float(data["slope"])
        return platt
    if method == "isotonic":
        return IsotonicCalibrator.from_knots(data["margins"], data["pd"])
    raise ValueError(f"unknown calibration method {method!r}")


def new_calibrator(method: CalibrationMethod) -> PlattCalibrator | IsotonicCalibrator:
    """An unfitted calibrator of ``method``."""
    return PlattCalibrator() if method == "platt" else IsotonicCalibrator()


@dataclass(frozen=True)
class CalibrationSelection:
    """The chosen method, fitted on the whole validation sample, and the cross-fitted evidence for it."""

    method: CalibrationMethod
    calibrator: PlattCalibrator | IsotonicCalibrator
    platt: PlattCalibrator
    scores: dict[str, dict[str, float]]  # method → {"log_loss", "ece"} out of fold on validation

    def summary(self) -> dict[str, Any]:
        """Flat record for tracking stores and the report."""
        return {"method": self.method, "scores": self.scores}


def enterprise_folds(groups: npt.NDArray[Any], folds: int, seed: int) -> npt.NDArray[np.int_]:
    """Fold number of each row; every group (enterprise) lies wholly in one fold."""
    unique = np.unique(groups)
    order = np.random.default_rng(seed).permutation(unique.size)
    fold_of_group = np.empty(unique.size, dtype=np.int_)
    fold_of_group[order] = np.arange(unique.size) % folds
    return fold_of_group[np.searchsorted(unique, groups)]


def choose_calibration(
    margin: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    groups: npt.ArrayLike | None = None,
    choice: CalibrationChoice = "auto",
    folds: int = 5,
    seed: int = 0,
) -> CalibrationSelection:
    """Pick Platt or isotonic by out-of-fold log-loss on validation (ties to Platt), then fit it on all of it.

    ``groups`` (enterprise ids) keep one enterprise's rows in one fold; ``choice`` other than ``"auto"``
    forces a method but the evidence for both is still computed and recorded.
    """
    m = np.asarray(margin, dtype=np.float64).ravel()
    target = _targets(y)
    group = np.arange(m.size) if groups is None else np.asarray(groups).ravel()
    fold = enterprise_folds(group, folds, seed)
    scores: dict[str, dict[str, float]] = {}
    for method in METHODS:
        out_of_fold = np.empty(m.size, dtype=np.float64)
        for k in range(folds):
            held = fold == k
            if not held.any():
                continue
            fitted = new_calibrator(method).fit(m[~held], target[~held])
            out_of_fold[held] = _sigmoid(fitted.log_odds(m[held]))
        scores[method] = {
            "log_loss": log_loss(target, out_of_fold),
            "ece": expected_calibration_error(target, out_of_fold),
        }
    if choice == "auto":
        chosen: CalibrationMethod = (
            "isotonic" if scores["isotonic"]["log_loss"] < scores["platt"]["log_loss"] else "platt"
        )
    else:
        chosen = choice
    platt = PlattCalibrator().fit(m, target)
    calibrator = platt if chosen == "platt" else IsotonicCalibrator().fit(m, target)
    logger.info(
        "calibration: %s (out-of-fold log-loss platt %.5f, isotonic %.5f)",
        chosen, scores["platt"]["log_loss"], scores["isotonic"]["log_loss"],
    )
    return CalibrationSelection(method=chosen, calibrator=calibrator, platt=platt, scores=scores)
