"""Feed files as providers send them: CSV, Parquet or JSON Lines, UTF-8 or GB18030, their own column names.

``raw/manifest.json`` declares each feed (source, path, format, encoding, department, provider column →
canonical column); a source without a declared feed reads ``<source>.csv`` in UTF-8 with canonical names.
``read_chunks`` streams a feed in chunks of canonical columns with each row's physical line, so memory is set
by the chunk size, not the file size. A feed that cannot be read at all (missing file or required column,
unknown encoding or format, bytes that are not in its encoding) raises ``IngestError`` naming the problem.
"""

from __future__ import annotations

import csv
import io
import json
import queue
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from features.schemas import SOURCES, SOURCES_BY_NAME, ColumnKind, SourceSpec

MANIFEST = "manifest.json"
FORMATS = ("csv", "parquet", "jsonl")
ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "gb18030": "gb18030", "gbk": "gb18030", "gb2312": "gb18030"}
DEFAULT_CHUNK_ROWS = 250_000  # faster than a million (cache-sized arrays) and a third of the memory
T = TypeVar("T")


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


def _canonical_names(feed: Feed, provider_names: list[str], where: str) -> dict[str, str]:
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


def _complete(chunk_columns: dict[str, pa.Array], spec: SourceSpec, n: int) -> dict[str, pa.Array]:
    """Add optional columns the feed does not carry, as empty cells, and order columns canonically."""
    empty = pa.array([""] * n, pa.string()) if n else pa.array([], pa.string())
    return {name: chunk_columns.get(name, empty) for name in spec.column_names}


def read_chunks(raw_dir: Path, feed: Feed, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[RawChunk]:
    """Stream one feed in chunks of canonical columns; raises IngestError when the file cannot be read."""
    path = Path(raw_dir) / feed.path
    if not path.is_file():
        raise IngestError(f"{path}: required file for source {feed.source} is missing")
    try:
        if feed.format == "parquet":
            yield from _parquet_chunks(path, feed, chunk_rows)
        elif feed.format == "csv":
            yield from _csv_chunks(path, feed, chunk_rows)
        else:
            yield from _jsonl_chunks(path, feed, chunk_rows)
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}: bytes at offset {exc.start} of a chunk are not valid {feed.encoding} "
                          f"({exc.reason}); declare the feed's encoding in the manifest") from exc
    except (pa.ArrowInvalid, OSError) as exc:
        if "UTF8" in str(exc) or "utf8" in str(exc).lower():
            raise IngestError(f"{path}: text is not valid {feed.encoding}; declare the feed's encoding "
                              f"in the manifest ({exc})") from exc
        raise IngestError(f"{path}: not a readable {feed.format} file ({exc})") from exc


def _parquet_chunks(path: Path, feed: Feed, chunk_rows: int) -> Iterator[RawChunk]:
    """Batches of ``chunk_rows`` rows, decoded page by page: a row group of any size is never held whole (pre-
    buffering would cache every column chunk read so far, 300 MiB for the bench's 10 million rows)."""
    schema = pq.read_schema(path)
    mapping = _canonical_names(feed, schema.names, str(path))
    parquet = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20,
                             read_dictionary=_dictionary_columns(feed, schema, mapping))
    first = 0
    for batch in parquet.iter_batches(batch_size=chunk_rows, columns=list(mapping)):
        columns = {mapping[name]: batch.column(name) for name in mapping}
        n = batch.num_rows
        lines = feed.line_of(np.arange(first, first + n, dtype=np.int64))
        yield RawChunk(feed, _complete(columns, feed.spec, n), lines)
        first += n


_FEW_DISTINCT = (ColumnKind.USCC, ColumnKind.CODE, ColumnKind.DATE, ColumnKind.PERIOD, ColumnKind.YEAR)
_DICTIONARY = pa.dictionary(pa.int32(), pa.string())


def _dictionary_columns(feed: Feed, schema: pa.Schema, mapping: dict[str, str]) -> list[str]:
    """Text columns whose values repeat (codes and dates) are read dictionary-encoded: Parquet stores them so,
    Arrow then skips building every string, and the checks run once per distinct value."""
    return [name for name, target in mapping.items()
            if feed.spec.column(target).kind in _FEW_DISTINCT and pa.types.is_string(schema.field(name).type)]


