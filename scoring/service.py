"""The scorer the API calls: one profile in, PD, score, grade and reasons out (ScoreProvider)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd

from config.settings import Settings
from models.artifact import PdModelArtifact
from models.calibration import PlattCalibrator
from scoring.reasons import MAX_REASONS, top_reasons
from scoring.scale import Scorecard, grade_for, grades_for
from scoring.single_row import SingleRowContributions
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
        # made once per model, so that one profile costs little more than LightGBM's tree walk
        self._contributions = SingleRowContributions(self._booster, num_threads)
        self._log_odds_of_margin = _scalar_calibration(artifact)
        # score points per unit of raw-margin contribution: −factor · calibration slope
        self._points_per_margin = self.scorecard.points_from_log_odds(artifact.calibration_slope)

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
        return self._values(profile).reshape(1, -1)

    def _values(self, profile: Mapping[str, float | None]) -> npt.NDArray[np.float64]:
        """:meth:`profile_row` as a flat array."""
        return np.array(list(map(profile.get, self.feature_names)), dtype=np.float64)  # None → NaN

    def score(self, uscc: str, profile: Mapping[str, float | None], profile_as_of: date) -> ScoreResult:
        """PD, score, grade and reasons for one profile, from a single TreeSHAP call."""
        return self._score_values(uscc, self._values(profile), profile_as_of)

    def score_row(self, uscc: str, row: npt.NDArray[np.float64], profile_as_of: date) -> ScoreResult:
        """:meth:`score` for a profile already in model order (shape 1 × features or features)."""
        return self._score_values(uscc, np.ascontiguousarray(row, dtype=np.float64).ravel(), profile_as_of)

    def _score_values(self, uscc: str, values: npt.NDArray[np.float64], profile_as_of: date) -> ScoreResult:
        """The single-profile path: one ``pred_contrib`` walk gives the margin (their sum) and the reasons."""
        contributions = self._contributions(values)
        margin = float(contributions.sum())
        # the chosen calibration (Platt or isotonic), as the batch path applies it; reasons keep the Platt line
        log_odds = self._log_odds_of_margin(margin)
        lowering, raising = top_reasons(
            self._points_per_margin * contributions[:-1], values, self.feature_names, top=self.max_reasons
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
        return self._scored(self.log_odds(x, num_threads))

    def _scored(
        self, log_odds: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.str_]]:
        scores = self.scorecard.scores_from_log_odds(log_odds)
        return 1.0 / (1.0 + np.exp(-log_odds)), scores, grades_for(scores)

    def contribution_points(
        self, x: npt.NDArray[np.float64], num_threads: int | None = None
    ) -> npt.NDArray[np.float64]:
        """Score points each feature adds (+) or takes away (−) per row: ``pred_contrib`` × −factor · b."""
        contributions = self._booster.predict(x, pred_contrib=True, num_threads=num_threads or self.num_threads)
        return self._points_per_margin * np.asarray(contributions, dtype=np.float64)[:, :-1]

    def score_frame(self, frame: pd.DataFrame, num_threads: int | None = None) -> pd.DataFrame:
        """Batch scores without reasons: uscc (and as_of when present), pd, score, grade per row.

        The same numbers as :meth:`score_matrix` on the whole matrix: margins chunk by chunk
        (:func:`profile_chunks`), then calibration and scale on all of them at once.
        """
        threads = num_threads or self.num_threads
        margin = np.empty(len(frame), dtype=np.float64)
        for start, x in profile_chunks(frame, self.feature_names, FRAME_CHUNK_ROWS):
            margin[start : start + len(x)] = self._booster.predict(x, raw_score=True, num_threads=threads)
        probability, scores, grades = self._scored(self.artifact.log_odds_from_margin(margin))
        out = pd.DataFrame({"uscc": frame["uscc"].to_numpy()}, index=frame.index)
        if "as_of" in frame.columns:
            out["as_of"] = frame["as_of"].to_numpy()
        out["pd"] = probability
        out["score"] = scores
        out["grade"] = grades
        return out


FRAME_CHUNK_ROWS = 65_536
"""Profiles per chunk when a frame is turned into the model's matrix: one reused 40 MB buffer instead of a fresh
600 MB matrix for a million profiles, whose first touch costs about a third of the predict it feeds."""
TILE_ROWS = 4_096
"""Rows filled at a time (2.4 MB at 75 features): each column's strided writes land in cache, not memory."""


def profile_chunks(
    frame: pd.DataFrame, feature_names: Sequence[str], rows: int = FRAME_CHUNK_ROWS
) -> Iterator[tuple[int, npt.NDArray[np.float64]]]:
    """(first row, matrix) for each run of ``rows`` profiles: ``feature_names`` in order as float64, absent
    columns all NaN, the values of ``models.train.feature_matrix`` on those rows, in the row-major order
    LightGBM reads fastest.

    Each matrix lives in a buffer reused for the next chunk: use it before asking for the next.
    """
    columns = [frame[name].to_numpy(dtype=np.float64, na_value=np.nan) if name in frame.columns else None
               for name in feature_names]
    buffer = np.empty((min(rows, len(frame)), len(feature_names)), dtype=np.float64)
    for start in range(0, len(frame), rows):
        block = buffer[: min(rows, len(frame) - start)]  # leading rows: still one contiguous block
        fill_rows(block, columns, start)
        yield start, block


def fill_rows(out: npt.NDArray[np.float64], columns: Sequence[npt.NDArray[np.float64] | None], start: int) -> None:
    """``out[r, i] = columns[i][start + r]`` (NaN where a column is None) for every row of the row-major ``out``.

    Tile by tile of :data:`TILE_ROWS` rows: copying a whole column into a large row-major matrix writes one
    value per row-length stride across all of memory (about 1.5 s for a million profiles); within a tile the
    same writes stay in cache (about 0.2 s).
    """
    for first in range(0, len(out), TILE_ROWS):
        tile = out[first : first + TILE_ROWS]
        begin, end = start + first, start + first + len(tile)
        for i, column in enumerate(columns):
            tile[:, i] = np.nan if column is None else column[begin:end]


def _scalar_calibration(artifact: PdModelArtifact) -> Callable[[float], float]:
    """The artifact's calibration for one margin: the Platt line in plain floats (the same two IEEE operations
    as the vectorised form, so the same double), isotonic through the calibrator itself."""
    calibrator = artifact.calibrator
    if isinstance(calibrator, PlattCalibrator):
        intercept, slope = calibrator.intercept_, calibrator.slope_
        return lambda margin: intercept + slope * margin
    return lambda margin: float(calibrator.log_odds(np.array([margin]))[0])
