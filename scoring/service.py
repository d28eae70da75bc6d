"""The scorer the API calls: one profile in, PD, score, grade and reasons out (ScoreProvider)."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from datetime import date
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd

from config.settings import Settings
from models.artifact import PdModelArtifact
from models.train import feature_matrix
from scoring.reasons import MAX_REASONS, reasons_from_contributions
from scoring.scale import Scorecard, grade_for, grades_for
from scoring.types import ScoreResult

logger = logging.getLogger(__name__)


class ScoreService:
    """Scores enterprises with one model version; the booster is parsed once, at construction."""

    def __init__(
        self,
        artifact: PdModelArtifact,
        model_name: str,
        model_version: str,
        *,
        num_threads: int = 1,
        max_reasons: int = MAX_REASONS,
    ) -> None:
        self.artifact = artifact
        self.model_name = model_name
        self.model_version = model_version
        self.num_threads = num_threads
        self.max_reasons = max_reasons
        self.scorecard = Scorecard.from_scale(artifact.scale)
        self._booster = artifact.booster
        self._predictor: Any = _reusable_predictor(self._booster, num_threads)
        # score points per unit of raw-margin contribution: −factor · calibration slope
        self._points_per_margin = self.scorecard.points_from_log_odds(artifact.calibration_slope)

    def _contributions(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """``pred_contrib`` for a few rows through a predictor made once, not once per call as
        ``Booster.predict`` does (about 15 µs a call); falls back to ``Booster.predict`` if LightGBM's
        internal predictor is not what this expects (``tests/scoring`` checks both agree)."""
        if self._predictor is not None:
            try:
                return np.asarray(self._predictor.predict(
                    data=x, start_iteration=0, num_iteration=-1, raw_score=False, pred_leaf=False,
                    pred_contrib=True, data_has_header=False, validate_features=False,
                ))
            except TypeError:
                self._predictor = None
        return np.asarray(self._booster.predict(x, pred_contrib=True, num_threads=self.num_threads))

    @classmethod
    def from_registry(cls, settings: Settings) -> ScoreService:
        """The champion version of ``settings.model_name`` from the configured MLflow registry."""
        from models.registry import load_model_by_alias

        artifact, version = load_model_by_alias(settings.resolved_mlflow_uri, settings.model_name)
        if Scorecard.from_settings(settings) != Scorecard.from_scale(artifact.scale):
            logger.warning("model %s v%s was scaled differently from the settings; using the model's scale",
                           settings.model_name, version)
        return cls(artifact, settings.model_name, version, num_threads=settings.lightgbm_threads)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Features the model reads from a profile, in order."""
        return self.artifact.feature_names

    def profile_row(self, profile: Mapping[str, float | None]) -> npt.NDArray[np.float64]:
        """One float64 row (shape 1 × features) in model order; None or absent features are NaN.

        One list and one array (NumPy reads None as NaN in a float array): no per-feature NumPy writes and
        no one-row DataFrame, which would cost more than the model itself on the single-profile path.
        """
        get = profile.get
        return np.array([get(name) for name in self.feature_names], dtype=np.float64).reshape(1, -1)  # None → NaN

    def score(self, uscc: str, profile: Mapping[str, float | None], profile_as_of: date) -> ScoreResult:
        """PD, score, grade and reasons for one profile, from a single TreeSHAP call."""
        return self.score_row(uscc, self.profile_row(profile), profile_as_of)

    def score_row(self, uscc: str, row: npt.NDArray[np.float64], profile_as_of: date) -> ScoreResult:
        """:meth:`score` for a profile already in model order (shape 1 × features or features)."""
        x = row.reshape(1, -1)
        contributions = np.asarray(self._contributions(x), dtype=np.float64)[0]
        margin = float(contributions.sum())
        # the chosen calibration (Platt or isotonic), as the batch path applies it; reasons keep the Platt line
        log_odds = float(self.artifact.log_odds_from_margin(np.array([margin]))[0])
        lowering, raising = reasons_from_contributions(
            contributions, x[0], self.feature_names, self._points_per_margin, top=self.max_reasons
        )
        score = self.scorecard.score_from_log_odds(log_odds)
        return ScoreResult(
            uscc=uscc,
            probability_of_default=1.0 / (1.0 + math.exp(-log_odds)),
            score=score,
            grade=grade_for(score),
            reasons_lowering=lowering,
            reasons_raising=raising,
            model_name=self.model_name,
            model_version=self.model_version,
            profile_as_of=profile_as_of,
        )

    def log_odds(self, x: npt.NDArray[np.float64], num_threads: int | None = None) -> npt.NDArray[np.float64]:
        """Calibrated log-odds of default for a float64 matrix in model order (no reasons)."""
        return self.artifact.predict_log_odds(x, num_threads=num_threads or self.num_threads)

    def score_matrix(
        self, x: npt.NDArray[np.float64], num_threads: int | None = None
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.str_]]:
        """PD, score and grade for each row of a float64 matrix in model order: the batch path's core."""
        log_odds = self.log_odds(x, num_threads)
        scores = self.scorecard.scores_from_log_odds(log_odds)
        return 1.0 / (1.0 + np.exp(-log_odds)), scores, grades_for(scores)

    def contribution_points(
        self, x: npt.NDArray[np.float64], num_threads: int | None = None
    ) -> npt.NDArray[np.float64]:
        """Score points each feature adds (+) or takes away (−) per row: ``pred_contrib`` × −factor · b."""
        contributions = self._booster.predict(x, pred_contrib=True, num_threads=num_threads or self.num_threads)
        return self._points_per_margin * np.asarray(contributions, dtype=np.float64)[:, :-1]

    def score_frame(self, frame: pd.DataFrame, num_threads: int | None = None) -> pd.DataFrame:
        """Batch scores without reasons: uscc (and as_of when present), pd, score, grade per row."""
        probability, scores, grades = self.score_matrix(feature_matrix(frame, self.feature_names), num_threads)
        out = pd.DataFrame({"uscc": frame["uscc"].to_numpy()}, index=frame.index)
        if "as_of" in frame.columns:
            out["as_of"] = frame["as_of"].to_numpy()
        out["pd"] = probability
        out["score"] = scores
        out["grade"] = grades
        return out


def _reusable_predictor(booster: lgb.Booster, num_threads: int) -> Any:
    """LightGBM's internal predictor for ``booster``, or None where this LightGBM has no such thing."""
    try:
        from lightgbm.basic import _InnerPredictor

        return _InnerPredictor.from_booster(booster=booster, pred_parameter={"num_threads": num_threads})
    except (ImportError, AttributeError, TypeError):
        return None
