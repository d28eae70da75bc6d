"""Reason codes: TreeSHAP contributions turned into score points and words (Chinese and English).

LightGBM's ``pred_contrib`` gives one log-odds contribution per feature plus the expected value; they sum
to the raw margin. Calibration multiplies the margin by ``b``, and the scale turns log-odds into points, so
feature i moves the score by −factor · b · contrib_i points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from features.catalogue import FEATURE_SPECS
from scoring.types import Reason

MAX_REASONS = 4
"""At most four reasons each way, as adverse-action practice (US Reg B) expects."""
MIN_POINTS = 1.0
"""Contributions worth less than one point are not reasons."""
_WHOLE_UNITS = frozenset({"months", "count", "people"})


def format_value_zh(feature: str, value: float | None) -> str:
    """A feature value in Chinese words; missing values say what missing means, never "nan"."""
    spec = FEATURE_SPECS.get(feature)
    if value is None or math.isnan(value):
        if spec is None or spec.missing_means.startswith("never"):
            return "无数据"
        return f"无数据（{spec.missing_means}）"
    if spec is not None and spec.unit == "0/1":
        return "是" if value >= 0.5 else "否"
    if spec is not None and spec.unit == "ln(yuan)":
        yuan = math.exp(value)
        amount = f"{yuan / 1e8:.2f} 亿元" if yuan >= 1e8 else f"{yuan / 1e4:.1f} 万元"
        return f"{value:.2f}，约 {amount}"
    return _number(feature, value)


def format_value_en(feature: str, value: float | None) -> str:
    """A feature value in English words; missing values say what missing means, never "nan"."""
    spec = FEATURE_SPECS.get(feature)
    if value is None or math.isnan(value):
        if spec is None or spec.missing_means.startswith("never"):
            return "no data"
        return f"no data ({spec.missing_means})"
    if spec is not None and spec.unit == "0/1":
        return "yes" if value >= 0.5 else "no"
    if spec is not None and spec.unit == "ln(yuan)":
        return f"{value:.2f}, about {math.exp(value):,.0f} yuan"
    return _number(feature, value)


def _number(feature: str, value: float) -> str:
    spec = FEATURE_SPECS.get(feature)
    if spec is not None and spec.unit == "ratio":
        return f"{value:+.0%}"
    if float(value).is_integer() or (spec is not None and spec.unit in _WHOLE_UNITS):
        return f"{value:.0f}"
    return f"{value:.2f}"


def make_reason(feature: str, points: float, value: float | None) -> Reason:
    """One reason with its words: "近12个月社保欠缴月数: 3 (拉低 25 分)" / "…: 3 (−25 points)"."""
    spec = FEATURE_SPECS.get(feature)
    label_zh = spec.label_zh if spec is not None else feature
    label_en = spec.label_en if spec is not None else feature
    whole = round(abs(points))
    effect_zh = f"拉低 {whole} 分" if points < 0 else f"提升 {whole} 分"
    effect_en = f"−{whole} points" if points < 0 else f"+{whole} points"
    clean = None if value is None or math.isnan(value) else float(value)
    return Reason(
        feature=feature,
        points=float(points),
        value=clean,
        text_zh=f"{label_zh}: {format_value_zh(feature, clean)} ({effect_zh})",
        text_en=f"{label_en}: {format_value_en(feature, clean)} ({effect_en})",
    )


def contribution_points(
    contributions: npt.ArrayLike, points_per_log_odds: float
) -> npt.NDArray[np.float64]:
    """Score points per feature from one ``pred_contrib`` row (the trailing expected value is dropped)."""
    row = np.asarray(contributions, dtype=np.float64).ravel()
    return points_per_log_odds * row[:-1]


def reasons_from_contributions(
    contributions: npt.ArrayLike,
    values: npt.ArrayLike,
    feature_names: Sequence[str],
    points_per_log_odds: float,
    *,
    top: int = MAX_REASONS,
    min_points: float = MIN_POINTS,
) -> tuple[tuple[Reason, ...], tuple[Reason, ...]]:
    """The ``top`` reasons lowering the score (most negative first) and raising it (most positive first).

    ``points_per_log_odds`` is −factor · b: score points per unit of raw-margin contribution.
    """
    points = contribution_points(contributions, points_per_log_odds)
    row = np.asarray(values, dtype=np.float64).ravel()
    if points.size != len(feature_names) or row.size != len(feature_names):
        raise ValueError("contributions, values and feature_names disagree in length")
    order = np.argsort(points, kind="stable")
    lowering = [i for i in order if points[i] <= -min_points][:top]
    raising = [i for i in order[::-1] if points[i] >= min_points][:top]
    return (
        tuple(make_reason(feature_names[i], float(points[i]), float(row[i])) for i in lowering),
        tuple(make_reason(feature_names[i], float(points[i]), float(row[i])) for i in raising),
    )
