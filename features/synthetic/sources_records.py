"""Registration and the event records (双公示, courts, lists, commitments), each with its corrections.

A change to a delivered record — a deregistration, a penalty repaired or revoked, a court or list removal, a
commitment kept or broken — arrives as a second row with the same key and a later ``available_on``, as the
platform receives it. Only what had arrived by extraction is returned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from features.calendar import publication_deadline
from features.synthetic import cells
from features.synthetic.population import Population
from features.synthetic.sources_monthly import Grades, active_cells, days, extracted, sigmoid, uscc_cells

MARKET = "郑州市市场监督管理局"
TAX_BUREAU = "国家税务总局郑州市税务局"
CREDIT_OFFICE = "郑州市发展和改革委员会"
DEPARTMENTS = (MARKET, TAX_BUREAU, "郑州市生态环境局", "郑州市应急管理局", "郑州市城乡建设局",
               "郑州市人力资源和社会保障局", "郑州市消防救援支队")
_DEPARTMENT_WEIGHTS = np.array([0.30, 0.16, 0.12, 0.10, 0.12, 0.10, 0.10])
DISTRICTS = {"410102": "中原区", "410103": "二七区", "410104": "管城回族区", "410105": "金水区", "410122": "中牟县",
             "410181": "巩义市", "410182": "荥阳市", "410183": "新密市"}
UNPUBLISHED_SHARE = 0.005
LATE_SHARE = 0.03


@dataclass(frozen=True)
class Versions:
    """First versions of some records and, for those that changed, the later correcting versions."""

    first: dict[str, np.ndarray]
    changed: np.ndarray  # indices into the first versions
    correction: dict[str, np.ndarray]  # columns that differ in the correction, one value per changed record


def _rank(*keys: np.ndarray) -> np.ndarray:
    """Each row's position when sorted by ``keys`` (the last key sorts first), as record numbers are given."""
    rank = np.empty(len(keys[0]), dtype=np.int64)
    rank[np.lexsort(keys)] = np.arange(len(keys[0]))
    return rank


def _versioned(v: Versions, limit: np.datetime64, rank: np.ndarray) -> dict[str, np.ndarray]:
    """Records in ``rank`` order, each correction right after its record, keeping what arrived by ``limit``."""
    n = len(rank)
    columns = {}
    for name, values in v.first.items():
        later = v.correction.get(name, values[v.changed])
        columns[name] = np.concatenate([values, later])
    record = np.concatenate([np.arange(n), v.changed])
    version = np.concatenate([np.zeros(n, dtype=int), np.ones(len(v.changed), dtype=int)])
    order = np.lexsort((version, rank[record]))
    order = order[columns["available_on"][order] <= limit]
    return {name: values[order] for name, values in columns.items()}


def _date_or_empty(values: np.ndarray) -> pa.Array:
    """Dates where set (NaT = empty cell)."""
    missing = np.isnat(values)
    return cells.dates(np.where(missing, np.datetime64("1970-01-01"), values), missing)


def registration(rng: np.random.Generator, pop: Population) -> pa.Table:
    """工商登记: one row per enterprise, and a correction for each 注销/吊销 known by extraction."""
    reg = pop.registration
    n = len(reg)
    founded = reg["founded_on"].to_numpy().astype("datetime64[D]")
    closed = np.flatnonzero(pop.closed_month >= 0)
    status_on = pop.timeline.month_end(pop.closed_month[closed])
    first = {
        "i": np.arange(n),
        "status": np.full(n, "存续", dtype=object),
        "status_on": np.full(n, np.datetime64("NaT"), dtype="datetime64[D]"),
        "available_on": founded + days(rng, 1, 10, n),
    }
    correction = {
        "status": reg["status"].to_numpy()[closed].astype(object),
        "status_on": status_on,
        "available_on": status_on + days(rng, 2, 11, len(closed)),
    }
    rows = _versioned(Versions(first, closed, correction), extracted(pop), np.arange(n))
    i = rows["i"]
    return cells.table({
        "uscc": cells.text(reg["uscc"].to_numpy()[i]),
        "name": cells.text(reg["name"].to_numpy()[i]),
        "founded_on": cells.dates(founded[i]),
        "industry": cells.text(reg["industry"].to_numpy()[i]),
        "region_code": cells.text(reg["region_code"].to_numpy()[i]),
        "registered_capital": cells.money(reg["registered_capital"].to_numpy()[i]),
        "enterprise_type": cells.text(reg["enterprise_type"].to_numpy()[i]),
        "size_class": cells.text(reg["size_class"].to_numpy()[i]),
        "status": cells.text(rows["status"]),
        "status_on": _date_or_empty(rows["status_on"]),
        "available_on": cells.dates(rows["available_on"]),
    })


