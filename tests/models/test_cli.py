"""xinyi-models: train registers a challenger, promote applies the rule, rollback and history, refusals."""

from __future__ import annotations

import pytest

import models.cli as cli
from config.settings import Settings
from models.history import read_history
from tests.utils.training_frames import make_generic_table, make_training_frame


@pytest.fixture
def settings(tmp_path, monkeypatch):
    value = Settings(data_dir=tmp_path)
    monkeypatch.setattr(cli, "get_settings", lambda: value)
    return value


def test_refusals_print_what_and_why_and_exit_2(settings, tmp_path, capsys):
    path = tmp_path / "loans.parquet"
    make_generic_table(n=500).to_parquet(path)
    assert cli.main(["train", str(path), "--label", "bad", "--date", "booked_on", "--id", "loan_id"]) == 2
    assert "catalogue (version" in capsys.readouterr().out
    assert cli.main(["train", str(path), "--label", "default", "--date", "booked_on", "--any-features"]) == 2
    assert "no label column 'default'" in capsys.readouterr().out
    assert not (tmp_path / "mlflow.db").exists()  # nothing was registered, not even a store created


def test_dry_run_writes_the_report_and_registers_nothing(settings, tmp_path):
    path = tmp_path / "loans.csv"
    make_generic_table(n=2_000).to_csv(path, index=False)
    report = tmp_path / "report.html"
    code = cli.main(["train", str(path), "--label", "bad", "--date", "booked_on", "--id", "loan_id",
                     "--any-features", "--oot-months", "6", "--dry-run", "--report", str(report)])
    assert code == 0
    assert '<section id="roc">' in report.read_text(encoding="utf-8")
    assert not (tmp_path / "mlflow.db").exists()


def test_gap_defaults_to_the_horizon_and_a_gap_leaving_no_development_is_refused(settings, tmp_path, capsys):
    path = tmp_path / "loans.parquet"
    make_generic_table(n=2_000).to_parquet(path)  # booked over two years
    args = ["train", str(path), "--label", "bad", "--date", "booked_on", "--id", "loan_id", "--any-features",
            "--oot-months", "6", "--dry-run"]
    assert cli.main([*args, "--gap-months", "18"]) == 2
    assert "no development rows before the out-of-time window" in capsys.readouterr().out
    assert cli.main(args) == 0  # the 12-month default gap leaves six months of development rows


@pytest.mark.slow
def test_train_promote_rollback_history(settings, tmp_path, capsys):
    path = tmp_path / "applications.parquet"
    make_training_frame(n_enterprises=500, n_dates=12, seed=8).to_parquet(path)  # 4 dates before the gap
    assert cli.main(["train", str(path), "--alias", "champion", "--seed", "1"]) == 0
    assert cli.main(["train", str(path), "--seed", "2"]) == 0  # a challenger
    assert "as challenger" in capsys.readouterr().out
    assert cli.main(["promote", str(path), "--dry-run"]) in (0, 1)
    code = cli.main(["promote", str(path)])
    out = capsys.readouterr().out
    assert ("promoted v2" in out) == (code == 0)
    assert cli.main(["rollback", "1", "--reason", "back to the first"]) == (0 if code == 0 else 2)
    assert cli.main(["history"]) == 0
    actions = [e.action for e in read_history(tmp_path / "champion_history" / "pre_credit_pd.jsonl")]
    assert actions == (["register", "promote", "rollback"] if code == 0 else ["register"])
