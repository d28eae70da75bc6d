"""Policy facts (政策事实): the records and revenue evidence a pre-credit decision needs beyond the model.

From the accepted source tables and an as-of date, in batch beside the profiles:

- ``policy_records``: each enterprise's records in force that a policy rule may cite (list entries and judicial
  entries not yet ended, the latest known tax credit grade), cut by ``features.asof`` so that repaired, removed
  or expired records are already gone;
- ``revenue_evidence``: invoiced sales and tax paid over the last 12 months (for the limit), and how many of
  those months have tax or social-insurance records (for the unscorable check).

``facts_by_enterprise`` packs both into one JSON-able dict per enterprise, stored with its profile.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from features.asof import in_force, known_as_of
from scoring.types import PolicyRecord

FACT_SOURCES = ("list_entries", "judicial", "tax_credit_grade", "tax_monthly", "social_insurance_monthly")
RECORD_COLUMNS = ("uscc", "source", "kind", "since", "reason", "record_key")
EVIDENCE_COLUMNS = ("sales_12m", "tax_paid_12m", "tax_months_12m", "si_months_12m")
EVIDENCE_MONTHS = 12
"""Revenue evidence and record presence are counted over the 12 months up to the as-of month."""


@dataclass(frozen=True)
class RevenueEvidence:
    """Invoiced sales and tax paid (VAT + CIT) in yuan over 12 months, and months with tax or 社保 records."""

    sales_12m: float = 0.0
    tax_paid_12m: float = 0.0
    tax_months_12m: int = 0
    si_months_12m: int = 0


@dataclass(frozen=True)
class PolicyFacts:
    """One enterprise's policy records in force and revenue evidence, as of its profile date."""

    records: tuple[PolicyRecord, ...] = ()
    evidence: RevenueEvidence = RevenueEvidence()

    def to_json(self) -> dict[str, Any]:
        """The dict stored with the profile."""
        e = self.evidence
        return {
            "records": [record.to_json() for record in self.records],
            "evidence": {"sales_12m": e.sales_12m, "tax_paid_12m": e.tax_paid_12m,
                         "tax_months_12m": e.tax_months_12m, "si_months_12m": e.si_months_12m},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PolicyFacts:
        """The facts stored by :meth:`to_json`."""
        e = data.get("evidence") or {}
        return cls(
            tuple(PolicyRecord.from_json(r) for r in data.get("records", [])),
            RevenueEvidence(float(e.get("sales_12m", 0.0)), float(e.get("tax_paid_12m", 0.0)),
                            int(e.get("tax_months_12m", 0)), int(e.get("si_months_12m", 0))),
        )


def load_fact_tables(ingest_dir: Path) -> dict[str, pd.DataFrame]:
    """The accepted tables (every version) of the sources the facts read, as ``features.ingest`` wrote them."""
    from features.ingest import load_accepted  # the ingest (Arrow readers) is not needed to serve

    return {source: load_accepted(ingest_dir, source) for source in FACT_SOURCES}


def _records(
    frame: pd.DataFrame, source: str, kind: str, since: str, reason: pd.Series, key: pd.Series
) -> pd.DataFrame:
    return pd.DataFrame({
        "uscc": frame["uscc"].astype(str).to_numpy(),
        "source": source,
        "kind": frame[kind].astype(str).to_numpy(),
        "since": pd.to_datetime(frame[since]).to_numpy(),
        "reason": reason.to_numpy(dtype=object),
        "record_key": key.astype(str).to_numpy(),
    })


def policy_records(tables: Mapping[str, pd.DataFrame], as_of: pd.Timestamp) -> pd.DataFrame:
    """Records in force on ``as_of`` that a rule may cite: one row each (uscc, source, kind, since, reason, key).

    List entries (black, red, focus, abnormal) and judicial entries (失信被执行人, 被执行人) that had started and
    not ended as known on the date; the latest tax credit grade known on the date, one per enterprise.
    """
    as_of = pd.Timestamp(as_of)
    lists = in_force(tables["list_entries"], "list_entries", as_of)
    judicial = in_force(tables["judicial"], "judicial", as_of)
    grades = in_force(tables["tax_credit_grade"], "tax_credit_grade", as_of)
    latest = grades.sort_values(["uscc", "year", "evaluated_on"]).groupby("uscc").tail(1)
    reasons = lists["reason"].where(lists["reason"].notna(), None)
    courts = judicial["court"].where(judicial["court"].notna(), None)
    parts = [
        _records(lists, "list_entries", "list_name", "entered_on", reasons, lists["entry_id"]),
        _records(judicial, "judicial", "kind", "listed_on", courts, judicial["case_id"]),
        _records(latest, "tax_credit_grade", "grade", "evaluated_on",
                 pd.Series([None] * len(latest), dtype=object), latest["year"].dt.year),
    ]
    out = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else parts[0]
    return out.sort_values(["uscc", "source", "since", "record_key"], ignore_index=True)[list(RECORD_COLUMNS)]


def _last_months(frame: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    month = as_of.to_period("M").to_timestamp()
    first = month - pd.DateOffset(months=EVIDENCE_MONTHS - 1)
    return frame[(frame["period"] >= first) & (frame["period"] <= month)]


def revenue_evidence(tables: Mapping[str, pd.DataFrame], as_of: pd.Timestamp) -> pd.DataFrame:
    """Per enterprise with any tax or 社保 record in the 12 months to ``as_of`` (as known then): EVIDENCE_COLUMNS."""
    as_of = pd.Timestamp(as_of)
    tax = _last_months(known_as_of(tables["tax_monthly"], "tax_monthly", as_of), as_of)
    si = _last_months(known_as_of(tables["social_insurance_monthly"], "social_insurance_monthly", as_of), as_of)
    paid = tax["vat"].fillna(0.0) + tax["cit"].fillna(0.0)
    by_tax = tax.assign(_paid=paid).groupby("uscc")
    out = pd.DataFrame({
        "sales_12m": by_tax["invoiced_sales"].sum(min_count=1),
        "tax_paid_12m": by_tax["_paid"].sum(),
        "tax_months_12m": by_tax["period"].nunique(),
    }).join(si.groupby("uscc")["period"].nunique().rename("si_months_12m"), how="outer")
    out = out.fillna({"sales_12m": 0.0, "tax_paid_12m": 0.0, "tax_months_12m": 0, "si_months_12m": 0})
    out.index.name = "uscc"
    return out.astype({"sales_12m": float, "tax_paid_12m": float, "tax_months_12m": int, "si_months_12m": int})


def facts_by_enterprise(
    records: pd.DataFrame, evidence: pd.DataFrame, usccs: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """The JSON-able facts of each of ``usccs``; an enterprise without records or evidence gets empty ones."""
    cited: dict[str, list[PolicyRecord]] = {}
    columns = (
        records["uscc"].astype(str), records["source"].astype(str), records["kind"].astype(str),
        pd.to_datetime(records["since"]).dt.date, records["reason"], records["record_key"].astype(str),
    )
    for uscc, source, kind, since, reason, key in zip(*columns, strict=True):
        said = None if pd.isna(reason) else str(reason)
        cited.setdefault(uscc, []).append(PolicyRecord(source, kind, since, said, key))
    known = evidence.to_dict("index")
    out: dict[str, dict[str, Any]] = {}
    for uscc in usccs:
        e = known.get(uscc)
        found = RevenueEvidence(float(e["sales_12m"]), float(e["tax_paid_12m"]), int(e["tax_months_12m"]),
                                int(e["si_months_12m"])) if e is not None else RevenueEvidence()
        out[uscc] = PolicyFacts(tuple(cited.get(uscc, ())), found).to_json()
    return out


def policy_facts_as_of(tables: Mapping[str, pd.DataFrame], as_of: pd.Timestamp, uscc: str) -> PolicyFacts:
    """One enterprise's facts on ``as_of`` (the slow, one-key read; batch code uses the frames above)."""
    packed = facts_by_enterprise(policy_records(tables, as_of), revenue_evidence(tables, as_of), [uscc])
    return PolicyFacts.from_json(packed[uscc])
