"""Dirty rows as real feeds carry them, each breaking one rule of ``schemas.RULE_ORDER`` on purpose.

A small, seeded share of each feed is spoilt: broken codes, malformed dates and numbers, unknown codes,
impossible dates, missing conditional values, conflicting repeats and exact duplicates. Each spoil changes
one cell (or repeats a row) so that the first rule the row fails, in RULE_ORDER, is the one recorded for it in
``truth/dirty_rows.csv``. Registration rows are spoilt as extra copies so no enterprise drops out of the
registry (which would turn all its other rows into ``uscc.unregistered``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from features.schemas import SourceSpec
from features.synthetic.dirty_menu import MENUS, Context, Spoil

DIRTY_SHARE = 0.002


@dataclass(frozen=True)
class DirtyRow:
    """A spoilt row of a written feed: its 0-based row, the rule it must fail and the field reported."""

    row: int
    rule: str
    field: str


def _eligible(table: pa.Table, spoil: Spoil, cache: dict[int, np.ndarray | None]) -> np.ndarray | None:
    """Rows the spoil applies to; None for every row."""
    key = id(spoil)
    if key not in cache:
        cache[key] = None if spoil.where is None else np.flatnonzero(spoil.where(table))
    return cache[key]


def _plan(rng: np.random.Generator, table: pa.Table, menu: list[Spoil]) -> list[tuple[int, Spoil]]:
    """Distinct rows for every spoil at least once, then for random spoils up to the dirty share."""
    n = table.num_rows
    wanted = min(max(len(menu), round(n * DIRTY_SHARE)), n // 4)
    picks = list(range(len(menu)))[:wanted]
    picks += rng.integers(0, len(menu), max(0, wanted - len(picks))).tolist()
    used: set[int] = set()
    cache: dict[int, np.ndarray | None] = {}
    plan = []
    for k in picks:
        candidates = _eligible(table, menu[k], cache)
        size = n if candidates is None else len(candidates)
        for _ in range(20):  # used rows are few, so a clash is rare
            if not size:
                break
            draw = int(rng.integers(size))
            row = draw if candidates is None else int(candidates[draw])
            if row not in used:
                used.add(row)
                plan.append((row, menu[k]))
                break
    return plan


def spoil(rng: np.random.Generator, spec: SourceSpec, table: pa.Table, context: Context, *,
          lines: bool = True) -> tuple[pa.Table, list[DirtyRow]]:
    """Return ``table`` with a few spoilt rows, and where they ended up and which rule each must fail.

    A spoilt row replaces its original; a copy (registration, conflicts, duplicates) goes right after it.
    ``lines`` says whether the feed has lines the writer can break (not Parquet): the ``row.format`` rows.
    """
    n = table.num_rows
    if n == 0:
        return table, []
    menu = [s for s in MENUS[spec.name](spec) if lines or not s.breaks_line]
    plan = sorted(_plan(rng, table, menu), key=lambda item: item[0])
    originals = table.take(pa.array([row for row, _ in plan], pa.int64())).to_pylist()
    copy_all = spec.name == "registration"
    order = np.arange(n)
    after: list[int] = []
    extra: list[dict[str, str]] = []
    for (row, s), values in zip(plan, originals, strict=True):
        extra.append({**values, **(s.change(values, context) if s.change else {})})
        if copy_all or s.copy:
            after.append(row)
        else:
            order[row] = n + len(extra) - 1
    copies = [n + k for k, (row, s) in enumerate(plan) if copy_all or s.copy]
    order = np.insert(order, np.array(after, dtype=np.int64) + 1, copies)  # a copy right after its original
    position = np.full(n + len(extra), -1)
    position[order] = np.arange(len(order))
    out = pa.concat_tables([table, pa.Table.from_pylist(extra, schema=table.schema)]).take(pa.array(order))
    dirty = [DirtyRow(int(position[n + k]), s.rule, ",".join(spec.key) if s.field is None else s.field)
             for k, (_, s) in enumerate(plan)]
    return out, sorted(dirty, key=lambda d: d.row)
