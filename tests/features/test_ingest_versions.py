"""Key resolution over the written parts: only the parts holding a dropped or superseded row are rewritten."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from features.ingest_versions import SourceParts, apply_resolution, resolve
from features.schemas import TAX_MONTHLY

USCC = ["91440300000000019B", "91440300000000027X"]


def _chunk(rows: list[tuple[str, str, float, str]], file: str, first_line: int) -> pa.Table:
    """Accepted tax rows as check_chunk returns them: (uscc, period, vat, filed_on)."""
    n = len(rows)
    return pa.table({
        "uscc": [r[0] for r in rows],
        "period": pa.array(pd.to_datetime([r[1] for r in rows]), pa.timestamp("ns")),
        "vat": [r[2] for r in rows], "cit": [0.0] * n, "invoiced_sales": [1.0] * n, "overdue_tax": [0.0] * n,
        "filed_on": pa.array(pd.to_datetime([r[3] for r in rows]), pa.timestamp("ns")),
        "_file": [file] * n, "_line": list(range(first_line, first_line + n)),
    })


def test_only_parts_with_a_dropped_or_superseded_row_are_rewritten(tmp_path: Path) -> None:
    parts = SourceParts(TAX_MONTHLY, tmp_path / "tax_monthly.parquet", pa.array(USCC))
    parts.add(_chunk([(USCC[0], "2024-01", 1.0, "2024-02-10"), (USCC[0], "2024-02", 2.0, "2024-03-10")], "a", 2))
    parts.add(_chunk([(USCC[1], "2024-01", 3.0, "2024-02-10"), (USCC[1], "2024-02", 4.0, "2024-03-10")], "a", 4))
    parts.add(_chunk([(USCC[0], "2024-01", 1.5, "2024-04-01"),  # a correction of part 0's first row
                      (USCC[1], "2024-03", 5.0, "2024-04-10"),
                      (USCC[1], "2024-03", 5.0, "2024-04-10")], "b", 2))  # an exact repeat within part 2
    parts.finish()
    before = [path.stat().st_ino for path in parts.paths]
    resolution = resolve(parts)
    assert resolution.duplicates.tolist() == [6] and resolution.superseded_on.to_dict() == {
        0: pd.Timestamp("2024-04-01")}
    assert apply_resolution(parts, resolution) == 6
    after = [path.stat().st_ino for path in parts.paths]
    assert [b == a for b, a in zip(before, after, strict=True)] == [False, True, False]
    accepted = pd.read_parquet(tmp_path / "tax_monthly.parquet")
    assert accepted[["vat", "_file", "_line"]].values.tolist() == [
        [1.0, "a", 2], [2.0, "a", 3], [3.0, "a", 4], [4.0, "a", 5], [1.5, "b", 2], [5.0, "b", 3]]
    assert accepted["_superseded_on"].tolist()[:2] == [pd.Timestamp("2024-04-01"), pd.NaT]
    assert accepted["_superseded_on"].iloc[2:].isna().all()
    assert not list(tmp_path.glob("**/.*"))  # no temporary file left


def test_an_empty_source_is_one_empty_part_with_the_schema(tmp_path: Path) -> None:
    parts = SourceParts(TAX_MONTHLY, tmp_path / "tax_monthly.parquet")
    parts.finish()
    assert apply_resolution(parts, resolve(parts)) == 0
    accepted = pd.read_parquet(tmp_path / "tax_monthly.parquet")
    assert accepted.empty and accepted["period"].dtype == "datetime64[ns]" and accepted["vat"].dtype == "float64"
