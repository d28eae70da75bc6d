"""数据源说明: the data-sources page (docs/data-sources.md), generated from the schema and feed declarations.

``render()`` builds the whole page from ``features.schemas`` (sources, columns, keys, dates, rules) and
``features.feed_manifest`` (manifest, formats, encodings) plus the fixed prose below, so the page cannot drift from what
ingest checks: a test compares the committed file with ``render()``.

    python -m features.schemas_doc            # write docs/data-sources.md
    python -m features.schemas_doc --check    # exit 1 when the committed page differs
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from features.feed_manifest import ENCODINGS, FORMATS, MANIFEST
from features.schemas import (
    INDUSTRY_PATTERN,
    INDUSTRY_SECTIONS,
    REGION_PATTERN,
    RULE_ORDER,
    SOURCES,
    TAX_MONTHLY,
    USCC_WRONG_RULES,
    Column,
    ColumnKind,
    Conditional,
    SourceSpec,
)

DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "data-sources.md"

# The English name of each source, for the page's headings (the schemas carry the Chinese one).
SOURCE_TITLES: dict[str, str] = {
    "registration": "business registration",
    "tax_monthly": "monthly tax filings",
    "tax_credit_grade": "tax credit grade",
    "social_insurance_monthly": "monthly social insurance",
    "housing_fund_monthly": "monthly housing provident fund",
    "utilities_monthly": "monthly water, electricity and gas",
    "admin_records": "administrative decisions: licences, penalties and the other 7 kinds",
    "judicial": "court enforcement records",
    "list_entries": "credit lists: black, red, focus and abnormal",
    "commitments": "credit commitments",
}

# One line per rule of schemas.RULE_ORDER: what a quarantined row with this rule did wrong.
RULE_MEANINGS: dict[str, str] = {
    "row.format": "the line cannot be split into the source's columns: a CSV line with the wrong number of fields, "
                  "a JSON Lines line that is not a JSON object, or a line with bytes that are not valid in the "
                  "feed's encoding (the message shows them escaped; `_field` is `(row)`)",
    "required": "a required column's cell is empty",
    "uscc.length": "the USCC does not have exactly 18 characters",
    "uscc.charset": "the USCC holds a character outside 0-9 and A-H J-N P Q R T U W-Y (no I, O, S, V, Z, "
                    "no lower case)",
    "uscc.department": "position 1, the registering department, is not 1, 5, 9 or Y",
    "uscc.region": "positions 3-8, the GB/T 2260 region, are not six digits",
    "uscc.check_character": "position 18 is not the GB 32100 mod-31 check character of the first 17",
    "uscc.unregistered": "a well-formed USCC that is not among the codes accepted in `registration`",
    "date.format": "not a calendar date in YYYY-MM-DD form (an impossible day such as 2019-02-30 fails too)",
    "period.format": "not a month in YYYY-MM form",
    "year.format": "not a year in YYYY form",
    "number.format": "not a decimal number: a thousands separator, a currency sign, a unit or text such as N/A",
    "code.unknown": "a code that is not one of the column's allowed values or does not match its code pattern",
    "amount.negative": "an amount, count or quantity below zero",
    "date.future": "a date, month or year after the extract's `extracted_on` (a month counts as its first day, "
                   "a year as 1 January)",
    "date.order": "a date before the one it must follow: an end before its start, a record available before "
                  "its event (the source's date-order rules)",
    "conditional.required": "a column that the row's condition requires is empty (the source's conditions)",
    "conditional.not_applicable": "a column is given where its condition does not hold (the source's conditions)",
    "duplicate.conflict": "the natural key and availability date of an earlier row, with different values; the "
                          "later row is quarantined",
}

# How each column kind is written in a feed, what ingest types it as, and the rules that judge it.
KIND_DOCS: dict[ColumnKind, tuple[str, str, str]] = {
    ColumnKind.USCC: ("18 characters, GB 32100 (统一社会信用代码)", "text", "`uscc.*`"),
    ColumnKind.TEXT: ("free text, kept as written", "text", "no format rule"),
    ColumnKind.DATE: ("`YYYY-MM-DD`", "timestamp", "`date.format`, `date.future`, `date.order`"),
    ColumnKind.PERIOD: ("`YYYY-MM`", "timestamp, the first day of the month", "`period.format`, `date.future`, "
                        "`date.order`"),
    ColumnKind.YEAR: ("`YYYY`", "timestamp, 1 January of the year", "`year.format`, `date.future`, `date.order`"),
    ColumnKind.NUMBER: ("decimal number, any sign", "float", "`number.format`"),
    ColumnKind.AMOUNT: ("decimal number, zero or more", "float", "`number.format`, `amount.negative`"),
    ColumnKind.CODE: ("exactly one of the allowed values, or matching the code pattern", "text", "`code.unknown`"),
}

_HEADER = """\
<!-- Generated by `python -m features.schemas_doc` from features/schemas.py and features/feed_manifest.py.
     Edit those declarations (or the prose in features/schemas_doc.py), then regenerate; never edit this file. -->

