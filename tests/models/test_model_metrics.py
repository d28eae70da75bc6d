"""Golden values for the validation metrics, worked out by hand on tiny samples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.metrics import auc, calibration_table, discrimination, gini, ks, psi

Y = [0, 0, 1, 1]
RISK = [0.1, 0.4, 0.35, 0.8]


def test_auc_counts_correctly_ordered_pairs():
    # pairs (default, non-default): 0.35>0.1 yes, 0.35>0.4 no, 0.8>0.1 yes, 0.8>0.4 yes → 3/4
    assert auc(Y, RISK) == pytest.approx(0.75)
    assert auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)


def test_gini_is_two_auc_minus_one():
    assert gini(Y, RISK) == pytest.approx(0.5)


def test_ks_is_largest_gap_between_tpr_and_fpr():
    # descending thresholds: (TPR, FPR) = (.5, 0), (.5, .5), (1, .5), (1, 1) → max gap 0.5
    assert ks(Y, RISK) == pytest.approx(0.5)
    assert ks([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == pytest.approx(1.0)


def test_discrimination_reports_rate_and_rows():
    report = discrimination(Y, RISK)
    assert report == pytest.approx({"auc": 0.75, "ks": 0.5, "gini": 0.5, "default_rate": 0.5, "rows": 4.0})


def test_metrics_refuse_one_class_or_non_binary_targets():
    with pytest.raises(ValueError, match="both"):
        auc([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="0 and 1"):
        ks([0, 2], [0.1, 0.2])


def test_calibration_table_by_band():
    rows = calibration_table(
        [0, 1, 0, 0, 1, 1], [0.1, 0.3, 0.2, 0.2, 0.6, 0.4], ["A", "A", "B", "B", "C", "C"],
        order=["A", "B", "C", "D"],
    )
    assert [(r.band, r.rows, r.defaults) for r in rows] == [("A", 2, 1), ("B", 2, 0), ("C", 2, 2), ("D", 0, 0)]
    assert [r.predicted_pd for r in rows[:3]] == pytest.approx([0.2, 0.2, 0.5])
    assert [r.observed_rate for r in rows[:3]] == pytest.approx([0.5, 0.0, 1.0])
    assert math.isnan(rows[3].predicted_pd) and math.isnan(rows[3].observed_rate)


def test_calibration_table_sorts_bands_without_order():
    rows = calibration_table([1, 0], [0.5, 0.1], ["E", "A"])
    assert [r.band for r in rows] == ["A", "E"]


def test_psi_with_explicit_edges():
    # shares below/above 2.5: expected (.5, .5), actual (.75, .25)
    # PSI = .25·ln(1.5) + (−.25)·ln(.5) = .25·ln 3
    assert psi([1, 2, 3, 4], [1, 1, 1, 4], bins=[2.5]) == pytest.approx(0.25 * math.log(3))


def test_psi_is_zero_for_identical_distributions_and_finite_for_empty_bins():
    values = np.arange(1, 11)
    assert psi(values, values, bins=2) == pytest.approx(0.0)
    # all actual values fall in the upper bin; the empty lower bin counts as 1e-4
    shifted = psi([1, 2, 3, 4], [4, 4, 4, 4], bins=[2.5])
    expected = (1e-4 - 0.5) * math.log(1e-4 / 0.5) + (1 - 0.5) * math.log(1 / 0.5)
    assert shifted == pytest.approx(expected)
