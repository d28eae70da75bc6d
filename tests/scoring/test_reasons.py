"""Reason codes: TreeSHAP contributions are additive, agree with shap, and read well in both languages."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.artifact import PdModelArtifact
from models.train import feature_matrix
from scoring.reasons import make_reason, reasons_from_contributions
from scoring.service import ScoreService
from tests.utils.training_frames import make_training_frame


@pytest.fixture(scope="module")
def rows(artifact: PdModelArtifact) -> np.ndarray:
    frame = make_training_frame(n_enterprises=40, n_dates=1, seed=13)
    return feature_matrix(frame, artifact.feature_names)


def test_contributions_plus_expected_value_equal_the_raw_margin(artifact: PdModelArtifact, rows):
    contributions = artifact.booster.predict(rows, pred_contrib=True)
    margin = artifact.booster.predict(rows, raw_score=True)
    assert contributions.shape == (len(rows), len(artifact.feature_names) + 1)
    np.testing.assert_allclose(contributions.sum(axis=1), margin, rtol=0, atol=1e-9)


SHAP_TOLERANCE = 1e-6
"""shap's TreeExplainer and LightGBM's pred_contrib run the same TreeSHAP algorithm in double precision on the
same trees; they differ only by summation order, far below 1e-6 in log-odds (6e-5 score points at PDO 40)."""


def test_points_plus_base_equal_the_raw_score_for_every_row(artifact: PdModelArtifact, rows):
    service = ScoreService(artifact, "m", "1")
    points = service.contribution_points(rows)
    expected_value = artifact.booster.predict(rows[:1], pred_contrib=True)[0, -1]
    card, b = service.scorecard, artifact.calibration_slope
    base = card.offset - card.factor * (artifact.calibration_intercept + b * expected_value)
    log_odds = artifact.calibration_intercept + b * artifact.booster.predict(rows, raw_score=True)
    np.testing.assert_allclose(base + points.sum(axis=1), card.offset - card.factor * log_odds, atol=1e-8)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:LightGBM binary classifier:UserWarning")
def test_shap_tree_explainer_agrees_with_pred_contrib(artifact: PdModelArtifact, rows):
    shap = pytest.importorskip("shap")
    assert np.isnan(rows).any(), "the rows should include missing values, which both must route alike"
    explainer = shap.TreeExplainer(artifact.booster)
    values = explainer.shap_values(rows)
    values = values[1] if isinstance(values, list) else values
    contributions = artifact.booster.predict(rows, pred_contrib=True)
    np.testing.assert_allclose(values, contributions[:, :-1], rtol=0, atol=SHAP_TOLERANCE)
    expected = np.ravel(explainer.expected_value)[-1]
    assert expected == pytest.approx(contributions[0, -1], abs=SHAP_TOLERANCE)


def test_reason_text_in_score_points():
    reason = make_reason("si_arrears_months_12m", -25.3, 3.0)
    assert reason.text_zh == "近12个月社保欠缴3个月 (拉低 25 分)"
    assert reason.text_en == "3 months of social-insurance arrears in the last 12 (−25 points)"
    raising = make_reason("red_list_active", 12.4, 1.0)
    assert raising.text_zh == "当前列入红名单: 是 (提升 12 分)"
    assert raising.text_en == "currently on a red list: yes (+12 points)"


def test_missing_value_reads_as_its_catalogue_meaning_not_nan():
    reason = make_reason("sales_12m_log", -10.0, math.nan)
    assert reason.value is None
    assert "nan" not in reason.text_en.lower() and "nan" not in reason.text_zh.lower()
    assert "no tax filing in the last 12 months" in reason.text_en
    assert "无数据" in reason.text_zh


def test_ratios_read_as_percentages():
    text = make_reason("sales_growth_6m", -5.0, -0.25).text_en
    assert text == "sales -25% against the prior 6 months (−5 points)"
    assert make_reason("si_paid_ratio_12m", -3.0, 0.8).text_zh == "近12个月社保实缴比例80% (拉低 3 分)"


def test_log_amounts_read_in_yuan_and_months_as_whole_numbers():
    sales = make_reason("sales_12m_log", -8.0, math.log1p(1_160_000))
    assert sales.text_zh == "近12个月开票销售额116.0万元 (拉低 8 分)"
    assert sales.text_en == "invoiced sales of 1,160,000 yuan over the last 12 months (−8 points)"
    assert make_reason("age_months", 4.0, 200.4).text_en == "founded 200 months ago (+4 points)"


def test_top_reasons_each_way_skip_small_points():
    names = ["a", "b", "c", "d", "e", "f"]
    # −50 points per unit: points = [−25, 15, −0.5, −10, 0.05, 0]; the last column is the expected value
    contributions = [0.5, -0.3, 0.01, 0.2, -0.001, 0.0, -3.0]
    lowering, raising = reasons_from_contributions(contributions, [1, 2, 3, 4, 5, 6], names, -50.0)
    assert [(r.feature, r.points) for r in lowering] == [("a", pytest.approx(-25)), ("d", pytest.approx(-10))]
    assert [(r.feature, r.value) for r in raising] == [("b", 2.0)]


def test_at_most_four_reasons_each_way():
    contributions = [1.0, 2.0, 3.0, 4.0, 5.0, -1.0, -2.0, -3.0, -4.0, -5.0, 0.0]
    names = [f"x{i}" for i in range(10)]
    lowering, raising = reasons_from_contributions(contributions, np.zeros(10), names, -10.0)
    assert [r.feature for r in lowering] == ["x4", "x3", "x2", "x1"]
    assert [r.feature for r in raising] == ["x9", "x8", "x7", "x6"]


def test_length_mismatch_is_refused():
    with pytest.raises(ValueError):
        reasons_from_contributions([1.0, 0.0], [1.0, 2.0], ["a", "b"], -1.0)
