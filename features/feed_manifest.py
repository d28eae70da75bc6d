"""The feed manifest (``raw/manifest.json``): which provider file feeds which source, in which format and encoding,
with which column names; and what every feed reader yields (``RawChunk``) or raises (``IngestError``).

A source without a declared feed reads ``<source>.csv`` in UTF-8 with canonical names."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from features.schemas import SOURCES, SOURCES_BY_NAME, SourceSpec

MANIFEST = "manifest.json"
FORMATS = ("csv", "parquet", "jsonl")
ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "gb18030": "gb18030", "gbk": "gb18030", "gb2312": "gb18030"}
class IngestError(Exception):
    """A raw extract cannot be ingested at all: a missing file or column, an unreadable file or manifest."""


@dataclass(frozen=True)
class Feed:
    """One provider file for one source, and how to read it."""

    source: str
    path: str
    format: str = "csv"
    encoding: str = "utf-8"
    department: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)

    @property
    def spec(self) -> SourceSpec:
        return SOURCES_BY_NAME[self.source]

    def line_of(self, row: np.ndarray) -> np.ndarray:
        """``_line`` of 0-based data rows: the physical line in CSV (header = line 1) or JSON Lines, the 1-based
        row number in Parquet (empty lines aside)."""
        return row + (2 if self.format == "csv" else 1)

    def describe(self) -> dict[str, Any]:
        """The feed as the report shows it."""
        return {"path": self.path, "format": self.format, "encoding": self.encoding, "department": self.department}


@dataclass(frozen=True)
class Manifest:
    """A region extract: its name, extraction date and feeds in source order."""

    region: str
    extracted_on: date
    feeds: tuple[Feed, ...]

    def feeds_of(self, source: str) -> tuple[Feed, ...]:
        return tuple(feed for feed in self.feeds if feed.source == source)


@dataclass
class RawChunk:
    """Up to ``chunk_rows`` rows of a feed: canonical columns (strings, or typed from Parquet) and their lines.

    ``malformed`` holds rows that could not be split into columns: (line, message, raw text).
    """

    feed: Feed
    columns: dict[str, pa.Array]
    lines: np.ndarray
    malformed: list[tuple[int, str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.lines)


def _feed_from_json(raw_dir: Path, entry: Any, position: int) -> Feed:
    where = f"{raw_dir / MANIFEST}: feeds[{position}]"
    if not isinstance(entry, dict):
        raise IngestError(f"{where} must be an object")
    source = entry.get("source")
    if source not in SOURCES_BY_NAME:
        raise IngestError(f"{where}.source {source!r} is not one of {', '.join(SOURCES_BY_NAME)}")
    path = entry.get("path")
    if not isinstance(path, str) or not path or Path(path).is_absolute() or ".." in Path(path).parts:
        raise IngestError(f"{where}.path must be a file name inside the raw folder, got {path!r}")
    fmt = str(entry.get("format", Path(path).suffix.lstrip(".") or "csv")).lower()
    if fmt not in FORMATS:
        raise IngestError(f"{where}.format {fmt!r} is not one of {', '.join(FORMATS)}")
    encoding = str(entry.get("encoding", "utf-8")).lower()
    if encoding not in ENCODINGS:
        raise IngestError(f"{where}.encoding {encoding!r} is unknown; use one of utf-8, gb18030")
    if fmt == "parquet" and ENCODINGS[encoding] != "utf-8":
        raise IngestError(f"{where}.encoding: Parquet text is always UTF-8, got {encoding!r}")
    columns = entry.get("columns", {}) or {}
    spec = SOURCES_BY_NAME[source]
    if not isinstance(columns, dict) or any(target not in spec.column_names for target in columns.values()):
        unknown = [t for t in (columns.values() if isinstance(columns, dict) else []) if t not in spec.column_names]
        raise IngestError(f"{where}.columns must map provider names to {source} columns; unknown target(s): "
                          f"{', '.join(map(str, unknown)) or 'not an object'}")
    department = entry.get("department")
    return Feed(source, path, fmt, ENCODINGS[encoding], str(department) if department else None,
                {str(k): str(v) for k, v in columns.items()})


def read_manifest(raw_dir: Path) -> Manifest:
    """The region, extraction date and feeds of an extract; a source without a feed reads ``<source>.csv``."""
    raw_dir = Path(raw_dir)
    path = raw_dir / MANIFEST
    if not path.is_file():
        raise IngestError(f"{path}: required file is missing")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        extracted_on = date.fromisoformat(manifest["extracted_on"])
    except (ValueError, KeyError, TypeError) as exc:
        raise IngestError(f"{path}: extracted_on must be a YYYY-MM-DD date ({exc!r})") from exc
    declared = [_feed_from_json(raw_dir, entry, i) for i, entry in enumerate(manifest.get("feeds", []) or [])]
    feeds: list[Feed] = []
    for spec in SOURCES:
        own = [feed for feed in declared if feed.source == spec.name]
        feeds.extend(own or [Feed(spec.name, spec.filename)])
    region = str(manifest.get("region", raw_dir.parent.name))
    return Manifest(region, extracted_on, tuple(feeds))


def canonical_names(feed: Feed, provider_names: list[str], where: str) -> dict[str, str]:
    """Provider column → canonical column for the columns this feed has; refuse when a required one is absent."""
    spec = feed.spec
    mapping: dict[str, str] = {}
    for name in provider_names:
        target = feed.columns.get(name, name)
        if target in spec.column_names and target not in mapping.values():
            mapping[name] = target
    missing = [c for c in spec.column_names if c not in mapping.values()]
    required_missing = [c for c in missing if c in spec.required_names or c in spec.key]
    if required_missing:
        raise IngestError(f"{where}: missing column(s) {', '.join(required_missing)} required by source "
                          f"{spec.name} (after the manifest's column mapping)")
    return mapping


def complete_columns(chunk_columns: dict[str, pa.Array], spec: SourceSpec, n: int) -> dict[str, pa.Array]:
    """Add optional columns the feed does not carry, as empty cells, and order columns canonically."""
    empty = pa.array([""] * n, pa.string()) if n else pa.array([], pa.string())
    return {name: chunk_columns.get(name, empty) for name in spec.column_names}


