"""Improvement advice (改进建议): the smallest changes to its own conduct that would lift an enterprise's grade.

Only actionable features are ever moved (``FeatureSpec.actionable``: arrears cleared, penalties repaired, bills
paid on time …), each toward its *safe value* (0 for a count of arrears, 1 for a share paid, 12 for months
filed), and every candidate is re-scored with the real model, so the score promised is the score the model
would give. Age, industry, size and other things the enterprise cannot change are never advised.

The search is deterministic and bounded:

1. every movable feature offers a few candidate values between where it is and its safe value (each whole
   month or count; a quarter of the gap for shares; three quarters, half, a quarter or none of an amount);
2. greedy: if some candidate reaches the target grade (the next better one), take the smallest such change;
   otherwise take the candidate that raises the score most (smaller change on ties) if it gains at least a
   reported point, at most ``max_steps`` times; all candidates of a step are scored in one ``predict`` call;
3. prune: drop any step the target can do without, then shrink each remaining step to the smallest of its
   candidate values that still reaches the target.

Moves keep a profile consistent: a shorter window never exceeds a longer one (3 ≤ 6 ≤ 12 months of arrears),
a penalty repaired lowers the count in force with its severity, and clearing something clears what only
exists with it (no amount of fines without a penalty in force, no time on a list after leaving it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from features.catalogue import FEATURE_SPECS, FeatureSpec
from scoring.scale import GRADE_BANDS, GRADES, grade_for
from scoring.service import ScoreService

MAX_STEPS = 4
"""At most four changes: advice an enterprise can act on, and a bounded search."""

ACTIONS: dict[str, tuple[str, str]] = {
    "tax_filed_months_12m": ("按期办理纳税申报", "file a tax return every month"),
    "tax_overdue_months_12m": ("缴清欠税", "pay the overdue tax"),
    "tax_overdue_latest_log": ("缴清欠税", "pay the overdue tax"),
    "months_since_last_filing": ("及时办理纳税申报", "file the latest tax return"),
    "tax_late_filings_12m": ("按期申报纳税", "file tax returns on time"),
    "si_arrears_months_12m": ("清缴社保欠费", "clear social-insurance arrears"),
    "si_arrears_months_6m": ("清缴社保欠费", "clear social-insurance arrears"),
    "si_arrears_months_3m": ("清缴社保欠费", "clear social-insurance arrears"),
    "si_arrears_latest_log": ("清缴社保欠费", "clear social-insurance arrears"),
    "si_paid_ratio_12m": ("足额缴纳社保", "pay social insurance in full"),
    "hf_arrears_months_12m": ("清缴公积金欠费", "clear housing-fund arrears"),
    "hf_paid_ratio_12m": ("足额缴存公积金", "pay the housing fund in full"),
    "utility_late_months_3m": ("按时缴纳水电气费", "pay utility bills on time"),
    "utility_late_months_12m": ("按时缴纳水电气费", "pay utility bills on time"),
    "utility_days_late_max_12m": ("按时缴纳水电气费", "pay utility bills on time"),
    "utility_paid_ratio_12m": ("结清水电气费用", "pay utility bills in full"),
    "penalties_active": ("申请行政处罚信用修复", "apply for credit repair of penalties"),
    "penalties_minor_active": ("申请行政处罚信用修复", "apply for credit repair of penalties"),
    "penalties_general_active": ("申请行政处罚信用修复", "apply for credit repair of penalties"),
    "penalties_severe_active": ("申请行政处罚信用修复", "apply for credit repair of penalties"),
    "penalties_12m": ("申请行政处罚信用修复", "apply for credit repair of penalties"),
    "penalty_amount_active_log": ("申请行政处罚信用修复", "apply for credit repair of penalties"),
    "dishonest_debtor_active": ("履行生效判决并申请移出失信被执行人名单",
                                "perform the judgement and leave the dishonest-debtor list"),
    "enforcement_cases_active": ("履行被执行案件", "settle the enforcement cases"),
    "enforcement_amount_active_log": ("清偿被执行标的", "pay the amounts under enforcement"),
    "abnormal_list_active": ("整改并申请移出经营异常名录", "fix the cause and leave the abnormal-operations list"),
    "abnormal_list_months": ("整改并申请移出经营异常名录", "fix the cause and leave the abnormal-operations list"),
    "black_list_active": ("完成信用修复并移出严重失信主体名单",
                          "complete credit repair and leave the serious-dishonesty list"),
    "focus_list_active": ("整改并移出重点关注名单", "fix the cause and leave the watch list"),
    "commitments_broken_36m": ("履行信用承诺", "keep credit commitments"),
}
"""What the enterprise does to move each actionable feature, in Chinese and English."""

SAFE_VALUES: dict[str, float] = {"months_since_last_filing": 1.0, "tax_filed_months_12m": 12.0}
"""Safe values other than the rule (0 when higher is riskier, 1 for a share): last month's return is the
latest that can have been filed, and a return for every month is the best record of 12."""

NESTED: tuple[tuple[str, str], ...] = (
    ("si_arrears_months_3m", "si_arrears_months_6m"),
    ("si_arrears_months_6m", "si_arrears_months_12m"),
    ("utility_late_months_3m", "utility_late_months_12m"),
    ("penalties_minor_active", "penalties_active"),
    ("penalties_general_active", "penalties_active"),
    ("penalties_severe_active", "penalties_active"),
    ("penalties_12m", "penalties_active"),
)
"""(smaller, larger): the first never exceeds the second, so lowering the second caps the first."""

PARTS: dict[str, tuple[str, ...]] = {
    "penalties_active": ("penalties_minor_active", "penalties_general_active", "penalties_severe_active"),
}
"""A total and its parts: a part lowered by k lowers the total by k (a repaired penalty leaves both)."""

CLEARED_WITH: dict[str, dict[str, float]] = {
    "penalties_active": {"penalty_amount_active_log": 0.0, "months_since_last_penalty": math.nan},
    "abnormal_list_active": {"abnormal_list_months": math.nan},
    "si_arrears_months_12m": {"si_arrears_latest_log": 0.0},
    "tax_overdue_months_12m": {"tax_overdue_latest_log": 0.0},
}
"""Values that only exist with another: when the first reaches 0 these follow (NaN: "none in force")."""

FOLLOWERS = frozenset({"abnormal_list_months"})
"""Actionable features that only move with another (time on a list ends by leaving it, not by itself)."""


def safe_value(spec: FeatureSpec) -> float | None:
    """Where an actionable feature is at its best, or None when it has no stated direction."""
    if spec.name in SAFE_VALUES:
        return SAFE_VALUES[spec.name]
    if spec.higher_is_riskier is None:
        return None
    if spec.higher_is_riskier:
        return 0.0
    return 1.0 if spec.unit == "ratio" else None


def at_or_past_safe(spec: FeatureSpec, value: float, safe: float) -> bool:
    """At the safe value or beyond it on its safe side (a 400 % paid share is past 100 %): nothing to advise."""
    if spec.higher_is_riskier is None:
        return value == safe
    return value <= safe if spec.higher_is_riskier else value >= safe


def candidate_values(spec: FeatureSpec, current: float, safe: float) -> list[float]:
    """Values from nearest to farthest between ``current`` (excluded) and ``safe`` (included)."""
    if spec.unit in ("ln(yuan)", "ln(kWh)", "ln(m³)"):
        amount = math.expm1(current)
        return [math.log1p(amount * share) for share in (0.75, 0.5, 0.25)] + [safe]
    if spec.unit == "ratio":
        return [current + (safe - current) * k / 4 for k in (1, 2, 3, 4)]
    direction = 1.0 if safe > current else -1.0
    start = math.floor(current) if direction > 0 else math.ceil(current)
    values = [float(v) for v in np.arange(start + direction, safe + direction / 2, direction)]
    return values or [safe]


@dataclass(frozen=True)
class AdviceStep:
    """One change: what to do, the feature it moves (from → to), and the score and grade after it and
    every step before it ("清缴社保欠费: 近12个月社保欠缴月数 3 → 0")."""

    feature: str
    from_value: float
    to_value: float
    score: int
    grade: str
    text_zh: str
    text_en: str


@dataclass(frozen=True)
class Advice:
    """The changes that would lift the grade from ``grade`` to ``target_grade``, smallest first found.

    ``lifts_grade`` is False when no change of at most ``max_steps`` actionable features reaches the target;
    the steps are then those that raise the score most. Empty steps: already at the best grade (no target),
    or nothing the enterprise can change would raise the score.
    """

    score: int
    grade: str
    target_grade: str | None
    lifts_grade: bool
    steps: tuple[AdviceStep, ...]


def describe(feature: str, before: float, after: float) -> tuple[str, str]:
    """The step in words: "清缴社保欠费: 近12个月社保欠缴月数 3 → 0" / "clear …: months of … 3 → 0"."""
    spec = FEATURE_SPECS[feature]
    action_zh, action_en = ACTIONS[feature]
    return (
        f"{action_zh}: {spec.label_zh} {spec.display_zh(before)} → {spec.display_zh(after)}",
        f"{action_en}: {spec.label_en} {spec.display_en(before)} → {spec.display_en(after)}",
    )


class AdviceSearch:
    """Advice for one model: which features may move, where to, and how a move carries to the others."""

    def __init__(self, service: ScoreService, *, max_steps: int = MAX_STEPS) -> None:
        if max_steps < 1:
            raise ValueError("max_steps must be at least 1")
        self.service = service
        self.max_steps = max_steps
        names = service.feature_names
        self._index = {name: i for i, name in enumerate(names)}
        self._movable: list[tuple[int, FeatureSpec, float]] = []
        for i, name in enumerate(names):
            spec = FEATURE_SPECS.get(name)
            if spec is None or not spec.actionable or name in FOLLOWERS or name not in ACTIONS:
                continue
            safe = safe_value(spec)
            if safe is not None:
                self._movable.append((i, spec, safe))

    @property
    def movable_features(self) -> tuple[str, ...]:
        """The features advice may change, in model order."""
        return tuple(spec.name for _, spec, _ in self._movable)

    def advise(self, profile: Mapping[str, float | None]) -> Advice:
        """The advice for one profile (missing features may be None or absent)."""
        original = self.service.profile_row(profile)[0]
        score = int(self._scores(original[None, :])[1][0])
        grade = grade_for(score)
        if grade == GRADES[0]:
            return Advice(score, grade, None, False, ())
        target = GRADES[GRADES.index(grade) - 1]
        target_score = next(lowest for g, lowest in GRADE_BANDS if g == target)
        plan = self._greedy(original, target_score)
        reached = self._reaches(original, plan, target_score)
        if reached:
            plan = self._prune(original, plan, target_score)
        return Advice(score, grade, target, reached, self._steps(original, plan))

    def profile_after(
        self, profile: Mapping[str, float | None], steps: tuple[AdviceStep, ...]
    ) -> dict[str, float | None]:
        """The profile once ``steps`` are taken, with what each carries to the others (None: missing)."""
        row = self._with(self.service.profile_row(profile)[0],
                         {self._index[step.feature]: step.to_value for step in steps})
        return {name: None if math.isnan(v) else float(v) for name, v in zip(self.service.feature_names, row,
                                                                             strict=True)}

    # -- search ---------------------------------------------------------------------------------------

    def _greedy(self, original: npt.NDArray[np.float64], target_score: float) -> dict[int, float]:
        plan: dict[int, float] = {}
        current = original.copy()
        score_now = int(self._scores(current[None, :])[1][0])
        for _ in range(self.max_steps):
            moves = self._moves(original, current)
            if not moves:
                break
            rows = np.vstack([self._apply(current, i, v) for i, v, _ in moves])
            raw, scores = self._scores(rows)
            reaching = [k for k in range(len(moves)) if scores[k] >= target_score]
            if reaching:
                pick = min(reaching, key=lambda k: (moves[k][2], -raw[k], k))
            else:
                pick = max(range(len(moves)), key=lambda k: (raw[k], -moves[k][2], -k))
                if scores[pick] <= score_now:  # not a whole point better: nothing worth advising
                    break
            i, value, _ = moves[pick]
            plan[i] = value
            current, score_now = rows[pick], int(scores[pick])
            if reaching:
                break
        return plan

    def _prune(self, original: npt.NDArray[np.float64], plan: dict[int, float],
               target_score: float) -> dict[int, float]:
        for i in list(plan):
            without = {j: v for j, v in plan.items() if j != i}
            if self._reaches(original, without, target_score):
                plan = without
        for i in list(plan):
            spec = FEATURE_SPECS[self.service.feature_names[i]]
            safe = next(s for j, _, s in self._movable if j == i)
            start = float(original[i])
            planned = _size(spec, start, plan[i], safe)
            for value in candidate_values(spec, start, safe):
                if _size(spec, start, value, safe) >= planned:
                    break
                trial = {**plan, i: value}
                if self._reaches(original, trial, target_score):
                    plan = trial
                    break
        return plan

    def _moves(self, original: npt.NDArray[np.float64],
               current: npt.NDArray[np.float64]) -> list[tuple[int, float, float]]:
        """(feature index, value, size) for every candidate; size is the share of the way to safe."""
        moves = []
        for i, spec, safe in self._movable:
            start, now = float(original[i]), float(current[i])
            if math.isnan(now) or at_or_past_safe(spec, now, safe) or (safe - now) * (safe - start) < 0:
                continue
            for value in candidate_values(spec, now, safe):
                moves.append((i, value, _size(spec, start, value, safe)))
        return moves

    def _apply(self, row: npt.NDArray[np.float64], i: int, value: float) -> npt.NDArray[np.float64]:
        out = row.copy()
        name = self.service.feature_names[i]
        lowered_by = out[i] - value
        out[i] = value
        for total, parts in PARTS.items():
            j = self._index.get(total)
            if name in parts and j is not None and not math.isnan(out[j]):
                out[j] = max(0.0, out[j] - lowered_by)
        changed = True
        while changed:  # cap shorter windows and parts until every pair holds
            changed = False
            for smaller, larger in NESTED:
                a, b = self._index.get(smaller), self._index.get(larger)
                if a is not None and b is not None and out[a] > out[b]:
                    out[a] = out[b]
                    changed = True
        for lead, follows in CLEARED_WITH.items():
            j = self._index.get(lead)
            if j is not None and out[j] == 0.0 and row[j] != 0.0:
                for follower, cleared in follows.items():
                    k = self._index.get(follower)
                    if k is not None:
                        out[k] = cleared
        return out

    def _with(self, original: npt.NDArray[np.float64], plan: Mapping[int, float]) -> npt.NDArray[np.float64]:
        row = original
        for i, value in plan.items():
            row = self._apply(row, i, value)
        return row

    def _reaches(self, original: npt.NDArray[np.float64], plan: Mapping[int, float], target: float) -> bool:
        return bool(plan) and int(self._scores(self._with(original, plan)[None, :])[1][0]) >= target

    def _scores(self, rows: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """Raw (unrounded) and reported scores of the rows, from the real model."""
        log_odds = self.service.log_odds(rows)
        card = self.service.scorecard
        return card.offset - card.factor * log_odds, card.scores_from_log_odds(log_odds)

    def _steps(self, original: npt.NDArray[np.float64], plan: Mapping[int, float]) -> tuple[AdviceStep, ...]:
        steps = []
        row = original
        for i, value in plan.items():
            row = self._apply(row, i, value)
            score = int(self._scores(row[None, :])[1][0])
            name = self.service.feature_names[i]
            text_zh, text_en = describe(name, float(original[i]), value)
            steps.append(AdviceStep(name, float(original[i]), value, score, grade_for(score), text_zh, text_en))
        return tuple(steps)


def _size(spec: FeatureSpec, start: float, value: float, safe: float) -> float:
    """How far a move goes, as a share of the way from where the enterprise is to the safe value."""
    if spec.unit.startswith("ln("):
        start, value, safe = math.expm1(start), math.expm1(value), math.expm1(safe)
    gap = abs(safe - start)
    return abs(value - start) / gap if gap > 0 else 0.0


def advise(service: ScoreService, profile: Mapping[str, float | None], *, max_steps: int = MAX_STEPS) -> Advice:
    """Improvement advice for one profile with ``service``'s model (see the module docstring)."""
    return AdviceSearch(service, max_steps=max_steps).advise(profile)
