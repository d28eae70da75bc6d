"""The records as they stood on a date, and which of them still count under the publication and repair rules.

Two steps, used by profiles and scoring so neither re-implements them:

- ``known_as_of``: the version of each record the platform held on the date: its event on or before the date,
  available by then, and not yet superseded by a correction available by then.
- ``in_force``: of those, the ones that still count (信用修复管理办法, DOMAIN.md): a penalty only within its
  publication period by severity (轻微 3 months, 一般 1 year, 严重 3 years) and while neither repaired nor
  revoked; a 失信被执行人 entry or case until it is removed; a list entry until it exits.
"""

from __future__ import annotations

import pandas as pd

from features.schemas import SOURCES_BY_NAME

# 信用修复管理办法 (in force 2026-04-01): the longest a penalty stays published, by severity, in months.
PUBLICATION_MONTHS = {"轻微": 3, "一般": 12, "严重": 36}
_OPEN_UNTIL = {"judicial": ("listed_on", "removed_on"), "list_entries": ("entered_on", "exited_on")}


def known_as_of(frame: pd.DataFrame, source: str, as_of: pd.Timestamp) -> pd.DataFrame:
    """The version of each record held on ``as_of``: event and availability on or before it, not superseded."""
    spec = SOURCES_BY_NAME[source]
    mask = (frame[spec.available] <= as_of) & (frame[spec.event] <= as_of)
    if "_superseded_on" in frame.columns:
        superseded = frame["_superseded_on"]
        mask &= superseded.isna() | (superseded > as_of)
    return frame[mask]


def publication_ends(penalties: pd.DataFrame) -> pd.Series:
    """The day each penalty stops being published: its publication (or decision) date plus its period in
    calendar months (a 轻微 penalty published on 10 January stops counting on 10 April)."""
    start = penalties["published_on"].fillna(penalties["decision_date"])
    months = penalties["severity"].map(PUBLICATION_MONTHS).fillna(PUBLICATION_MONTHS["一般"]).astype(int)
    return add_months(start, months)


def add_months(start: pd.Series, months: pd.Series) -> pd.Series:
    """``start + months`` calendar months row by row (pandas ``DateOffset``), one vectorised step per value."""
    ends = pd.Series(pd.NaT, index=start.index, dtype="datetime64[ns]")
    for count in pd.unique(months):
        rows = months == count
        ends[rows] = start[rows] + pd.DateOffset(months=int(count))
    return ends


def penalties_in_force(admin: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Penalties (处罚) known on ``as_of`` that still count: published period not over, not repaired or revoked."""
    return counting_penalties(known_as_of(admin, "admin_records", as_of), as_of)


def counting_penalties(known: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Of administrative records already cut to ``as_of`` (``known_as_of``), the penalties that still count."""
    penalties = known[known["kind"] == "处罚"]
    repaired = penalties["repaired_on"].notna() & (penalties["repaired_on"] <= as_of)
    effective = penalties["status"].isna() | (penalties["status"] == "有效") | (
        (penalties["status"] == "已修复") & ~repaired)
    return penalties[effective & ~repaired & (publication_ends(penalties) > as_of)]


def open_as_of(frame: pd.DataFrame, source: str, as_of: pd.Timestamp) -> pd.DataFrame:
    """Judicial entries or list entries known on ``as_of`` that had started and not yet ended by then."""
    start, end = _OPEN_UNTIL[source]
    known = known_as_of(frame, source, as_of)
    ends = known[end]
    return known[(known[start] <= as_of) & (ends.isna() | (ends > as_of))]


def in_force(frame: pd.DataFrame, source: str, as_of: pd.Timestamp) -> pd.DataFrame:
    """The records of ``source`` that count on ``as_of`` under the publication and repair rules."""
    if source == "admin_records":
        known = known_as_of(frame, source, as_of)
        return pd.concat([known[known["kind"] != "处罚"], counting_penalties(known, as_of)]).sort_index()
    if source in _OPEN_UNTIL:
        return open_as_of(frame, source, as_of)
    return known_as_of(frame, source, as_of)
