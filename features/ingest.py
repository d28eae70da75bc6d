"""Ingest a region's raw files (docs/raw-files.md): typed accepted tables, a quarantine and data-quality reports.

Registration is ingested first; its accepted codes are the registry for ``uscc.unregistered`` in the other
sources. Every row is either accepted (typed) or quarantined with the first rule it fails, in the order of
``schemas.RULE_ORDER``. Output is built in a sibling staging directory and swapped into place only when every
source succeeded, so a failed run leaves the previous good output untouched.

Layout of ``out_dir``::

    accepted/<source>.parquet    typed rows: dates and periods datetime64[ns], numbers float64, text str
    quarantine/<source>.parquet  raw strings of every contract column + _line, _field, _rule, _message
    reports/<source>.json        {source, read, accepted, quarantined, by_rule, by_field, uscc_warnings}
    reports/summary.json         region, extracted_on, totals and every source's report

``_line`` is the 1-based line of the row in its file (header = line 1, blank lines counted); ``out_dir`` belongs
to ingest and is replaced as a whole.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.ingest_checks import QUARANTINE_COLUMNS, CheckedSource, UsccVerdict, check_source
from features.schemas import REGISTRATION, SOURCES, SOURCES_BY_NAME, ColumnKind, SourceSpec

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"


class IngestError(Exception):
    """A raw extract cannot be ingested at all: a missing file or column, an unreadable CSV or manifest."""


@dataclass(frozen=True)
class SourceReport:
    """Data quality of one source file: rows read, accepted and quarantined, by rule and by field."""

    source: str
    read: int
    accepted: int
    quarantined: int
    by_rule: Mapping[str, int] = field(default_factory=dict)
    by_field: Mapping[str, int] = field(default_factory=dict)
    uscc_warnings: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to ``reports/<source>.json``."""
        return {
            "source": self.source,
            "read": self.read,
            "accepted": self.accepted,
            "quarantined": self.quarantined,
            "by_rule": dict(self.by_rule),
            "by_field": dict(self.by_field),
            "uscc_warnings": self.uscc_warnings,
        }


@dataclass(frozen=True)
class IngestSummary:
    """The outcome of one region's ingest: one report per source, in ingest order, and the totals."""

    region: str
    extracted_on: date
    reports: tuple[SourceReport, ...]

    @property
    def by_source(self) -> dict[str, SourceReport]:
        """Reports keyed by source name."""
        return {report.source: report for report in self.reports}

    @property
    def total_read(self) -> int:
        return sum(report.read for report in self.reports)

    @property
    def total_accepted(self) -> int:
        return sum(report.accepted for report in self.reports)

    @property
    def total_quarantined(self) -> int:
        return sum(report.quarantined for report in self.reports)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to ``reports/summary.json``."""
        return {
            "region": self.region,
            "extracted_on": self.extracted_on.isoformat(),
            "total_read": self.total_read,
            "total_accepted": self.total_accepted,
            "total_quarantined": self.total_quarantined,
            "sources": {report.source: report.to_dict() for report in self.reports},
        }


def ingest_region(raw_dir: Path, out_dir: Path) -> IngestSummary:
    """Validate and type every raw file in ``raw_dir``; replace ``out_dir`` as a whole only on success."""
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    region, extracted_on = read_manifest(raw_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.staging-", dir=out_dir.parent))
    try:
        for sub in ("accepted", "quarantine", "reports"):
            (staging / sub).mkdir()
        reports: list[SourceReport] = []
        registry: set[str] | None = None
        uscc_book: dict[str, UsccVerdict] = {}
        for spec in SOURCES:
            frame = read_raw(raw_dir, spec)
            checked = check_source(frame, spec, pd.Timestamp(extracted_on), registry, uscc_book)
            report = _report(spec, len(frame), checked)
            _write_source(staging, spec, checked, report)
            reports.append(report)
            if spec is REGISTRATION:
                registry = set(checked.accepted["uscc"])
            logger.info("ingested %s: %d read, %d accepted, %d quarantined",
                        spec.name, report.read, report.accepted, report.quarantined)
        summary = IngestSummary(region, extracted_on, tuple(reports))
        _write_json(staging / "reports" / "summary.json", summary.to_dict())
        _swap_into_place(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return summary


def _load_output(out_dir: Path, folder: str, source: str) -> pd.DataFrame:
    spec = _spec(source)
    path = Path(out_dir) / folder / f"{spec.name}.parquet"
    if not path.is_file():
        raise IngestError(f"{path}: no {folder} table for {spec.name}; run ingest_region first")
    return pq.read_table(path).to_pandas()


def load_accepted(out_dir: Path, source: str) -> pd.DataFrame:
    """Read one source's accepted, typed table back from an ingest output directory."""
    return _load_output(out_dir, "accepted", source)