# Data sources: what the platform receives and how ingest judges it"""

_INTRO = """\
The platform takes in ten public-credit sources for each region, checks every row against the rules below and
keeps what passes as typed, versioned tables; every other row goes to a quarantine with the rule it broke. This
page is the contract between the departments that send the data and everything built on it.

- **Platform operators** (平台运营方) set up a region's extract and its manifest, run the ingest and read its
  reports: [The extract](#the-extract), [Rules](#rules), [Output](#output).
- **Data providers** (数据提供部门) see what to send for their source, in which formats and encodings, and why
  a row was quarantined: [Formats, encodings and cells](#formats-encodings-and-cells), their source's section
  under [Sources](#sources), [Rules](#rules).
- **Analysts** see what every column means, its unit, a source's event and availability dates, and how
  corrections are versioned so a source can be read as it stood on any past date:
  [Sources](#sources), [Duplicates, conflicts and corrections](#duplicates-conflicts-and-corrections).

Every source has an **event date** (when the thing happened: the month of a filing, the day of a decision) and
an **availability date** (the day the record reached the platform). Point-in-time features use a record only
from its availability date on, so a late filing or a later correction never leaks into an earlier as-of date."""

_EXTRACT = """\
## The extract

A region's extract sits in `<data_dir>/regions/<region>/raw/` (`data_dir` is `XINYI_DATA_DIR`, default
`data/`): the feed files and `{manifest}`. The manifest holds:

| field | required | meaning |
|---|---|---|
| `region` | no | the region's name; default: the name of the folder that holds `raw/` |
| `extracted_on` | yes | `YYYY-MM-DD`, the day the extract was taken; no date in any feed may be after it |
| `feeds` | no | the feed files, one object each (below) |

Other keys (the synthetic generator writes `seed`, for instance) are ignored. Each feed declares one file of
one source:

| field | required | meaning |
|---|---|---|
| `source` | yes | one of {sources} |
| `path` | yes | the file, relative to `raw/` (no absolute path, no `..`) |
| `format` | no | {formats}; default: the file's extension, which must then be one of these |
| `encoding` | no | {encodings} (text formats only; Parquet text is always UTF-8) |
| `department` | no | the providing department, shown per file in the reports |
| `columns` | no | the provider's column name → the canonical column name |

A source may have several feeds (one per department, say): their rows are checked together and their keys
resolved across all of them, in manifest order. **A source without a declared feed is read from
`<source>.csv`, UTF-8, with the canonical column names**, so every source needs a file. A column the mapping
does not name is read under its own name when that is a canonical column, and ignored otherwise; an optional
column a feed does not carry is read as empty. For example, tax filings in GBK (read as GB18030) under the tax
bureau's Chinese headings, and administrative records in two files:

```json
{example}
```

These problems refuse a feed as a whole; the ingest stops, names the problem and leaves the previous output in
place (a region's output is replaced only when every source succeeded):

- `{manifest}` missing, or its `extracted_on` not a `YYYY-MM-DD` date;
- a feed entry that is not an object, or names an unknown source, format or encoding, a path outside `raw/`,
  a Parquet file with an encoding other than UTF-8, or a mapping onto a column its source does not have;
- a feed file that is missing, or a CSV file without a header line;
- a required or key column missing once the mapping is applied;
- a header line, or more than half of a file's lines, with bytes that are not valid in the declared encoding
  (a GBK file declared as UTF-8, say); a few such lines are quarantined as `row.format` instead;
- a file that cannot be read in its format (a truncated Parquet file, say).

Everything else is judged row by row: each row is accepted or quarantined with a reason, and none is dropped
silently (exact duplicates are dropped, and counted)."""

