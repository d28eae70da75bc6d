"""Ingest a region's feeds (docs/data-sources.md): typed, versioned accepted tables, a quarantine and reports.

Registration is ingested first; its accepted codes are the registry for ``uscc.unregistered`` elsewhere.
Each feed is streamed in chunks (``features.feeds``); every row is accepted typed or quarantined with the first
rule it fails (``schemas.RULE_ORDER``); keys are then resolved across the whole source
(``features.ingest_versions``): duplicates dropped and counted, conflicts quarantined, corrections kept as
versions. Output is built in a sibling staging directory and swapped into place only when every source
succeeded, so a failed run leaves the previous good output untouched.

Layout of ``out_dir``::

    accepted/<source>.parquet/   a Parquet dataset (part-NNNNN.parquet, read in name order; pandas.read_parquet
                                 and pyarrow read the folder as one table): typed rows, every version,
                                 + _superseded_on (NaT = current), _file, _line
    quarantine/<source>.parquet  raw strings of every canonical column + _file, _line, _field, _rule, _message
    reports/<source>.json        read = accepted + quarantined + duplicates, by rule, by field, per file
    reports/summary.json         region, extracted_on, totals and every source's report
    reports/quality.json, .html  the data-quality report (features.quality, docs/data-quality.md)

``_line`` is the physical line in a CSV (header = line 1) or JSON Lines file, the row number in Parquet.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter, deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from features.atomic import replace_folder, staging_folder
from features.buckets import buckets_of
from features.feed_manifest import Feed, IngestError, Manifest, read_manifest
from features.feeds import DEFAULT_CHUNK_ROWS, prefetched, read_chunks
from features.ingest_checks import check_chunk, quarantine_schema
from features.ingest_versions import SourceParts, apply_resolution, conflict_quarantine, resolve
from features.quality import write_quality_report
from features.schemas import REGISTRATION, RULE_ORDER, SOURCES, SOURCES_BY_NAME, SourceSpec
from features.uscc import check_uscc_many

__all__ = [
    "FileReport",
    "IngestError",
    "IngestSummary",
    "SourceReport",
    "current",
    "ingest_region",
    "load_accepted",
    "load_quarantine",
    "read_manifest",
]

logger = logging.getLogger(__name__)


@dataclass
class FileReport:
    """What one feed file contributed: rows read, accepted, quarantined and dropped as duplicates."""

    feed: Feed
    read: int = 0
    accepted: int = 0
    quarantined: int = 0
    duplicates: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {**self.feed.describe(), "read": self.read, "accepted": self.accepted,
                "quarantined": self.quarantined, "duplicates": self.duplicates}


@dataclass(frozen=True)
class SourceReport:
    """Data quality of one source: rows read, accepted, quarantined, duplicates and corrections, by rule."""

    source: str
    read: int
    accepted: int
    quarantined: int
    duplicates: int = 0
    corrections: int = 0
    by_rule: Mapping[str, int] = field(default_factory=dict)
    by_field: Mapping[str, int] = field(default_factory=dict)
    uscc_warnings: int = 0
    files: tuple[FileReport, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to ``reports/<source>.json``."""
        return {
            "source": self.source,
            "read": self.read,
            "accepted": self.accepted,
            "quarantined": self.quarantined,
            "duplicates": self.duplicates,
            "corrections": self.corrections,
            "by_rule": dict(self.by_rule),
            "by_field": dict(self.by_field),
            "uscc_warnings": self.uscc_warnings,
            "files": [f.to_dict() for f in self.files],
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

    @property
    def total_duplicates(self) -> int:
        return sum(report.duplicates for report in self.reports)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to ``reports/summary.json``."""
        return {
            "region": self.region,
            "extracted_on": self.extracted_on.isoformat(),
            "total_read": self.total_read,
            "total_accepted": self.total_accepted,
            "total_quarantined": self.total_quarantined,
            "total_duplicates": self.total_duplicates,
            "sources": {report.source: report.to_dict() for report in self.reports},
        }


def ingest_region(raw_dir: Path, out_dir: Path, chunk_rows: int = DEFAULT_CHUNK_ROWS,
                  buckets: int = 1) -> IngestSummary:
    """Validate, type and version every feed in ``raw_dir``; replace ``out_dir`` as a whole only on success.
    Accepted parts hold their rows in ``buckets`` row groups by USCC hash (``features.buckets``): profile builds
    whose partition count divides it read their partitions without a shuffle."""
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    if buckets < 1:
        raise ValueError(f"buckets: must be at least 1, got {buckets}")
    with _reusing_memory():
        return _ingest_region(raw_dir, out_dir, chunk_rows, buckets)


@contextmanager
def _reusing_memory() -> Iterator[None]:
    """Let Arrow allocate from jemalloc while ingesting, where this pyarrow has it: it keeps the memory of a freed
    chunk for the next one, where the default (mimalloc) gives it back to the system at once and faults it in
    again, which cost about a third of the ingest's CPU time in system time (bench/ingest_throughput.py)."""
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:
        yield
        return
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


def _ingest_region(raw_dir: Path, out_dir: Path, chunk_rows: int, buckets: int) -> IngestSummary:
    manifest = read_manifest(raw_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_folder(out_dir)  # also removes what a killed ingest into the same folder left behind
    try:
        for sub in ("accepted", "quarantine", "reports"):
            (staging / sub).mkdir()
        reports: list[SourceReport] = []
        registry: pa.Array | None = None
        registry_buckets: np.ndarray | None = None
        warned: pa.Array | None = None
        for spec in SOURCES:
            report = _ingest_source(raw_dir, staging, manifest, spec, chunk_rows, registry, warned, buckets,
                                    registry_buckets)
            reports.append(report)
            if spec is REGISTRATION:
                codes = pq.read_table(staging / "accepted" / "registration.parquet", columns=["uscc"])
                registry = pc.unique(codes.column("uscc").combine_chunks())
                registry_buckets = buckets_of(registry, buckets) if buckets > 1 else None  # hashed once
                registry_warned = check_uscc_many(registry)[1]
                warned = registry.filter(pa.array(registry_warned))
            logger.info("ingested %s: %d read, %d accepted, %d quarantined, %d duplicates",
                        spec.name, report.read, report.accepted, report.quarantined, report.duplicates)
        summary = IngestSummary(manifest.region, manifest.extracted_on, tuple(reports))
        _write_json(staging / "reports" / "summary.json", summary.to_dict())
        write_quality_report(staging)
        _swap_into_place(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return summary


def _ingest_source(raw_dir: Path, staging: Path, manifest: Manifest, spec: SourceSpec, chunk_rows: int,
                   registry: pa.Array | None, warned: pa.Array | None, buckets: int,
                   registry_buckets: np.ndarray | None) -> SourceReport:
    """Check every feed of one source chunk by chunk, resolve its keys, write accepted, quarantine, report.

    Three steps overlap on two cores: the next chunk is read (``prefetched``) and the previous chunk's accepted
    rows are written (one writer thread) while this chunk is checked; at most four chunks are in memory.
    """
    extracted_on = pd.Timestamp(manifest.extracted_on)
    parts = SourceParts(spec, staging / "accepted" / f"{spec.name}.parquet", registry, buckets, registry_buckets)
    files = {feed.path: FileReport(feed) for feed in manifest.feeds_of(spec.name)}
    rules: Counter[str] = Counter()
    fields: Counter[str] = Counter()
    warnings = 0
    with (pq.ParquetWriter(staging / "quarantine" / f"{spec.name}.parquet", quarantine_schema(spec)) as quarantine,
          ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"write-{spec.name}") as writer):
        writes: deque[Future[None]] = deque()
        for feed in manifest.feeds_of(spec.name):
            for chunk in prefetched(read_chunks(raw_dir, feed, chunk_rows)):
                checked = check_chunk(chunk, spec, extracted_on, registry, warned)
                report = files[feed.path]
                report.read += len(chunk) + len(chunk.malformed)
                report.quarantined += checked.quarantine.num_rows
                _count(checked.quarantine, rules, fields)
                quarantine.write_table(checked.quarantine)
                warnings += checked.uscc_warnings
                if checked.accepted.num_rows:
                    writes.append(writer.submit(parts.add, checked.accepted))
                while len(writes) > 1 or (writes and writes[0].done()):
                    writes.popleft().result()
        while writes:
            writes.popleft().result()
        parts.finish()
        resolution = resolve(parts)
        if len(resolution.conflicts):
            conflicts = conflict_quarantine(spec, resolution.conflicts)
            quarantine.write_table(conflicts)
            _count(conflicts, rules, fields)
    accepted = apply_resolution(parts, resolution)
    for path, report in files.items():
        report.duplicates = resolution.duplicates_by_file.get(path, 0)
        report.quarantined += resolution.conflicts_by_file.get(path, 0)
        report.accepted = report.read - report.quarantined - report.duplicates
    source_report = SourceReport(
        source=spec.name,
        read=sum(f.read for f in files.values()),
        accepted=accepted,
        quarantined=sum(f.quarantined for f in files.values()),
        duplicates=len(resolution.duplicates),
        corrections=len(resolution.superseded_on),
        by_rule={rule: rules[rule] for rule in RULE_ORDER if rules[rule]},
        by_field=dict(sorted(fields.items())),
        uscc_warnings=warnings,
        files=tuple(files.values()),
    )
    _reconcile(source_report)
    _write_json(staging / "reports" / f"{spec.name}.json", source_report.to_dict())
    return source_report


def _count(quarantine: pa.Table, rules: Counter[str], fields: Counter[str]) -> None:
    rules.update(quarantine.column("_rule").to_pylist())
    fields.update(quarantine.column("_field").to_pylist())


def _reconcile(report: SourceReport) -> None:
    """Refuse to go on if the counts do not add up: read = accepted + quarantined + duplicates."""
    if (report.read != report.accepted + report.quarantined + report.duplicates
            or sum(report.by_rule.values()) != report.quarantined):
        raise IngestError(f"{report.source}: counts do not reconcile: read {report.read} != accepted "
                          f"{report.accepted} + quarantined {report.quarantined} + duplicates {report.duplicates}")


def current(frame: pd.DataFrame) -> pd.DataFrame:
    """The current version of every record (corrections applied), without the bookkeeping columns."""
    if "_superseded_on" not in frame.columns:
        return frame
    latest = frame[frame["_superseded_on"].isna()]
    return latest.drop(columns=[c for c in ("_superseded_on", "_file", "_line") if c in latest.columns]).reset_index(
        drop=True)


def _load_output(out_dir: Path, folder: str, source: str) -> pd.DataFrame:
    spec = _spec(source)
    path = Path(out_dir) / folder / f"{spec.name}.parquet"
    if not path.exists():
        raise IngestError(f"{path}: no {folder} table for {spec.name}; run ingest_region first")
    return pq.read_table(path).to_pandas()


def load_accepted(out_dir: Path, source: str) -> pd.DataFrame:
    """One source's accepted table, every version, with _superseded_on (NaT for the current one)."""
    return _load_output(out_dir, "accepted", source)


def load_quarantine(out_dir: Path, source: str) -> pd.DataFrame:
    """One source's quarantine (raw strings plus _file, _line, _field, _rule, _message)."""
    return _load_output(out_dir, "quarantine", source)


def _spec(source: str) -> SourceSpec:
    try:
        return SOURCES_BY_NAME[source]
    except KeyError:
        raise IngestError(f"unknown source {source!r}; expected one of {', '.join(SOURCES_BY_NAME)}") from None


def _write_json(path: Path, payload: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _swap_into_place(staging: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` with ``staging`` in one step (crash-safe: ``features.atomic``, tests/reliability)."""
    replace_folder(staging, out_dir)