def _events(rng: np.random.Generator, pop: Population, rate: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                                   np.ndarray]:
    """Poisson events per active (enterprise, month): enterprise index, month index and a day in the month."""
    counts = rng.poisson(rate * active_cells(pop))
    i, t = np.nonzero(counts)
    i, t = np.repeat(i, counts[i, t]), np.repeat(t, counts[i, t])
    day = pop.timeline.months.to_numpy().astype("datetime64[D]")[t] + days(rng, 0, 28, len(i))
    return i, t, day


_ADMIN_RATES = {  # kind: (intercept, health slope) of a monthly Poisson rate
    "许可": (-3.6, 0.3),
    "处罚": (-5.0, -0.9),
    "强制": (-7.0, -1.2),
    "确认": (-5.5, 0.0),
    "裁决": (-7.5, -0.5),
    "奖励": (-6.5, 0.6),
    "监督检查": (-4.8, -0.3),
}
_REPAIR = {"轻微": (0.5, 30, 200), "一般": (0.4, 95, 400), "严重": (0.1, 370, 900)}  # share, days after


def _working_days_after(day: np.ndarray, working_days: np.ndarray) -> np.ndarray:
    """The ``working_days``-th Chinese working day after each day (the day itself not counted)."""
    out = np.empty(len(day), dtype="datetime64[D]")
    for k in np.unique(working_days).tolist():
        rows = working_days == k
        out[rows] = np.asarray(publication_deadline(day[rows], k), dtype="datetime64[D]")
    return out


def admin_records(rng: np.random.Generator, pop: Population) -> pa.Table:
    """双公示 and the 7 kinds of administrative records; penalty repairs and revocations as corrections.

    Publication is due within 7 Chinese working days of the decision: ~3 % are late, ~0.5 % never published.
    """
    parts = []
    for name, (a, b) in _ADMIN_RATES.items():
        i, t, day = _events(rng, pop, np.exp(a + b * pop.health))
        on_working_day = _working_days_after(day - np.timedelta64(1, "D"), np.ones(len(day), dtype=int))
        parts.append((i, t, on_working_day, np.full(len(i), name, dtype=object)))
    i, t, decided, kind = (np.concatenate(p) for p in zip(*parts, strict=True))
    n = len(i)
    u = rng.random(n)
    unpublished, late = u < UNPUBLISHED_SHARE, u > 1 - LATE_SHARE
    published = _working_days_after(decided, np.where(late, rng.integers(8, 29, n), rng.integers(1, 8, n)))
    published = np.where(unpublished, np.datetime64("NaT"), published)
    available = np.where(unpublished, decided + days(rng, 2, 11, n), published)
    penalty = kind == "处罚"
    severe_p = sigmoid(-2.2 - 0.8 * pop.health[i, t])
    s = rng.random(n)
    severity = np.where(penalty, np.where(s < severe_p, "严重", np.where(s < severe_p + 0.35, "一般", "轻微")), "")
    amount = np.where(severity == "严重", rng.uniform(5e4, 1e6, n), rng.uniform(200, 5e4, n)).round(-2)
    amount = np.where(penalty, amount, np.nan)
    share, low, high = (np.select([severity == k for k in _REPAIR], [v[j] for v in _REPAIR.values()], 0)
                        for j in range(3))
    repaired_on = available + (low + (rng.random(n) * (high - low)).astype(int)).astype("timedelta64[D]")
    repaired = penalty & (rng.random(n) < share)
    revoked = penalty & ~repaired & (rng.random(n) < 0.02)
    changed = np.flatnonzero(repaired | revoked)
    first: dict[str, np.ndarray] = {
        "i": i,
        "kind": kind,
        "decision_date": decided,
        "published_on": published,
        "department": rng.choice(np.array(DEPARTMENTS, dtype=object), n, p=_DEPARTMENT_WEIGHTS),
        "severity": severity.astype(object),
        "amount": amount,
        "status": np.where(penalty, "有效", "").astype(object),
        "repaired_on": np.full(n, np.datetime64("NaT"), dtype="datetime64[D]"),
        "available_on": available,
    }
    fixed = repaired[changed]
    correction = {
        "status": np.where(fixed, "已修复", "已撤销").astype(object),
        "repaired_on": np.where(fixed, repaired_on[changed], np.datetime64("NaT")),
        "available_on": np.where(fixed, repaired_on[changed] + days(rng, 0, 6, len(changed)),
                                 available[changed] + days(rng, 15, 180, len(changed))),
    }
    rank = _rank(i, decided)
    first["record_id"] = np.array([f"AR{k:08d}" for k in rank], dtype=object)
    rows = _versioned(Versions(first, changed, correction), extracted(pop), rank)
    return cells.table({
        "record_id": cells.text(rows["record_id"]),
        "uscc": uscc_cells(pop, rows["i"]),
        "kind": cells.text(rows["kind"]),
        "decision_date": cells.dates(rows["decision_date"]),
        "published_on": _date_or_empty(rows["published_on"]),
        "department": cells.text(rows["department"]),
        "severity": cells.text(rows["severity"]),
        "amount": cells.money(rows["amount"]),
        "status": cells.text(rows["status"]),
        "repaired_on": _date_or_empty(rows["repaired_on"]),
        "available_on": cells.dates(rows["available_on"]),
    })


