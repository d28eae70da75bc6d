"""The data-sources page: the committed file is exactly what the declarations render, and it leaves nothing out."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.schemas import RULE_ORDER, SOURCES, ColumnKind, SourceSpec
from features.schemas_doc import (
    DOC_PATH,
    KIND_DOCS,
    PATTERN_DOCS,
    RULE_MEANINGS,
    SOURCE_TITLES,
    main,
    render,
    render_source,
)


@pytest.fixture(scope="module")
def page() -> str:
    return render()


def test_the_committed_page_is_the_rendered_page(page: str) -> None:
    committed = DOC_PATH.read_text(encoding="utf-8")
    assert committed == page, "docs/data-sources.md is stale: run `python -m features.schemas_doc` and commit it"


def test_every_rule_has_a_one_line_meaning_in_the_rules_table(page: str) -> None:
    assert set(RULE_MEANINGS) == set(RULE_ORDER), "give every rule of schemas.RULE_ORDER (and only those) a meaning"
    for number, rule in enumerate(RULE_ORDER, 1):
        assert RULE_MEANINGS[rule].strip() and "\n" not in RULE_MEANINGS[rule]
        assert f"| {number} | `{rule}` |" in page


def test_every_source_kind_and_pattern_has_its_words() -> None:
    assert set(SOURCE_TITLES) == {spec.name for spec in SOURCES}
    assert set(KIND_DOCS) == set(ColumnKind)
    patterns = {column.pattern for spec in SOURCES for column in spec.columns if column.pattern}
    assert patterns <= set(PATTERN_DOCS), "describe every code pattern in words in PATTERN_DOCS"


@pytest.mark.parametrize("spec", SOURCES, ids=lambda spec: spec.name)
def test_every_source_has_its_section_with_every_column(page: str, spec: SourceSpec) -> None:
    section = render_source(spec)
    assert section in page
    assert f"### `{spec.name}`: {spec.label_zh} ({SOURCE_TITLES[spec.name]})" in section
    assert f"Provided by **{spec.provider}**." in section
    assert f"`{spec.event}` ({spec.column(spec.event).label_zh})" in section
    assert f"`{spec.available}` ({spec.column(spec.available).label_zh})" in section
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert [row.split(" | ")[0] for row in rows] == [f"| `{name}`" for name in spec.column_names]
    for row, column in zip(rows, spec.columns, strict=True):
        assert row.startswith(f"| `{column.name}` | {column.label_zh} | {column.kind.value} | {column.unit} | ")
        assert all(f"`{value}`" in row for value in column.allowed)
        assert ("key" in row.split(" | ")[4]) == (column.name in spec.key)


@pytest.mark.parametrize("spec", SOURCES, ids=lambda spec: spec.name)
def test_date_orders_and_conditions_are_in_words(spec: SourceSpec) -> None:
    section = render_source(spec)
    for order in spec.date_orders:
        assert f"- `{order.later}` must not be before `{order.earlier}`." in section
    for rule in spec.conditionals:
        line = next(line for line in section.splitlines() if line.startswith(f"- `{rule.column}`: "))
        assert f"`{rule.when_column}` is " in line
        assert all(f"`{value}`" in line for value in rule.when)
        assert ("required when" in line) == rule.required


# GB/T 2260 province-level codes: 北京 11 … 内蒙古 15, 辽宁 21 … 黑龙江 23, 上海 31 … 山东 37, 河南 41 … 海南 46,
# 重庆 50 … 西藏 54, 陕西 61 … 新疆 65, 台湾 71, 香港 81, 澳门 82.
PROVINCES = {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54,
             61, 62, 63, 64, 65, 71, 81, 82}


def _expand(runs: str) -> set[int]:
    numbers: set[int] = set()
    for run in runs.split(", "):
        first, _, last = run.partition("-")
        numbers.update(range(int(first), int(last or first) + 1))
    return numbers


def test_code_patterns_are_described_not_dumped(page: str) -> None:
    for pattern in PATTERN_DOCS:
        assert pattern not in page
    assert "C 13-43;" in page  # GB/T 4754-2017: manufacturing (制造业) is divisions 13 to 43
    region_line = next(line for line in page.splitlines() if line.startswith("- `region_code`"))
    assert _expand(region_line.split("province-level code: ")[1].split(";")[0]) == PROVINCES


def test_write_then_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "data-sources.md"
    assert main(["--check", "--output", str(target)]) == 1
    assert main(["--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render()
    assert main(["--check", "--output", str(target)]) == 0
    target.write_text(render().replace("| `uscc` |", "| `credit_code` |", 1), encoding="utf-8")
    capsys.readouterr()
    assert main(["--check", "--output", str(target)]) == 1
    message = capsys.readouterr().err
    assert "out of date" in message
    assert "python -m features.schemas_doc" in message
