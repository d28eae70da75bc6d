"""MLflow tracking and registry: log a trained model, register a version, serve the champion by alias.

Everything goes through an explicit ``MlflowClient`` (no global tracking URI), and the registered version's
source is the plain artifact folder, so serving loads it with :meth:`PdModelArtifact.load`, without pyfunc.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.artifact import PdModelArtifact
from models.history import CHAMPION, ChampionEvent, default_history_path, record_champion
from models.train import TrainedModel

logger = logging.getLogger(__name__)

ARTIFACT_PATH = "pd_model"
_NOISY_LOGGERS = ("mlflow", "alembic")
_MAX_PARAM_LENGTH = 6_000
REPORT_FILE = "validation_report.html"
_METADATA_PARAMS = ("catalogue_version", "training_fingerprint", "calibration_scores", "columns", "baselines")


@dataclass(frozen=True)
class RegisteredModel:
    """One registered model version and the run that produced it."""

    name: str
    version: str
    run_id: str


@contextmanager
def quiet_mlflow() -> Iterator[None]:
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


def client_for(tracking_uri: str) -> Any:
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
    alias: str | None = "champion",
    report_html: str | None = None,
    tags: Mapping[str, str] | None = None,
    history_path: Path | None = None,
) -> RegisteredModel:
    """Log one run (params, metrics, artifact folder, report), register a new version, point ``alias`` at it.

    The artifact's metadata (catalogue version, training-data fingerprint, baselines …) goes in as params
    and tags too. Nothing is registered unless every log call succeeded: a failure marks the run FAILED and
    leaves the registry and its aliases as they were. Pointing ``champion`` at the new version is recorded
    in the champion history (``history_path``, default beside a SQLite store: :func:`default_history_path`).
    """
    from mlflow.entities import Metric, Param
    from mlflow.exceptions import MlflowException

    with quiet_mlflow():
        client = client_for(tracking_uri)
        experiment_id = _experiment_id(client, experiment, artifact_location)
        fail_interrupted_runs(client, experiment_id, model_name)
        run = client.create_run(
            experiment_id,
            run_name=f"{model_name}-{trained.oot_end or 'cv'}",
            tags={"model_name": model_name, "features": str(len(trained.feature_names)), **_owner_tags(),
                  **(tags or {})},
        )
        run_id = run.info.run_id
        try:
            now = int(time.time() * 1000)
            params = {
                **{key: _param_value(value) for key, value in trained.params.items()},
                "best_iteration": str(trained.best_iteration),
                "train_window": f"{trained.train_start}..{trained.train_end}",
                "oot_window": f"{trained.oot_start}..{trained.oot_end}",
                "calibration_method": trained.calibration_method,
                "calibration_intercept": repr(trained.calibration_intercept),
                "calibration_slope": repr(trained.calibration_slope),
                **{key: _param_value(artifact.metadata[key]) for key in _METADATA_PARAMS
                   if key in artifact.metadata},
            }
            client.log_batch(
                run_id,
                metrics=[Metric(key, float(value), now, 0) for key, value in trained.flat_metrics().items()],
                params=[Param(key, value) for key, value in params.items()],
            )
            with tempfile.TemporaryDirectory(prefix="pd_model_") as tmp:
                client.log_artifacts(run_id, str(artifact.save(Path(tmp) / "model")), artifact_path=ARTIFACT_PATH)
                if report_html is not None:
                    report = Path(tmp) / REPORT_FILE
                    report.write_text(report_html, encoding="utf-8")
                    client.log_artifact(run_id, str(report))
        except Exception:
            client.set_terminated(run_id, status="FAILED")
            raise
        try:  # an error (not a kill) while registering marks the run FAILED at once
            try:
                client.get_registered_model(model_name)
            except MlflowException:
                client.create_registered_model(model_name, description="Pre-credit PD model (预授信模型)")
            version = client.create_model_version(
                model_name, source=f"{run.info.artifact_uri}/{ARTIFACT_PATH}", run_id=run_id
            )
            if alias is not None:
                previous = alias_version(client, model_name, alias)
                client.set_registered_model_alias(model_name, alias, version.version)
                if alias == CHAMPION:
                    record_champion(
                        history_path or default_history_path(tracking_uri, model_name),
                        ChampionEvent.now(model_name, str(version.version), previous, "register",
                                          "registered as champion"),
                    )
        except Exception:
            client.set_terminated(run_id, status="FAILED")
            raise
        # FINISHED only once the version is registered and aliased: a run killed before that stays RUNNING
        # and the next registration marks it FAILED (fail_interrupted_runs)
        client.set_terminated(run_id)
    logger.info("registered %s version %s as %s (run %s)", model_name, version.version, alias, run_id)
    return RegisteredModel(name=model_name, version=str(version.version), run_id=run_id)


def _owner_tags() -> dict[str, str]:
    """Which process owns a run (host and pid), so a later run can tell one killed from one still going."""
    return {"owner_host": socket.gethostname(), "owner_pid": str(os.getpid())}


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def fail_interrupted_runs(client: Any, experiment_id: str, model_name: str) -> list[str]:
    """Mark FAILED the RUNNING runs of ``model_name`` whose owning process on this host is gone.

    A registration killed before it finished (after logging, after registering a version but before its
    alias moved) leaves its run RUNNING; its version, if any, keeps no alias (never served, never promoted
    by default) and is tagged ``interrupted``. Runs owned by another host or a live process are left alone.
    Returns the run ids marked.
    """
    host = socket.gethostname()
    marked: list[str] = []
    for run in client.search_runs([experiment_id], filter_string=f"tags.model_name = '{model_name}' "
                                  "and attributes.status = 'RUNNING'"):
        tags = run.data.tags
        pid = tags.get("owner_pid", "")
        if tags.get("owner_host") != host or not pid.isdigit() or _process_alive(int(pid)):
            continue
        run_id = run.info.run_id
        client.set_tag(run_id, "interrupted", f"process {pid} ended before the registration finished; "
                       "marked FAILED by the next registration")
        client.set_terminated(run_id, status="FAILED")
        for version in client.search_model_versions(f"name='{model_name}' and run_id='{run_id}'"):
            client.set_model_version_tag(model_name, version.version, "interrupted",
                                         "its registration was killed before the alias moved; not served")
        logger.warning("marked interrupted run %s of %s FAILED", run_id, model_name)
        marked.append(run_id)
    return marked


def alias_version(client: Any, model_name: str, alias: str) -> str | None:
    """The version ``alias`` points at, or None when the model or the alias does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(model_name, alias).version)
    except MlflowException:
        return None