@dataclass(frozen=True)
class Dishonest:
    """失信被执行人 listings drawn, for the black list that follows some of them."""

    i: np.ndarray
    listed: np.ndarray


def judicial(rng: np.random.Generator, pop: Population) -> tuple[pa.Table, Dishonest]:
    """司法: enforcement cases (被执行人) and dishonest-debtor listings (失信被执行人); removals as corrections."""
    n_months = pop.timeline.size
    defaulted = (np.arange(n_months)[None, :] > pop.default_month[:, None]) & (pop.default_month[:, None] >= 0)
    parts = []
    for name, rate in (("被执行人", np.exp(-7.2 - 1.1 * pop.health) + 0.03 * defaulted),
                       ("失信被执行人", np.exp(-9.5 - 1.2 * pop.health) + 0.02 * defaulted)):
        i, _, listed = _events(rng, pop, rate)
        parts.append((i, listed, np.full(len(i), name, dtype=object)))
    i, listed, kind = (np.concatenate(p) for p in zip(*parts, strict=True))
    n = len(i)
    amount = np.exp(rng.normal(11, 1.2, n))
    region = pop.registration["region_code"].to_numpy()[i]
    intermediate = amount > 1e6  # large cases go to the intermediate court
    court = np.where(intermediate, "郑州市中级人民法院",
                     np.array([f"郑州市{DISTRICTS.get(r, '')}人民法院" for r in region], dtype=object))
    court_code = np.where(intermediate, "01", np.array([r[2:] for r in region], dtype=object))
    rank = _rank(i, listed)
    year = listed.astype("datetime64[Y]").astype(int) + 1970
    case_id = np.array([f"（{y}）豫{c}执{k + 1}号" for y, c, k in zip(year, court_code, rank, strict=True)],
                       dtype=object)
    removed = listed + days(rng, 60, 900, n)
    changed = np.flatnonzero(rng.random(n) < 0.5)
    first = {
        "i": i, "case_id": case_id, "kind": kind, "court": court, "listed_on": listed,
        "removed_on": np.full(n, np.datetime64("NaT"), dtype="datetime64[D]"),
        "amount": amount, "available_on": listed + days(rng, 1, 8, n),
    }
    correction = {"removed_on": removed[changed], "available_on": removed[changed] + days(rng, 1, 6, len(changed))}
    rows = _versioned(Versions(first, changed, correction), extracted(pop), rank)
    frame = cells.table({
        "case_id": cells.text(rows["case_id"]),
        "uscc": uscc_cells(pop, rows["i"]),
        "kind": cells.text(rows["kind"]),
        "court": cells.text(rows["court"]),
        "listed_on": cells.dates(rows["listed_on"]),
        "removed_on": _date_or_empty(rows["removed_on"]),
        "amount": cells.money(rows["amount"]),
        "available_on": cells.dates(rows["available_on"]),
    })
    dishonest = kind == "失信被执行人"
    return frame, Dishonest(i[dishonest], listed[dishonest])


