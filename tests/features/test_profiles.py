"""Point-in-time profiles: checked against a slow row-by-row reference and against a truncated history."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from features.catalogue import FEATURE_NAMES
from features.ingest import ingest_region
from features.profiles import PUBLICATION_MONTHS, SourceTables, profile_as_of
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


def _reference(tables: SourceTables, uscc: str, as_of: pd.Timestamp) -> dict[str, float]:
    """The obvious, slow way: loop over one enterprise's rows and apply each rule by hand."""
    out: dict[str, float] = {}
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
        if r.uscc != uscc or r.kind != "处罚" or r.published_on > as_of:
            continue
        months = PUBLICATION_MONTHS.get(r.severity, 12)
        expired = r.published_on + pd.Timedelta(days=months * 30.4375) <= as_of
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
    """The records exactly as the platform held them on ``as_of``: later rows absent, later end dates unknown."""
    def cut(frame: pd.DataFrame, arrival: str, ends: tuple[str, ...] = ()) -> pd.DataFrame:
        frame = frame[frame[arrival] <= as_of].copy()
        for end in ends:
            frame.loc[frame[end] > as_of, end] = pd.NaT
        return frame

    reg = tables.registration[tables.registration["available_on"] <= as_of].copy()
    later = reg["status_on"] > as_of
    reg.loc[later, "status"] = "存续"
    reg.loc[later, "status_on"] = pd.NaT
    return SourceTables(
        registration=reg,
        tax_monthly=cut(tables.tax_monthly, "filed_on"),
        social_insurance_monthly=cut(tables.social_insurance_monthly, "available_on"),
        utilities_monthly=cut(tables.utilities_monthly, "available_on"),
        admin_records=cut(tables.admin_records, "published_on", ("repaired_on",)),
        judicial=cut(tables.judicial, "listed_on", ("removed_on",)),
        list_entries=cut(tables.list_entries, "entered_on", ("exited_on",)),
    )


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