def _header(handle: BinaryIO, feed: Feed, path: Path) -> tuple[bytes, list[str]]:
    first = handle.readline()
    if feed.format == "jsonl":
        return b"", []
    if not first.strip():
        raise IngestError(f"{path}: no header row; a CSV feed starts with its column names")
    text = first.decode(feed.encoding).lstrip("\ufeff")
    first_row = pa_csv.read_csv(io.BytesIO(text.encode("utf-8")), read_options=pa_csv.ReadOptions(
        autogenerate_column_names=True), convert_options=pa_csv.ConvertOptions(strings_can_be_null=False))
    names: list[str] = [str(first_row.column(i)[0].as_py()) for i in range(first_row.num_columns)]
    return text.encode("utf-8"), names


def _jsonl_chunks(path: Path, feed: Feed, chunk_rows: int) -> Iterator[RawChunk]:
    """JSON Lines: read whole lines in chunks, recode to UTF-8, parse with Arrow."""
    tally = _Undecodable(path, feed.encoding)
    with path.open("rb") as handle:
        line = 1
        while True:
            lines = handle.readlines(max(1, chunk_rows) * 96)
            if not lines:
                break
            body, undecodable = _recode(b"".join(lines), feed.encoding, line)
            tally.add(len(lines), undecodable)
            if line == 1 and body.startswith(b"\xef\xbb\xbf"):
                body = body[3:]
            chunk = _jsonl_chunk(feed, path, body, _line_numbers(body, line))
            chunk.malformed = sorted(chunk.malformed + undecodable)
            yield chunk
            line += len(lines)
    tally.judge()


def _csv_chunks(path: Path, feed: Feed, chunk_rows: int) -> Iterator[RawChunk]:
    """CSV: read blocks of at most ``chunk_rows`` whole lines as bytes, recode to UTF-8, parse with Arrow."""
    chunk_rows = max(1, chunk_rows)
    with path.open("rb") as handle:
        _, names = _header(handle, feed, path)
        mapping = _canonical_names(feed, names, str(path))
        line, carry, line_bytes = 2, b"", 96
        tally = _Undecodable(path, feed.encoding)
        while True:
            block = carry + handle.read(max(0, chunk_rows * line_bytes - len(carry)))
            if block and not block.endswith(b"\n"):
                block += handle.readline()  # finish the last line (grown in place: less memory than a join)
            if not block:
                break
            block, carry, ends = _first_lines(block, chunk_rows)
            n_lines = len(ends)
            body, undecodable = _recode(block, feed.encoding, line)
            tally.add(n_lines, undecodable)
            if line == 2 and body.startswith(b"\xef\xbb\xbf"):
                body = body[3:]
            positions = _line_numbers(body, line, ends if body is block else None)
            chunk = _csv_chunk(feed, names, body, positions, mapping)
            chunk.malformed = sorted(chunk.malformed + undecodable)
            yield chunk
            line += n_lines
            line_bytes = max(8, len(block) // n_lines)  # the next read aims at chunk_rows lines
        tally.judge()


def _is_utf8(data: bytes) -> bool:
    """Arrow's UTF-8 validation over the bytes as they are (no copy; several times faster than decoding)."""
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int32))
    try:
        pa.Array.from_buffers(pa.binary(), 1, [None, offsets, pa.py_buffer(data)]).cast(pa.string())
    except pa.ArrowInvalid:
        return False
    return True


def _recode(block: bytes, encoding: str, first: int) -> tuple[bytes, list[tuple[int, str, str]]]:
    """Whole lines, the first being line ``first``, as UTF-8, and the lines whose bytes are not valid in
    ``encoding`` as (line, message, text): such a line is blanked (a blank line is not a row, and the others
    keep their numbers) and quarantined as ``row.format``."""
    if encoding == "utf-8" and _is_utf8(block):
        return block, []
    if encoding != "utf-8":
        try:
            return block.decode(encoding).encode("utf-8"), []
        except UnicodeDecodeError:
            pass
    lines = block.split(b"\n")
    undecodable: list[tuple[int, str, str]] = []
    for offset, raw in enumerate(lines):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            lines[offset] = b""
            where = f"byte {exc.end} is" if exc.end == exc.start + 1 else f"bytes {exc.start + 1}-{exc.end} are"
            undecodable.append((first + offset, f"{where} not valid {encoding} ({exc.reason}) (row.format)",
                                raw.rstrip(b"\r").decode(encoding, "backslashreplace")[:200]))
            continue
        if encoding != "utf-8":
            lines[offset] = text.encode("utf-8")
    return b"\n".join(lines), undecodable


