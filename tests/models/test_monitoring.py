"""Model monitoring: PSI against the training baseline with its bands, default rate by grade, AUC, alerts."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.artifact import PdModelArtifact
from models.monitoring import (
    BaselineError,
    ScoreBaseline,
    band_of,
    baseline_metadata,
    default_rate_by_grade,
    discrimination_alerts,
    drift_alerts,
    log_odds_of,
    psi_by_month,
    reference_auc,
    stored_baseline,
    training_window_baseline,
    with_baseline,
)
from tests.utils.training_frames import make_training_frame

HALVES = ScoreBaseline(edges=(0.0,), shares=(0.5, 0.5), rows=100)
"""Half the training scores below log-odds 0, half above."""


@pytest.mark.parametrize(("value", "band"), [(0.0, "stable"), (0.0999, "stable"), (0.1, "watch"),
                                             (0.2499, "watch"), (0.25, "act"), (1.7, "act")])
def test_bands(value: float, band: str) -> None:
    assert band_of(value) == band


def test_baseline_bins_hold_a_tenth_each() -> None:
    baseline = ScoreBaseline.from_log_odds(np.arange(100.0))
    assert len(baseline.edges) == 9
    assert baseline.shares == pytest.approx((0.1,) * 10)
    assert baseline.psi(np.arange(100.0)) == pytest.approx(0.0)


def test_psi_by_hand() -> None:
    # three quarters below 0 against a half: 0.25·ln(0.75/0.5) + (0.25 − 0.5)·ln(0.25/0.5) = 0.25·ln 3
    assert HALVES.psi([-1.0, -2.0, -3.0, 1.0]) == pytest.approx(0.25 * math.log(3))
    # all below 0: the empty bin counts as 1e-4
    assert HALVES.psi([-1.0, -2.0]) == pytest.approx(0.5 * math.log(2) + (1e-4 - 0.5) * math.log(1e-4 / 0.5))


def test_psi_by_month_and_alerts() -> None:
    scores = pd.DataFrame({
        "month": ["2026-01"] * 4 + ["2026-02"] * 4 + ["2026-03"] * 10,
        "log_odds": [-1, -1, 1, 1] + [-1, -1, -1, 1] + [-1] * 6 + [1] * 4,
    })
    table = psi_by_month(HALVES, scores).set_index("month")
    assert table.loc["2026-01", "psi"] == pytest.approx(0.0)
    assert table.loc["2026-02", "psi"] == pytest.approx(0.25 * math.log(3))  # 0.275: act
    # 0.6/0.4: 0.1·ln 1.2 − 0.1·ln 0.8 = 0.1·ln 1.5 = 0.041: stable
    assert table.loc["2026-03", "psi"] == pytest.approx(0.1 * math.log(1.5))
    assert table["band"].tolist() == ["stable", "act", "stable"]
    assert table["scores"].tolist() == [4, 4, 10]
    alerts = drift_alerts(table.reset_index(), min_scores=4)
    assert [(a.subject, a.severity, a.threshold) for a in alerts] == [("2026-02", "act", 0.25)]
    assert "2026-02" in alerts[0].message
    assert drift_alerts(table.reset_index(), min_scores=5) == []  # four scores are too few to judge


def test_default_rate_by_grade_and_auc_by_hand() -> None:
    matured = pd.DataFrame({
        "grade": ["A", "A", "B", "B", "B"],
        "pd": [0.1, 0.4, 0.35, 0.8, 0.6],
        "default_12m": [0, 0, 1, 1, 0],
    })
    table = default_rate_by_grade(matured).set_index("grade")
    assert table.loc["A", ["scores", "defaults"]].tolist() == [2, 0]
    assert table.loc["B", "realised_default_rate"] == pytest.approx(2 / 3)
    assert table.loc["B", "mean_pd"] == pytest.approx((0.35 + 0.8 + 0.6) / 3)
    # defaults 0.35, 0.8 against non-defaults 0.1, 0.4, 0.6: 0.35 beats one, 0.8 all three: 4 of 6 pairs
    assert table.loc["all", "auc"] == pytest.approx(4 / 6)
    assert table.loc["all", "realised_default_rate"] == pytest.approx(2 / 5)
    assert math.isnan(table.loc["A", "auc"])
    grades = table.reset_index()
    assert [a.severity for a in discrimination_alerts(grades, reference_auc=0.72, min_each=2)] == ["act"]
    assert discrimination_alerts(grades, reference_auc=0.71, min_each=2) == []
    assert discrimination_alerts(grades, reference_auc=None, min_each=2) == []
    assert discrimination_alerts(grades, reference_auc=0.72, min_each=3) == []  # two defaults are too few


def test_one_outcome_has_no_auc() -> None:
    table = default_rate_by_grade(pd.DataFrame({"grade": ["A"], "pd": [0.1], "default_12m": [0]}))
    assert math.isnan(table.set_index("grade").loc["all", "auc"])


def test_log_odds_of_pd() -> None:
    assert log_odds_of([0.5, 0.2]) == pytest.approx([0.0, math.log(0.25)])


def test_baseline_survives_save_and_load(artifact: PdModelArtifact, tmp_path: Path) -> None:
    assert stored_baseline(artifact) is None
    baseline = ScoreBaseline.from_log_odds(np.linspace(-5, 0, 50))
    loaded = PdModelArtifact.load(with_baseline(artifact, baseline).save(tmp_path / "model"))
    assert stored_baseline(loaded) == baseline
    assert baseline_metadata(np.linspace(-5, 0, 50))["score_baseline"] == baseline.to_json()


def test_training_window_baseline_scores_the_window(artifact: PdModelArtifact) -> None:
    frame = make_training_frame(n_enterprises=300, n_dates=8, seed=3)
    baseline = training_window_baseline(artifact, frame)
    start, end = pd.Timestamp(artifact.metadata["train_start"]), pd.Timestamp(artifact.metadata["train_end"])
    in_window = frame[(frame["as_of"] >= start) & (frame["as_of"] <= end)]
    assert baseline.rows == len(in_window)
    assert sum(baseline.shares) == pytest.approx(1.0)
    assert reference_auc(artifact) == pytest.approx(artifact.metadata["metrics"]["oot"]["auc"])


def test_baseline_refuses_too_few_scores() -> None:
    with pytest.raises(BaselineError):
        ScoreBaseline.from_log_odds([0.1, 0.2])
    with pytest.raises(BaselineError):
        ScoreBaseline(edges=(0.0,), shares=(0.5, 0.4), rows=10)
