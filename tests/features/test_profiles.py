"""Point-in-time profiles on a synthetic region and on small hand-made histories, against the slow reference.

The reference (``tests.features.profile_reference``) computes every catalogue feature by a loop over one
enterprise's records; the property tests (``test_profile_properties``) check it on generated records, these on a
generated region as ingest accepts it and on the cases the issue names: late filings, repairs, list exits and
the end of each publication period.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from features.catalogue import FEATURE_NAMES, FEATURE_SPECS
from features.ingest import ingest_region
from features.profiles import SourceTables, profile_as_of
from features.schemas import SOURCES_BY_NAME
from features.synthetic import generate_region
from tests.features.profile_reference import (
    profiles_by_reference,
    records_by_enterprise,
    reference_profile,
)
from tests.features.profile_strategies import tables_from_rows
from tests.utils.raw_files import uscc_for

AS_OF = pd.Timestamp("2025-06-30")
T = pd.Timestamp
ACME = uscc_for(7)


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> SourceTables:
    root = tmp_path_factory.mktemp("region")
    files = generate_region(root / "demo", n_enterprises=300, seed=3)
    ingest_region(files.raw_dir, root / "ingest")
    return SourceTables.from_accepted(root / "ingest")


def same(got: float, want: float) -> bool:
    if math.isnan(got) or math.isnan(want):
        return math.isnan(got) and math.isnan(want)
    return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize("as_of", ["2023-12-31", "2025-06-30", "2026-10-31"])
def test_every_feature_of_every_enterprise_matches_the_reference(tables: SourceTables, as_of: str) -> None:
    when = T(as_of)
    fast = profile_as_of(tables, when).set_index("uscc")
    expected = profiles_by_reference(tables, when, records_by_enterprise(tables))
    assert sorted(fast.index) == sorted(expected)
    wrong = [f"{name} of {uscc}: fast path {fast.at[uscc, name]!r}, reference {want[name]!r}"
             for uscc, want in expected.items() for name in FEATURE_NAMES
             if not same(float(fast.at[uscc, name]), want[name])]
    assert not wrong, f"{len(wrong)} values differ as of {as_of}, e.g.\n" + "\n".join(wrong[:20])


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
    when = T(as_of)
    full = profile_as_of(tables, when)
    then = profile_as_of(_as_known_on(tables, when), when)
    pd.testing.assert_frame_equal(full, then)


def test_late_filing_is_invisible_until_it_arrives(tables: SourceTables) -> None:
    tax = tables.tax_monthly
    may = T("2025-05-01")
    current = tax[(tax["period"] == may) & tax["_superseded_on"].isna()]
    row = current.iloc[[0]].copy()
    uscc = row["uscc"].iloc[0]
    others = tax[~((tax["uscc"] == uscc) & (tax["period"] == may))]
    row["filed_on"] = T("2025-09-20")
    row["overdue_tax"] = 1_000.0
    late = SourceTables(**{**tables.__dict__, "tax_monthly": pd.concat([others, row], ignore_index=True)})
    before = profile_as_of(late, AS_OF).set_index("uscc").loc[uscc]
    after = profile_as_of(late, T("2025-09-30")).set_index("uscc").loc[uscc]
    filed_before = profile_as_of(tables, AS_OF).set_index("uscc").loc[uscc, "tax_filed_months_12m"]
    assert before["tax_filed_months_12m"] == filed_before - 1
    assert after["tax_overdue_months_12m"] >= 1
    assert after["tax_late_filings_12m"] >= 1  # due 2025-06-15, filed 2025-09-20


def test_profile_columns_are_the_catalogue_as_floats(tables: SourceTables) -> None:
    frame = profile_as_of(tables, AS_OF)
    assert list(frame.columns) == ["uscc", "as_of", *FEATURE_NAMES]
    assert all(frame[name].dtype == np.float64 for name in FEATURE_NAMES)
    assert frame["uscc"].is_unique
    never_missing = [name for name, spec in FEATURE_SPECS.items()
                     if spec.missing_means == "never" or spec.missing_means.startswith("never:")]
    assert len(never_missing) > 30
    assert not frame[never_missing].isna().any().any(), frame[never_missing].isna().sum()[lambda s: s > 0]


# --- small hand-made histories: one enterprise, registered long before ------------------------------------------


def _registration(**overrides: object) -> dict[str, object]:
    row = {"uscc": ACME, "name": "示例企业", "founded_on": T("2015-03-02"), "industry": "C13",
           "region_code": "440300", "registered_capital": 1e6, "enterprise_type": "有限责任公司",
           "size_class": "小", "status": "存续", "status_on": None, "available_on": T("2015-03-09")}
    return row | overrides


def _penalty(record_id: str, **overrides: object) -> dict[str, object]:
    row = {"record_id": record_id, "uscc": ACME, "kind": "处罚", "decision_date": T("2024-01-08"),
           "published_on": T("2024-01-10"), "department": "深圳市市场监督管理局", "severity": "一般",
           "amount": 5000.0, "status": "有效", "repaired_on": None, "available_on": T("2024-01-10")}
    return row | overrides


def _profile(rows: dict[str, list[dict[str, object]]], as_of: str) -> pd.Series:
    """The fast path's row for ACME, after checking that the reference gives the same for every feature."""
    tables = tables_from_rows({"registration": [_registration()], **rows})
    frame = profile_as_of(tables, T(as_of)).set_index("uscc")
    got = frame.loc[ACME, list(FEATURE_NAMES)].astype(float)
    want = reference_profile(tables, ACME, T(as_of))
    differ = {name: (got[name], want[name]) for name in FEATURE_NAMES if not same(got[name], want[name])}
    assert not differ, f"fast path vs reference as of {as_of}: {differ}"
    return got