@dataclass
class _Undecodable:
    """Lines of one file read so far and those not valid in its encoding. A few such lines are quarantined;
    when they are more than half, the file is not in its declared encoding and is refused whole: judged at
    the end of the file, or as soon as it holds over ``EARLY`` lines, whatever the chunk size."""

    path: Path
    encoding: str
    lines: int = 0
    bad: int = 0
    first: tuple[int, str] | None = None
    EARLY = 10_000

    def add(self, lines: int, undecodable: list[tuple[int, str, str]]) -> None:
        self.lines += lines
        self.bad += len(undecodable)
        if undecodable and self.first is None:
            self.first = undecodable[0][:2]
        if self.lines >= self.EARLY:
            self.judge()

    def judge(self) -> None:
        if self.first is not None and 2 * self.bad > self.lines:
            number, message = self.first
            raise IngestError(f"{self.path}: {self.bad} of {self.lines} lines are not valid {self.encoding} "
                              f"(line {number}: {message.removesuffix(' (row.format)')}); declare the feed's "
                              "encoding in the manifest")


def _line_ends(data: bytes) -> np.ndarray:
    """Where each line of ``data`` ends: its newline, or the end of the data for a last line without one.

    One vectorised pass (counting and searching the bytes from Python scans them once per question asked)."""
    if not data:
        return np.array([], dtype=np.int64)
    array = np.frombuffer(data, dtype=np.uint8)
    step = 1 << 22  # compared a few MiB at a time: a mask of the whole block would cost its size again
    ends = np.concatenate([np.flatnonzero(array[start:start + step] == 10) + start
                           for start in range(0, len(array), step)])
    return ends if data.endswith(b"\n") else np.append(ends, len(data))


def _first_lines(block: bytes, n: int) -> tuple[bytes, bytes, np.ndarray]:
    """The first ``n`` lines of ``block``, the rest, and where each of those first lines ends."""
    ends = _line_ends(block)
    if len(ends) <= n:
        return block, b"", ends
    cut = int(ends[n - 1]) + 1
    return block[:cut], block[cut:], ends[:n]


def _line_numbers(body: bytes, first: int, ends: np.ndarray | None = None) -> np.ndarray:
    """Physical line numbers of the non-empty lines of ``body`` (an empty line, or a lone carriage return, is
    not a row); ``ends`` are the lines' ends when already known."""
    if not body:
        return np.array([], dtype=np.int64)
    ends = _line_ends(body) if ends is None else ends
    lengths = np.diff(ends, prepend=-1) - 1
    short = np.flatnonzero(lengths <= 1)  # few: only these can be blank
    data = np.frombuffer(body, dtype=np.uint8)
    blank = short[(lengths[short] == 0) | (data[np.maximum(ends[short] - 1, 0)] == 13)]
    if not len(blank):
        return np.arange(first, first + len(ends), dtype=np.int64)
    return first + np.delete(np.arange(len(ends), dtype=np.int64), blank)


_MALFORMED = "not as many comma-separated fields as the header (row.format)"


def _csv_chunk(feed: Feed, names: list[str], body: bytes, positions: np.ndarray,
               mapping: dict[str, str]) -> RawChunk:
    """One block of whole lines: Arrow parses it on every core; a row with the wrong number of fields is kept
    apart with its line. Every row must be one physical line: when a quoted value holds a line break (or a lone
    carriage return splits a line) the block is read line by line instead."""
    table, malformed_rows = _parse_csv(feed, names, body, mapping, numbered=False)
    if table.num_rows + len(malformed_rows) != len(positions):
        return _csv_chunk_line_by_line(feed, names, body, positions, mapping)
    lines = positions
    malformed: list[tuple[int, str, str]] = []
    if malformed_rows:  # Arrow numbers rows only when it parses on one thread
        table, malformed_rows = _parse_csv(feed, names, body, mapping, numbered=True)
        bad = np.array([number - 1 for number, _ in malformed_rows], dtype=np.int64)
        malformed = [(int(positions[i]), _MALFORMED, text[:200])
                     for i, (_, text) in zip(bad, malformed_rows, strict=True)]
        keep = np.ones(len(positions), dtype=bool)
        keep[bad] = False
        lines = positions[keep]
    columns = {mapping[name]: table.column(name).combine_chunks() for name in mapping}
    return RawChunk(feed, _complete(columns, feed.spec, table.num_rows), lines, malformed)


