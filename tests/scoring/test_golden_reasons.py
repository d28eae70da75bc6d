"""Golden files fix the reason texts (and advice) of a set of profiles; any drift fails the test.

Regenerate only deliberately: ``.venv/bin/python -m tests.scoring.golden_profiles --write``.
"""

from __future__ import annotations

import pytest

from tests.scoring.golden_profiles import PROFILES, drift, golden_path, read_golden, render


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_reasons_match_the_golden_file(name: str):
    assert golden_path(name).exists(), f"no golden file for {name}: run python -m tests.scoring.golden_profiles"
    found = drift(read_golden(name), render(name))
    assert not found, (
        f"{name} drifted from {golden_path(name).name}:\n  " + "\n  ".join(found)
        + "\nif the change is intended: .venv/bin/python -m tests.scoring.golden_profiles --write"
    )


def test_golden_profiles_cover_both_directions_and_advice():
    stored = [read_golden(name) for name in PROFILES]
    assert all(g["reasons_lowering"] for g in stored if g["profile"] != "steady_manufacturer")
    assert any(g["reasons_raising"] for g in stored)
    assert any(g["advice"]["steps"] for g in stored)
    assert len({g["grade"] for g in stored}) >= 2


def test_drift_reports_a_changed_text_and_tolerates_float_noise():
    stored = {"reasons": [{"points": -12.3456, "text_zh": "近12个月社保欠缴3个月 (拉低 12 分)"}]}
    noisy = {"reasons": [{"points": -12.3461, "text_zh": "近12个月社保欠缴3个月 (拉低 12 分)"}]}
    assert drift(stored, noisy) == []
    changed = {"reasons": [{"points": -12.3456, "text_zh": "近12个月社保欠缴 3 个月 (拉低 12 分)"}]}
    assert drift(stored, changed) == [
        ".reasons[0].text_zh: '近12个月社保欠缴3个月 (拉低 12 分)' stored, '近12个月社保欠缴 3 个月 (拉低 12 分)' now"
    ]