def load_quarantine(out_dir: Path, source: str) -> pd.DataFrame:
    """Read one source's quarantine (raw strings plus _line, _field, _rule, _message) back."""
    return _load_output(out_dir, "quarantine", source)


def read_manifest(raw_dir: Path) -> tuple[str, date]:
    """The region name and extraction date from ``manifest.json``."""
    path = Path(raw_dir) / MANIFEST
    if not path.is_file():
        raise IngestError(f"{path}: required file is missing")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        extracted_on = date.fromisoformat(manifest["extracted_on"])
    except (ValueError, KeyError, TypeError) as exc:
        raise IngestError(f"{path}: extracted_on must be a YYYY-MM-DD date ({exc!r})") from exc
    return str(manifest.get("region", Path(raw_dir).parent.name)), extracted_on


def read_raw(raw_dir: Path, spec: SourceSpec) -> pd.DataFrame:
    """One raw CSV as strings (empty string = missing), with exactly the contract columns, in contract order."""
    path = Path(raw_dir) / spec.filename
    if not path.is_file():
        raise IngestError(f"{path}: required file for source {spec.name} is missing")
    try:
        # na_filter=False: nothing is read as NaN, the trailing cells of a short row included ("").
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig",
                            skip_blank_lines=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise IngestError(f"{path}: not a readable UTF-8 CSV with a header row ({exc})") from exc
    missing = [name for name in spec.column_names if name not in frame.columns]
    if missing:
        raise IngestError(f"{path}: missing column(s) {', '.join(missing)} required by source {spec.name}")
    extra = [str(name) for name in frame.columns if name not in spec.column_names]
    if extra:
        logger.warning("%s: ignoring column(s) not in the contract: %s", path, ", ".join(extra))
    return frame[list(spec.column_names)].reset_index(drop=True)


def _spec(source: str) -> SourceSpec:
    try:
        return SOURCES_BY_NAME[source]
    except KeyError:
        raise IngestError(f"unknown source {source!r}; expected one of {', '.join(SOURCES_BY_NAME)}") from None


def _report(spec: SourceSpec, read: int, checked: CheckedSource) -> SourceReport:
    """Count the outcome and refuse to go on if the counts do not reconcile."""
    report = SourceReport(spec.name, read, len(checked.accepted), len(checked.quarantine),
                          checked.by_rule, checked.by_field, checked.uscc_warnings)
    if report.read != report.accepted + report.quarantined or sum(report.by_rule.values()) != report.quarantined:
        raise IngestError(f"{spec.name}: counts do not reconcile: read {report.read} != accepted "
                          f"{report.accepted} + quarantined {report.quarantined}")
    return report


def _arrow_type(kind: ColumnKind) -> pa.DataType:
    if kind in (ColumnKind.DATE, ColumnKind.PERIOD):
        return pa.timestamp("ns")
    if kind in (ColumnKind.NUMBER, ColumnKind.AMOUNT):
        return pa.float64()
    return pa.string()


def accepted_schema(spec: SourceSpec) -> pa.Schema:
    """Arrow schema of an accepted table: the contract columns, typed."""
    return pa.schema([pa.field(c.name, _arrow_type(c.kind)) for c in spec.columns])


def quarantine_schema(spec: SourceSpec) -> pa.Schema:
    """Arrow schema of a quarantine: every contract column as the raw string, then the verdict columns."""
    fields = [pa.field(name, pa.string()) for name in spec.column_names]
    fields.append(pa.field("_line", pa.int64()))
    fields.extend(pa.field(name, pa.string()) for name in QUARANTINE_COLUMNS[1:])
    return pa.schema(fields)


def _write_source(staging: Path, spec: SourceSpec, checked: CheckedSource, report: SourceReport) -> None:
    for sub, frame, schema in (("accepted", checked.accepted, accepted_schema(spec)),
                               ("quarantine", checked.quarantine, quarantine_schema(spec))):
        table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
        pq.write_table(table, staging / sub / f"{spec.name}.parquet")
    _write_json(staging / "reports" / f"{spec.name}.json", report.to_dict())


def _write_json(path: Path, payload: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _swap_into_place(staging: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` with ``staging`` by renames, restoring the previous output if the swap fails."""
    if not out_dir.exists():
        os.replace(staging, out_dir)
        return
    previous = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.previous-", dir=out_dir.parent))
    previous.rmdir()
    os.replace(out_dir, previous)
    try:
        os.replace(staging, out_dir)
    except OSError:
        os.replace(previous, out_dir)
        raise
    shutil.rmtree(previous, ignore_errors=True)
