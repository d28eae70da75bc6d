"""What a pre-credit score is made of: the result the API, CLI and notebooks all receive."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Protocol


@dataclass(frozen=True)
class Reason:
    """One feature's pull on the score, in score points, with words for the loan officer and enterprise."""

    feature: str
    points: float
    value: float | None
    text_zh: str
    text_en: str


@dataclass(frozen=True)
class ScoreResult:
    """PD, score and grade for one enterprise as of its profile date, with the reasons behind them."""

    uscc: str
    probability_of_default: float
    score: int
    grade: str
    reasons_lowering: tuple[Reason, ...]
    reasons_raising: tuple[Reason, ...]
    model_name: str
    model_version: str
    profile_as_of: date


class ScoreProvider(Protocol):
    """What the API needs of a scorer: implemented by ``scoring.service.ScoreService``."""

    model_name: str
    model_version: str

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Features the model reads from a profile, in order."""
        ...

    def score(self, uscc: str, profile: Mapping[str, float | None], profile_as_of: date) -> ScoreResult:
        """Score one enterprise from its stored profile (missing features may be None or absent)."""
        ...
