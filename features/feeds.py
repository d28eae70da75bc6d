"""Reading feed files as providers send them: CSV, Parquet or JSON Lines, UTF-8 or GB18030, their own column names.

``read_chunks`` streams a feed declared in the manifest (``features.feed_manifest``) in chunks of canonical columns
with each row's physical line, so memory is set by the chunk size, not the file size: Parquet here, CSV and JSON
Lines in ``features.feed_text``. A feed that cannot be read at all (missing file or required column, unknown
encoding or format, bytes that are not in its encoding) raises ``IngestError`` naming the problem.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from features.feed_manifest import Feed, IngestError, RawChunk, canonical_names, complete_columns
from features.feed_text import FEW_DISTINCT, csv_chunks, jsonl_chunks

DEFAULT_CHUNK_ROWS = 250_000  # faster than a million (cache-sized arrays) and a third of the memory
T = TypeVar("T")


def read_chunks(raw_dir: Path, feed: Feed, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[RawChunk]:
    """Stream one feed in chunks of canonical columns; raises IngestError when the file cannot be read."""
    path = Path(raw_dir) / feed.path
    if not path.is_file():
        raise IngestError(f"{path}: required file for source {feed.source} is missing")
    try:
        if feed.format == "parquet":
            yield from _parquet_chunks(path, feed, chunk_rows)
        elif feed.format == "csv":
            yield from csv_chunks(path, feed, chunk_rows)
        else:
            yield from jsonl_chunks(path, feed, chunk_rows)
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
    mapping = canonical_names(feed, schema.names, str(path))
    parquet = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20,
                             read_dictionary=_dictionary_columns(feed, schema, mapping))
    first = 0
    for batch in parquet.iter_batches(batch_size=chunk_rows, columns=list(mapping)):
        columns = {mapping[name]: batch.column(name) for name in mapping}
        n = batch.num_rows
        lines = feed.line_of(np.arange(first, first + n, dtype=np.int64))
        yield RawChunk(feed, complete_columns(columns, feed.spec, n), lines)
        first += n


def _dictionary_columns(feed: Feed, schema: pa.Schema, mapping: dict[str, str]) -> list[str]:
    """Text columns whose values repeat (codes and dates) are read dictionary-encoded: Parquet stores them so,
    Arrow then skips building every string, and the checks run once per distinct value."""
    return [name for name, target in mapping.items()
            if feed.spec.column(target).kind in FEW_DISTINCT and pa.types.is_string(schema.field(name).type)]


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