def _parse_csv(feed: Feed, names: list[str], body: bytes, mapping: dict[str, str],
               numbered: bool) -> tuple[pa.Table, list[tuple[int, str]]]:
    """Arrow's parser over a block without its header; rows with the wrong number of fields are returned apart
    as (row number among the non-empty lines, 1-based, or -1 when not ``numbered``; text). Codes and dates
    come dictionary-encoded (as from Parquet: no dearer to parse, and checked once per distinct value)."""
    malformed_rows: list[tuple[int, str]] = []

    def handler(row: Any) -> str:
        malformed_rows.append((-1 if row.number is None else int(row.number), str(row.text)))
        return "skip"

    table = pa_csv.read_csv(
        io.BytesIO(body),
        read_options=pa_csv.ReadOptions(use_threads=not numbered, column_names=names,
                                        block_size=max(1 << 20, len(body) // 4 + 1)),
        parse_options=pa_csv.ParseOptions(invalid_row_handler=handler),
        convert_options=pa_csv.ConvertOptions(
            include_columns=list(mapping), column_types={
                name: _DICTIONARY if feed.spec.column(target).kind in _FEW_DISTINCT else pa.string()
                for name, target in mapping.items()},
            strings_can_be_null=False, quoted_strings_can_be_null=False),
    )
    return table, malformed_rows


def _csv_chunk_line_by_line(feed: Feed, names: list[str], body: bytes, positions: np.ndarray,
                            mapping: dict[str, str]) -> RawChunk:
    """The slow path: each non-empty physical line is one row; a line that does not hold exactly the header's
    fields on its own (a quoted value that goes on to the next line, say) is malformed."""
    texts = [t.rstrip("\r") for t in body.decode("utf-8").split("\n")]
    rows: list[list[str]] = []
    kept: list[int] = []
    malformed: list[tuple[int, str, str]] = []
    for number, text in zip(positions, [t for t in texts if t], strict=True):
        try:
            fields = next(csv.reader([text], strict=True))
        except (csv.Error, StopIteration):
            fields = []
        if len(fields) != len(names):
            malformed.append((int(number), _MALFORMED, text[:200]))
            continue
        rows.append(fields)
        kept.append(int(number))
    columns = {target: pa.array([row[names.index(name)] for row in rows], pa.string())
               for name, target in mapping.items()}
    return RawChunk(feed, _complete(columns, feed.spec, len(rows)), np.array(kept, dtype=np.int64), malformed)


def _jsonl_chunk(feed: Feed, path: Path, body: bytes, positions: np.ndarray) -> RawChunk:
    try:
        table = pa_json.read_json(io.BytesIO(body), read_options=pa_json.ReadOptions(block_size=1 << 24))
        if table.num_rows != len(positions):
            raise pa.ArrowInvalid("row count differs from line count")
        mapping = _canonical_names(feed, table.column_names, str(path))
        columns = {mapping[name]: _plain(table.column(name).combine_chunks()) for name in mapping}
        return RawChunk(feed, _complete(columns, feed.spec, table.num_rows), positions)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return _jsonl_chunk_line_by_line(feed, path, body, positions)


def _plain(array: pa.Array) -> pa.Array:
    """Arrow infers numbers and ISO dates in JSON; keep those typed (the checks take them as they are), and
    turn anything else (booleans, nested values) into its text."""
    kind = array.type
    if (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_integer(kind)
            or pa.types.is_floating(kind) or pa.types.is_timestamp(kind) or pa.types.is_date(kind)):
        return array
    return pc.cast(array, pa.string())


def _jsonl_chunk_line_by_line(feed: Feed, path: Path, body: bytes, positions: np.ndarray) -> RawChunk:
    """The slow path for a chunk Arrow cannot read as a whole: each line parsed alone, bad lines kept apart."""
    records: list[dict[str, Any]] = []
    kept: list[int] = []
    malformed: list[tuple[int, str, str]] = []
    texts = [text for text in body.decode("utf-8").split("\n") if text not in ("", "\r")]
    for number, text in zip(positions, texts, strict=True):
        try:
            record = json.loads(text)
            if not isinstance(record, dict):
                raise ValueError("a JSON Lines row must be an object")
        except ValueError as exc:
            malformed.append((int(number), f"not a JSON object ({exc}) (row.format)", text[:200]))
            continue
        records.append(record)
        kept.append(int(number))
    names = sorted({name for record in records for name in record})
    mapping = _canonical_names(feed, names, str(path))
    columns = {target: pa.array(["" if r.get(name) is None else str(r[name]) for r in records], pa.string())
               for name, target in mapping.items()}
    return RawChunk(feed, _complete(columns, feed.spec, len(records)), np.array(kept, dtype=np.int64), malformed)


_END = object()


def prefetched(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """Yield ``items`` while a background thread already produces the next ``depth`` of them.

    Reading and parsing run in Arrow's C++ code without the GIL, so the next chunk is read while the caller
    checks this one. An exception in the producer is raised here; leaving early stops the producer.
    """
    ready: queue.Queue[tuple[Any, BaseException | None]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[Any, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((_END, None))
        except BaseException as exc:  # handed to the consumer, which raises it
            put((None, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, error = ready.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        thread.join()
