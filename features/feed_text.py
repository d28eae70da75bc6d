"""CSV and JSON Lines feeds: whole lines read in blocks as bytes, recoded to UTF-8 (GB18030 feeds included), parsed
by Arrow; a line that cannot be split into columns, or whose bytes are not in the declared encoding, becomes a
malformed row with its line number, and a feed mostly in the wrong encoding is refused whole."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json

from features.feed_manifest import Feed, IngestError, RawChunk, canonical_names, complete_columns
from features.schemas import ColumnKind

FEW_DISTINCT = (ColumnKind.USCC, ColumnKind.CODE, ColumnKind.DATE, ColumnKind.PERIOD, ColumnKind.YEAR)
DICTIONARY = pa.dictionary(pa.int32(), pa.string())


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


def jsonl_chunks(path: Path, feed: Feed, chunk_rows: int) -> Iterator[RawChunk]:
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


def csv_chunks(path: Path, feed: Feed, chunk_rows: int) -> Iterator[RawChunk]:
    """CSV: read blocks of at most ``chunk_rows`` whole lines as bytes, recode to UTF-8, parse with Arrow."""
    chunk_rows = max(1, chunk_rows)
    with path.open("rb") as handle:
        _, names = _header(handle, feed, path)
        mapping = canonical_names(feed, names, str(path))
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
    return RawChunk(feed, complete_columns(columns, feed.spec, table.num_rows), lines, malformed)


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
                name: DICTIONARY if feed.spec.column(target).kind in FEW_DISTINCT else pa.string()
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
    return RawChunk(feed, complete_columns(columns, feed.spec, len(rows)), np.array(kept, dtype=np.int64), malformed)


def _jsonl_chunk(feed: Feed, path: Path, body: bytes, positions: np.ndarray) -> RawChunk:
    try:
        table = pa_json.read_json(io.BytesIO(body), read_options=pa_json.ReadOptions(block_size=1 << 24))
        if table.num_rows != len(positions):
            raise pa.ArrowInvalid("row count differs from line count")
        mapping = canonical_names(feed, table.column_names, str(path))
        columns = {mapping[name]: _plain(table.column(name).combine_chunks()) for name in mapping}
        return RawChunk(feed, complete_columns(columns, feed.spec, table.num_rows), positions)
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
    mapping = canonical_names(feed, names, str(path))
    columns = {target: pa.array(["" if r.get(name) is None else str(r[name]) for r in records], pa.string())
               for name, target in mapping.items()}
    return RawChunk(feed, complete_columns(columns, feed.spec, len(records)), np.array(kept, dtype=np.int64), malformed)


