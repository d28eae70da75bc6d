"""Machine-readable bench figures: each bench calls :func:`record` once per figure at the end of its main.

With ``BENCH_RESULTS`` naming a file, every call appends one JSON line (bench, figure, value, unit, target, how
the value is compared with it, and whether it was met); without it, nothing is written, so a bench run by hand
only prints. ``bench/report.py`` sets the variable, runs every bench and renders docs/benchmarks.md.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Literal

ENV = "BENCH_RESULTS"
Comparison = Literal[">=", "<="]


def met(value: float, target: float | None, comparison: Comparison | None) -> bool | None:
    """Whether ``value`` meets ``target`` (None when there is no target to meet)."""
    if target is None or comparison is None:
        return None
    if math.isnan(value):
        return False
    return value >= target if comparison == ">=" else value <= target


def record(name: str, value: float, unit: str, target: float | None = None,
           comparison: Comparison | None = None, note: str = "") -> None:
    """Append one figure to the file named by ``BENCH_RESULTS`` (no-op when it is unset).

    ``comparison`` says how ``value`` is held to ``target``: ``">="`` (at least, e.g. rows/s) or ``"<="`` (at
    most, e.g. seconds, memory, a ratio to a reference).
    """
    if (target is None) != (comparison is None):
        raise ValueError("a target needs its comparison ('>=' or '<='), and a comparison its target")
    path = os.environ.get(ENV)
    if not path:
        return
    line = {"bench": Path(sys.argv[0]).stem, "name": name, "value": float(value), "unit": unit,
            "target": target, "comparison": comparison, "met": met(float(value), target, comparison), "note": note}
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
