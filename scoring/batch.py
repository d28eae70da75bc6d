"""Batch scoring of a whole region (批量评分): profiles Parquet in, scores Parquet out, chunk by chunk, resumable.

The input is a profiles Parquet file or a folder of them (a profile snapshot: ``part-*.parquet`` and its
``_manifest.json``). Rows are cut into chunks of ``chunk_rows`` per input file, in file order, so the same
input always makes the same chunks. Each chunk is scored and written as ``part-NNNNN.parquet`` in the output
folder: first under a hidden temporary name, then renamed, then recorded in ``_manifest.json`` (itself
replaced atomically). A crash therefore leaves finished parts and no half part; a re-run with the same input,
model and options skips the chunks the manifest records. The output folder reads as one table
(``pandas.read_parquet(out)``; files starting with ``_`` or ``.`` are not data).

What a row gets:

- always ``uscc`` (and ``as_of`` when the input has it), ``pd``, ``score``, ``grade``;
- with ``reasons``: ``reasons_lowering`` and ``reasons_raising``, lists of (feature, points, value, text_zh,
  text_en), from one ``pred_contrib`` call per chunk;
- with policy facts (the ``records.parquet`` and ``evidence.parquet`` the pipeline writes under
  ``policy/``): ``decision``, ``pre_credit_limit``, ``limit_binding``, ``policy_hits`` (rule ids),
  ``insufficient_data`` (codes) and ``rule_set_version``, each row through ``PreCreditPolicy.assess``, the
  one place those rules live. Without facts there is no decision: policy rules and the limit need them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from scoring.facts import PolicyFacts, facts_by_enterprise
from scoring.precredit import PreCreditPolicy
from scoring.reasons import top_reasons
from scoring.service import ScoreService, fill_rows
from scoring.types import Reason, ScoreResult

MANIFEST = "_manifest.json"
MANIFEST_VERSION = 1
CHUNK_ROWS = 100_000
"""Rows per part: big enough that LightGBM's per-call cost vanishes, small enough to redo after a crash."""


class BatchMismatchError(ValueError):
    """The output folder holds a run of other input, model or options: resuming it would mix two runs."""


@dataclass(frozen=True)
class Chunk:
    """Rows ``start``–``stop`` of input file ``file``; ``index`` names its part."""

    index: int
    file: int
    start: int
    stop: int

    @property
    def part_name(self) -> str:
        """The part file this chunk is written to."""
        return f"part-{self.index:05d}.parquet"


@dataclass(frozen=True)
class ChunkDone:
    """Progress of a run, after each chunk: rows done so far (skipped chunks included) of all rows."""

    chunk: Chunk
    rows_done: int
    rows_total: int
    skipped: bool


@dataclass(frozen=True)
class BatchResult:
    """What a run did: rows and chunks in all, chunks scored now and skipped as already finished."""

    out_dir: Path
    rows: int
    chunks: int
    scored_chunks: int
    skipped_chunks: int
    with_policy: bool
    with_reasons: bool


@dataclass(frozen=True)
class PolicyInputs:
    """Policy facts for the batch: records in force and revenue evidence, and the policy that reads them."""

    policy: PreCreditPolicy
    records: pd.DataFrame
    evidence: pd.DataFrame

    @classmethod
    def from_dir(cls, policy: PreCreditPolicy, facts_dir: Path) -> PolicyInputs:
        """``records.parquet`` and ``evidence.parquet`` as the pipeline's policy-facts stage writes them."""
        records = pd.read_parquet(Path(facts_dir) / "records.parquet")
        evidence = pd.read_parquet(Path(facts_dir) / "evidence.parquet")
        return cls(policy, records, evidence.set_index("uscc") if "uscc" in evidence.columns else evidence)

    def facts_for(self, usccs: Sequence[str]) -> dict[str, PolicyFacts]:
        """The facts of ``usccs`` (empty ones for an enterprise without records or evidence)."""
        wanted = set(usccs)
        records = self.records[self.records["uscc"].astype(str).isin(wanted)]
        evidence = self.evidence[self.evidence.index.astype(str).isin(wanted)]
        packed = facts_by_enterprise(records, evidence, usccs)
        return {uscc: PolicyFacts.from_json(data) for uscc, data in packed.items()}


