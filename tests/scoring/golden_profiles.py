"""Golden profiles: reason texts (and advice) for a fixed set of enterprises, checked against files on disk.

The model is trained here with explicit LightGBM parameters on a fixed synthetic panel, and its margin is
taken as log-odds as it is (Platt line 0 + 1 · margin), so the golden files move only when the reason code,
the catalogue's templates, the advice search or LightGBM itself changes, never because training defaults did.

Regenerate deliberately, after reading the diff the test prints::

    .venv/bin/python -m tests.scoring.golden_profiles --write

Without ``--write`` the module compares and lists the profiles that drifted (exit status 1 when any did).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from features.catalogue import FEATURE_NAMES, FEATURE_SPECS
from models.artifact import PdModelArtifact, ScorecardScale
from scoring.advice import AdviceSearch
from scoring.service import ScoreService
from tests.utils.training_frames import make_training_frame

GOLDEN_DIR = Path(__file__).with_name("golden")
AS_OF = date(2024, 6, 30)
POINTS_TOLERANCE = 0.01
"""Points are compared to 0.01 (the files round them to 4 decimals); every text is compared exactly."""

PROFILES: dict[str, dict[str, float | None]] = {
    "steady_manufacturer": {"age_months": 150.0, "size_class_code": 2.0, "sales_12m_log": 17.5,
                            "headcount_latest": 120.0, "red_list_active": 1.0, "licences_24m": 3.0},
    "social_insurance_arrears": {"si_arrears_months_12m": 6.0, "si_arrears_months_6m": 5.0,
                                 "si_arrears_months_3m": 3.0, "si_paid_ratio_12m": 0.55,
                                 "headcount_change_6m": -0.3},
    "late_utilities_and_penalties": {"utility_late_months_12m": 7.0, "utility_late_months_3m": 3.0,
                                     "utility_days_late_max_12m": 45.0, "penalties_active": 2.0,
                                     "penalties_general_active": 2.0, "penalty_amount_active_log": 10.8},
    "dishonest_debtor": {"dishonest_debtor_active": 1.0, "enforcement_cases_active": 3.0,
                         "enforcement_amount_active_log": 13.1, "black_list_active": 1.0},
    "young_without_sales_history": {"age_months": 8.0, "sales_12m_log": None, "sales_growth_6m": None,
                                    "tax_filed_months_12m": 5.0, "headcount_latest": None},
    "overdue_tax": {"tax_overdue_months_12m": 4.0, "tax_overdue_latest_log": 11.5, "tax_filed_months_12m": 9.0,
                    "abnormal_list_active": 1.0, "abnormal_list_months": 5.0},
}
"""Each golden profile: the panel's median enterprise with these values set."""


@lru_cache(maxsize=1)
def golden_service() -> ScoreService:
    """A ScoreService over a model trained with fixed parameters, independent of ``models.train`` defaults."""
    frame = make_training_frame(n_enterprises=1_200, n_dates=4, seed=101)
    x = frame[list(FEATURE_NAMES)].to_numpy(dtype=np.float64)
    monotone = [0 if FEATURE_SPECS[n].higher_is_riskier is None else 1 if FEATURE_SPECS[n].higher_is_riskier
                else -1 for n in FEATURE_NAMES]
    params = {"objective": "binary", "num_leaves": 7, "learning_rate": 0.1, "min_data_in_leaf": 50,
              "monotone_constraints": monotone, "deterministic": True, "force_row_wise": True,
              "num_threads": 1, "seed": 5, "verbose": -1}
    dataset = lgb.Dataset(x, label=frame["default_12m"].to_numpy(), feature_name=list(FEATURE_NAMES))
    booster = lgb.train(params, dataset, num_boost_round=40)
    artifact = PdModelArtifact(booster.model_to_string(), FEATURE_NAMES, 0.0, 1.0, ScorecardScale())
    return ScoreService(artifact, "golden", "1")


def median_profile() -> dict[str, float | None]:
    """The panel's median enterprise: every feature at its median over the golden training panel."""
    frame = make_training_frame(n_enterprises=1_200, n_dates=4, seed=101)
    return {name: float(frame[name].median()) for name in FEATURE_NAMES}


def render(name: str) -> dict[str, Any]:
    """What the golden file of one profile holds: score, grade, reasons and advice in both languages."""
    service = golden_service()
    profile = {**median_profile(), **PROFILES[name]}
    result = service.score(name, profile, AS_OF)
    advice = AdviceSearch(service).advise(profile)

    def reasons(items: tuple[Any, ...]) -> list[dict[str, Any]]:
        return [{"feature": r.feature, "points": round(r.points, 4), "text_zh": r.text_zh, "text_en": r.text_en}
                for r in items]

    return {
        "profile": name,
        "set": PROFILES[name],
        "score": result.score,
        "grade": result.grade,
        "reasons_lowering": reasons(result.reasons_lowering),
        "reasons_raising": reasons(result.reasons_raising),
        "advice": {
            "target_grade": advice.target_grade,
            "lifts_grade": advice.lifts_grade,
            "steps": [{"feature": s.feature, "score": s.score, "grade": s.grade, "text_zh": s.text_zh,
                       "text_en": s.text_en} for s in advice.steps],
        },
    }


def golden_path(name: str) -> Path:
    """Where the golden file of one profile lives."""
    return GOLDEN_DIR / f"{name}.json"


def read_golden(name: str) -> dict[str, Any]:
    """The stored golden file of one profile."""
    return dict(json.loads(golden_path(name).read_text(encoding="utf-8")))


def write_golden(name: str) -> Path:
    """Write (overwrite) one profile's golden file from the current code."""
    GOLDEN_DIR.mkdir(exist_ok=True)
    path = golden_path(name)
    path.write_text(json.dumps(render(name), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def drift(stored: Any, fresh: Any, where: str = "") -> list[str]:
    """Every difference between a stored and a freshly rendered golden value (points within tolerance)."""
    if isinstance(stored, dict) and isinstance(fresh, dict):
        out = [f"{where}.{k}: only in one" for k in sorted(set(stored) ^ set(fresh))]
        for key in sorted(set(stored) & set(fresh)):
            out += drift(stored[key], fresh[key], f"{where}.{key}")
        return out
    if isinstance(stored, list) and isinstance(fresh, list):
        if len(stored) != len(fresh):
            return [f"{where}: {len(stored)} items stored, {len(fresh)} now"]
        return [d for k, (a, b) in enumerate(zip(stored, fresh, strict=True)) for d in drift(a, b, f"{where}[{k}]")]
    if where.endswith(".points") and isinstance(stored, float | int) and isinstance(fresh, float | int):
        return [] if abs(stored - fresh) <= POINTS_TOLERANCE else [f"{where}: {stored} stored, {fresh} now"]
    return [] if stored == fresh else [f"{where}: {stored!r} stored, {fresh!r} now"]


def main(argv: list[str] | None = None) -> int:
    """Compare every golden profile with the current code, or rewrite them all with ``--write``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="rewrite the golden files from the current code")
    args = parser.parse_args(argv)
    status = 0
    for name in PROFILES:
        if args.write:
            sys.stdout.write(f"wrote {write_golden(name)}\n")
            continue
        found = drift(read_golden(name), render(name)) if golden_path(name).exists() else ["no golden file"]
        status |= bool(found)
        sys.stdout.write(f"{name}: {'ok' if not found else 'DRIFT'}\n" + "".join(f"  {d}\n" for d in found))
    return status


if __name__ == "__main__":
    sys.exit(main())
