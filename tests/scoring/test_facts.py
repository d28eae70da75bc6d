"""Policy facts in batch: records in force and 12-month revenue evidence per enterprise, JSON-able for storage."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from features.ingest import ingest_region
from scoring.facts import (
    RECORD_COLUMNS,
    PolicyFacts,
    RevenueEvidence,
    facts_by_enterprise,
    load_fact_tables,
    policy_records,
    revenue_evidence,
)
from scoring.types import PolicyRecord
from tests.utils.raw_files import (
    list_entry_row,
    registration_row,
    social_insurance_row,
    tax_row,
    uscc_for,
    write_region,
)

AS_OF = pd.Timestamp("2024-06-30")
TRADER, SILENT, LISTED = uscc_for(21), uscc_for(22), uscc_for(23)


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    root: Path = tmp_path_factory.mktemp("facts")
    rows = {
        "registration": [registration_row(u) for u in (TRADER, SILENT, LISTED)],
        "tax_monthly": [
            tax_row(TRADER, "2024-01", invoiced_sales="300000", vat="12000.50", cit="0", filed_on="2024-02-15"),
            tax_row(TRADER, "2024-02", invoiced_sales="300000", vat="12000.50", cit="", filed_on="2024-03-15"),
            tax_row(TRADER, "2024-03", invoiced_sales="300000", vat="12000.50", cit="5000", filed_on="2024-04-15"),
            # thirteen months back: outside the 12-month window
            tax_row(TRADER, "2023-06", invoiced_sales="999999", vat="1", cit="0", filed_on="2023-07-15"),
            # filed after the as-of date: not yet known
            tax_row(TRADER, "2024-06", invoiced_sales="777777", vat="1", cit="0", filed_on="2024-07-15"),
        ],
        "social_insurance_monthly": [
            social_insurance_row(TRADER, "2024-04", available_on="2024-05-10"),
            social_insurance_row(TRADER, "2024-05", available_on="2024-06-10"),
        ],
        "list_entries": [
            list_entry_row("BL-1", LISTED, list_name="black", entered_on="2024-01-05", exited_on="",
                           reason="", available_on="2024-01-06"),
            list_entry_row("AB-1", LISTED, list_name="abnormal", entered_on="2023-02-05", exited_on="",
                           reason="通过登记的住所无法联系", available_on="2023-02-06"),
        ],
    }
    raw = write_region(root / "raw", rows)
    ingest_region(raw, root / "out")
    return load_fact_tables(root / "out")


def test_revenue_evidence_sums_the_known_last_twelve_months(tables: dict[str, pd.DataFrame]) -> None:
    evidence = revenue_evidence(tables, AS_OF)
    trader = evidence.loc[TRADER]
    assert trader["sales_12m"] == 900_000.0
    assert trader["tax_paid_12m"] == pytest.approx(3 * 12_000.50 + 5_000)  # VAT + CIT, empty CIT as 0
    assert (trader["tax_months_12m"], trader["si_months_12m"]) == (3, 2)
    assert SILENT not in evidence.index  # no tax, no 社保 records


def test_policy_records_are_a_small_table_of_records_in_force(tables: dict[str, pd.DataFrame]) -> None:
    records = policy_records(tables, AS_OF)
    assert tuple(records.columns) == RECORD_COLUMNS
    listed = records[records["uscc"] == LISTED]
    assert listed[["source", "kind", "record_key"]].values.tolist() == [
        ["list_entries", "abnormal", "AB-1"], ["list_entries", "black", "BL-1"]]
    assert records[records["uscc"] == TRADER].empty


def test_facts_by_enterprise_are_json_and_round_trip(tables: dict[str, pd.DataFrame]) -> None:
    packed = facts_by_enterprise(policy_records(tables, AS_OF), revenue_evidence(tables, AS_OF),
                                 [TRADER, SILENT, LISTED])
    stored = json.loads(json.dumps(packed))  # what the database gives back

    listed = PolicyFacts.from_json(stored[LISTED])
    assert listed.records == (
        PolicyRecord("list_entries", "abnormal", date(2023, 2, 5), "通过登记的住所无法联系", "AB-1"),
        PolicyRecord("list_entries", "black", date(2024, 1, 5), None, "BL-1"),
    )
    assert PolicyFacts.from_json(stored[SILENT]) == PolicyFacts((), RevenueEvidence())
    trader = PolicyFacts.from_json(stored[TRADER]).evidence
    assert (trader.sales_12m, trader.tax_months_12m, trader.si_months_12m) == (900_000.0, 3, 2)


def test_no_records_at_all_give_an_empty_table(tables: dict[str, pd.DataFrame]) -> None:
    records = policy_records(tables, pd.Timestamp("2020-01-01"))
    assert records.empty and tuple(records.columns) == RECORD_COLUMNS
