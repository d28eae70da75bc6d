"""Training time and peak memory at scale: 1,000,000 applications × the full feature catalogue ([models]).

Builds a synthetic panel with ``tests.utils.training_frames.make_training_frame`` (every catalogue feature,
a latent risk driving features and the 12-month default label, ≈5 % defaults, some features missing):
``--rows`` applications as enterprises × ``--dates`` quarterly application dates (default 50,000 × 20, five
years, so the 12-month out-of-time window holds a fifth of the rows). Then, in a fresh child process per
case, it trains the model as ``xinyi-models train`` does (out-of-time split, monotone LightGBM: locally 4
boosters cross-fitted by enterprise with early stopping, then the refit on all development rows and the
calibration chosen on out-of-fold margins; on Dask early stopping and calibration on validation; metrics:
``models.train.train_pd_model``; the baselines and the report are not timed) and
prints the wall time of generating and of training, the out-of-time AUC and the child's own peak resident
memory (VmHWM from /proc/self/status; the peak is reset after generating, where the kernel allows, so the
training peak includes the table held in memory but not the generator's temporaries).

``--dask-workers N`` adds the same training on a LocalCluster of N worker processes (one thread each)
through ``lightgbm.dask``; its memory line is the driver's peak and each worker's.
``--rows 100000`` gives a quick look.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from bench.results import record

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys, time
from pathlib import Path

def peak_mib():
    # VmHWM is this process's own peak resident memory; ru_maxrss would carry the parent's peak across exec
    status = Path("/proc/self/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024

def reset_peak():
    try:
        Path("/proc/self/clear_refs").write_text("5")  # 5: reset the peak resident set size to the current one
        return True
    except OSError:
        return False

enterprises, dates, threads, dask_workers, seed = (int(a) for a in sys.argv[1:6])
from features.catalogue import FEATURE_NAMES
from models.train import train_pd_model
from tests.utils.training_frames import make_training_frame

started = time.perf_counter()
frame = make_training_frame(n_enterprises=enterprises, n_dates=dates, months_between=3, seed=seed)
generate_s = time.perf_counter() - started
generate_peak = peak_mib()
was_reset = reset_peak()
cluster = client = None
if dask_workers:
    from distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=dask_workers, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    client.run(reset_peak)
started = time.perf_counter()
trained = train_pd_model(frame, FEATURE_NAMES, seed=seed, num_threads=threads, dask_scheduler=client)
train_s = time.perf_counter() - started
workers_peak = sorted(client.run(peak_mib).values()) if client is not None else []
if client is not None:
    client.close()
    cluster.close()
print(json.dumps({
    "rows": len(frame), "features": len(FEATURE_NAMES), "generate_s": generate_s, "train_s": train_s,
    "generate_peak_mib": generate_peak, "train_peak_mib": peak_mib(), "peak_was_reset": was_reset,
    "workers_peak_mib": workers_peak, "best_iteration": trained.best_iteration,
    "auc_oot": trained.metrics["oot"]["auc"], "ece_oot": trained.metrics["oot"]["ece"],
    "auc_validation": trained.metrics["validation"]["auc"], "calibration": trained.calibration_method,
    "rows_train": trained.metrics["train"]["rows"], "rows_validation": trained.metrics["validation"]["rows"],
    "rows_oot": trained.metrics["oot"]["rows"],
}))
"""


def run_case(enterprises: int, dates: int, threads: int, dask_workers: int, seed: int) -> dict[str, object]:
    """One generate-and-train run in a fresh Python process; its JSON summary."""
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(enterprises), str(dates), str(threads), str(dask_workers), str(seed)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"training child failed ({result.returncode}):\n{result.stderr[-4000:]}")
    summary: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="applications (default 1,000,000)")
    parser.add_argument("--dates", type=int, default=20, help="quarterly application dates per enterprise")
    parser.add_argument("--threads", type=int, default=2, help="LightGBM threads of the local training")
    parser.add_argument("--dask-workers", type=int, default=0, help="also train on a LocalCluster of N workers")
    parser.add_argument("--seed", type=int, default=20261124)
    args = parser.parse_args()
    enterprises = max(1, args.rows // args.dates)
    cases = [("local", args.threads, 0)]
    if args.dask_workers:
        cases.append((f"dask x{args.dask_workers}", 1, args.dask_workers))
    print(f"{enterprises:,} enterprises × {args.dates} quarterly dates = {enterprises * args.dates:,} applications")
    for name, threads, workers in cases:
        r = run_case(enterprises, args.dates, threads, workers, args.seed)
        print(f"[{name}] {r['rows']:,} rows × {r['features']} features (train {r['rows_train']:,.0f}, validation "
              f"{r['rows_validation']:,.0f}, out-of-time {r['rows_oot']:,.0f})")
        print(f"[{name}] generate {r['generate_s']:.1f} s (peak {r['generate_peak_mib']:,.0f} MiB)")
        threads_text = f"{workers} workers × 1 thread" if workers else f"{threads} threads"
        print(f"[{name}] train {r['train_s']:.1f} s on {threads_text}, {r['best_iteration']} rounds, "
              f"{r['calibration']} calibration; peak {r['train_peak_mib']:,.0f} MiB"
              + ("" if r["peak_was_reset"] else " (peak not reset: includes generating)")
              + (f"; workers' peaks {', '.join(f'{p:,.0f}' for p in r['workers_peak_mib'])} MiB"  # type: ignore[attr-defined]
                 if r["workers_peak_mib"] else ""))
        print(f"[{name}] out-of-time AUC {r['auc_oot']:.4f} (validation {r['auc_validation']:.4f}), "
              f"ECE {r['ece_oot']:.4f}")
        rows = f"{r['rows']:,} rows × {r['features']} features"
        record(f"[{name}] training time, {rows}", float(r["train_s"]), "s")  # type: ignore[arg-type]
        record(f"[{name}] training peak memory", float(r["train_peak_mib"]), "MiB")  # type: ignore[arg-type]
        record(f"[{name}] out-of-time AUC", float(r["auc_oot"]), "AUC")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