def input_files(source: Path) -> list[Path]:
    """The Parquet files of a profiles file or folder, in name order."""
    source = Path(source)
    if source.is_file():
        return [source]
    files = sorted(p for p in source.glob("*.parquet") if not p.name.startswith((".", "_")))
    if not files:
        raise FileNotFoundError(f"no Parquet files in {source}")
    return files


def plan_chunks(files: Sequence[Path], chunk_rows: int) -> list[Chunk]:
    """The chunks of ``files`` from their Parquet metadata alone: ``chunk_rows`` rows each, per file."""
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    chunks: list[Chunk] = []
    for f, path in enumerate(files):
        rows = pq.ParquetFile(path).metadata.num_rows
        for start in range(0, rows, chunk_rows):
            chunks.append(Chunk(len(chunks), f, start, min(start + chunk_rows, rows)))
    return chunks


def score_batch(
    source: Path,
    out_dir: Path,
    service: ScoreService,
    *,
    reasons: bool = False,
    policy: PolicyInputs | None = None,
    profile_as_of: date | None = None,
    chunk_rows: int = CHUNK_ROWS,
    num_threads: int | None = None,
    on_chunk: Callable[[ChunkDone], None] | None = None,
) -> BatchResult:
    """Score every profile in ``source`` into the Parquet folder ``out_dir``, resuming a finished part of it.

    ``profile_as_of`` stands for the profile date where the input has no ``as_of`` column (a snapshot's
    manifest gives it otherwise); it is needed only with ``policy``. Raises :class:`BatchMismatchError` when
    ``out_dir`` holds a run of another input, model or options.
    """
    files = input_files(source)
    chunks = plan_chunks(files, chunk_rows)
    as_of = profile_as_of or _snapshot_as_of(Path(source))
    identity = _identity(files, service, reasons, policy, as_of, chunk_rows)
    out = Path(out_dir)
    manifest = _open_manifest(out, identity, len(chunks))
    done: dict[str, int] = manifest["done"]
    total = sum(c.stop - c.start for c in chunks)
    rows_done = scored = skipped = 0
    writer = _ChunkScorer(service, reasons, policy, as_of, num_threads)
    for chunk, table in _read_chunks(files, chunks, skip=lambda c: _finished(out, c, done), service=service):
        if table is None:
            skipped += 1
        else:
            part = writer.score(table)
            tmp = out / f".{chunk.part_name}.tmp"
            pq.write_table(part, tmp)
            os.replace(tmp, out / chunk.part_name)
            done[str(chunk.index)] = part.num_rows
            manifest["complete"] = len(done) == len(chunks)
            _write_json(out / MANIFEST, manifest)
            scored += 1
        rows_done += chunk.stop - chunk.start
        if on_chunk is not None:
            on_chunk(ChunkDone(chunk, rows_done, total, table is None))
    if not chunks:
        manifest["complete"] = True
        _write_json(out / MANIFEST, manifest)
    return BatchResult(out, total, len(chunks), scored, skipped, policy is not None, reasons)


# -- the manifest --------------------------------------------------------------------------------------


def _identity(files: Sequence[Path], service: ScoreService, reasons: bool, policy: PolicyInputs | None,
              as_of: date | None, chunk_rows: int) -> dict[str, Any]:
    """Everything a part depends on: a resumed run must agree on all of it."""
    stats = [os.stat(p) for p in files]
    return {
        "inputs": [{"path": str(p.resolve()), "bytes": s.st_size, "mtime_ns": s.st_mtime_ns}
                   for p, s in zip(files, stats, strict=True)],
        "model": {"name": service.model_name, "version": service.model_version},
        "reasons": reasons,
        "policy": None if policy is None else {"rule_set_version": policy.policy.rule_set_version,
                                               "records": len(policy.records), "evidence": len(policy.evidence)},
        "profile_as_of": None if as_of is None else as_of.isoformat(),
        "chunk_rows": chunk_rows,
    }


