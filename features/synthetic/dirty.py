"""Dirty rows as real feeds carry them: broken codes, duplicates, impossible values, unknown codes.

A small, seeded share of each raw table is spoiled so ingest has something to quarantine; every spoilt row
breaks exactly one documented rule (docs/raw-files.md), which the tests check against the quarantine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.uscc import ALPHABET

DIRTY_SHARE = 0.002


def _pick(rng: np.random.Generator, frame: pd.DataFrame, share: float = DIRTY_SHARE) -> np.ndarray:
    k = max(1, round(len(frame) * share)) if len(frame) else 0
    return rng.choice(len(frame), size=min(k, len(frame)), replace=False)


def _break_check_character(code: str) -> str:
    wrong = ALPHABET[(ALPHABET.index(code[17]) + 7) % len(ALPHABET)]
    return code[:17] + wrong


def spoil(rng: np.random.Generator, source: str, frame: pd.DataFrame, extracted_on: str) -> pd.DataFrame:
    """Return ``frame`` as strings with a few spoilt rows and exact duplicates mixed in."""
    out = frame.astype(object).where(frame.notna(), "").astype(str)
    if out.empty:
        return out
    future = str((pd.Timestamp(extracted_on) + pd.Timedelta(days=40)).date())
    edits: list[tuple[str, object]] = [("uscc", _break_check_character)]
    if source == "registration":
        edits += [("size_class", "特大"), ("registered_capital", "-50000"), ("founded_on", "2019/13/45")]
    elif source == "tax_monthly":
        edits += [("vat", "-120.5"), ("period", "2024-13"), ("filed_on", future), ("invoiced_sales", "N/A")]
    elif source == "social_insurance_monthly":
        edits += [("insured_headcount", "N/A"), ("arrears", "-1")]
    elif source == "utilities_monthly":
        edits += [("kind", "steam"), ("days_late", "-3")]
    elif source == "admin_records":
        edits += [("severity", ""), ("published_on", "1999-01-01"), ("kind", "通报")]
    elif source == "judicial":
        edits += [("removed_on", "2000-01-01"), ("kind", "被告")]
    elif source == "list_entries":
        edits += [("list_name", "grey"), ("exited_on", "2000-01-01")]
    for column, change in edits:
        rows = _pick(rng, out, DIRTY_SHARE / len(edits) * 2)
        if source == "admin_records" and column == "severity":
            rows = rows[out["kind"].to_numpy()[rows] == "处罚"]
        if column == "uscc" and source == "registration":
            rows = rows[: max(1, len(rows) // 4)]
        values = out[column].to_numpy().copy()
        values[rows] = [change(v) if callable(change) else change for v in values[rows]]
        out[column] = values
    dupes = out.iloc[_pick(rng, out, DIRTY_SHARE / 2)]
    return pd.concat([out, dupes], ignore_index=True).sort_index(kind="stable")
