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


def test_a_run_killed_before_its_alias_moved_is_marked_failed_by_the_next(
    trained: TrainedModel, artifact: PdModelArtifact, tmp_path
):
    import subprocess
    import sys

    from mlflow import MlflowClient

    from models.registry import _owner_tags

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    store = tmp_path / "mlartifacts"
    first = log_and_register(trained, artifact, tracking_uri=uri, artifact_location=store, model_name="pd")
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    experiment = client.get_run(first.run_id).info.experiment_id
    # what a registration killed between create_model_version and the alias leaves: a RUNNING run, a bare version
    killed = client.create_run(experiment, tags={"model_name": "pd", **_owner_tags(),
                                                 "owner_pid": gone.stdout.strip()}).info.run_id
    orphan = client.create_model_version("pd", source=f"{store}/orphan", run_id=killed).version
    alive = client.create_run(experiment, tags={"model_name": "pd", **_owner_tags()}).info.run_id  # this process

    third = log_and_register(trained, artifact, tracking_uri=uri, artifact_location=store, model_name="pd",
                             alias="challenger")

    assert client.get_run(killed).info.status == "FAILED"
    assert "interrupted" in client.get_run(killed).data.tags
    assert "interrupted" in client.get_model_version("pd", orphan).tags
    assert not client.get_model_version("pd", orphan).aliases
    assert client.get_run(alive).info.status == "RUNNING"  # a live owner's run is not touched
    assert client.get_run(third.run_id).info.status == "FINISHED"
    assert load_model_by_alias(uri, "pd")[1] == first.version  # champion untouched
