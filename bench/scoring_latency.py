"""Scoring speed: one profile with reasons against bare LightGBM, and a million profiles against raw predict.

Prints, in one run:

1. single-profile latency (median, p99, in µs) of ``ScoreService.score`` (profile dict → PD, score, grade and
   reasons in both languages) against the bare ``Booster.predict`` raw-margin and ``predict(pred_contrib=True)``
   calls on the same row, and against the single-row C-API ``pred_contrib`` that the service itself makes,
   interleaved in rotating order so that a busy neighbour and warm caches favour none; repeated ``--runs``
   times; target: the median ratio score ÷ ``predict(pred_contrib=True)`` ≤ 1.2 ×; each call's median (p99
   in its note) is recorded from the run whose ratio is the median;
2. batch throughput (rows/s) of ``ScoreService.score_frame`` (profiles frame → PD, score, grade, no reasons)
   and of ``score_matrix`` on the ready matrix, against ``Booster.predict(raw_score=True)`` on the same rows,
   each timed once per round over ``--rounds`` interleaved rounds; target: the median per-round ratio
   score_frame ÷ raw predict ≥ 0.8 × at 1,000,000 profiles (other ``--rows`` are printed, not judged);
3. the Parquet path, ``scoring.batch.score_batch`` from a profiles file to a parts folder, for reference.

The model is trained on ``tests.utils.training_frames.make_training_frame`` with the project's default
parameters (or the registry's champion with ``--champion``). On a shared machine the figures move with the
neighbours: the load average is printed at the start and the end. Usage::

    .venv/bin/python bench/scoring_latency.py [--rows 1000000] [--repeats 3000] [--runs 3] [--rounds 3]
        [--threads 2] [--champion]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.results import record
from features.catalogue import FEATURE_NAMES
from models.artifact import PdModelArtifact, ScorecardScale
from models.train import feature_matrix, train_pd_model
from scoring.batch import score_batch
from scoring.service import ScoreService
from scoring.single_row import SingleRowContributions
from tests.utils.training_frames import make_training_frame


def build_service(champion: bool, threads: int) -> ScoreService:
    if champion:
        from config.settings import get_settings

        return ScoreService.from_registry(get_settings())
    frame = make_training_frame(seed=3)
    trained = train_pd_model(frame, FEATURE_NAMES, seed=11, num_threads=threads)
    return ScoreService(PdModelArtifact.from_trained(trained, ScorecardScale()), "bench", "1", num_threads=1)


SINGLE_TARGET = 1.2
BATCH_TARGET, BATCH_TARGET_ROWS = 0.8, 1_000_000


Timings = dict[str, tuple[float, float]]
"""Median and p99 in µs of each single-profile call, by its printed name."""


def latency(service: ScoreService, repeats: int) -> tuple[float, Timings]:
    """One run of the single-profile timings; prints them and returns score ÷ ``Booster.predict`` pred_contrib
    with each call's median and p99."""
    frame = make_training_frame(n_enterprises=200, n_dates=1, seed=5)
    profiles = [{n: None if np.isnan(v) else float(v) for n, v in zip(service.feature_names, row, strict=True)}
                for row in feature_matrix(frame, service.feature_names)]
    booster, as_of = service.artifact.booster, date(2024, 6, 30)
    rows = [service.profile_row(p) for p in profiles]
    single_row = SingleRowContributions(booster)  # the call ScoreService makes, on its own
    calls = {
        "LightGBM predict (raw margin)": lambda k: booster.predict(rows[k], raw_score=True, num_threads=1),
        "LightGBM predict(pred_contrib=True)": lambda k: booster.predict(rows[k], pred_contrib=True, num_threads=1),
        "LightGBM single-row C API, pred_contrib": lambda k: single_row(rows[k][0]),
        "ScoreService.score (PD, score, grade, reasons)": lambda k: service.score("x", profiles[k], as_of),
    }
    times: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for i in range(repeats + 200):
        k = i % len(profiles)
        turn = i % len(names)
        for name in names[turn:] + names[:turn]:  # each call takes each place in the order in turn
            call = calls[name]
            started = time.perf_counter_ns()
            call(k)
            if i >= 200:  # warm-up
                times[name].append((time.perf_counter_ns() - started) / 1e3)
    print(f"\nsingle profile, {repeats} calls each, interleaved, 1 thread (µs)")
    for name, values in times.items():
        print(f"  {name:<48} median {statistics.median(values):8.1f}   p99 {np.percentile(values, 99):8.1f}")
    contrib = statistics.median(times["LightGBM predict(pred_contrib=True)"])
    fast = statistics.median(times["LightGBM single-row C API, pred_contrib"])
    scored = statistics.median(times["ScoreService.score (PD, score, grade, reasons)"])
    print(f"  score + reasons / predict(pred_contrib=True) alone: {scored / contrib:.2f} × "
          f"(target ≤ {SINGLE_TARGET} ×)")
    print(f"  score + reasons / the single-row pred_contrib it makes: {scored / fast:.2f} × "
          f"(what the scoring adds: {scored - fast:.1f} µs)")
    return scored / contrib, {name: (statistics.median(v), float(np.percentile(v, 99))) for name, v in times.items()}


