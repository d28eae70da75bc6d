"""Dirty rows: each breaks the rule ``truth/dirty_rows.csv`` names for it, first in RULE_ORDER, and nothing else
in the feeds breaks a rule (checked by a slow row-by-row reference, not by the ingest)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pytest

from features.schemas import RULE_ORDER, SOURCES_BY_NAME
from features.synthetic import RegionFiles
from features.synthetic.dirty import spoil
from features.synthetic.dirty_menu import MENUS, Context
from features.uscc import check_uscc, make_uscc
from tests.features.synthetic.conftest import dirty_rows
from tests.features.synthetic.reference import expected_dirty, manifest

EVERY_RULE = {*RULE_ORDER, "duplicate"}


def test_dirty_rows_are_exactly_the_rows_that_break_a_rule(small_region: RegionFiles) -> None:
    expected, _ = expected_dirty(small_region.raw_dir)
    truth = dirty_rows(small_region)
    written = set(truth[["source", "file", "line", "rule", "field"]].itertuples(index=False, name=None))
    assert len(written) == len(truth)
    assert written - expected == set()  # every dirty row breaks the rule it is recorded with
    assert expected - written == set()  # every row that breaks a rule is recorded


def test_dirty_rows_cover_every_rule_in_every_feed_it_applies_to(small_region: RegionFiles) -> None:
    truth = dirty_rows(small_region)
    assert set(truth["rule"]) == EVERY_RULE
    for (source, file), rows in truth.groupby(["source", "file"]):
        menu = {s.rule for s in MENUS[str(source)](SOURCES_BY_NAME[str(source)])}
        assert menu - ({"row.format"} if str(file).endswith(".parquet") else set()) == set(rows["rule"]), file


def test_the_named_spoils_are_there(region: RegionFiles) -> None:
    truth = dirty_rows(region)
    pairs = set(zip(truth["source"], truth["rule"], truth["field"], strict=True))
    for expected in [
        ("registration", "code.unknown", "industry"), ("registration", "code.unknown", "region_code"),
        ("registration", "conditional.required", "status_on"),
        ("admin_records", "conditional.required", "severity"),
        ("admin_records", "conditional.required", "repaired_on"),
        ("admin_records", "conditional.not_applicable", "amount"),
        ("admin_records", "conditional.not_applicable", "severity"),
        ("tax_monthly", "date.order", "filed_on"), ("judicial", "date.order", "removed_on"),
        ("tax_monthly", "duplicate", "uscc,period"), ("utilities_monthly", "duplicate.conflict", "uscc,period,kind"),
    ]:
        assert expected in pairs, expected


def test_dirty_rows_are_a_small_share(region: RegionFiles) -> None:
    truth = dirty_rows(region)
    total = sum(sum(1 for _ in (region.raw_dir / f).open("rb")) for f in set(truth["file"]) if f.endswith("csv"))
    csv_dirty = truth[truth["file"].str.endswith("csv")]
    assert 0.001 < len(csv_dirty) / total < 0.02


@pytest.mark.parametrize("rule", ["uscc.length", "uscc.charset", "uscc.department", "uscc.region",
                                  "uscc.check_character", "uscc.unregistered"])
def test_a_code_spoil_breaks_its_own_rule_first(rule: str) -> None:
    rng = np.random.default_rng(0)
    registered = {make_uscc("9", "1", "410105", f"{k:08d}") for k in range(200)}
    context = Context(rng, date(2026, 10, 31), frozenset(registered))
    change = next(s.change for s in MENUS["tax_monthly"](SOURCES_BY_NAME["tax_monthly"]) if s.rule == rule)
    assert change is not None
    for code in sorted(registered):
        spoilt = change({"uscc": code}, context)["uscc"]
        check = check_uscc(spoilt)
        if rule == "uscc.unregistered":
            assert check.valid and spoilt not in registered
        else:
            assert check.rule == rule, (code, spoilt)


def test_row_format_lines_are_cut_short(small_region: RegionFiles) -> None:
    truth = dirty_rows(small_region)
    cut = truth[truth["rule"] == "row.format"]
    assert set(cut["file"]) == {f for f in truth["file"] if not f.endswith(".parquet")}
    encodings = {feed["path"]: feed["encoding"] for feed in manifest(small_region.raw_dir)["feeds"]}
    for name, rows in cut.groupby("file"):
        file = str(name)
        lines = (small_region.raw_dir / file).read_text(encoding=encodings[file]).splitlines()
        for line in rows["line"]:
            text = lines[line - 1]
            if file.endswith(".csv"):
                assert text.count(",") == lines[0].count(",") - 1, text
            else:
                assert not text.endswith("}"), text


def test_copies_go_right_after_their_original_and_replacements_stay_in_place() -> None:
    spec = SOURCES_BY_NAME["judicial"]
    n = 400
    table = pa.table({
        "case_id": [f"C{k:04d}" for k in range(n)],
        "uscc": [make_uscc("9", "1", "410105", f"{k:08d}") for k in range(n)],
        "kind": ["被执行人"] * n, "court": ["郑州市金水区人民法院"] * n, "listed_on": ["2024-01-10"] * n,
        "removed_on": [""] * n, "amount": ["1000.00"] * n, "available_on": ["2024-01-12"] * n,
    })
    context = Context(np.random.default_rng(1), date(2026, 10, 31), frozenset(table["uscc"].to_pylist()))
    out, dirty = spoil(np.random.default_rng(2), spec, table, context)
    ids = out["case_id"].to_pylist()
    copies = [d for d in dirty if d.rule in ("duplicate", "duplicate.conflict")]
    assert len(out) == n + len(copies)
    for d in copies:
        assert ids[d.row] == ids[d.row - 1]
    assert sorted(ids) == sorted([f"C{k:04d}" for k in range(n)] + [ids[d.row] for d in copies])
    for d in dirty:
        original = table.slice(int(ids[d.row][1:]), 1).to_pylist()
        unchanged = d.rule in ("duplicate", "row.format")  # the writer cuts a row.format line short
        assert (out.slice(d.row, 1).to_pylist() == original) == unchanged, d
    assert {d.rule for d in dirty} == {s.rule for s in MENUS["judicial"](spec)}