_FORMATS = """\
## Formats, encodings and cells

- **CSV**: the first line holds the column names; fields are separated by commas, and a field holding a comma
  or a quote is quoted with `"` (a quote inside doubled, `""`). A cell cannot hold a line break: every line is
  a row. A UTF-8 byte-order mark and CRLF line ends are accepted. `_line` 1 is the header.
- **JSON Lines** (`jsonl`): one JSON object per line, its keys the column names (mapped like CSV headings),
  its values strings, numbers or `null`; a key left out is an empty cell. `_line` 1 is the first line.
- **Parquet**: columns by name. A column may hold text, or typed values: dates and timestamps are read as
  dates (in a `period` column as their month, in a `year` column as their year), integer, floating and
  decimal columns as numbers. `_line` is the row number, from 1.
- **Encodings** of CSV and JSON Lines, as the manifest's `encoding` names them:
  {encodings}.
  Files are streamed in chunks, so a feed of any size is read in bounded memory.

Cells, in every format:

- **Empty string or null = missing.** Cells are not trimmed: a space is a value, so a text cell holding one
  passes `required`, and a date with a space beside it fails `date.format`.
- **Blank lines are not rows**: an empty line is skipped, neither read nor counted, though `_line` counts it.
- Dates are `YYYY-MM-DD`, months `YYYY-MM`, years `YYYY`. Numbers use a decimal point, an optional sign and
  exponent, and no thousands separator, currency sign or unit. Codes are written exactly as listed.

Each column has one of these kinds:

| kind | written as | typed as | checked by |
|---|---|---|---|
{kinds}

### Code patterns

These codes are checked against a pattern rather than a list of values:

{patterns}"""

_RULES = """\
## Rules

A row's rules are checked in this order, each over the columns in their canonical order; a rejected row is
quarantined with the first rule it fails (its `_rule`), the column (`_field`) and a message naming the value.

| # | rule | a row fails it when |
|---|---|---|
{rules}

The rules
{uscc_wrong}
count as a wrong USCC (统一社会信用代码错误) in the data-quality report. A USCC whose position 17 does not match
the GB 11714 organisation-code check is **not** rejected, since some real registrations do not satisfy it: it
is counted as `uscc_warnings` in the source's report."""

_VERSIONS = """\
## Duplicates, conflicts and corrections

Once every row of a source has been checked, the accepted rows are compared by natural key across all its
feeds:

- **Duplicate**: an exact repeat of an earlier row (every canonical column equal). It is dropped and counted
  as `duplicates`, never quarantined; the first delivery is kept.
- **Conflict**: the key and the availability date of an earlier row, with different values. The later row is
  quarantined as `duplicate.conflict`, with a message naming the file and line of the row it contradicts. A
  provider who means to change a record sends a correction instead.
- **Correction**: the key of an earlier row with a later availability date (an amended tax filing, a repaired
  penalty, a removal from a list, a change of registration status). Both versions are kept; the earlier one
  gets `_superseded_on` = the correction's availability date. Versions are ordered by availability date, not by
  their place in the files, and counted as `corrections`.

So a source can be read as it stood on any date D: keep the versions available on or before D whose
`_superseded_on` is empty or after D. `features.ingest.current` gives the latest version of every record."""

