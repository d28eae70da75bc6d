"""ScoreService: one profile in, PD, score, grade and reasons out; the batch path agrees with it."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest

from config.settings import Settings
from models.artifact import PdModelArtifact
from models.calibration import IsotonicCalibrator
from models.registry import log_and_register
from models.train import TrainedModel, feature_matrix
from scoring import service as service_module
from scoring.reasons import reasons_from_contributions
from scoring.scale import GRADES, grade_for
from scoring.service import ScoreService, profile_chunks
from scoring.types import ScoreProvider, ScoreResult
from tests.utils.training_frames import make_training_frame

AS_OF = date(2024, 6, 30)


@pytest.fixture(scope="module")
def service(artifact: PdModelArtifact) -> ScoreService:
    return ScoreService(artifact, "pre_credit_pd", "7")


@pytest.fixture(scope="module")
def profiles(artifact: PdModelArtifact) -> pd.DataFrame:
    return make_training_frame(n_enterprises=60, n_dates=1, seed=17)


def as_profile(row: pd.Series, names: tuple[str, ...]) -> dict[str, float | None]:
    return {name: (None if pd.isna(row[name]) else float(row[name])) for name in names}


def test_result_fields(service: ScoreService, profiles: pd.DataFrame):
    provider: ScoreProvider = service
    row = profiles.iloc[0]
    result = provider.score(row["uscc"], as_profile(row, service.feature_names), AS_OF)
    assert result.uscc == row["uscc"]
    assert (result.model_name, result.model_version, result.profile_as_of) == ("pre_credit_pd", "7", AS_OF)
    assert 0.0 < result.probability_of_default < 1.0
    assert isinstance(result.score, int) and 300 <= result.score <= 900
    assert result.grade in GRADES and result.grade == grade_for(result.score)
    assert len(result.reasons_lowering) <= 4 and len(result.reasons_raising) <= 4
    lowering = [r.points for r in result.reasons_lowering]
    raising = [r.points for r in result.reasons_raising]
    assert all(p <= -1 for p in lowering) and lowering == sorted(lowering)
    assert all(p >= 1 for p in raising) and raising == sorted(raising, reverse=True)


def test_score_matches_pd_on_the_scale(service: ScoreService, profiles: pd.DataFrame):
    for _, row in profiles.head(10).iterrows():
        result = service.score(row["uscc"], as_profile(row, service.feature_names), AS_OF)
        log_odds = math.log(result.probability_of_default / (1 - result.probability_of_default))
        assert result.score == service.scorecard.score_from_log_odds(log_odds)


def test_reason_points_add_up_to_the_score(service: ScoreService, artifact: PdModelArtifact, profiles):
    row = profiles.iloc[3]
    profile = as_profile(row, service.feature_names)
    result = service.score(row["uscc"], profile, AS_OF)
    contributions = artifact.booster.predict(service.profile_row(profile), pred_contrib=True)[0]
    card, b = service.scorecard, artifact.calibration_slope
    points = -card.factor * b * contributions
    base = card.offset - card.factor * (artifact.calibration_intercept + b * contributions[-1])
    assert base + points[:-1].sum() == pytest.approx(card.raw_score(
        math.log(result.probability_of_default / (1 - result.probability_of_default))))
    for reason in (*result.reasons_lowering, *result.reasons_raising):
        assert reason.points == pytest.approx(points[service.feature_names.index(reason.feature)])


def test_single_and_batch_paths_agree(service: ScoreService, profiles: pd.DataFrame):
    batch = service.score_frame(profiles)
    assert list(batch.columns) == ["uscc", "as_of", "pd", "score", "grade"]
    for i, row in profiles.iterrows():
        result = service.score(row["uscc"], as_profile(row, service.feature_names), AS_OF)
        assert result.probability_of_default == pytest.approx(batch.loc[i, "pd"], rel=1e-12)
        assert (result.score, result.grade) == (batch.loc[i, "score"], batch.loc[i, "grade"])


def test_profile_chunks_hold_the_feature_matrix(service: ScoreService, profiles: pd.DataFrame):
    names = (*service.feature_names[:5], "not_in_the_frame", *service.feature_names[5:])
    frame = profiles.astype({names[0]: "Float64"})  # a nullable column: its pd.NA reads as NaN
    frame.loc[frame.index[::4], names[0]] = pd.NA
    expected = feature_matrix(frame, names)
    chunks = [(start, x.flags.c_contiguous, x.copy()) for start, x in profile_chunks(frame, names, rows=7)]
    assert [start for start, _, _ in chunks] == list(range(0, len(frame), 7))
    assert all(row_major for _, row_major, _ in chunks)
    np.testing.assert_array_equal(np.vstack([x for _, _, x in chunks]), expected)  # NaN where NaN
    assert list(profile_chunks(frame.iloc[:0], names)) == []


def test_rows_are_filled_tile_by_tile_across_tile_edges(monkeypatch):
    monkeypatch.setattr(service_module, "TILE_ROWS", 4)
    columns = [np.arange(30.0), None, -np.arange(30.0)]
    out = np.zeros((11, 3))
    service_module.fill_rows(out, columns, start=13)
    np.testing.assert_array_equal(out[:, 0], np.arange(13.0, 24.0))
    assert np.isnan(out[:, 1]).all()
    np.testing.assert_array_equal(out[:, 2], -np.arange(13.0, 24.0))


def test_score_frame_in_chunks_equals_score_matrix_exactly(service: ScoreService, profiles, monkeypatch):
    monkeypatch.setattr(service_module, "FRAME_CHUNK_ROWS", 11)
    probability, scores, grades = service.score_matrix(feature_matrix(profiles, service.feature_names))
    batch = service.score_frame(profiles)
    np.testing.assert_array_equal(batch["pd"].to_numpy(), probability)
    np.testing.assert_array_equal(batch["score"].to_numpy(), scores)
    assert batch["grade"].tolist() == grades.tolist()
    assert batch.index.equals(profiles.index) and batch["uscc"].tolist() == profiles["uscc"].tolist()


def test_none_and_absent_features_both_mean_missing(service: ScoreService, profiles: pd.DataFrame):
    profile = as_profile(profiles.iloc[1], service.feature_names)
    with_none = {**profile, "sales_12m_log": None, "electricity_change_6m": None}
    absent = {k: v for k, v in with_none.items() if v is not None}
    absent["not_a_model_feature"] = 5.0  # unknown keys are ignored
    assert service.score("x", with_none, AS_OF) == service.score("x", absent, AS_OF)
    assert np.isnan(service.profile_row(absent)[0, service.feature_names.index("sales_12m_log")])


def test_worse_features_mean_higher_pd(service: ScoreService, profiles: pd.DataFrame):
    base = as_profile(profiles.iloc[2], service.feature_names)
    base.update(si_arrears_months_12m=0.0, tax_overdue_months_12m=0.0, dishonest_debtor_active=0.0,
                enforcement_cases_active=0.0)
    steps = [
        {"si_arrears_months_12m": 3.0},
        {"si_arrears_months_12m": 6.0},
        {"si_arrears_months_12m": 6.0, "tax_overdue_months_12m": 4.0},
        {"si_arrears_months_12m": 12.0, "tax_overdue_months_12m": 8.0, "enforcement_cases_active": 3.0},
    ]
    pds = [service.score("x", base, AS_OF).probability_of_default]
    pds += [service.score("x", {**base, **step}, AS_OF).probability_of_default for step in steps]
    assert all(a <= b for a, b in itertools.pairwise(pds))
    assert pds[-1] > 1.5 * pds[0]
    worst = service.score("x", {**base, **steps[-1]}, AS_OF)
    assert any(r.feature == "si_arrears_months_12m" for r in worst.reasons_lowering)


@pytest.mark.slow
def test_from_registry_loads_the_champion(trained: TrainedModel, artifact: PdModelArtifact, tmp_path, profiles):
    settings = Settings(data_dir=tmp_path)
    log_and_register(trained, artifact, tracking_uri=settings.resolved_mlflow_uri,
                     artifact_location=settings.mlflow_artifact_dir, model_name=settings.model_name)
    served = ScoreService.from_registry(settings)
    assert (served.model_name, served.model_version) == (settings.model_name, "1")
    local = ScoreService(artifact, settings.model_name, "1")
    pd.testing.assert_frame_equal(served.score_frame(profiles), local.score_frame(profiles))


def reference_score(service: ScoreService, uscc: str, profile: dict[str, float | None]) -> ScoreResult:
    """The single-profile result the slow, plain way: a one-row ``Booster.predict``, the calibrator on an array,
    the scale and :func:`reasons_from_contributions`."""
    artifact = service.artifact
    x = np.array([[np.nan if profile.get(n) is None else profile[n] for n in service.feature_names]])
    contributions = artifact.booster.predict(x, pred_contrib=True)[0]
    log_odds = float(artifact.calibrator.log_odds(np.array([contributions.sum()]))[0])
    score = service.scorecard.score_from_log_odds(log_odds)
    b = artifact.calibration_slope
    lowering, raising = reasons_from_contributions(contributions, x[0], service.feature_names,
                                                   -service.scorecard.factor * b)
    return ScoreResult(uscc, 1.0 / (1.0 + math.exp(-log_odds)), score, grade_for(score), lowering, raising,
                       service.model_name, service.model_version, AS_OF)


@pytest.mark.parametrize("calibration", ["platt", "isotonic"])
def test_single_profile_path_equals_the_plain_reference_exactly(artifact, profiles, calibration):
    if calibration == "isotonic":
        margin = artifact.booster.predict(feature_matrix(profiles, artifact.feature_names), raw_score=True)
        knots = IsotonicCalibrator().fit(margin, profiles["default_12m"].to_numpy() | (margin > np.median(margin)))
        artifact = replace(artifact, calibration=knots.to_dict())
    service = ScoreService(artifact, "pre_credit_pd", "7")
    assert service.artifact.calibration_method == calibration
    for k, (_, row) in enumerate(profiles.iterrows()):
        profile = as_profile(row, service.feature_names)
        if k % 3 == 0:  # some features absent, some None
            profile = {n: (None if i % 4 == 0 else v) for i, (n, v) in enumerate(profile.items()) if i % 5}
        result = service.score(row["uscc"], profile, AS_OF)
        expected = reference_score(service, row["uscc"], profile)
        assert result == expected  # every float compared exactly: PD, points, values
        assert service.score_row(row["uscc"], service.profile_row(profile), AS_OF) == expected
