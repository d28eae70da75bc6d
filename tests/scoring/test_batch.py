"""Batch scoring: same scores as the service, reasons and policy when asked, resumable after a crash."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from config.settings import Settings
from models.artifact import PdModelArtifact
from scoring import batch as batch_module
from scoring.batch import MANIFEST, BatchMismatchError, PolicyInputs, plan_chunks, score_batch
from scoring.facts import PolicyFacts, RevenueEvidence
from scoring.precredit import PreCreditPolicy
from scoring.service import ScoreService
from scoring.types import PolicyRecord
from tests.utils.training_frames import make_training_frame

AS_OF = date(2024, 6, 30)


@pytest.fixture(scope="module")
def service(artifact: PdModelArtifact) -> ScoreService:
    return ScoreService(artifact, "pre_credit_pd", "3")


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    profiles = make_training_frame(n_enterprises=530, n_dates=1, seed=31).drop(columns="default_12m")
    profiles["as_of"] = pd.Timestamp(AS_OF)
    return profiles


@pytest.fixture
def source(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "profiles.parquet"
    frame.to_parquet(path, index=False, row_group_size=120)  # chunks of 100 cross row groups
    return path


def test_scores_match_the_service_row_for_row(service: ScoreService, frame, source, tmp_path):
    result = score_batch(source, tmp_path / "out", service, chunk_rows=100)
    assert (result.rows, result.chunks, result.scored_chunks, result.skipped_chunks) == (530, 6, 6, 0)
    out = pd.read_parquet(tmp_path / "out")
    expected = service.score_frame(frame)
    assert list(out.columns) == ["uscc", "as_of", "pd", "score", "grade"]
    assert out["uscc"].tolist() == frame["uscc"].tolist()
    pd.testing.assert_series_equal(out["pd"], expected["pd"], check_names=False, rtol=1e-12)
    assert out["score"].tolist() == expected["score"].tolist() and out["grade"].tolist() == expected["grade"].tolist()
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["complete"] and len(manifest["done"]) == 6
    assert manifest["identity"]["model"] == {"name": "pre_credit_pd", "version": "3"}


def test_a_crash_leaves_finished_parts_and_a_rerun_skips_them(service: ScoreService, source, tmp_path):
    out = tmp_path / "out"

    def crash_after_two(done: batch_module.ChunkDone) -> None:
        if done.chunk.index == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score_batch(source, out, service, chunk_rows=100, on_chunk=crash_after_two)
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "part-00000.parquet", "part-00001.parquet"]
    assert not json.loads((out / MANIFEST).read_text(encoding="utf-8"))["complete"]

    seen: list[tuple[int, bool]] = []
    resumed = score_batch(source, out, service, chunk_rows=100,
                          on_chunk=lambda d: seen.append((d.chunk.index, d.skipped)))
    assert (resumed.scored_chunks, resumed.skipped_chunks) == (4, 2)
    assert seen == [(0, True), (1, True), (2, False), (3, False), (4, False), (5, False)]
    score_batch(source, tmp_path / "whole", service, chunk_rows=100)
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(tmp_path / "whole"))


def test_a_crash_while_writing_leaves_no_half_part(service: ScoreService, source, tmp_path, monkeypatch):
    out = tmp_path / "out"
    real_write = pq.write_table
    calls = {"n": 0}

    def failing_write(table, where, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            Path(where).write_bytes(b"PAR1 half a file")
            raise OSError("disk full")
        return real_write(table, where, **kwargs)

    monkeypatch.setattr(batch_module.pq, "write_table", failing_write)
    with pytest.raises(OSError, match="disk full"):
        score_batch(source, out, service, chunk_rows=100)
    monkeypatch.setattr(batch_module.pq, "write_table", real_write)
    assert not (out / "part-00002.parquet").exists()
    pd.read_parquet(out)  # the finished parts read, the hidden half part is not data
    resumed = score_batch(source, out, service, chunk_rows=100)
    assert (resumed.scored_chunks, resumed.skipped_chunks) == (4, 2)
    assert not list(out.glob(".*")) and len(pd.read_parquet(out)) == 530


def test_another_run_in_the_same_folder_is_refused(service: ScoreService, source, tmp_path):
    score_batch(source, tmp_path / "out", service, chunk_rows=100)
    with pytest.raises(BatchMismatchError):
        score_batch(source, tmp_path / "out", service, chunk_rows=200)
    with pytest.raises(BatchMismatchError):
        score_batch(source, tmp_path / "out", service, chunk_rows=100, reasons=True)


def test_reasons_are_those_of_the_single_profile_path(service: ScoreService, frame, source, tmp_path):
    score_batch(source, tmp_path / "out", service, chunk_rows=250, reasons=True)
    out = pd.read_parquet(tmp_path / "out")
    for k in (0, 7, 260, 529):
        row = frame.iloc[k]
        profile = {n: None if pd.isna(row[n]) else float(row[n]) for n in service.feature_names}
        single = service.score(row["uscc"], profile, AS_OF)
        assert [r["text_zh"] for r in out.loc[k, "reasons_lowering"]] == [r.text_zh for r in single.reasons_lowering]
        assert [r["text_en"] for r in out.loc[k, "reasons_raising"]] == [r.text_en for r in single.reasons_raising]
        assert [r["points"] for r in out.loc[k, "reasons_lowering"]] == pytest.approx(
            [r.points for r in single.reasons_lowering])


def test_with_policy_facts_each_row_is_assessed(service: ScoreService, frame, source, tmp_path):
    usccs = frame["uscc"].tolist()
    black = PolicyRecord("list_entries", "black", date(2024, 1, 5), "拒不履行法定义务", "BL-1")
    records = pd.DataFrame([{"uscc": usccs[3], **black.to_json()}])
    records["since"] = pd.to_datetime(records["since"])
    evidence = pd.DataFrame({"uscc": usccs[:500], "sales_12m": 6_000_000.0, "tax_paid_12m": 180_000.0,
                             "tax_months_12m": 12, "si_months_12m": 12})
    facts_dir = tmp_path / "policy"
    facts_dir.mkdir()
    records.to_parquet(facts_dir / "records.parquet", index=False)
    evidence.to_parquet(facts_dir / "evidence.parquet", index=False)
    policy = PreCreditPolicy.from_settings(Settings())
    inputs = PolicyInputs.from_dir(policy, facts_dir)

    score_batch(source, tmp_path / "out", service, chunk_rows=200, policy=inputs)
    out = pd.read_parquet(tmp_path / "out")
    assert out.loc[3, "decision"] == "decline" and list(out.loc[3, "policy_hits"]) == ["serious_dishonesty_list"]
    assert out.loc[3, "pre_credit_limit"] == 0
    unscorable = out.iloc[500:]  # no tax or social-insurance evidence
    assert unscorable["score"].isna().all() and unscorable["decision"].eq("refer").all()
    assert all("tax_and_social_insurance" in list(codes) for codes in unscorable["insufficient_data"])
    assert out["rule_set_version"].eq(policy.rule_set_version).all()
    for k in (0, 3, 42, 510):
        row = frame.iloc[k]
        profile = {n: None if pd.isna(row[n]) else float(row[n]) for n in service.feature_names}
        facts = PolicyFacts((black,) if k == 3 else (),
                            RevenueEvidence(6_000_000.0, 180_000.0, 12, 12) if k < 500 else RevenueEvidence())
        direct = policy.assess(service, row["uscc"], profile, AS_OF, facts)
        limit = direct.pre_credit_limit.amount if direct.pre_credit_limit else None
        grade = out.loc[k, "grade"] if direct.grade else None
        assert (out.loc[k, "decision"], grade) == (direct.decision, direct.grade)
        assert (None if pd.isna(out.loc[k, "pre_credit_limit"]) else out.loc[k, "pre_credit_limit"]) == limit


def test_a_snapshot_folder_of_parts_with_its_manifest(service: ScoreService, frame, tmp_path):
    snapshot = tmp_path / "as_of=2024-06-30"
    snapshot.mkdir()
    frame.iloc[:300].drop(columns="as_of").to_parquet(snapshot / "part-00000.parquet", index=False)
    frame.iloc[300:].drop(columns="as_of").to_parquet(snapshot / "part-00001.parquet", index=False)
    (snapshot / "_manifest.json").write_text(json.dumps({"as_of": "2024-06-30"}), encoding="utf-8")
    assert [(c.file, c.start, c.stop) for c in plan_chunks(sorted(snapshot.glob("part-*")), 250)] == [
        (0, 0, 250), (0, 250, 300), (1, 0, 230)]
    result = score_batch(snapshot, tmp_path / "out", service, chunk_rows=250)
    assert result.rows == 530
    out = pd.read_parquet(tmp_path / "out")
    assert out["uscc"].tolist() == frame["uscc"].tolist()
    assert json.loads((tmp_path / "out" / MANIFEST).read_text(encoding="utf-8"))["identity"]["profile_as_of"] == (
        "2024-06-30")


def test_cli_score_batch_with_a_saved_model(artifact: PdModelArtifact, service: ScoreService, frame, source,
                                            tmp_path, capsys):
    from api.cli import main

    artifact.save(tmp_path / "model")
    out = tmp_path / "scores"
    assert main(["score-batch", str(source), str(out), "--artifact", str(tmp_path / "model"),
                 "--chunk-rows", "200"]) == 0
    assert "530 profiles in 3 parts" in " ".join(capsys.readouterr().out.split())
    assert pd.read_parquet(out)["score"].tolist() == service.score_frame(frame)["score"].tolist()
    assert main(["score-batch", str(source), str(out), "--artifact", str(tmp_path / "model"),
                 "--chunk-rows", "200"]) == 0
    assert "0 scored now, 3 already done" in " ".join(capsys.readouterr().out.split())