def load_model_version(tracking_uri: str, model_name: str, version: str) -> PdModelArtifact:
    """Download one registered version as a :class:`PdModelArtifact`."""
    from mlflow.artifacts import download_artifacts

    with quiet_mlflow():
        client = client_for(tracking_uri)
        found = client.get_model_version(model_name, str(version))
        with tempfile.TemporaryDirectory(prefix="pd_model_") as tmp:
            local = download_artifacts(artifact_uri=found.source, dst_path=tmp, tracking_uri=tracking_uri)
            return PdModelArtifact.load(local)


def load_model_by_alias(
    tracking_uri: str, model_name: str, alias: str = "champion"
) -> tuple[PdModelArtifact, str]:
    """Download the version ``alias`` points at; return it as a :class:`PdModelArtifact` and its version."""
    from mlflow.artifacts import download_artifacts

    with quiet_mlflow():
        client = client_for(tracking_uri)
        version = client.get_model_version_by_alias(model_name, alias)
        with tempfile.TemporaryDirectory(prefix="pd_model_") as tmp:
            local = download_artifacts(artifact_uri=version.source, dst_path=tmp, tracking_uri=tracking_uri)
            artifact = PdModelArtifact.load(local)
    logger.info("loaded %s version %s (%s)", model_name, version.version, alias)
    return artifact, str(version.version)
