"""Reason codes: TreeSHAP contributions turned into score points and words (Chinese and English).

LightGBM's ``pred_contrib`` gives one log-odds contribution per feature plus the expected value; they sum
to the raw margin. Calibration multiplies the margin by ``b``, and the scale turns log-odds into points, so
feature i moves the score by −factor · b · contrib_i points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from features.catalogue import FEATURE_SPECS
from scoring.types import Reason

MAX_REASONS = 4
"""At most four reasons each way, as adverse-action practice (US Reg B) expects."""
MIN_POINTS = 1.0
"""Contributions worth less than one point are not reasons."""


@lru_cache(maxsize=1 << 16)
def reason_texts(feature: str, value: float | None) -> tuple[str, str]:
    """The catalogue's reason filled with the enterprise's own value ("近12个月社保欠缴3个月"); a feature
    outside the catalogue reads as its name and value, a missing value as what missing means.

    Cached: counts, months and flags repeat across enterprises, and formatting is most of a reason's cost.
    """
    spec = FEATURE_SPECS.get(feature)
    if spec is not None:
        return spec.reason_texts(value)
    shown = "无数据" if value is None or math.isnan(value) else f"{value:g}"
    return f"{feature}: {shown}", f"{feature}: {'no data' if shown == '无数据' else shown}"


@lru_cache(maxsize=1 << 16)
def _worded(feature: str, whole_points: int, value: float | None) -> tuple[str, str]:
    """Reason texts with their effect in whole points (cached: the same words recur across enterprises)."""
    effect_zh = f"拉低 {-whole_points} 分" if whole_points < 0 else f"提升 {whole_points} 分"
    effect_en = f"−{-whole_points} points" if whole_points < 0 else f"+{whole_points} points"
    text_zh, text_en = reason_texts(feature, value)
    return f"{text_zh} ({effect_zh})", f"{text_en} ({effect_en})"


def make_reason(feature: str, points: float, value: float | None) -> Reason:
    """One reason with its words and its effect: "近12个月社保欠缴3个月 (拉低 25 分)" / "… (−25 points)"."""
    clean = None if value is None or value != value else float(value)  # NaN is the one value unequal to itself
    # round() halves to even, symmetric about zero: the same whole points either way of the sign
    text_zh, text_en = _worded(feature, round(points), clean)
    return Reason(feature, float(points), clean, text_zh, text_en)


def contribution_points(
    contributions: npt.ArrayLike, points_per_log_odds: float
) -> npt.NDArray[np.float64]:
    """Score points per feature from one ``pred_contrib`` row (the trailing expected value is dropped)."""
    row = np.asarray(contributions, dtype=np.float64).ravel()
    return points_per_log_odds * row[:-1]


def top_reasons(
    points: npt.NDArray[np.float64],
    values: npt.NDArray[np.float64],
    feature_names: Sequence[str],
    *,
    top: int = MAX_REASONS,
    min_points: float = MIN_POINTS,
) -> tuple[tuple[Reason, ...], tuple[Reason, ...]]:
    """The ``top`` reasons lowering the score (most negative first) and raising it (most positive first),
    from one row of score points per feature (each feature is one column, so points are already grouped
    by feature). Equal points (in practice only exact zeros, never reasons) keep feature order when lowering
    and the reverse when raising: one sort serves both."""
    if points.size != len(feature_names) or values.size != len(feature_names):
        raise ValueError("contributions, values and feature_names disagree in length")
    # plain Python floats from here: indexing NumPy scalars costs more than the formatting itself
    order = points.argsort(kind="stable")
    low, high = order[:top].tolist(), order[: -top - 1 : -1].tolist()
    scores, row = points.tolist(), values.tolist()
    return (
        tuple([make_reason(feature_names[i], scores[i], row[i]) for i in low if scores[i] <= -min_points]),
        tuple([make_reason(feature_names[i], scores[i], row[i]) for i in high if scores[i] >= min_points]),
    )


def reasons_from_contributions(
    contributions: npt.ArrayLike,
    values: npt.ArrayLike,
    feature_names: Sequence[str],
    points_per_log_odds: float,
    *,
    top: int = MAX_REASONS,
    min_points: float = MIN_POINTS,
) -> tuple[tuple[Reason, ...], tuple[Reason, ...]]:
    """:func:`top_reasons` from one ``pred_contrib`` row (log-odds contributions and the expected value).

    ``points_per_log_odds`` is −factor · b: score points per unit of raw-margin contribution.
    """
    points = contribution_points(contributions, points_per_log_odds)
    row = np.asarray(values, dtype=np.float64).ravel()
    return top_reasons(points, row, feature_names, top=top, min_points=min_points)
