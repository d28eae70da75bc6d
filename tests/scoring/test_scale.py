"""The scorecard scale: 600 at 1:50 odds, 40 points to double the odds, clipping, grades."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from config.settings import Settings
from scoring.scale import GRADES, Scorecard, grade_for, grades_for

CARD = Scorecard(anchor_points=600, anchor_odds=50, pdo=40, score_min=300, score_max=900)


def odds(pd: float) -> float:
    return pd / (1 - pd)


def test_anchor_scores_600_at_one_to_fifty():
    assert CARD.score_from_pd(1 / 51) == 600
    assert CARD.raw_score(math.log(1 / 50)) == pytest.approx(600)
    assert CARD.factor == pytest.approx(40 / math.log(2))


def test_forty_points_halve_the_odds_of_default():
    for score in (520.0, 600.0, 640.0, 700.0):
        assert odds(CARD.pd_from_score(score + 40)) == pytest.approx(odds(CARD.pd_from_score(score)) / 2)
    assert CARD.score_from_pd(1 / 101) == 640  # odds 1:100
    assert CARD.score_from_pd(1 / 26) == 560  # odds 1:25


def test_points_from_log_odds():
    assert CARD.points_from_log_odds(math.log(2)) == pytest.approx(-40)
    assert CARD.points_from_log_odds(-math.log(2)) == pytest.approx(40)


def test_pd_from_score_inverts_the_scale():
    for pd in (0.001, 0.02, 0.1, 0.5):
        assert CARD.pd_from_score(CARD.raw_score(math.log(odds(pd)))) == pytest.approx(pd)


def test_scores_fall_as_pd_rises():
    pds = np.linspace(0.001, 0.6, 200)
    scores = [CARD.score_from_pd(p) for p in pds]
    assert all(a >= b for a, b in itertools.pairwise(scores))
    assert scores[0] > scores[-1]


def test_scores_are_clipped_and_whole():
    assert CARD.score_from_pd(1e-12) == 900
    assert CARD.score_from_pd(0.999999) == 300
    assert isinstance(CARD.score_from_pd(0.03), int)
    np.testing.assert_array_equal(CARD.scores_from_log_odds([-50.0, math.log(1 / 50), 50.0]), [900, 600, 300])


def test_pd_outside_the_open_interval_is_refused():
    with pytest.raises(ValueError):
        CARD.score_from_pd(0.0)


def test_grade_bands_and_the_pd_at_their_edges():
    assert [grade_for(s) for s in (900, 680, 679, 640, 639, 600, 599, 560, 559, 300)] == list("AABBCCDDEE")
    assert list(grades_for([900, 680, 679, 640, 639, 600, 599, 560, 559, 300])) == list("AABBCCDDEE")
    assert GRADES == ("A", "B", "C", "D", "E")
    assert CARD.pd_from_score(680) == pytest.approx(1 / 201)
    assert CARD.pd_from_score(560) == pytest.approx(1 / 26)


def test_from_settings_and_scale_round_trip():
    card = Scorecard.from_settings(Settings())
    assert card == CARD
    assert Scorecard.from_scale(card.to_scale()) == card


def test_invalid_scale_is_refused():
    with pytest.raises(ValueError):
        Scorecard(pdo=0)
