"""Training on a Dask cluster (lightgbm.dask): same split, parameters, early stopping, calibration, artifact.

The slow tests start a two-worker LocalCluster (separate processes, one thread each), train the same table
locally and on the cluster, and hold the cluster model to the local one: out-of-time AUC within
``AUC_TOLERANCE`` on the same rows, the same early-stopping rule, monotone in every catalogue direction, and
an artifact that saves, loads and scores through ``ScoreService`` like any other.
"""

from __future__ import annotations

import argparse
from datetime import date

import numpy as np
import pytest

from config.settings import Settings
from features.catalogue import FEATURE_NAMES, FEATURE_SPECS
from models.artifact import PdModelArtifact
from models.cli import _dask_scheduler, build_parser
from models.distributed import worker_pieces
from models.train import EARLY_STOPPING_ROUNDS, MAX_BOOST_ROUNDS, feature_matrix
from tests.utils.dask_cluster import two_worker_cluster
from tests.utils.training_frames import make_training_frame

# Out-of-time AUC of the cluster model against the local model on the same 3,000-enterprise panel (12,000
# OOT rows). The two differ only by bagging per worker and the "basic" monotone method; over five panels of
# 2,000 enterprises the gap was at most 0.005.
AUC_TOLERANCE = 0.01


def test_worker_pieces_keep_each_enterprise_on_one_worker():
    ids = np.repeat(np.array([f"E{i:04d}" for i in range(300)], dtype=object), 4)
    pieces = worker_pieces(ids, len(ids), 3)
    assert len(pieces) == 3
    assert sorted(np.concatenate(pieces).tolist()) == list(range(len(ids)))
    owners = {}
    for k, rows in enumerate(pieces):
        for enterprise in set(ids[rows].tolist()):
            assert owners.setdefault(enterprise, k) == k


def test_worker_pieces_without_ids_and_with_more_workers_than_rows():
    pieces = worker_pieces(None, 3, 5)
    assert [p.tolist() for p in pieces] == [[0], [1], [2]]  # empty pieces dropped
    with pytest.raises(ValueError, match="no workers"):
        worker_pieces(None, 3, 0)


def test_cli_takes_the_scheduler_from_the_option_then_the_setting():
    parser = build_parser()
    with_setting = Settings(dask_scheduler="tcp://cluster:8786")
    args = parser.parse_args(["train", "t.parquet"])
    assert _dask_scheduler(args, with_setting) == "tcp://cluster:8786"
    assert _dask_scheduler(args, Settings()) is None
    args = parser.parse_args(["train", "t.parquet", "--dask-scheduler", "tcp://other:8786"])
    assert _dask_scheduler(args, with_setting) == "tcp://other:8786"
    args = parser.parse_args(["train", "t.parquet", "--local"])
    assert isinstance(args, argparse.Namespace) and _dask_scheduler(args, with_setting) is None


@pytest.fixture(scope="module")
def cluster():
    with two_worker_cluster() as local:
        yield local


@pytest.fixture(scope="module")
def panel():
    return make_training_frame(n_enterprises=3_000, n_dates=8, seed=17)


@pytest.fixture(scope="module")
def local_and_dask(cluster, panel):
    from models.workflow import train_and_validate

    local = train_and_validate(panel, seed=3, refit=False)  # the Dask path stops on validation, no refit
    on_dask = train_and_validate(panel, seed=3, dask_scheduler=cluster.scheduler_address)
    return local, on_dask


@pytest.mark.slow
def test_dask_model_ranks_out_of_time_like_the_local_model(local_and_dask):
    local, on_dask = local_and_dask
    assert on_dask.trained.params["dask_workers"] == 2
    assert on_dask.trained.metrics["oot"]["rows"] == local.trained.metrics["oot"]["rows"]
    assert on_dask.trained.metrics["oot"]["auc"] > 0.65
    assert abs(on_dask.trained.metrics["oot"]["auc"] - local.trained.metrics["oot"]["auc"]) <= AUC_TOLERANCE
    assert on_dask.trained.metrics["oot"]["ece"] <= 0.02
    # the cluster model is a different model (bagged per worker), not the local one handed back
    assert on_dask.trained.booster.model_to_string() != local.trained.booster.model_to_string()


@pytest.mark.slow
def test_dask_model_stops_early_on_the_validation_window(local_and_dask):
    _, on_dask = local_and_dask
    trained = on_dask.trained
    assert 1 <= trained.best_iteration < MAX_BOOST_ROUNDS - EARLY_STOPPING_ROUNDS
    assert trained.booster.current_iteration() == trained.best_iteration  # trees after the best one dropped
    assert trained.params["monotone_constraints_method"] == "basic"
    assert "[monotone_constraints_method: basic]" in trained.booster.model_to_string()


@pytest.mark.slow
def test_dask_model_is_monotone_in_every_catalogue_direction(local_and_dask, panel):
    _, on_dask = local_and_dask
    artifact = on_dask.artifact
    x = feature_matrix(panel.sample(300, random_state=1), artifact.feature_names)
    base = artifact.predict_pd(x)
    for j, name in enumerate(artifact.feature_names):
        riskier = FEATURE_SPECS[name].higher_is_riskier
        if riskier is None:
            continue
        moved = x.copy()
        moved[:, j] = x[:, j] + (-1.0 if riskier else 1.0) * (np.nanstd(x[:, j]) or 1.0)
        assert np.all(artifact.predict_pd(moved) <= base + 1e-12), name


@pytest.mark.slow
def test_dask_artifact_saves_loads_and_scores(local_and_dask, panel, tmp_path):
    from scoring.service import ScoreService

    _, on_dask = local_and_dask
    artifact = on_dask.artifact
    assert artifact.feature_names == tuple(FEATURE_NAMES)
    loaded = PdModelArtifact.load(artifact.save(tmp_path / "dask-model"))
    x = feature_matrix(panel.iloc[:500], artifact.feature_names)
    np.testing.assert_array_equal(loaded.predict_pd(x), on_dask.trained.predict_pd(x))
    service = ScoreService(loaded, "pre_credit_pd", "1")
    row = panel.iloc[0]
    profile = {name: None if np.isnan(row[name]) else float(row[name]) for name in FEATURE_NAMES}
    result = service.score(str(row["uscc"]), profile, date(2023, 1, 1))
    assert result.probability_of_default == pytest.approx(float(loaded.predict_pd(x[:1])[0]), rel=1e-9)
    assert result.score is not None and 300 <= result.score <= 900
    assert result.reasons_lowering or result.reasons_raising
    assert "dask_workers" in loaded.metadata["params"]


@pytest.mark.slow
def test_cli_trains_on_the_cluster(cluster, tmp_path, monkeypatch, capsys):
    import models.cli as cli

    settings = Settings(data_dir=tmp_path, dask_scheduler=cluster.scheduler_address)
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    path = tmp_path / "applications.parquet"
    make_training_frame(n_enterprises=600, n_dates=12, seed=2).to_parquet(path)  # 4 dates before the 12-month gap
    assert cli.main(["train", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "auc_oot" in out and "trained on Dask: 2 workers" in out
