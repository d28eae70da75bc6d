"""Champion and challenger on a local MLflow store: the promotion rule, rollback, history, failed runs."""

from __future__ import annotations

import pytest

from models.history import CHALLENGER, CHAMPION, champion_at, read_history
from models.promotion import PromotionError, PromotionRule, promote, rollback
from models.registry import alias_version, client_for
from models.workflow import register_run, train_and_validate
from tests.utils.training_frames import make_training_frame


def test_rule_accepts_a_small_auc_drop_and_refuses_a_larger_one():
    rule = PromotionRule(max_auc_drop=0.005, max_ece=0.02)
    champion = {"auc": 0.750, "ece": 0.010}
    assert rule.judge({"auc": 0.746, "ece": 0.010}, champion)[0]
    accepted, reasons = rule.judge({"auc": 0.744, "ece": 0.010}, champion)
    assert not accepted and "more than 0.0050 below" in reasons[0]


def test_rule_refuses_a_poorly_calibrated_challenger_even_when_it_ranks_better():
    accepted, reasons = PromotionRule(max_ece=0.02).judge({"auc": 0.80, "ece": 0.03}, {"auc": 0.70, "ece": 0.0})
    assert not accepted and "ECE 0.0300 exceeds 0.0200" in reasons[0]


def test_first_model_needs_no_champion_to_compare_with():
    accepted, reasons = PromotionRule().judge({"auc": 0.7, "ece": 0.01}, None)
    assert accepted and "no champion yet" in reasons


@pytest.fixture(scope="module")
def panel():
    return make_training_frame(n_enterprises=800, n_dates=8, seed=31)


@pytest.fixture(scope="module")
def runs(panel):
    good = train_and_validate(panel, seed=1)
    again = train_and_validate(panel, seed=2)
    noise = make_training_frame(n_enterprises=800, n_dates=8, seed=32, signal=0.0)
    poor = train_and_validate(noise, seed=3)
    return good, again, poor


@pytest.fixture
def store(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    return {"tracking_uri": uri, "artifact_location": tmp_path / "mlartifacts", "model_name": "pd"}


@pytest.mark.slow
def test_promotion_moves_champion_only_when_the_rule_allows(runs, panel, store):
    good, again, poor = runs
    uri, name = store["tracking_uri"], store["model_name"]
    first = register_run(good, **store, alias=CHAMPION)
    client = client_for(uri)

    worse = register_run(poor, **store)  # registered as challenger: the champion does not move
    assert alias_version(client, name, CHALLENGER) == worse.version
    assert alias_version(client, name, CHAMPION) == first.version
    refused = promote(uri, name, panel, rule=PromotionRule(max_auc_drop=0.005, max_ece=0.05))
    assert not refused.accepted and refused.previous == first.version
    assert refused.challenger["auc"] < refused.champion["auc"] - 0.005  # same rows for both
    assert refused.challenger["rows"] == refused.champion["rows"] == refused.rows
    assert alias_version(client, name, CHAMPION) == first.version

    better = register_run(again, **store)
    accepted = promote(uri, name, panel, rule=PromotionRule(max_auc_drop=0.01, max_ece=0.05))
    assert accepted.accepted, accepted.reasons
    assert alias_version(client, name, CHAMPION) == better.version
    assert alias_version(client, name, CHALLENGER) is None

    history = read_history(store["artifact_location"].parent / "champion_history" / "pd.jsonl")
    assert [(e.action, e.version, e.previous) for e in history] == [
        ("register", first.version, None), ("promote", better.version, first.version)]
    assert history[1].evidence["rule"] == {"max_auc_drop": 0.01, "max_ece": 0.05}
    assert champion_at(store["artifact_location"].parent / "champion_history" / "pd.jsonl", "9999") == better.version


@pytest.mark.slow
def test_rollback_to_any_earlier_version_is_recorded(runs, panel, store):
    good, again, _ = runs
    uri, name = store["tracking_uri"], store["model_name"]
    first = register_run(good, **store, alias=CHAMPION)
    second = register_run(again, **store, alias=CHAMPION)
    event = rollback(uri, name, first.version, reason="complaints about v2")
    assert (event.version, event.previous) == (first.version, second.version)
    assert alias_version(client_for(uri), name, CHAMPION) == first.version
    actions = [e.action for e in read_history(store["artifact_location"].parent / "champion_history" / "pd.jsonl")]
    assert actions == ["register", "register", "rollback"]
    with pytest.raises(PromotionError, match="no version 9"):
        rollback(uri, name, "9", reason="typo")
    with pytest.raises(PromotionError, match="not earlier"):
        rollback(uri, name, second.version, reason="forward is promotion")


@pytest.mark.slow
def test_a_failed_run_registers_nothing_and_leaves_champion(runs, store, monkeypatch):
    good, _, _ = runs
    uri, name = store["tracking_uri"], store["model_name"]
    first = register_run(good, **store, alias=CHAMPION)
    from mlflow import MlflowClient

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(MlflowClient, "log_artifact", broken)
    with pytest.raises(OSError, match="disk full"):
        register_run(good, **store, alias=CHAMPION)
    client = client_for(uri)
    assert [str(v.version) for v in client.search_model_versions("name='pd'")] == [first.version]
    assert alias_version(client, name, CHAMPION) == first.version
    runs_ = client.search_runs([client.get_experiment_by_name("pre_credit").experiment_id])
    assert sorted(r.info.status for r in runs_) == ["FAILED", "FINISHED"]


@pytest.mark.slow
def test_registered_run_carries_report_and_record(runs, store):
    good, _, _ = runs
    registered = register_run(good, **store)
    client = client_for(store["tracking_uri"])
    run = client.get_run(registered.run_id)
    assert run.data.tags["training_fingerprint"] == good.artifact.metadata["training_fingerprint"]
    assert run.data.params["catalogue_version"] == good.artifact.metadata["catalogue_version"]
    assert run.data.metrics["ece_oot"] == pytest.approx(good.trained.metrics["oot"]["ece"])
    files = {f.path for f in client.list_artifacts(registered.run_id)}
    assert {"validation_report.html", "pd_model"} <= files