_OUTPUT = """\
## Output

The ingest writes a region's output to `<data_dir>/regions/<region>/ingest/`, built aside and swapped into
place only when every source succeeded:

```text
accepted/<source>.parquet/   a folder of part-NNNNN.parquet files (one per chunk) read as one table:
                             typed rows, every version, + _superseded_on (empty = current), _file, _line;
                             in each part the rows are grouped into buckets by USCC hash, a row group each
quarantine/<source>.parquet  every canonical column as the raw text + _file, _line, _field, _rule, _message
reports/<source>.json        read, accepted, quarantined, duplicates, corrections, by_rule, by_field,
                             uscc_warnings, and the same counts per feed file with its format, encoding and
                             department
reports/summary.json         region, extracted_on, totals, and every source's report
```

- `_file` is the feed's `path`; `_line` is the physical line in a CSV (header = line 1) or JSON Lines file,
  the row number in Parquet, so a provider can find the row in the file they sent.
- `pandas.read_parquet` and `pyarrow.parquet.read_table` read an accepted folder as one table, parts in name
  order. Each part is written once; only a part holding a dropped duplicate or a superseded version is
  written again, when the keys are resolved at the end of the source.
- Each part holds its rows in `XINYI_PROFILE_PARTITIONS` buckets (8 by default) by the same stable USCC hash
  that partitions profiles, a row group per bucket, stable within it, and names the bucket of each row group in
  its metadata (`xinyi.buckets`). A profile build with that many partitions, or a divisor of it, reads each
  partition's row groups straight from the parts, with no shuffle (`features/buckets.py`). Readers of the
  whole table see the rows of a part grouped by bucket rather than in feed order; `_file` and `_line` still
  lead back to the feed row.
- In an accepted table dates, months and years are timestamps, numbers and amounts floats, the rest text
  (an empty cell is null).
- The counts always add up: **read = accepted + quarantined + duplicates**, for every source and every file
  (the ingest refuses to finish otherwise); accepted counts every version, corrections included, and the
  quarantine counts rejected rows and conflicts."""


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return f"`{text}`"


def _words(items: Sequence[str], last: str = "and") -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def _ranges(numbers: Sequence[int]) -> str:
    """Two-digit numbers as runs: 01-05, 07, 09-10."""
    runs: list[list[int]] = []
    for number in sorted(numbers):
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return ", ".join(f"{run[0]:02d}" if len(run) == 1 else f"{run[0]:02d}-{run[-1]:02d}" for run in runs)


def _industry_pattern() -> str:
    divisions = "; ".join(f"{section} {_ranges(range(lo, hi + 1))}" for section, (lo, hi) in INDUSTRY_SECTIONS.items())
    return (f"a GB/T 4754-2017 section letter followed by a two-digit division of that section, e.g. `C13`. "
            f"Sections and their divisions: {divisions}.")


def _region_pattern() -> str:
    provinces = [p for p in range(100) if re.fullmatch(REGION_PATTERN, f"{p:02d}0000")]
    return (f"six digits of GB/T 2260 whose first two are a province-level code: {_ranges(provinces)}; "
            f"e.g. `440300`.")


# Words for each code pattern declared in features.schemas, in place of the regular expression itself.
PATTERN_DOCS: dict[str, Callable[[], str]] = {INDUSTRY_PATTERN: _industry_pattern, REGION_PATTERN: _region_pattern}


