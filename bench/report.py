"""Run every bench at one stated size and write docs/benchmarks.md: each figure, its target, met or not.

``make bench`` runs the full size (the sizes the targets are stated at), ``make bench-quick`` a small one for a
quick look. Each bench runs as its own process with ``BENCH_RESULTS`` naming a file that its
:func:`bench.results.record` calls append to; a bench that records nothing is listed with its exit status and
the last lines it printed.

Each bench's outcome (figures, command, status, seconds, date, commit, size, machine, and the speed probe and the
load average when it started and ended) is kept in a JSON file next to the page (docs/benchmarks.json). A run
without ``--only`` starts that file afresh; ``--only X`` replaces only X's entry and keeps the others, so a full
run can be made in pieces at different times. The page is re-rendered from all entries after each bench. Usage::

    .venv/bin/python bench/report.py [--size quick|full] [--only ingest_throughput ...] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report_page import render

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "benchmarks.md"
TAIL_LINES = 12
QUICK_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class Bench:
    """One bench script, what it measures, and its arguments at each size."""

    script: str
    area: str
    what: str
    full: tuple[str, ...] = ()
    quick: tuple[str, ...] = ()
    needs: str = ""


BENCHES = (
    Bench("ingest_throughput", "data-sources", "ingest rows/s and peak memory, tax feed in Parquet and CSV",
          ("--rows", "10000000"), ("--rows", "200000", "--chunks", "250000")),
    Bench("profile_build", "profiles", "snapshot build time and peak memory; a subset against DuckDB",
          ("--enterprises", "1000000"), ("--enterprises", "5000", "--partitions", "4")),
    Bench("scoring_latency", "scoring", "one profile with reasons against bare LightGBM; batch rows/s",
          (), ("--champion", "--rows", "20000", "--repeats", "300", "--runs", "1", "--rounds", "2"),
          needs="at quick size the demo's champion (`xinyi demo --no-serve`) instead of a freshly trained model"),
    # at quick size LightGBM trains on one thread: on a busy machine its two OpenMP threads wait on each other at
    # every step (training_scale at 20,000 rows: 25 s on one thread, over 600 s on two, at a load average of 11-20)
    Bench("training_scale", "models", "training time, peak memory and AUC at 1,000,000 applications",
          ("--rows", "1000000"), ("--rows", "20000", "--threads", "1")),
    Bench("oracle_auc", "models", "champion AUC against its baselines and the region's true PD", (), (),
          needs="the demo region: `xinyi demo --no-serve` first; the official figure is on a 100,000-enterprise "
          "region (`XINYI_DEMO_ENTERPRISES=100000` in its own `XINYI_DATA_DIR`, about 12 minutes to build)"),
    Bench("polish_bankruptcy", "models", "generic training on the Polish bankruptcy table, 5-fold AUC", (),
          ("--folds", "3", "--threads", "1"), needs="../shared/data/polish-bankruptcy/5year.csv"),
    Bench("api_load", "api", "POST /v1/scores latency and throughput over loopback", (),
          ("--champion", "--seconds", "3", "--concurrency", "1", "4", "--repeats", "300"),
          needs="at quick size the demo's champion (380 trees on 2026-12-04) instead of training a ≥ 300-tree "
          "model on two threads (3 of its 7.5 minutes at a load average of 11)"),
    Bench("api_fuzz", "api", "schemathesis cases per operation, failures", ("--cases", "1000"), ("--cases", "20")),
    Bench("audit_chain", "api", "audit append and chain verification speed", (),
          ("--appends", "200", "--verify-rows", "2000")),
    Bench("api_soak", "reliability", "70 % of capacity on POST /v1/scores: errors, latency by minute, server "
          "memory growth", ("--minutes", "10"), ("--champion", "--minutes", "2", "--capacity-seconds", "5")),
)
KNOWN = {bench.script: bench for bench in BENCHES}


@dataclass
class Outcome:
    """What one bench run gave, and when and where it ran: what the page shows for that bench."""

    script: str
    command: list[str]
    status: int | None
    seconds: float
    figures: list[dict[str, Any]] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)
    size: str = "quick"
    date: str = ""
    commit: str = ""
    load_start: list[float] = field(default_factory=list)
    load_end: list[float] = field(default_factory=list)
    machine: dict[str, str] = field(default_factory=dict)
    note: str = ""
    probe_start: float | None = None
    """``speed_probe`` just before the bench (None in entries kept from before the probe existed)."""
    probe_end: float | None = None

    @property
    def bench(self) -> Bench:
        return KNOWN[self.script]

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> Outcome:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in entry.items() if k in names})


def run(bench: Bench, size: str, timeout: float, note: str = "") -> Outcome:
    """Run one bench as a child process and collect what it recorded, with the date, commit and load."""
    args = bench.full if size == "full" else bench.quick
    command = [sys.executable, f"bench/{bench.script}.py", *args]
    with tempfile.NamedTemporaryFile(prefix=f"bench-{bench.script}-", suffix=".jsonl", delete=False) as handle:
        results = Path(handle.name)
    date, commit, load_start = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), _commit(), _load()
    probe_start = speed_probe()
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=ROOT, env={**os.environ, "BENCH_RESULTS": str(results)},
                              capture_output=True, text=True, timeout=timeout, check=False)
        status: int | None = done.returncode
        output = (done.stdout + done.stderr).splitlines()
    except subprocess.TimeoutExpired as exc:
        status = None
        output = [*(_text(exc.stdout) + _text(exc.stderr)).splitlines(), f"(stopped after {timeout:.0f} s)"]
    seconds = time.perf_counter() - started
    figures = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines() if line.strip()]
    results.unlink(missing_ok=True)
    return Outcome(bench.script, ["python", *command[1:]], status, seconds, figures, output[-TAIL_LINES:], size,
                   date, commit, load_start, _load(), machine(), note, probe_start, speed_probe())


def speed_probe(iterations: int = 3_000_000, repeats: int = 3) -> float:
    """CPU seconds of a fixed pure-Python loop, the best of ``repeats``: how fast this host runs right now. The
    shared hosts drift: on 6 Dec 2026 the same loop took 0.096 s and, within the hour, 0.18-0.195 s, and every
    timing of a bench (in-process model cost, app CPU a request) moved with it. CPU time, so a busy machine's
    waiting does not count; a slow spell of the host itself does."""
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        total = 0
        for i in range(iterations):
            total += i
        best = min(best, time.process_time() - started)
    return round(best, 4)


def _load() -> list[float]:
    """The 1-, 5- and 15-minute load averages: above the core count, other work shared the cores."""
    return [round(value, 2) for value in os.getloadavg()]


def _text(value: str | bytes | None) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else (value or "")


def machine() -> dict[str, str]:
    """CPU model, cores, memory, system and Python of this machine."""
    model = platform.processor() or "unknown CPU"
    memory = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 2**20:.1f} GiB"
                break
    except OSError:
        pass
    return {"cpu": model, "cores": str(os.cpu_count()), "memory": memory,
            "system": f"{platform.system()} {platform.release()}", "python": platform.python_version()}


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True, check=False)
    commit = done.stdout.strip() or "unknown"
    return f"{commit} + uncommitted changes" if dirty.stdout.strip() else commit


def results_path(out: Path) -> Path:
    """Where the entries behind a page are kept: beside it, ``.json`` for ``.md``."""
    return out.with_suffix(".json")


def load_entries(path: Path) -> dict[str, Outcome]:
    """The kept outcomes by bench; benches no longer in ``BENCHES`` are dropped with a notice."""
    if not path.exists():
        return {}
    kept = json.loads(path.read_text(encoding="utf-8"))
    entries = {}
    for script, entry in kept.get("benches", {}).items():
        if script in KNOWN:
            entries[script] = Outcome.from_json(entry)
        else:
            print(f"{path}: dropped the entry of {script!r}, no longer a bench", file=sys.stderr)
    return entries


def save_entries(path: Path, entries: dict[str, Outcome]) -> None:
    """Write the outcomes in bench order, replacing the file in one step."""
    ordered = {b.script: asdict(entries[b.script]) for b in BENCHES if b.script in entries}
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    staging.write_text(json.dumps({"benches": ordered}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(staging, path)


def keep(out: Path, outcome: Outcome, entries: dict[str, Outcome]) -> None:
    """Put ``outcome`` in place of its bench's entry, save the entries beside ``out`` and re-render ``out``."""
    entries[outcome.script] = outcome
    save_entries(results_path(out), entries)
    page = render([entries[b.script] for b in BENCHES if b.script in entries],
                  [b for b in BENCHES if b.script not in entries], machine())
    out.write_text(page, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=("quick", "full"), default="quick")
    parser.add_argument("--only", nargs="+", help="run only these benches; the others keep their last entries")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the page; its entries go beside it as .json")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per bench (default: none for full, "
                        f"{QUICK_TIMEOUT_S:.0f} for quick)")
    parser.add_argument("--note", default="", help="a line kept with each bench run now (e.g. what else was running)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.only or ()) - set(KNOWN))
    if unknown:
        parser.error(f"unknown benches {unknown}; known: {sorted(KNOWN)}")
    chosen = [KNOWN[name] for name in args.only] if args.only else list(BENCHES)
    timeout = args.timeout or (QUICK_TIMEOUT_S if args.size == "quick" else 24 * 3600.0)
    store = results_path(args.out)
    entries = load_entries(store) if args.only else {}
    failed = False
    for bench in chosen:
        print(f"running {bench.script} ({args.size}), load average {' '.join(map(str, _load()))} …", flush=True)
        outcome = run(bench, args.size, timeout, args.note)
        print(f"  {outcome.status if outcome.status is not None else 'stopped'} in {outcome.seconds:.0f} s, "
              f"{len(outcome.figures)} figures", flush=True)
        failed |= outcome.status != 0 or any(f.get("met") is False for f in outcome.figures)
        keep(args.out, outcome, entries)  # after each bench, so an interrupted run keeps what it measured
    print(f"wrote {args.out} and {store}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
