"""SIGKILL in the middle of training + registration and of a promotion: the champion served stays whole."""

from __future__ import annotations

import pytest

from models.history import CHALLENGER, CHAMPION, default_history_path, read_history
from models.registry import client_for, quiet_mlflow
from scoring.service import ScoreService
from tests.reliability.conftest import Region, crash_at, run_to_end

pytestmark = pytest.mark.slow

_CLIENT = "mlflow.tracking.client:MlflowClient"


def _aliases(region: Region) -> dict[str, str]:
    """Alias → version of the registered model, and every version without an alias as ``unaliased-<v>``."""
    settings = region.settings
    with quiet_mlflow():
        client = client_for(settings.resolved_mlflow_uri)
        found: dict[str, str] = {}
        for version in client.search_model_versions(f"name='{settings.model_name}'"):
            names = client.get_model_version(settings.model_name, version.version).aliases
            for alias in names or [f"unaliased-{version.version}"]:
                found[alias] = str(version.version)
    return found


def _served(region: Region) -> tuple[str, float]:
    """The champion the service loads, and the PD it gives an empty profile (a fingerprint of the model)."""
    service = ScoreService.from_registry(region.settings)
    return service.model_version, float(service.score_matrix(service.profile_row({}).reshape(1, -1))[0][0])


def _history(region: Region) -> list[tuple[str, str]]:
    path = default_history_path(region.settings.resolved_mlflow_uri, region.settings.model_name)
    return [(event.action, event.version) for event in read_history(path)]


def _run_states(region: Region) -> list[str]:
    """Status of every MLflow run of the model, oldest first."""
    settings = region.settings
    with quiet_mlflow():
        client = client_for(settings.resolved_mlflow_uri)
        runs = client.search_runs([e.experiment_id for e in client.search_experiments()],
                                  filter_string=f"tags.model_name = '{settings.model_name}'",
                                  order_by=["attributes.start_time ASC"])
    return [run.info.status for run in runs]


def _train(region: Region) -> list[str]:
    return ["xinyi-models", "train", str(region.root / "profiles" / "applications.parquet"), "--threads", "1"]


@pytest.mark.parametrize(
    "pause",
    ["lightgbm:train", f"{_CLIENT}.create_model_version", f"{_CLIENT}.set_registered_model_alias"],
    ids=["mid-fit", "logged-not-registered", "registered-no-alias"],
)
def test_killed_training_keeps_the_champion_and_reruns(region: Region, pause: str) -> None:
    before = _served(region)
    assert _aliases(region) == {CHAMPION: "1"}

    crash_at(_train(region), region.env, region.root, pause=pause)

    assert _served(region) == before
    after_crash = _aliases(region)
    assert after_crash[CHAMPION] == "1" and CHALLENGER not in after_crash
    # a version registered just before the kill stays, without an alias: neither served nor promoted by default
    assert set(after_crash) <= {CHAMPION, "unaliased-2"}

    killed_runs = _run_states(region)
    assert killed_runs[0] == "FINISHED" and killed_runs[1:] in ([], ["RUNNING"])  # the killed one, if it began

    run_to_end(_train(region), region.env)
    final = _aliases(region)
    assert final[CHAMPION] == "1" and final[CHALLENGER] == str(len(after_crash) + 1)
    assert _served(region) == before
    assert _history(region) == [("register", "1")]
    # the next run marks the killed run FAILED; nothing is left RUNNING
    assert _run_states(region) == ["FINISHED", *(["FAILED"] if killed_runs[1:] else []), "FINISHED"]


def test_promotion_killed_before_the_alias_moves_changes_nothing_and_reruns(region: Region) -> None:
    run_to_end(_train(region), region.env)
    promote = ["xinyi-models", "promote", str(region.root / "profiles" / "applications.parquet")]
    before = _served(region)

    crash_at(promote, region.env, region.root, pause=f"{_CLIENT}.set_registered_model_alias")

    assert _served(region) == before
    assert _aliases(region) == {CHAMPION: "1", CHALLENGER: "2"}
    assert _history(region) == [("register", "1")]
    run_to_end(promote, region.env)
    assert _aliases(region) == {CHAMPION: "2", "unaliased-1": "1"}
    assert _served(region)[0] == "2"
    assert _history(region) == [("register", "1"), ("promote", "2")]


def test_promotion_killed_after_the_alias_moved_is_recorded_by_the_next_run(region: Region) -> None:
    run_to_end(_train(region), region.env)
    promote = ["xinyi-models", "promote", str(region.root / "profiles" / "applications.parquet")]

    crash_at(promote, region.env, region.root, pause="models.promotion:record_champion")

    assert _served(region)[0] == "2"  # the promoted model, whole
    assert _history(region) == [("register", "1")]  # the kill came before the line was written ...
    run_to_end(promote, region.env)
    assert _history(region) == [("register", "1"), ("promote", "2")]  # ... and the next run writes it, once
    assert _served(region)[0] == "2"