def _example_manifest() -> str:
    tax_columns = {column.label_zh: column.name for column in TAX_MONTHLY.columns if column.label_zh}
    manifest = {
        "region": "demo",
        "extracted_on": "2024-06-30",
        "feeds": [
            {"source": TAX_MONTHLY.name, "path": "tax_2024.csv", "format": "csv", "encoding": "gbk",
             "department": TAX_MONTHLY.provider, "columns": tax_columns},
            {"source": "admin_records", "path": "penalties_market.parquet", "format": "parquet",
             "department": "市场监管部门"},
            {"source": "admin_records", "path": "penalties_other.jsonl", "format": "jsonl",
             "department": "信用主管部门"},
        ],
    }
    return json.dumps(manifest, ensure_ascii=False, indent=2)


def _encodings(mark_default: bool = True) -> str:
    names = sorted(set(ENCODINGS.values()), key=lambda name: name != "utf-8")
    parts = []
    for name in names:
        aliases = [alias for alias, target in ENCODINGS.items() if target == name and alias != name]
        default = " (the default)" if mark_default and name == "utf-8" else ""
        read_as = f", also accepted as {_words([_code(a) for a in aliases], 'or')}" if aliases else ""
        parts.append(f"{_code(name)}{default}{read_as}")
    return "; ".join(parts)


def _extract_section() -> str:
    return _EXTRACT.format(
        manifest=MANIFEST,
        sources=_words([_code(spec.name) for spec in SOURCES], "or"),
        formats=_words([_code(fmt) for fmt in FORMATS], "or"),
        encodings=_encodings(),
        example=_example_manifest(),
    )


def _formats_section() -> str:
    kinds = "\n".join(f"| `{kind.value}` | {written} | {typed} | {rules} |"
                      for kind, (written, typed, rules) in KIND_DOCS.items())
    pattern_columns = [(spec, column, column.pattern) for spec in SOURCES for column in spec.columns if column.pattern]
    patterns = "\n".join(f"- `{column.name}` ({column.label_zh}, `{spec.name}`): {PATTERN_DOCS[pattern]()}"
                         for spec, column, pattern in pattern_columns)
    return _FORMATS.format(encodings=_encodings(mark_default=False), kinds=kinds, patterns=patterns)


