"""Profile features of registration and of the event records: 双公示, court entries, lists, commitments.

Penalties count only while in force (publication period by severity, not repaired, not revoked), court entries
and list entries only while open: the same rules as ``features.asof``, applied to encoded columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.asof import PUBLICATION_MONTHS, add_months
from features.profile_columns import NAT, Encoded, Floats, Mask, lookup, months_ago, months_since
from features.schemas import ENTERPRISE_TYPES, INDUSTRY_SECTIONS

COLUMNS: dict[str, tuple[str, ...]] = {  # registration's USCC is read too, into the registry, not encoded
    "registration": ("founded_on", "industry", "region_code", "registered_capital", "enterprise_type",
                     "size_class", "status", "status_on"),
    "admin_records": ("kind", "published_on", "severity", "amount", "status", "repaired_on"),
    "judicial": ("kind", "removed_on", "amount"),
    "list_entries": ("list_name", "exited_on"),
    "commitments": ("fulfilment", "resolved_on"),
}
CLOSING_STATUSES = ["注销", "吊销"]
"""Registration statuses that close an enterprise from their ``status_on`` (deregistered, licence revoked)."""
SIZE_CLASS_CODE = {"微": 0.0, "小": 1.0, "中": 2.0, "大": 3.0}
_TYPE_CODE = {name: float(code) for code, name in enumerate(ENTERPRISE_TYPES)}
_SECTION = {f"{s}{d:02d}": float(ord(s) - ord("A") + 1) for s, (lo, hi) in INDUSTRY_SECTIONS.items()
            for d in range(lo, hi + 1)}
_DIVISION = {code: float(code[1:]) for code in _SECTION}
_PROVINCE = {f"{p:02d}": float(p) for p in range(100)}
_PUBLICATION = {severity: float(months) for severity, months in PUBLICATION_MONTHS.items()}
_OPEN = {"judicial": "removed_on", "list_entries": "exited_on"}


def prepare(source: str, encoded: Encoded) -> Encoded:
    """Derived columns computed once per partition rather than once per as-of date."""
    c = encoded.columns
    if source == "registration":
        c["industry_section"] = lookup(c["industry"], _SECTION)
        c["industry_division"] = lookup(c["industry"], _DIVISION)
        c["province"] = lookup(np.char.ljust(c["region_code"], 2).astype("<U2"), _PROVINCE)
        c["size_code"] = lookup(c["size_class"], SIZE_CLASS_CODE)
        c["type_code"] = lookup(c["enterprise_type"], _TYPE_CODE)
        c["closing"] = np.isin(c["status"], CLOSING_STATUSES)
    elif source == "admin_records":
        severity = c["severity"]
        months = np.nan_to_num(lookup(severity, _PUBLICATION), nan=PUBLICATION_MONTHS["一般"]).astype(np.int64)
        start = np.where(c["published_on"] == NAT, c["decision_date"], c["published_on"])
        ends = add_months(pd.Series(start.view("datetime64[ns]")), pd.Series(months))
        c["publication_ends"] = ends.to_numpy(dtype="datetime64[ns]").view(np.int64)
        c["is_penalty"] = c["kind"] == "处罚"
        c["severity_minor"] = severity == "轻微"
        c["severity_severe"] = severity == "严重"
        status = c["status"]
        c["status_effective"] = (status == "") | (status == "有效")
        c["status_repaired"] = status == "已修复"
    return encoded


def registration_features(reg: Encoded, as_of: pd.Timestamp) -> tuple[Mask, dict[str, Floats]]:
    """The enterprises open on ``as_of`` (registration held, founded, not closed) and their registration
    features; a correction of the registration counts from its arrival."""
    open_rows = open_registrations(reg, as_of)
    open_now = reg.any(open_rows) > 0
    founded = reg.last(reg["founded_on"], open_rows, fill=NAT)
    return open_now, {
        "age_months": months_since(as_of, founded),
        "registered_capital_log": np.log1p(reg.last(reg["registered_capital"], open_rows)),
        "size_class_code": reg.last(reg["size_code"], open_rows),
        "industry_section_code": reg.last(reg["industry_section"], open_rows),
        "industry_division_code": reg.last(reg["industry_division"], open_rows),
        "region_province_code": reg.last(reg["province"], open_rows),
        "enterprise_type_code": reg.last(reg["type_code"], open_rows),
    }


def open_registrations(reg: Encoded, as_of: pd.Timestamp) -> Mask:
    """Registration rows held on ``as_of`` whose enterprise had not been deregistered or revoked by then."""
    closed = reg["closing"] & (reg["status_on"] != NAT) & (reg["status_on"] <= as_of.value)
    return reg.held(as_of) & ~closed


def penalties_in_force(admin: Encoded, held: Mask, as_of: pd.Timestamp) -> Mask:
    """Penalties held on ``as_of`` that still count: published period not over, not repaired or revoked."""
    d = as_of.value
    repaired = (admin["repaired_on"] != NAT) & (admin["repaired_on"] <= d)
    effective = admin["status_effective"] | (admin["status_repaired"] & ~repaired)
    return held & admin["is_penalty"] & effective & ~repaired & (admin["publication_ends"] > d)


def admin_features(admin: Encoded, as_of: pd.Timestamp) -> dict[str, Floats]:
    """双公示: penalties in force by severity, recent and their fines; licences, awards, inspections, coercion."""
    held = admin.held(as_of)
    active = penalties_in_force(admin, held, as_of)
    decided = admin["decision_date"]
    since = {months: decided > months_ago(as_of, months) for months in (12, 24, 36)}
    kind = admin["kind"]
    latest = admin.last(decided, active, fill=NAT)
    return {
        "penalties_active": admin.count(active),
        "penalties_minor_active": admin.count(active & admin["severity_minor"]),
        "penalties_general_active": admin.count(active & ~admin["severity_minor"] & ~admin["severity_severe"]),
        "penalties_severe_active": admin.count(active & admin["severity_severe"]),
        "penalties_12m": admin.count(active & since[12]),
        "penalty_amount_active_log": np.log1p(admin.total(admin["amount"], active)),
        "months_since_last_penalty": months_since(as_of, latest),
        "licences_24m": admin.count(held & (kind == "许可") & since[24]),
        "licences_total": admin.count(held & (kind == "许可")),
        "awards_36m": admin.count(held & (kind == "奖励") & since[36]),
        "inspections_12m": admin.count(held & (kind == "监督检查") & since[12]),
        "coercive_measures_12m": admin.count(held & (kind == "强制") & since[12]),
    }


def open_entries(rows: Encoded, as_of: pd.Timestamp) -> Mask:
    """Court or list entries held on ``as_of`` that have not ended by then."""
    ends = rows[_OPEN[rows.source]]
    return rows.held(as_of) & ((ends == NAT) | (ends > as_of.value))


def judicial_features(jud: Encoded, as_of: pd.Timestamp) -> dict[str, Floats]:
    """司法: dishonest-debtor listing, open enforcement cases and the amount under enforcement."""
    live = open_entries(jud, as_of)
    return {
        "dishonest_debtor_active": jud.any(live & (jud["kind"] == "失信被执行人")),
        "enforcement_cases_active": jud.count(live & (jud["kind"] == "被执行人")),
        "enforcement_amount_active_log": np.log1p(jud.total(jud["amount"], live)),
    }


def list_features(lists: Encoded, as_of: pd.Timestamp) -> dict[str, Floats]:
    """名单: membership of the abnormal-operations, black, watch and red lists, and time on the abnormal list."""
    live = open_entries(lists, as_of)
    name = lists["list_name"]
    abnormal = live & (name == "abnormal")
    return {
        "abnormal_list_active": lists.any(abnormal),
        "abnormal_list_months": months_since(as_of, lists.first(lists["entered_on"], abnormal, fill=NAT)),
        "black_list_active": lists.any(live & (name == "black")),
        "focus_list_active": lists.any(live & (name == "focus")),
        "red_list_active": lists.any(live & (name == "red")),
    }


def commitment_features(com: Encoded, as_of: pd.Timestamp) -> dict[str, Floats]:
    """信用承诺: commitments made, the share kept, broken in 36 months, still pending."""
    held = com.held(as_of)
    resolved_on = com["resolved_on"]
    fulfilment = com["fulfilment"]
    resolved = held & np.isin(fulfilment, ["kept", "broken"]) & (resolved_on != NAT) & (resolved_on <= as_of.value)
    kept = com.count(resolved & (fulfilment == "kept"))
    broken = resolved & (fulfilment == "broken")
    decided = kept + com.count(broken)
    return {
        "commitments_36m": com.count(held & (com["committed_on"] > months_ago(as_of, 36))),
        "commitments_kept_ratio": np.where(decided > 0, kept / np.where(decided > 0, decided, 1.0), np.nan),
        "commitments_broken_36m": com.count(broken & (resolved_on > months_ago(as_of, 36))),
        "commitments_pending": com.count(held & ~resolved),
    }
