"""The scorecard scale: score = offset − factor·ln(odds of default), and grades as bands of the score."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from config.settings import Settings
from models.artifact import ScorecardScale

GRADE_BANDS: tuple[tuple[str, float], ...] = (
    ("A", 680),
    ("B", 640),
    ("C", 600),
    ("D", 560),
    ("E", -math.inf),
)
"""Grades as lowest score per band, best first, on the default scale (600 at 1:50, PDO 40).

| grade | score     | odds of default at the lower edge | PD at the lower edge |
|-------|-----------|-----------------------------------|----------------------|
| A     | ≥ 680     | 1:200                             | 0.50 %               |
| B     | 640–679   | 1:100                             | 0.99 %               |
| C     | 600–639   | 1:50                              | 1.96 %               |
| D     | 560–599   | 1:25                              | 3.85 %               |
| E     | < 560     | worse than 1:25                   | above 3.85 %         |
"""
GRADES: tuple[str, ...] = tuple(grade for grade, _ in GRADE_BANDS)


def grade_for(score: int) -> str:
    """The grade (A best … E worst) of an integer score."""
    for grade, lowest in GRADE_BANDS:
        if score >= lowest:
            return grade
    return GRADE_BANDS[-1][0]


def grades_for(scores: npt.ArrayLike) -> npt.NDArray[np.str_]:
    """Vectorised :func:`grade_for`."""
    values = np.asarray(scores)
    lowest_first = GRADE_BANDS[::-1]
    edges = np.array([lowest for _, lowest in lowest_first[1:]])
    names = np.array([grade for grade, _ in lowest_first])
    return names[np.searchsorted(edges, values, side="right")]


@dataclass(frozen=True)
class Scorecard:
    """``anchor_points`` at default odds 1:``anchor_odds``; every ``pdo`` points halve the odds of default."""

    anchor_points: float = 600.0
    anchor_odds: float = 50.0
    pdo: float = 40.0
    score_min: float = 300.0
    score_max: float = 900.0

    def __post_init__(self) -> None:
        if self.anchor_odds <= 0 or self.pdo <= 0 or self.score_min >= self.score_max:
            raise ValueError("scorecard needs anchor_odds > 0, pdo > 0 and score_min < score_max")

    @classmethod
    def from_settings(cls, settings: Settings) -> Scorecard:
        """The scale configured for this deployment."""
        return cls(
            settings.score_anchor_points, settings.score_anchor_odds, settings.score_pdo,
            settings.score_min, settings.score_max,
        )

    @classmethod
    def from_scale(cls, scale: ScorecardScale) -> Scorecard:
        """The scale stored with a model artifact."""
        return cls(scale.anchor_points, scale.anchor_odds, scale.pdo, scale.score_min, scale.score_max)

    def to_scale(self) -> ScorecardScale:
        """The plain record stored in a model artifact."""
        return ScorecardScale(self.anchor_points, self.anchor_odds, self.pdo, self.score_min, self.score_max)

    @cached_property  # read on every score; frozen fields, so computed once
    def factor(self) -> float:
        """Points per unit of log-odds: pdo / ln 2."""
        return self.pdo / math.log(2.0)

    @cached_property
    def offset(self) -> float:
        """Score at odds of default 1:1, so that odds 1:anchor_odds score anchor_points."""
        return self.anchor_points + self.factor * math.log(1.0 / self.anchor_odds)

    def raw_score(self, log_odds: float) -> float:
        """Unrounded, unclipped score for log-odds of default."""
        return self.offset - self.factor * log_odds

    def score_from_log_odds(self, log_odds: float) -> int:
        """Reported score: rounded to an integer and clipped to [score_min, score_max]."""
        # plain floats: NumPy's clip on one scalar costs more than the rest of the single-profile path
        # (round() halves to even, as np.rint does in the vectorised form)
        return int(min(max(round(self.raw_score(log_odds)), self.score_min), self.score_max))

    def scores_from_log_odds(self, log_odds: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Vectorised :meth:`score_from_log_odds`."""
        raw = self.offset - self.factor * np.asarray(log_odds, dtype=np.float64)
        return np.clip(np.rint(raw), self.score_min, self.score_max).astype(np.int64)

    def score_from_pd(self, pd: float) -> int:
        """Reported score for a probability of default in (0, 1)."""
        if not 0.0 < pd < 1.0:
            raise ValueError("probability of default must be strictly between 0 and 1")
        return self.score_from_log_odds(math.log(pd / (1.0 - pd)))

    def points_from_log_odds(self, delta: float) -> float:
        """Score points of a change in log-odds of default (more log-odds, fewer points)."""
        return -self.factor * delta

    def pd_from_score(self, score: float) -> float:
        """Probability of default that a (raw) score stands for: the inverse of the scale."""
        log_odds = (self.offset - float(score)) / self.factor
        return 1.0 / (1.0 + math.exp(-log_odds))
