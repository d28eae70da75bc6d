"""MLflow round trip on a local SQLite store: register, load the champion, promote a second version."""

from __future__ import annotations

import numpy as np
import pytest

from models.artifact import PdModelArtifact
from models.registry import load_model_by_alias, log_and_register
from models.train import DEFAULT_PARAMS, TrainedModel, feature_matrix
from tests.utils.training_frames import make_training_frame

pytestmark = pytest.mark.slow


def test_register_load_and_promote(trained: TrainedModel, artifact: PdModelArtifact, tmp_path, capfd):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    store = tmp_path / "mlartifacts"
    first = log_and_register(trained, artifact, tracking_uri=uri, artifact_location=store, model_name="pd")
    assert (first.name, first.version) == ("pd", "1")

    loaded, version = load_model_by_alias(uri, "pd")
    assert version == "1"
    frame = make_training_frame(n_enterprises=100, n_dates=2, seed=5)
    x = feature_matrix(frame, artifact.feature_names)
    np.testing.assert_array_equal(loaded.predict_pd(x), artifact.predict_pd(x))
    assert loaded.metadata == artifact.metadata

    second = log_and_register(trained, artifact, tracking_uri=uri, artifact_location=store, model_name="pd")
    assert second.version == "2" and second.run_id != first.run_id
    assert load_model_by_alias(uri, "pd")[1] == "2"
    assert capfd.readouterr().out == ""  # MLflow stays quiet on stdout

    from mlflow import MlflowClient

    run = MlflowClient(tracking_uri=uri).get_run(first.run_id)
    assert run.data.metrics["auc_oot"] == pytest.approx(trained.metrics["oot"]["auc"])
    assert run.data.metrics["auc_validation"] == pytest.approx(trained.metrics["validation"]["auc"])
    assert run.data.params["num_leaves"] == str(DEFAULT_PARAMS["num_leaves"])
    assert run.info.status == "FINISHED"
    assert run.info.artifact_uri.startswith(store.resolve().as_uri())
