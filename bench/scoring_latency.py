"""Scoring speed: one profile with reasons against bare LightGBM, and a million profiles against raw predict.

Prints, in one run:

1. single-profile latency (median, p99, in µs) of ``ScoreService.score`` (profile dict → PD, score, grade and
   reasons in both languages) against the bare ``Booster.predict`` and ``predict(pred_contrib=True)`` calls on
   the same row, interleaved in rotating order so that a busy neighbour and warm caches favour none of
   the three; target score ≤ 1.2 × pred_contrib;
2. batch throughput (rows/s) of ``ScoreService.score_frame`` (profiles frame → PD, score, grade, no reasons)
   and of ``score_matrix`` on the ready matrix, against ``Booster.predict(raw_score=True)`` on the same rows;
   target ≥ 0.8 × raw predict;
3. the Parquet path, ``scoring.batch.score_batch`` from a profiles file to a parts folder, for reference.

The model is trained on ``tests.utils.training_frames.make_training_frame`` with the project's default
parameters (or the registry's champion with ``--champion``). Usage::

    .venv/bin/python bench/scoring_latency.py [--rows 1000000] [--repeats 3000] [--threads 2]
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

from features.catalogue import FEATURE_NAMES
from models.artifact import PdModelArtifact, ScorecardScale
from models.train import feature_matrix, train_pd_model
from scoring.batch import score_batch
from scoring.service import ScoreService
from tests.utils.training_frames import make_training_frame


def build_service(champion: bool, threads: int) -> ScoreService:
    if champion:
        from config.settings import get_settings

        return ScoreService.from_registry(get_settings())
    frame = make_training_frame(seed=3)
    trained = train_pd_model(frame, FEATURE_NAMES, seed=11, num_threads=threads)
    return ScoreService(PdModelArtifact.from_trained(trained, ScorecardScale()), "bench", "1", num_threads=1)


def latency(service: ScoreService, repeats: int) -> None:
    frame = make_training_frame(n_enterprises=200, n_dates=1, seed=5)
    profiles = [{n: None if np.isnan(v) else float(v) for n, v in zip(service.feature_names, row, strict=True)}
                for row in feature_matrix(frame, service.feature_names)]
    booster, as_of = service.artifact.booster, date(2024, 6, 30)
    rows = [service.profile_row(p) for p in profiles]
    calls = {
        "LightGBM predict (raw margin)": lambda k: booster.predict(rows[k], raw_score=True, num_threads=1),
        "LightGBM predict(pred_contrib=True)": lambda k: booster.predict(rows[k], pred_contrib=True, num_threads=1),
        "ScoreService.score (PD, score, grade, reasons)": lambda k: service.score("x", profiles[k], as_of),
    }
    times: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for i in range(repeats + 200):
        k = i % len(profiles)
        for name in names[i % 3:] + names[: i % 3]:  # each call goes first, second and third in turn
            call = calls[name]
            started = time.perf_counter_ns()
            call(k)
            if i >= 200:  # warm-up
                times[name].append((time.perf_counter_ns() - started) / 1e3)
    print(f"\nsingle profile, {repeats} calls each, interleaved, 1 thread (µs)")
    for name, values in times.items():
        print(f"  {name:<48} median {statistics.median(values):8.1f}   p99 {np.percentile(values, 99):8.1f}")
    contrib = statistics.median(times["LightGBM predict(pred_contrib=True)"])
    scored = statistics.median(times["ScoreService.score (PD, score, grade, reasons)"])
    print(f"  score + reasons / pred_contrib alone: {scored / contrib:.2f} × (target ≤ 1.2 ×)")


def throughput(service: ScoreService, rows: int, threads: int) -> None:
    per_date = 8
    frame = make_training_frame(n_enterprises=rows // per_date, n_dates=per_date, seed=9).drop(columns="default_12m")
    x = feature_matrix(frame, service.feature_names)
    booster = service.artifact.booster

    def best_of(call, runs: int = 3) -> float:  # type: ignore[no-untyped-def]
        spans = []
        for _ in range(runs):
            started = time.perf_counter()
            call()
            spans.append(time.perf_counter() - started)
        return min(spans)

    raw = best_of(lambda: booster.predict(x, raw_score=True, num_threads=threads))
    matrix = best_of(lambda: service.score_matrix(x, threads))
    framed = best_of(lambda: service.score_frame(frame, threads))
    print(f"\nbatch, {len(frame):,} profiles, no reasons, {threads} threads (best of 3)")
    print(f"  LightGBM predict(raw_score=True) on the matrix  {len(x) / raw:12,.0f} rows/s  ({raw:.2f} s)")
    print(f"  ScoreService.score_matrix (PD, score, grade)    {len(x) / matrix:12,.0f} rows/s  "
          f"({matrix:.2f} s, {raw / matrix:.2f} × raw)")
    print(f"  ScoreService.score_frame from the DataFrame     {len(x) / framed:12,.0f} rows/s  "
          f"({framed:.2f} s, {raw / framed:.2f} × raw; target ≥ 0.8 ×)")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "profiles.parquet"
        frame.to_parquet(source, index=False)
        started = time.perf_counter()
        score_batch(source, Path(tmp) / "scores", service, num_threads=threads)
        spent = time.perf_counter() - started
    print(f"  scoring.batch.score_batch, Parquet → Parquet parts {len(x) / spent:10,.0f} rows/s  "
          f"({spent:.2f} s, {raw / spent:.2f} × raw; reading and writing included)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3_000)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--champion", action="store_true", help="the registry's champion instead of a fresh model")
    args = parser.parse_args()
    service = build_service(args.champion, args.threads)
    booster = service.artifact.booster
    print(f"model: {booster.num_trees()} trees, {len(service.feature_names)} features, "
          f"num_leaves {booster.params.get('num_leaves', '?')}; {os.cpu_count()} CPU cores on this machine")
    latency(service, args.repeats)
    throughput(service, args.rows, args.threads)


if __name__ == "__main__":
    main()
