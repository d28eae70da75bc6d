"""One saved artifact that reproduces a score: booster, features, dtypes, calibration, scale, metadata.

On disk it is a folder with the booster as LightGBM's own text file and everything else in one JSON file,
so it can be read without MLflow, diffed, and loaded in milliseconds at serving time.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from models.calibration import IsotonicCalibrator, PlattCalibrator, calibrator_from_dict
from models.train import TrainedModel

logger = logging.getLogger(__name__)

FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)  # format 1: Platt calibration only, stored as intercept and slope
BOOSTER_FILE = "booster.txt"
META_FILE = "meta.json"


@dataclass(frozen=True)
class ScorecardScale:
    """Scorecard scaling stored with the model: ``anchor_points`` at 1:``anchor_odds`` default odds, PDO."""

    anchor_points: float = 600.0
    anchor_odds: float = 50.0
    pdo: float = 40.0
    score_min: float = 300.0
    score_max: float = 900.0


@dataclass(frozen=True)
class PdModelArtifact:
    """Everything needed to reproduce a PD, score and reasons; ``booster`` is parsed once, on first use.

    ``calibration`` is the chosen calibrator's record (Platt or isotonic knots) that :meth:`predict_log_odds`
    applies; ``calibration_intercept``/``calibration_slope`` are always the Platt line on the same validation
    data, the linear scale that turns margin contributions into reason points. An empty ``calibration``
    means that Platt line.
    """

    model_string: str
    feature_names: tuple[str, ...]
    calibration_intercept: float
    calibration_slope: float
    scale: ScorecardScale
    feature_dtypes: dict[str, str] = field(default_factory=dict)
    missing_value: str = "NaN"
    metadata: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.feature_dtypes:
            object.__setattr__(self, "feature_dtypes", dict.fromkeys(self.feature_names, "float64"))
        if set(self.feature_dtypes.values()) != {"float64"}:
            raise ValueError("every model feature must be float64")

    @classmethod
    def from_trained(
        cls, trained: TrainedModel, scale: ScorecardScale, extra_metadata: dict[str, Any] | None = None
    ) -> PdModelArtifact:
        """Freeze a trained model with the scorecard scale it will be reported on.

        ``extra_metadata`` (catalogue version, training-data fingerprint, baselines …) is stored beside the
        training record.
        """
        metadata = {
            "metrics": trained.metrics,
            "params": {k: v for k, v in trained.params.items() if k != "num_threads"},
            "best_iteration": trained.best_iteration,
            "refit": trained.refit,
            "train_start": _iso(trained.train_start),
            "train_end": _iso(trained.train_end),
            "oot_start": _iso(trained.oot_start),
            "oot_end": _iso(trained.oot_end),
            "calibration_method": trained.calibration_method,
            "calibration_scores": trained.calibration_scores,
            "columns": trained.columns,
            "lightgbm_version": lgb.__version__,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **(extra_metadata or {}),
        }
        return cls(
            model_string=trained.booster.model_to_string(),
            feature_names=trained.feature_names,
            calibration_intercept=trained.calibration_intercept,
            calibration_slope=trained.calibration_slope,
            scale=scale,
            metadata=metadata,
            calibration=dict(trained.calibration),
        )

    @cached_property
    def booster(self) -> lgb.Booster:
        """The LightGBM booster, parsed from the stored model text and checked against the feature list."""
        booster = lgb.Booster(model_str=self.model_string)
        if tuple(booster.feature_name()) != self.feature_names:
            raise ValueError("booster features differ from the artifact's feature list")
        return booster

    @cached_property
    def calibrator(self) -> PlattCalibrator | IsotonicCalibrator:
        """The chosen calibrator (the Platt line when ``calibration`` is empty)."""
        if not self.calibration:
            return calibrator_from_dict(
                {"method": "platt", "intercept": self.calibration_intercept, "slope": self.calibration_slope}
            )
        return calibrator_from_dict(self.calibration)

    @property
    def calibration_method(self) -> str:
        """"platt" or "isotonic"."""
        return self.calibrator.method

    def log_odds_from_margin(self, margin: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Calibrated log-odds of default for raw booster margins."""
        return self.calibrator.log_odds(margin)

    def predict_log_odds(self, x: npt.NDArray[np.float64], num_threads: int = 1) -> npt.NDArray[np.float64]:
        """Calibrated log-odds of default for a float64 matrix in feature order."""
        margin = self.booster.predict(x, raw_score=True, num_threads=num_threads)
        return self.log_odds_from_margin(np.asarray(margin, dtype=np.float64))

    def predict_pd(self, x: npt.NDArray[np.float64], num_threads: int = 1) -> npt.NDArray[np.float64]:
        """Calibrated probability of default for a float64 matrix in feature order."""
        return 1.0 / (1.0 + np.exp(-self.predict_log_odds(x, num_threads)))

    def save(self, directory: str | Path) -> Path:
        """Write ``booster.txt`` and ``meta.json`` into ``directory`` (created if needed)."""
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        (path / BOOSTER_FILE).write_text(self.model_string, encoding="utf-8")
        meta = {
            "format_version": FORMAT_VERSION,
            "feature_names": list(self.feature_names),
            "feature_dtypes": self.feature_dtypes,
            "missing_value": self.missing_value,
            # repr-exact floats: JSON writes the shortest string that reads back to the same double
            "calibration": {"intercept": self.calibration_intercept, "slope": self.calibration_slope,
                            "chosen": self.calibration},
            "scale": asdict(self.scale),
            "metadata": self.metadata,
        }
        (path / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
        logger.debug("saved PD model artifact to %s", path)
        return path

    @classmethod
    def load(cls, directory: str | Path) -> PdModelArtifact:
        """Read an artifact folder written by :meth:`save`."""
        path = Path(directory)
        meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
        if meta.get("format_version") not in READABLE_FORMATS:
            raise ValueError(f"unsupported artifact format {meta.get('format_version')!r} in {path}")
        return cls(
            model_string=(path / BOOSTER_FILE).read_text(encoding="utf-8"),
            feature_names=tuple(meta["feature_names"]),
            calibration_intercept=float(meta["calibration"]["intercept"]),
            calibration_slope=float(meta["calibration"]["slope"]),
            scale=ScorecardScale(**meta["scale"]),
            feature_dtypes=dict(meta["feature_dtypes"]),
            missing_value=str(meta["missing_value"]),
            metadata=dict(meta["metadata"]),
            calibration=dict(meta["calibration"].get("chosen") or {}),
        )


def _iso(value: Any) -> str | None:
    return None if value is None else str(value.isoformat())
