"""Point-in-time profiles: checked against a slow row-by-row reference and against a truncated history."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from features.catalogue import FEATURE_NAMES
from features.ingest import ingest_region
from features.profiles import PUBLICATION_MONTHS, SourceTables, profile_as_of
from features.schemas import SOURCES_BY_NAME
from features.synthetic import generate_region

AS_OF = pd.Timestamp("2025-06-30")


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> SourceTables:
    root = tmp_path_factory.mktemp("region")
    files = generate_region(root / "demo", n_enterprises=300, seed=3)
    ingest_region(files.raw_dir, root / "ingest")
    return SourceTables.from_accepted(root / "ingest")


def _months_back(period: pd.Timestamp, as_of: pd.Timestamp) -> int:
    return (as_of.year - period.year) * 12 + as_of.month - period.month


def _held(frame: pd.DataFrame, source: str, as_of: pd.Timestamp) -> pd.DataFrame:
    """Rows available by ``as_of`` whose correction (if any) had not arrived by then, in plain column names."""
    rows = frame.rename(columns={"_superseded_on": "superseded_on"})
    keep = [getattr(r, SOURCES_BY_NAME[source].available) <= as_of
            and (pd.isna(r.superseded_on) or r.superseded_on > as_of) for r in rows.itertuples()]
    return rows[keep]


def _reference(tables: SourceTables, uscc: str, as_of: pd.Timestamp) -> dict[str, float]:
    """The obvious, slow way: loop over one enterprise's rows and apply each rule by hand."""
    out: dict[str, float] = {}
    tables = SourceTables(**{source: _held(getattr(tables, source), source, as_of) for source in tables.__dict__})
    tax = [r for r in tables.tax_monthly.itertuples() if r.uscc == uscc and r.filed_on <= as_of
           and 0 <= _months_back(r.period, as_of) <= 11]
    out["sales_12m_log"] = math.log1p(sum(r.invoiced_sales for r in tax)) if tax else math.nan
    out["tax_overdue_months_12m"] = float(len({r.period for r in tax if r.overdue_tax > 0}))
    si = [r for r in tables.social_insurance_monthly.itertuples() if r.uscc == uscc and r.available_on <= as_of
          and 0 <= _months_back(r.period, as_of) <= 11]
    out["si_arrears_months_12m"] = float(len({r.period for r in si if r.arrears > 0}))
    recent = sorted((r for r in si if _months_back(r.period, as_of) <= 2), key=lambda r: r.period)
    out["headcount_latest"] = float(recent[-1].insured_headcount) if recent else math.nan
    penalties = 0
    for r in tables.admin_records.itertuples():
        if r.uscc != uscc or r.kind != "处罚" or r.decision_date > as_of or r.status == "已撤销":
            continue
        months = PUBLICATION_MONTHS.get(r.severity, 12)
        start = r.decision_date if pd.isna(r.published_on) else r.published_on
        expired = start + pd.Timedelta(days=months * 30.4375) <= as_of
        repaired = not pd.isna(r.repaired_on) and r.repaired_on <= as_of
        penalties += not (expired or repaired)
    out["penalties_active"] = float(penalties)
    out["dishonest_debtor_active"] = float(any(
        r.uscc == uscc and r.kind == "失信被执行人" and r.listed_on <= as_of
        and (pd.isna(r.removed_on) or r.removed_on > as_of) for r in tables.judicial.itertuples()))
    out["abnormal_list_active"] = float(any(
        r.uscc == uscc and r.list_name == "abnormal" and r.entered_on <= as_of
        and (pd.isna(r.exited_on) or r.exited_on > as_of) for r in tables.list_entries.itertuples()))
    return out


def test_profiles_match_the_slow_reference(tables: SourceTables) -> None:
    fast = profile_as_of(tables, AS_OF).set_index("uscc")
    busy = pd.concat([tables.judicial["uscc"], tables.admin_records["uscc"], tables.list_entries["uscc"]])
    sample = list(dict.fromkeys([u for u in busy if u in fast.index]))[:15] + list(fast.index[:15])
    for uscc in sample:
        expected = _reference(tables, uscc, AS_OF)
        got = fast.loc[uscc, list(expected)].to_dict()
        for name, value in expected.items():
            assert got[name] == pytest.approx(value, nan_ok=True), (uscc, name)


def _as_known_on(tables: SourceTables, as_of: pd.Timestamp) -> SourceTables:
    """The records exactly as the platform held them on ``as_of``: later rows and later corrections absent."""
    def cut(source: str) -> pd.DataFrame:
        frame = getattr(tables, source)
        frame = frame[frame[SOURCES_BY_NAME[source].available] <= as_of].copy()
        frame.loc[frame["_superseded_on"] > as_of, "_superseded_on"] = pd.NaT
        return frame

    return SourceTables(**{source: cut(source) for source in tables.__dict__})


@pytest.mark.parametrize("as_of", ["2023-12-31", "2025-06-30"])
def test_nothing_known_only_later_changes_a_profile(tables: SourceTables, as_of: str) -> None:
    when = pd.Timestamp(as_of)
    full = profile_as_of(tables, when)
    then = profile_as_of(_as_known_on(tables, when), when)
    pd.testing.assert_frame_equal(full, then)


def test_late_filing_is_invisible_until_it_arrives(tables: SourceTables) -> None:
    tax = tables.tax_monthly
    row = tax[(tax["period"] == pd.Timestamp("2025-05-01"))].iloc[[0]].copy()
    uscc = row["uscc"].iloc[0]
    others = tax[~((tax["uscc"] == uscc) & (tax["period"] == pd.Timestamp("2025-05-01")))]
    row["filed_on"] = pd.Timestamp("2025-09-20")
    row["overdue_tax"] = 1_000.0
    late = SourceTables(**{**tables.__dict__, "tax_monthly": pd.concat([others, row], ignore_index=True)})
    before = profile_as_of(late, AS_OF).set_index("uscc").loc[uscc]
    after = profile_as_of(late, pd.Timestamp("2025-09-30")).set_index("uscc").loc[uscc]
    filed_before = profile_as_of(tables, AS_OF).set_index("uscc").loc[uscc, "tax_filed_months_12m"]
    assert before["tax_filed_months_12m"] == filed_before - 1
    assert after["tax_overdue_months_12m"] >= 1


def test_profile_columns_are_the_catalogue_as_floats(tables: SourceTables) -> None:
    frame = profile_as_of(tables, AS_OF)
    assert list(frame.columns) == ["uscc", "as_of", *FEATURE_NAMES]
    assert all(frame[name].dtype == np.float64 for name in FEATURE_NAMES)
    assert frame["uscc"].is_unique
    counts = ["tax_filed_months_12m", "si_arrears_months_12m", "penalties_active", "black_list_active"]
    assert not frame[counts].isna().any().any()
