"""A saved artifact reproduces the scores of the model it was made from, bit for bit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.artifact import META_FILE, PdModelArtifact, ScorecardScale
from models.train import TrainedModel, feature_matrix
from tests.utils.training_frames import make_training_frame


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    frame = make_training_frame(n_enterprises=200, n_dates=2, seed=21)
    x = feature_matrix(frame, frame.columns[3:].tolist())
    x[::7, 3] = np.nan  # missing sales: the NaN path must survive the round trip too
    return x


def test_save_load_gives_bitwise_identical_scores(artifact: PdModelArtifact, rows, tmp_path):
    loaded = PdModelArtifact.load(artifact.save(tmp_path / "model"))
    assert loaded.model_string == artifact.model_string
    assert loaded.calibration_intercept == artifact.calibration_intercept
    assert loaded.calibration_slope == artifact.calibration_slope
    np.testing.assert_array_equal(loaded.predict_pd(rows), artifact.predict_pd(rows))
    np.testing.assert_array_equal(
        loaded.booster.predict(rows, pred_contrib=True), artifact.booster.predict(rows, pred_contrib=True)
    )


def test_artifact_reproduces_the_trained_model(trained: TrainedModel, artifact: PdModelArtifact, rows):
    np.testing.assert_array_equal(artifact.predict_pd(rows), trained.predict_pd(rows))


def test_saved_metadata_is_complete(artifact: PdModelArtifact, trained: TrainedModel, tmp_path):
    path = artifact.save(tmp_path / "model")
    meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
    assert meta["feature_names"] == list(trained.feature_names)
    assert set(meta["feature_dtypes"].values()) == {"float64"}
    assert meta["scale"] == {"anchor_points": 600.0, "anchor_odds": 50.0, "pdo": 40.0,
                             "score_min": 300.0, "score_max": 900.0}
    assert meta["metadata"]["metrics"]["oot"]["auc"] == trained.metrics["oot"]["auc"]
    assert meta["metadata"]["oot_start"] == trained.oot_start.isoformat()
    loaded = PdModelArtifact.load(path)
    assert loaded.scale == ScorecardScale()
    assert loaded.metadata == artifact.metadata


def test_load_refuses_an_unknown_format(artifact: PdModelArtifact, tmp_path):
    path = artifact.save(tmp_path / "model")
    meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
    meta["format_version"] = 99
    (path / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ValueError, match="unsupported artifact format"):
        PdModelArtifact.load(path)


def test_booster_must_match_the_feature_list(artifact: PdModelArtifact):
    renamed = PdModelArtifact(
        model_string=artifact.model_string,
        feature_names=tuple(reversed(artifact.feature_names)),
        calibration_intercept=0.0,
        calibration_slope=1.0,
        scale=ScorecardScale(),
    )
    with pytest.raises(ValueError, match="feature"):
        _ = renamed.booster


def test_only_float64_features_are_accepted(artifact: PdModelArtifact):
    with pytest.raises(ValueError, match="float64"):
        PdModelArtifact(
            model_string=artifact.model_string,
            feature_names=artifact.feature_names,
            calibration_intercept=0.0,
            calibration_slope=1.0,
            scale=ScorecardScale(),
            feature_dtypes={artifact.feature_names[0]: "category"},
        )