def list_entries(rng: np.random.Generator, pop: Population, dishonest: Dishonest, grades: Grades) -> pa.Table:
    """名单: abnormal-operations, focus, black (after dishonest listings) and red (A taxpayers); exits corrected."""
    parts = []
    for name, rate, reason, department in (
        ("abnormal", np.exp(-6.6 - 1.1 * pop.health), "未按时报送年度报告", MARKET),
        ("focus", np.exp(-8.5 - 0.8 * pop.health), "重点关注", CREDIT_OFFICE),
    ):
        i, _, entered = _events(rng, pop, rate)
        parts.append((i, entered, entered + days(rng, 20, 500, len(i)), name, reason, department))
    a_grade = np.flatnonzero((grades.grade == "A") & (rng.random(len(grades.i)) < 0.4))
    entered = grades.available[a_grade] + days(rng, 3, 21, len(a_grade))
    parts.append((grades.i[a_grade], entered, entered + np.timedelta64(365, "D"), "red", "纳税信用A级", TAX_BUREAU))
    black = np.flatnonzero(rng.random(len(dishonest.i)) < 0.3)
    entered = dishonest.listed[black] + days(rng, 10, 90, len(black))
    parts.append((dishonest.i[black], entered, entered + days(rng, 365, 1100, len(black)), "black", "严重失信主体",
                  CREDIT_OFFICE))
    i = np.concatenate([p[0] for p in parts])
    entered = np.concatenate([p[1] for p in parts])
    exited = np.concatenate([p[2] for p in parts])
    sizes = [len(p[0]) for p in parts]
    n = len(i)
    rank = _rank(i, entered)
    first = {
        "i": i, "entry_id": np.array([f"LE{k:07d}" for k in rank], dtype=object),
        "list_name": np.repeat(np.array([p[3] for p in parts], dtype=object), sizes),
        "entered_on": entered, "exited_on": np.full(n, np.datetime64("NaT"), dtype="datetime64[D]"),
        "reason": np.repeat(np.array([p[4] for p in parts], dtype=object), sizes),
        "department": np.repeat(np.array([p[5] for p in parts], dtype=object), sizes),
        "available_on": entered + days(rng, 1, 8, n),
    }
    changed = np.arange(n)
    correction = {"exited_on": exited, "available_on": exited + days(rng, 1, 6, n)}
    rows = _versioned(Versions(first, changed, correction), extracted(pop), rank)
    return cells.table({
        "entry_id": cells.text(rows["entry_id"]),
        "uscc": uscc_cells(pop, rows["i"]),
        "list_name": cells.text(rows["list_name"]),
        "entered_on": cells.dates(rows["entered_on"]),
        "exited_on": _date_or_empty(rows["exited_on"]),
        "reason": cells.text(rows["reason"]),
        "department": cells.text(rows["department"]),
        "available_on": cells.dates(rows["available_on"]),
    })


_COMMITMENT_RATES: dict[str, tuple[float, float, str]] = {  # kind: (intercept, health slope, accepting department)
    "告知承诺": (-5.0, 0.2, MARKET),
    "信用修复承诺": (-7.0, -0.6, CREDIT_OFFICE),
    "主动承诺": (-6.5, 0.4, CREDIT_OFFICE),
    "行业自律承诺": (-7.0, 0.3, "郑州市工商业联合会"),
}


def commitments(rng: np.random.Generator, pop: Population) -> pa.Table:
    """信用承诺: commitments made, pending at first; kept or broken (more often by weak ones) as a correction."""
    parts = []
    for name, (a, b, accepting) in _COMMITMENT_RATES.items():
        i, t, committed = _events(rng, pop, np.exp(a + b * pop.health))
        parts.append((i, t, committed, np.full(len(i), name, dtype=object), np.full(len(i), accepting, dtype=object)))
    i, t, committed, kind, department = (np.concatenate(p) for p in zip(*parts, strict=True))
    n = len(i)
    resolved = committed + days(rng, 30, 400, n)
    t_resolved = np.clip(t + (resolved - committed).astype(int) // 30, 0, pop.timeline.size - 1)
    broken = rng.random(n) < sigmoid(-2.3 - 1.3 * pop.health[i, t_resolved])
    changed = np.flatnonzero(rng.random(n) < 0.9)  # the rest are never followed up
    rank = _rank(i, committed)
    first = {
        "i": i, "commitment_id": np.array([f"CM{k:07d}" for k in rank], dtype=object), "kind": kind,
        "committed_on": committed,
        "fulfilment": np.full(n, "pending", dtype=object),
        "resolved_on": np.full(n, np.datetime64("NaT"), dtype="datetime64[D]"),
        "department": department, "available_on": committed + days(rng, 1, 6, n),
    }
    correction = {
        "fulfilment": np.where(broken[changed], "broken", "kept").astype(object),
        "resolved_on": resolved[changed],
        "available_on": resolved[changed] + days(rng, 1, 8, len(changed)),
    }
    rows = _versioned(Versions(first, changed, correction), extracted(pop), rank)
    return cells.table({
        "commitment_id": cells.text(rows["commitment_id"]),
        "uscc": uscc_cells(pop, rows["i"]),
        "kind": cells.text(rows["kind"]),
        "committed_on": cells.dates(rows["committed_on"]),
        "fulfilment": cells.text(rows["fulfilment"]),
        "resolved_on": _date_or_empty(rows["resolved_on"]),
        "department": cells.text(rows["department"]),
        "available_on": cells.dates(rows["available_on"]),
    })