def throughput(service: ScoreService, rows: int, threads: int, rounds: int) -> None:
    """Batch timings, interleaved over ``rounds``; judged against the target only at 1,000,000 profiles."""
    per_date = 8
    frame = make_training_frame(n_enterprises=rows // per_date, n_dates=per_date, seed=9).drop(columns="default_12m")
    x = feature_matrix(frame, service.feature_names)
    booster = service.artifact.booster
    calls = {
        "raw": lambda: booster.predict(x, raw_score=True, num_threads=threads),
        "matrix": lambda: service.score_matrix(x, threads),
        "frame": lambda: service.score_frame(frame, threads),
    }
    wall: dict[str, list[float]] = {name: [] for name in calls}
    cpu: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for r in range(rounds):
        for name in names[r % 3:] + names[: r % 3]:
            started, started_cpu = time.perf_counter(), time.process_time()
            calls[name]()
            cpu[name].append(time.process_time() - started_cpu)
            wall[name].append(time.perf_counter() - started)
    print(f"\nbatch, {len(frame):,} profiles, no reasons, {threads} threads, {rounds} rounds interleaved; medians of "
          f"wall time and of this process's CPU time (which busy neighbours inflate less)")
    print(f"  {'':<48}{'rows/s':>10} {'wall s':>7} {'CPU s':>7} {'× raw':>6} {'× raw, CPU':>11}")
    labels = {"raw": "LightGBM predict(raw_score=True) on the matrix",
              "matrix": "ScoreService.score_matrix, same matrix",
              "frame": "ScoreService.score_frame from the DataFrame"}
    raw, raw_cpu = statistics.median(wall["raw"]), statistics.median(cpu["raw"])
    for name in names:
        spent, spent_cpu = statistics.median(wall[name]), statistics.median(cpu[name])
        print(f"  {labels[name]:<48}{len(x) / spent:>10,.0f} {spent:>7.2f} {spent_cpu:>7.2f} "
              f"{raw / spent:>6.2f} {raw_cpu / spent_cpu:>11.2f}")
    per_round = [a / b for a, b in zip(wall["raw"], wall["frame"], strict=True)]
    per_round_cpu = [a / b for a, b in zip(cpu["raw"], cpu["frame"], strict=True)]
    print(f"  per round, raw ÷ score_frame: wall {_figures(per_round)}; CPU {_figures(per_round_cpu)}")
    paired, paired_cpu = statistics.median(per_round), statistics.median(per_round_cpu)
    if len(frame) == BATCH_TARGET_ROWS:
        verdict = "met" if paired >= BATCH_TARGET else "missed"
        print(f"  target score_frame ≥ {BATCH_TARGET} × raw at {BATCH_TARGET_ROWS:,} profiles: {paired:.2f} × "
              f"(median per-round wall ratio), {verdict}; {paired_cpu:.2f} × in CPU time")
        record(f"batch, {BATCH_TARGET_ROWS:,} profiles: score_frame ÷ raw predict, median per-round wall ratio",
               paired, "×", BATCH_TARGET, ">=", note=f"{paired_cpu:.2f} × in CPU time; {threads} threads")
    else:
        print(f"  not judged: the target is at {BATCH_TARGET_ROWS:,} profiles, this run has {len(frame):,}")
        record(f"batch, {len(frame):,} profiles: score_frame ÷ raw predict, median per-round wall ratio", paired,
               "×", note=f"not judged: the target is at {BATCH_TARGET_ROWS:,} profiles")
    for name in ("raw", "frame"):
        record(f"batch, {len(frame):,} profiles: {labels[name]}", len(x) / statistics.median(wall[name]), "rows/s")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "profiles.parquet"
        frame.to_parquet(source, index=False)
        started = time.perf_counter()
        score_batch(source, Path(tmp) / "scores", service, num_threads=threads)
        spent = time.perf_counter() - started
    print(f"  scoring.batch.score_batch, Parquet → Parquet parts {len(x) / spent:10,.0f} rows/s  "
          f"({spent:.2f} s, {raw / spent:.2f} × raw; reading and writing included, one run)")


def _figures(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=BATCH_TARGET_ROWS)
    parser.add_argument("--repeats", type=int, default=3_000)
    parser.add_argument("--runs", type=int, default=3, help="single-profile runs (a median is taken over them)")
    parser.add_argument("--rounds", type=int, default=5, help="batch rounds, each call timed once per round")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--champion", action="store_true", help="the registry's champion instead of a fresh model")
    args = parser.parse_args()
    service = build_service(args.champion, args.threads)
    booster = service.artifact.booster
    print(f"model: {booster.num_trees()} trees, {len(service.feature_names)} features, "
          f"num_leaves {booster.params.get('num_leaves', '?')}, {service.artifact.calibration_method} calibration; "
          f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f} at the start")
    runs = [latency(service, args.repeats) for _ in range(args.runs)]
    ratios = [ratio for ratio, _ in runs]
    verdict = "met" if statistics.median(ratios) <= SINGLE_TARGET else "missed"
    print(f"\nsingle profile over {args.runs} runs: score + reasons / predict(pred_contrib=True) median "
          f"{statistics.median(ratios):.2f} × (runs {_figures(ratios)}); "
          f"target ≤ {SINGLE_TARGET} ×, {verdict}")
    record("single profile: score + reasons ÷ predict(pred_contrib=True), median of runs", statistics.median(ratios),
           "×", SINGLE_TARGET, "<=")
    middle = sorted(runs, key=lambda run: run[0])[len(runs) // 2][1]  # the run whose ratio is the median
    for name, (median, p99) in middle.items():
        record(f"single profile: {name}, median", median, "µs", note=f"p99 {p99:.1f} µs")
    throughput(service, args.rows, args.threads, args.rounds)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
