"""Run every bench at one stated size and write docs/benchmarks.md: each figure, its target, met or not.

``make bench`` runs the full size (the sizes the targets are stated at), ``make bench-quick`` a small one for a
quick look. Each bench runs as its own process with ``BENCH_RESULTS`` naming a file that its
:func:`bench.results.record` calls append to; a bench that records nothing yet is listed with its exit status
and the last lines it printed. Usage::

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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "benchmarks.md"
TAIL_LINES = 12


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
    Bench("training_scale", "models", "training time, peak memory and AUC at 1,000,000 applications",
          ("--rows", "1000000"), ("--rows", "20000")),
    Bench("oracle_auc", "models", "champion AUC against its baselines and the region's true PD", (), (),
          needs="the demo region: `xinyi demo --no-serve` first"),
    Bench("polish_bankruptcy", "models", "generic training on the Polish bankruptcy table, 5-fold AUC", (),
          ("--folds", "3"), needs="../shared/data/polish-bankruptcy/5year.csv"),
    Bench("api_load", "api", "POST /v1/scores latency and throughput over loopback", (),
          ("--seconds", "3", "--concurrency", "1", "4", "--repeats", "300")),
    Bench("api_fuzz", "api", "schemathesis cases per operation, failures", ("--cases", "1000"), ("--cases", "20")),
    Bench("audit_chain", "api", "audit append and chain verification speed", (),
          ("--appends", "200", "--verify-rows", "2000")),
    Bench("api_soak", "reliability", "70 % of capacity on POST /v1/scores: errors, latency by minute, server "
          "memory growth", ("--minutes", "10"), ("--champion", "--minutes", "2", "--capacity-seconds", "5")),
)


@dataclass
class Outcome:
    """What one bench run gave: its command, exit status, time, recorded figures and last printed lines."""

    bench: Bench
    command: list[str]
    status: int | None
    seconds: float
    figures: list[dict[str, Any]] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)


def run(bench: Bench, size: str, timeout: float) -> Outcome:
    """Run one bench as a child process and collect what it recorded."""
    args = bench.full if size == "full" else bench.quick
    command = [sys.executable, f"bench/{bench.script}.py", *args]
    with tempfile.NamedTemporaryFile(prefix=f"bench-{bench.script}-", suffix=".jsonl", delete=False) as handle:
        results = Path(handle.name)
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
    return Outcome(bench, ["python", *command[1:]], status, seconds, figures, output[-TAIL_LINES:])


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
    return done.stdout.strip() or "unknown"


def _number(value: float | None) -> str:
    if value is None:
        return ""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _verdict(figure: dict[str, Any]) -> str:
    return {True: "met", False: "**missed**", None: ""}[figure.get("met")]


def _status(outcome: Outcome) -> str:
    if outcome.status is None:
        return "stopped (time limit)"
    return "ok" if outcome.status == 0 else f"exit {outcome.status}"


def render(outcomes: list[Outcome], size: str, note: str) -> str:
    """The Markdown page."""
    info, now = machine(), datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    title = "quick size, shared machine" if size == "quick" else "full size: the sizes the targets are stated at"
    lines = [
        "# Benchmarks", "",
        "<!-- generated by bench/report.py (make bench / make bench-quick); edit the benches, not this page -->", "",
        f"## {title}", "",
        f"Run on {now} at commit `{_commit()}` with `make bench{'-quick' if size == 'quick' else ''}`.", "",
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory']} memory; {info['system']}, "
        f"Python {info['python']}.", "",
    ]
    if note:
        lines += [note, ""]
    lines += ["| area | bench | figure | value | unit | target | met |", "|---|---|---|---:|---|---|---|"]
    for outcome in outcomes:
        for figure in outcome.figures:
            target = ("" if figure["target"] is None
                      else f"{figure['comparison'].replace('>=', '≥').replace('<=', '≤')} {_number(figure['target'])}")
            lines.append(f"| {outcome.bench.area} | {outcome.bench.script} | {figure['name']} | "
                         f"{_number(figure['value'])} | {figure['unit']} | {target} | {_verdict(figure)} |")
        if not outcome.figures:
            lines.append(f"| {outcome.bench.area} | {outcome.bench.script} | *no recorded figures* | | | | "
                         f"{_status(outcome)} |")
    lines += ["", "## Each bench", ""]
    for outcome in outcomes:
        bench = outcome.bench
        lines += [f"### {bench.script} ({bench.area})", "", f"{bench.what}.", "",
                  f"`{' '.join(outcome.command)}`: {_status(outcome)} in {outcome.seconds:.0f} s."]
        if bench.needs:
            lines[-1] += f" Needs {bench.needs}."
        notes = [f"- {f['name']}: {f['note']}" for f in outcome.figures if f.get("note")]
        if notes:
            lines += ["", *notes]
        if not outcome.figures:
            lines += ["", "It recorded no figures (no `bench.results.record` calls yet, or it stopped before them); "
                      "the last lines it printed:", "", "```", *outcome.tail, "```"]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=("quick", "full"), default="quick")
    parser.add_argument("--only", nargs="+", help="run only these benches (the page lists only them)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--timeout", type=float, default=None, help="seconds per bench (default: none for full, "
                        "1800 for quick)")
    parser.add_argument("--note", default="", help="a line printed under the machine (e.g. what else was running)")
    args = parser.parse_args(argv)
    known = {bench.script: bench for bench in BENCHES}
    unknown = sorted(set(args.only or ()) - set(known))
    if unknown:
        parser.error(f"unknown benches {unknown}; known: {sorted(known)}")
    chosen = [known[name] for name in args.only] if args.only else list(BENCHES)
    timeout = args.timeout or (1800.0 if args.size == "quick" else 24 * 3600.0)
    outcomes: list[Outcome] = []
    for position, bench in enumerate(chosen):
        print(f"running {bench.script} ({args.size}) …", flush=True)
        outcome = run(bench, args.size, timeout)
        print(f"  {_status(outcome)} in {outcome.seconds:.0f} s, {len(outcome.figures)} figures", flush=True)
        outcomes.append(outcome)
        waiting = [b.script for b in chosen[position + 1:]]  # the page is rewritten after each bench
        note = args.note + (f" Not run yet: {', '.join(waiting)}." if waiting else "")
        args.out.write_text(render(outcomes, args.size, note.strip()), encoding="utf-8")
    print(f"wrote {args.out}")
    missed = any(f.get("met") is False for o in outcomes for f in o.figures)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
