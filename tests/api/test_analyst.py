"""Analyst workflow: the retraining table labelled from stored loan reports and the outcomes file; retrain and
compare through the functions and the ``xinyi analyst`` command."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.analyst import compare, known_defaults, retrain, retraining_table
from api.cli import main as xinyi
from config.settings import Settings
from features.outcomes import LABEL
from tests.api.factories import add_account, add_authorisation, add_bank, add_enterprise
from tests.api.test_regulator_metrics import _credit, _loan
from tests.utils.training_frames import make_training_frame


def _outcomes_file(tmp_path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path = tmp_path / "defaults.csv"
    pd.DataFrame(rows, columns=["uscc", "default_month", "reported_on"]).to_csv(path, index=False)
    return path


def test_retraining_table_labels_from_reports_and_the_outcomes_file(
    engine: Engine, db: Session, tmp_path: Path
) -> None:
    e1, e2, e3 = (add_enterprise(db) for _ in range(3))
    bank = add_bank(db)
    reporter = add_account(db, "bank", bank=bank)
    grant = add_authorisation(db, e1.uscc, bank).id
    # E1 borrowed in April 2024 and was 95 days past due on 20 August: in default from 15 August (reported)
    _loan(db, bank, e1, "R1", reporter.id, grant, [
        ("approval", date(2024, 4, 8), 1, {}), ("disbursement", date(2024, 4, 10), 1, _credit(100, 12)),
        ("overdue", date(2024, 8, 20), 5, {"amount": 100, "days_past_due": 95})])
    # E3 defaulted in May 2024 according to the region's outcomes file
    outcomes = _outcomes_file(tmp_path, [(e3.uscc, "2024-05", "2024-08-01")])
    defaults = known_defaults(engine, outcomes)
    assert sorted(defaults["uscc"]) == sorted([e1.uscc, e3.uscc])
    profiles = pd.DataFrame({
        "uscc": [e.uscc for e in (e1, e2, e3)] * 2,
        "as_of": pd.to_datetime(["2024-03-31"] * 3 + ["2024-06-30"] * 3),
        "tax_paid_12m": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        LABEL: 0,  # the old labels are replaced
    })
    table = retraining_table(profiles, defaults, observed_until=pd.Timestamp("2025-12-31"), horizon_months=12)
    labels = {(row.uscc, row.as_of.strftime("%Y-%m")): getattr(row, LABEL) for row in table.itertuples()}
    assert labels == {
        (e1.uscc, "2024-03"): 1, (e1.uscc, "2024-06"): 1,  # August 2024 is within both horizons
        (e2.uscc, "2024-03"): 0, (e2.uscc, "2024-06"): 0,
        (e3.uscc, "2024-03"): 1,  # E3 in June 2024 was already in default: left out
    }
    # outcomes complete to April 2025: the June 2024 profiles' horizons (to June 2025) have not ended
    shorter = retraining_table(profiles, defaults, observed_until=pd.Timestamp("2025-04-30"), horizon_months=12)
    assert set(shorter["as_of"].dt.strftime("%Y-%m")) == {"2024-03"}
    only_reports = known_defaults(engine, None)
    assert list(only_reports["uscc"]) == [e1.uscc]


def test_compare_without_a_table_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XINYI_DATA_DIR", str(tmp_path))
    from config.settings import get_settings

    get_settings.cache_clear()
    try:
        assert xinyi(["analyst", "compare", "--table", str(tmp_path / "missing.parquet")]) == 2
    finally:
        get_settings.cache_clear()


@pytest.mark.slow
def test_retrain_registers_a_challenger_and_compare_judges_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, model_oot_months=6, promotion_max_ece=0.2)
    first = make_training_frame(n_enterprises=600, n_dates=8, seed=21)
    champion = retrain(settings, first)
    assert champion.registered is not None and champion.registered.version == "1"
    promoted = compare(settings, first, apply=True)
    assert promoted.accepted and promoted.previous is None  # no champion yet
    relabelled = make_training_frame(n_enterprises=600, n_dates=8, seed=22)
    challenger = retrain(settings, relabelled)
    assert challenger.registered is not None and challenger.registered.version == "2"
    decision = compare(settings, relabelled)
    assert (decision.version, decision.previous) == ("2", "1")
    assert decision.champion is not None and decision.rows > 0
    assert decision.challenger["rows"] == decision.champion["rows"]  # the same out-of-time rows


@pytest.mark.slow
def test_cli_retrain_then_compare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frame = make_training_frame(n_enterprises=600, n_dates=8, seed=31)
    profiles = tmp_path / "applications.parquet"
    frame.to_parquet(profiles, index=False)
    defaulted = frame[frame[LABEL] == 1].drop_duplicates("uscc")
    months = (defaulted["as_of"] + pd.DateOffset(months=6)).dt.strftime("%Y-%m")
    outcomes = _outcomes_file(tmp_path, list(zip(defaulted["uscc"], months, months + "-28", strict=True)))
    monkeypatch.setenv("XINYI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XINYI_MODEL_OOT_MONTHS", "6")
    monkeypatch.setenv("XINYI_PROMOTION_MAX_ECE", "0.5")
    from config.settings import get_settings

    get_settings.cache_clear()
    try:
        table = tmp_path / "retraining.parquet"
        assert xinyi(["analyst", "retrain", "--profiles", str(profiles), "--outcomes", str(outcomes),
                      "--observed-until", "2025-12-31", "--out", str(table)]) == 0
        assert pd.read_parquet(table)[LABEL].sum() > 0
        # the first model has no champion to beat and a loose calibration bound: --apply makes it champion
        assert xinyi(["analyst", "compare", "--table", str(table), "--apply"]) == 0
        assert xinyi(["analyst", "compare", "--table", str(table)]) == 2  # now it is the champion: refused
    finally:
        get_settings.cache_clear()