def _open_manifest(out: Path, identity: dict[str, Any], chunks: int) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(".*.tmp"):  # a part or manifest half-written when a run stopped
        stale.unlink()
    path = out / MANIFEST
    if path.exists():
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if manifest.get("identity") != identity:
            raise BatchMismatchError(
                f"{out} holds a batch run of other input, model or options; score into a new folder or "
                "remove this one to start again"
            )
        return dict(manifest)
    manifest = {"version": MANIFEST_VERSION, "identity": identity, "chunks": chunks, "done": {}, "complete": False}
    _write_json(path, manifest)
    return manifest


def _finished(out: Path, chunk: Chunk, done: Mapping[str, int]) -> bool:
    return str(chunk.index) in done and (out / chunk.part_name).exists()


def _write_json(path: Path, payload: Mapping[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def _snapshot_as_of(source: Path) -> date | None:
    """A profile snapshot's as-of date from its manifest, when ``source`` is a snapshot folder."""
    path = source / "_manifest.json"
    if source.is_dir() and path.exists():
        value = json.loads(path.read_text(encoding="utf-8")).get("as_of")
        return date.fromisoformat(value) if value else None
    return None


# -- reading and scoring -------------------------------------------------------------------------------


def _read_chunks(files: Sequence[Path], chunks: Sequence[Chunk], skip: Callable[[Chunk], bool],
                 service: ScoreService) -> Iterator[tuple[Chunk, pa.Table | None]]:
    """Each chunk's rows (None for a chunk to skip), reading each file's row groups once, only when needed."""
    wanted = ["uscc", "as_of", *service.feature_names]
    for f, path in enumerate(files):
        parquet = pq.ParquetFile(path)
        columns = [c for c in wanted if c in parquet.schema_arrow.names]
        bounds = np.cumsum([0] + [parquet.metadata.row_group(g).num_rows
                                  for g in range(parquet.metadata.num_row_groups)])
        cached: dict[int, pa.Table] = {}
        for chunk in (c for c in chunks if c.file == f):
            if skip(chunk):
                yield chunk, None
                continue
            first = int(np.searchsorted(bounds, chunk.start, side="right")) - 1
            last = int(np.searchsorted(bounds, chunk.stop, side="left")) - 1
            groups = range(first, last + 1)
            cached = {g: cached[g] if g in cached else parquet.read_row_group(g, columns=columns) for g in groups}
            table = pa.concat_tables([cached[g] for g in groups])
            yield chunk, table.slice(chunk.start - int(bounds[first]), chunk.stop - chunk.start)


def arrow_matrix(table: pa.Table, feature_names: Sequence[str]) -> npt.NDArray[np.float64]:
    """The float64 matrix of ``feature_names`` from an Arrow table, nulls and absent columns as NaN."""
    present = set(table.column_names)
    columns = [pc.cast(table.column(name), pa.float64()).to_numpy(zero_copy_only=False) if name in present else None
               for name in feature_names]
    x = np.empty((table.num_rows, len(feature_names)), dtype=np.float64)
    fill_rows(x, columns, 0)
    return x


_REASON_TYPE = pa.list_(pa.struct([("feature", pa.string()), ("points", pa.float64()), ("value", pa.float64()),
                                   ("text_zh", pa.string()), ("text_en", pa.string())]))


class _ChunkScorer:
    """Turns one chunk of profiles into its output table."""

    def __init__(self, service: ScoreService, reasons: bool, policy: PolicyInputs | None, as_of: date | None,
                 num_threads: int | None) -> None:
        self.service, self.reasons, self.policy, self.as_of = service, reasons, policy, as_of
        self.num_threads = num_threads

    def score(self, table: pa.Table) -> pa.Table:
        names = self.service.feature_names
        x = arrow_matrix(table, names)
        probability, scores, grades = self.service.score_matrix(x, self.num_threads)
        columns: dict[str, Any] = {"uscc": table.column("uscc")}
        if "as_of" in table.column_names:
            columns["as_of"] = table.column("as_of")
        lowering: list[tuple[Reason, ...]] = []
        raising: list[tuple[Reason, ...]] = []
        if self.reasons:
            points = self.service.contribution_points(x, self.num_threads)
            for k in range(len(x)):
                low, high = top_reasons(points[k], x[k], names, top=self.service.max_reasons)
                lowering.append(low)
                raising.append(high)
        if self.policy is None:
            columns.update(pd=probability, score=scores, grade=grades)
            if self.reasons:
                columns.update(reasons_lowering=pa.array([_reason_rows(r) for r in lowering], _REASON_TYPE),
                               reasons_raising=pa.array([_reason_rows(r) for r in raising], _REASON_TYPE))
            return pa.table(columns)
        results = self._assess(table, x, probability, scores, grades, lowering, raising)
        columns.update(
            pd=pa.array([r.probability_of_default for r in results], pa.float64()),
            score=pa.array([r.score for r in results], pa.int64()),
            grade=pa.array([r.grade for r in results], pa.string()),
        )
        if self.reasons:
            columns.update(reasons_lowering=pa.array([_reason_rows(r.reasons_lowering) for r in results], _REASON_TYPE),
                           reasons_raising=pa.array([_reason_rows(r.reasons_raising) for r in results], _REASON_TYPE))
        limits = [r.pre_credit_limit for r in results]
        columns.update(
            decision=pa.array([r.decision for r in results], pa.string()),
            pre_credit_limit=pa.array([None if lim is None else lim.amount for lim in limits], pa.int64()),
            limit_binding=pa.array([None if lim is None else lim.binding for lim in limits], pa.string()),
            policy_hits=pa.array([[h.rule_id for h in r.policy_hits] for r in results], pa.list_(pa.string())),
            insufficient_data=pa.array([[m.code for m in r.insufficient_data] for r in results],
                                       pa.list_(pa.string())),
            rule_set_version=pa.array([r.rule_set_version for r in results], pa.string()),
        )
        return pa.table(columns)

    def _assess(self, table: pa.Table, x: npt.NDArray[np.float64], probability: npt.NDArray[np.float64],
                scores: npt.NDArray[np.int64], grades: npt.NDArray[np.str_],
                lowering: list[tuple[Reason, ...]], raising: list[tuple[Reason, ...]]) -> list[ScoreResult]:
        """Each row through ``PreCreditPolicy.assess``, its model score already computed for the whole chunk."""
        assert self.policy is not None
        usccs = [str(u) for u in table.column("uscc").to_pylist()]
        facts = self.policy.facts_for(usccs)
        dates = self._dates(table)
        scored = _Prescored(self.service)
        index = {n: i for i, n in enumerate(self.service.feature_names)}
        out = []
        for k, uscc in enumerate(usccs):
            scored.result = ScoreResult(
                uscc, float(probability[k]), int(scores[k]), str(grades[k]),
                lowering[k] if self.reasons else (), raising[k] if self.reasons else (),
                self.service.model_name, self.service.model_version, dates[k],
            )
            profile = _RowProfile(index, x[k])
            out.append(self.policy.policy.assess(scored, uscc, profile, dates[k], facts[uscc]))
        return out

    def _dates(self, table: pa.Table) -> list[date]:
        if "as_of" in table.column_names:
            return [pd.Timestamp(v).date() for v in table.column("as_of").to_pylist()]
        if self.as_of is None:
            raise ValueError("profiles without an as_of column need profile_as_of to be assessed with policy facts")
        return [self.as_of] * table.num_rows


class _Prescored:
    """A ScoreProvider that hands ``assess`` the row's score computed for the whole chunk at once."""

    def __init__(self, service: ScoreService) -> None:
        self.model_name = service.model_name
        self.model_version = service.model_version
        self._names = service.feature_names
        self.result: ScoreResult | None = None

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self._names

    def score(self, uscc: str, profile: Mapping[str, float | None], profile_as_of: date) -> ScoreResult:
        assert self.result is not None and self.result.uscc == uscc
        return replace(self.result, profile_as_of=profile_as_of)


class _RowProfile(Mapping[str, float | None]):
    """One matrix row read as a profile mapping (NaN reads as None), without copying it into a dict."""

    def __init__(self, index: Mapping[str, int], row: npt.NDArray[np.float64]) -> None:
        self._index, self._row = index, row

    def __getitem__(self, name: str) -> float | None:
        value = float(self._row[self._index[name]])
        return None if np.isnan(value) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


def _reason_rows(reasons: tuple[Reason, ...]) -> list[dict[str, Any]]:
    return [{"feature": r.feature, "points": r.points, "value": r.value, "text_zh": r.text_zh,
             "text_en": r.text_en} for r in reasons]