def _sources_overview() -> str:
    rows = [
        f"| [`{spec.name}`](#source-{spec.name}) | {spec.label_zh} | {SOURCE_TITLES[spec.name]} | {spec.provider} "
        f"| {', '.join(_code(k) for k in spec.key)} | `{spec.event}` | `{spec.available}` |"
        for spec in SOURCES
    ]
    return "\n".join([
        "## Sources",
        "",
        "Registration comes first: the codes it accepts are the registry every other source's `uscc` is checked "
        "against.",
        "",
        "| source | 中文 | in English | provided by | natural key | event date | availability date |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ])


def _values(values: Sequence[str]) -> str:
    return _words([_code(value) for value in values], "or")


def _condition_words(rule: Conditional) -> str:
    when = f"`{rule.when_column}` is {_values(rule.when)}"
    if rule.required:
        return f"required when {when}, empty otherwise"
    return f"only when {when} (may be empty), empty otherwise"


def _required_words(spec: SourceSpec, column: Column) -> str:
    conditions = [_condition_words(rule) for rule in spec.conditionals if rule.column == column.name]
    words = conditions if conditions and not column.required else ["required" if column.required else "optional",
                                                                   *conditions]
    if column.name in spec.key:
        words.append("key")
    return "; ".join(words)


def _meaning(column: Column) -> str:
    meaning = column.description
    if column.allowed:
        meaning += f"; codes: {', '.join(_code(value) for value in column.allowed)}"
    elif column.pattern:
        meaning += "; see [code patterns](#code-patterns)"
    return meaning


def _dated(spec: SourceSpec, name: str) -> str:
    column = spec.column(name)
    return f"`{name}` ({column.label_zh}): {column.description}"


_COARSE_DATES = {ColumnKind.PERIOD: "a month counts as its first day", ColumnKind.YEAR: "a year counts as 1 January"}


def render_source(spec: SourceSpec) -> str:
    """One source's section: names, department, description, key and dates, column table and rules."""
    key = " + ".join(_code(name) for name in spec.key)
    uscc = ("the codes accepted here are the registry every other source is checked against" if not spec.registered_uscc
            else "every `uscc` must be a code accepted in `registration` (`uscc.unregistered`)")
    lines = [
        f'<a id="source-{spec.name}"></a>',
        "",
        f"### `{spec.name}`: {spec.label_zh} ({SOURCE_TITLES[spec.name]})",
        "",
        f"Provided by **{spec.provider}**. {spec.description}",
        "",
        f"- **Natural key**: {key}. A later row with this key and a later `{spec.available}` is a correction.",
        f"- **Event date**: {_dated(spec, spec.event)}.",
        f"- **Availability date**: {_dated(spec, spec.available)}.",
        f"- **USCC**: {uscc}.",
        f"- **Without a manifest entry**: `{spec.filename}`, UTF-8, the column names below.",
        "",
        "| field | 中文 | type | unit | required | meaning |",
        "|---|---|---|---|---|---|",
        *(f"| `{c.name}` | {c.label_zh} | {c.kind.value} | {c.unit} | {_cell(_required_words(spec, c))} "
          f"| {_cell(_meaning(c))} |" for c in spec.columns),
    ]
    if spec.date_orders:
        coarse = {spec.column(name).kind for order in spec.date_orders for name in (order.earlier, order.later)}
        counts_as = [words for kind, words in _COARSE_DATES.items() if kind in coarse]
        note = f" ({_words(counts_as)})" if counts_as else ""
        lines += ["", f"Date order (`date.order`), where both cells are given{note}:", ""]
        lines += [f"- `{order.later}` must not be before `{order.earlier}`." for order in spec.date_orders]
    if spec.conditionals:
        lines += ["", "Conditions (`conditional.required`, `conditional.not_applicable`):", ""]
        lines += [f"- `{rule.column}`: {_condition_words(rule)}." for rule in spec.conditionals]
    return "\n".join(lines)


def _rules_section() -> str:
    rules = "\n".join(f"| {n} | `{rule}` | {_cell(RULE_MEANINGS[rule])} |" for n, rule in enumerate(RULE_ORDER, 1))
    return _RULES.format(rules=rules, uscc_wrong=_words([_code(rule) for rule in USCC_WRONG_RULES]))


def render() -> str:
    """The whole data-sources page as Markdown."""
    sections = [
        _HEADER,
        _INTRO,
        _extract_section(),
        _formats_section(),
        _sources_overview(),
        *(render_source(spec) for spec in SOURCES),
        _rules_section(),
        _VERSIONS,
        _OUTPUT,
    ]
    return "\n\n".join(section.strip("\n") for section in sections) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Write the page, or with ``--check`` report whether the committed page is current (exit status 1 if not)."""
    from rich.console import Console

    parser = argparse.ArgumentParser(prog="python -m features.schemas_doc", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the page differs from the declarations")
    parser.add_argument("--output", type=Path, default=DOC_PATH, help="the page (default: docs/data-sources.md)")
    args = parser.parse_args(argv)
    console = Console(stderr=True, highlight=False, markup=False, soft_wrap=True)
    page = render()
    if not args.check:
        args.output.write_text(page, encoding="utf-8", newline="\n")
        console.print(f"wrote {args.output}")
        return 0
    committed = args.output.read_text(encoding="utf-8") if args.output.is_file() else ""
    if committed == page:
        return 0
    diff = list(difflib.unified_diff(committed.splitlines(), page.splitlines(), str(args.output), "render()",
                                     lineterm="", n=1))
    console.print(f"{args.output} is out of date with features/schemas.py; run `python -m features.schemas_doc` "
                  "and commit the page.")
    console.print("\n".join(diff[:40] + (["..."] if len(diff) > 40 else [])))
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