@pytest.mark.parametrize(("severity", "last_day", "first_day_gone"), [
    ("轻微", "2024-04-09", "2024-04-10"),
    ("一般", "2025-01-09", "2025-01-10"),
    ("严重", "2027-01-09", "2027-01-10"),
])
def test_a_penalty_stops_counting_at_the_end_of_its_publication_period(
        severity: str, last_day: str, first_day_gone: str) -> None:
    """Published 2024-01-10 for 3, 12 or 36 months: it counts through the day before, not from that day on."""
    rows = {"admin_records": [_penalty("P-1", severity=severity)]}
    column = {"轻微": "penalties_minor_active", "一般": "penalties_general_active",
              "严重": "penalties_severe_active"}[severity]
    counting = _profile(rows, last_day)
    assert (counting["penalties_active"], counting[column]) == (1.0, 1.0)
    assert counting["penalty_amount_active_log"] == pytest.approx(math.log1p(5000.0))
    gone = _profile(rows, first_day_gone)
    assert (gone["penalties_active"], gone[column], gone["penalty_amount_active_log"]) == (0.0, 0.0, 0.0)
    assert math.isnan(gone["months_since_last_penalty"])


def test_a_repaired_penalty_counts_before_its_repair_and_not_after() -> None:
    """Repaired (信用修复) on 2024-06-01, which the platform learnt on 2024-06-03 as a correction."""
    rows = {"admin_records": [
        _penalty("P-R", decision_date=T("2024-03-01"), published_on=T("2024-03-05"),
                 available_on=T("2024-03-05"), _superseded_on=T("2024-06-03")),
        _penalty("P-R", decision_date=T("2024-03-01"), published_on=T("2024-03-05"), status="已修复",
                 repaired_on=T("2024-06-01"), available_on=T("2024-06-03")),
    ]}
    assert _profile(rows, "2024-02-29")["penalties_active"] == 0  # not decided yet
    before = _profile(rows, "2024-05-31")
    assert (before["penalties_active"], before["penalties_12m"]) == (1.0, 1.0)
    assert before["months_since_last_penalty"] == pytest.approx(91 / 30.4375)
    assert _profile(rows, "2024-06-02")["penalties_active"] == 1  # repaired, but not yet known to the platform
    for after in ("2024-06-03", "2024-09-01"):
        gone = _profile(rows, after)
        assert (gone["penalties_active"], gone["penalties_12m"], gone["penalty_amount_active_log"]) == (0, 0, 0)


def test_a_revoked_penalty_stops_counting_when_the_revocation_arrives() -> None:
    rows = {"admin_records": [
        _penalty("P-X", _superseded_on=T("2024-02-20")),
        _penalty("P-X", status="已撤销", available_on=T("2024-02-20")),
    ]}
    assert _profile(rows, "2024-02-19")["penalties_active"] == 1
    assert _profile(rows, "2024-02-20")["penalties_active"] == 0


def test_a_removed_list_entry_counts_before_its_exit_and_not_after() -> None:
    """An abnormal entry whose exit arrives two days late, and a black-list entry whose exit is announced ahead."""
    entry = {"uscc": ACME, "reason": None, "department": "深圳市市场监督管理局"}
    rows = {"list_entries": [
        entry | {"entry_id": "AB-1", "list_name": "abnormal", "entered_on": T("2023-02-01"), "exited_on": None,
                 "available_on": T("2023-02-03"), "_superseded_on": T("2024-05-12")},
        entry | {"entry_id": "AB-1", "list_name": "abnormal", "entered_on": T("2023-02-01"),
                 "exited_on": T("2024-05-10"), "available_on": T("2024-05-12")},
        entry | {"entry_id": "BL-1", "list_name": "black", "entered_on": T("2023-06-01"),
                 "exited_on": T("2024-05-10"), "available_on": T("2024-05-01")},
    ]}
    on = _profile(rows, "2024-05-09")
    assert (on["abnormal_list_active"], on["black_list_active"]) == (1.0, 1.0)
    assert on["abnormal_list_months"] == pytest.approx((T("2024-05-09") - T("2023-02-01")).days / 30.4375)
    unknown_exit = _profile(rows, "2024-05-11")  # the abnormal exit happened, the platform does not know it yet
    assert (unknown_exit["abnormal_list_active"], unknown_exit["black_list_active"]) == (1.0, 0.0)
    off = _profile(rows, "2024-05-12")
    assert (off["abnormal_list_active"], off["black_list_active"]) == (0.0, 0.0)
    assert math.isnan(off["abnormal_list_months"])


def test_a_closed_enterprise_has_no_profile_from_its_closing_day() -> None:
    closed = _registration(status="注销", status_on=T("2024-08-01"), available_on=T("2024-08-05"))
    tables = tables_from_rows({"registration": [_registration(_superseded_on=T("2024-08-05")), closed]})
    # closed on 08-01 but known from 08-05: open as the platform knew it on 08-04, gone from 08-05
    assert list(profile_as_of(tables, T("2024-08-04"))["uscc"]) == [ACME]
    assert profile_as_of(tables, T("2024-08-05")).empty
    assert profile_as_of(tables, T("2015-03-01")).empty  # not founded yet
