"""MLflow tracking and registry: log a trained model, register a version, serve the champion by alias.

Everything goes through an explicit ``MlflowClient`` (no global tracking URI), and the registered version's
source is the plain artifact folder, so serving loads it with :meth:`PdModelArtifact.load`, without pyfunc.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.artifact import PdModelArtifact
from models.train import TrainedModel

logger = logging.getLogger(__name__)

ARTIFACT_PATH = "pd_model"
_NOISY_LOGGERS = ("mlflow", "alembic")
_MAX_PARAM_LENGTH = 6_000


@dataclass(frozen=True)
class RegisteredModel:
    """One registered model version and the run that produced it."""

    name: str
    version: str
    run_id: str


@contextmanager
def _quiet_mlflow() -> Iterator[None]:
    """Silence MLflow's INFO chatter (database migrations, progress bars) for the duration of a call."""
    saved_levels = {name: logging.getLogger(name).level for name in _NOISY_LOGGERS}
    saved_env = os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        yield
    finally:
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)
        if saved_env is None:
            os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", None)
        else:
            os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = saved_env


def _client(tracking_uri: str) -> Any:
    from mlflow import MlflowClient  # imported lazily: mlflow takes seconds to import

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def _param_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text[:_MAX_PARAM_LENGTH]


def _experiment_id(client: Any, experiment: str, artifact_location: str | Path) -> str:
    found = client.get_experiment_by_name(experiment)
    if found is not None:
        return str(found.experiment_id)
    Path(artifact_location).mkdir(parents=True, exist_ok=True)
    location = Path(artifact_location).resolve().as_uri()
    return str(client.create_experiment(experiment, artifact_location=location))


def log_and_register(
    trained: TrainedModel,
    artifact: PdModelArtifact,
    *,
    tracking_uri: str,
    artifact_location: str | Path,
    model_name: str,
    experiment: str = "pre_credit",
    alias: str = "champion",
) -> RegisteredModel:
    """Log one run (params, metrics, artifact folder), register it as a new version, point ``alias`` at it."""
    from mlflow.entities import Metric, Param
    from mlflow.exceptions import MlflowException

    with _quiet_mlflow():
        client = _client(tracking_uri)
        experiment_id = _experiment_id(client, experiment, artifact_location)
        run = client.create_run(
            experiment_id,
            run_name=f"{model_name}-{trained.oot_end.isoformat()}",
            tags={"model_name": model_name, "features": str(len(trained.feature_names))},
        )
        run_id = run.info.run_id
        try:
            now = int(time.time() * 1000)
            params = {
                **{key: _param_value(value) for key, value in trained.params.items()},
                "best_iteration": str(trained.best_iteration),
                "train_window": f"{trained.train_start.isoformat()}..{trained.train_end.isoformat()}",
                "oot_window": f"{trained.oot_start.isoformat()}..{trained.oot_end.isoformat()}",
                "calibration_intercept": repr(trained.calibration_intercept),
                "calibration_slope": repr(trained.calibration_slope),
            }
            client.log_batch(
                run_id,
                metrics=[Metric(key, float(value), now, 0) for key, value in trained.flat_metrics().items()],
                params=[Param(key, value) for key, value in params.items()],
            )
            with tempfile.TemporaryDirectory(prefix="pd_model_") as tmp:
                client.log_artifacts(run_id, str(artifact.save(tmp)), artifact_path=ARTIFACT_PATH)
            client.set_terminated(run_id)
        except Exception:
            client.set_terminated(run_id, status="FAILED")
            raise
        try:
            client.get_registered_model(model_name)
        except MlflowException:
            client.create_registered_model(model_name, description="Pre-credit PD model (预授信模型)")
        version = client.create_model_version(
            model_name, source=f"{run.info.artifact_uri}/{ARTIFACT_PATH}", run_id=run_id
        )
        client.set_registered_model_alias(model_name, alias, version.version)
    logger.info("registered %s version %s as %s (run %s)", model_name, version.version, alias, run_id)
    return RegisteredModel(name=model_name, version=str(version.version), run_id=run_id)


def load_model_by_alias(
    tracking_uri: str, model_name: str, alias: str = "champion"
) -> tuple[PdModelArtifact, str]:
    """Download the version ``alias`` points at; return it as a :class:`PdModelArtifact` and its version."""
    from mlflow.artifacts import download_artifacts

    with _quiet_mlflow():
        client = _client(tracking_uri)
        version = client.get_model_version_by_alias(model_name, alias)
        with tempfile.TemporaryDirectory(prefix="pd_model_") as tmp:
            local = download_artifacts(artifact_uri=version.source, dst_path=tmp, tracking_uri=tracking_uri)
            artifact = PdModelArtifact.load(local)
    logger.info("loaded %s version %s (%s)", model_name, version.version, alias)
    return artifact, str(version.version)
