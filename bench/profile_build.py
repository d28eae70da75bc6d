"""Profile build at province scale ([profiles] targets), with DuckDB as the yardstick.

Writes accepted tables for ``--enterprises`` enterprises (default 1,000,000: about 108 million records; see
``bench/profile_data.py``), then, each in a fresh child process whose whole process tree is sampled for memory:

1. the full snapshot (every catalogue feature) with ``features.snapshots.write_snapshot`` on a process pool;
2. the shared subset: registration, tax, social insurance and utilities only, through the same code path;
3. DuckDB computing a representative subset of those features (same held-on-d rules) over the same Parquet.

Prints wall time, records per second and peak memory (sum of the process tree's resident memory) for each, and
the subset ratio to DuckDB. Targets on the 2-core machine: full build ≤ 10 minutes and ≤ 8 GiB, subset within
1.5 × DuckDB's time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from profile_data import write_accepted

from bench.results import record

AS_OF = "2026-10-31"
SUBSET = ("registration", "tax_monthly", "social_insurance_monthly", "utilities_monthly")
TARGET_SECONDS, TARGET_GIB, TARGET_RATIO = 600, 8.0, 1.5

OURS = """
import sys, pandas as pd
from pathlib import Path
from features.engines import LocalEngine
from features.snapshots import write_snapshot
snap = write_snapshot(Path(sys.argv[1]), Path(sys.argv[2]), pd.Timestamp(sys.argv[3]),
                      LocalEngine(int(sys.argv[4]), int(sys.argv[5])))
print(snap.rows)
"""

DUCKDB = """
import sys, duckdb
ingest, out, d, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
def held(source, available, event):
    return (f"(SELECT * FROM read_parquet('{ingest}/accepted/{source}.parquet') WHERE {available} <= DATE '{d}' "
            f"AND {event} <= DATE '{d}' AND (_superseded_on IS NULL OR _superseded_on > DATE '{d}'))")
last12 = f"period >= date_trunc('month', DATE '{d}') - INTERVAL 11 MONTH"
last3 = f"period >= date_trunc('month', DATE '{d}') - INTERVAL 2 MONTH"
con.execute(f'''
COPY (
WITH reg AS (SELECT uscc, founded_on, registered_capital FROM {held('registration', 'available_on', 'founded_on')}
             WHERE NOT (status IN ('注销', '吊销') AND status_on <= DATE '{d}')),
tax AS (SELECT uscc, ln(1 + sum(invoiced_sales)) AS sales_12m_log, count(*) AS tax_filed_months_12m,
               count(*) FILTER (WHERE overdue_tax > 0) AS tax_overdue_months_12m,
               sum(vat + cit) / nullif(sum(invoiced_sales), 0) AS tax_burden_12m
        FROM {held('tax_monthly', 'filed_on', 'period')} WHERE {last12} GROUP BY uscc),
si AS (SELECT uscc, count(*) FILTER (WHERE arrears > 0) AS si_arrears_months_12m,
              sum(contribution_paid) / nullif(sum(contribution_due), 0) AS si_paid_ratio_12m,
              arg_max(insured_headcount, period) FILTER (WHERE {last3}) AS headcount_latest
       FROM {held('social_insurance_monthly', 'available_on', 'period')} WHERE {last12} GROUP BY uscc),
ut AS (SELECT uscc, count(DISTINCT period) FILTER (WHERE days_late > 0) AS utility_late_months_12m,
              ln(1 + sum(quantity) FILTER (WHERE kind = 'electricity')) AS electricity_12m_log,
              max(days_late) AS utility_days_late_max_12m
       FROM {held('utilities_monthly', 'available_on', 'period')} WHERE {last12} GROUP BY uscc)
SELECT reg.uscc, date_diff('day', founded_on, DATE '{d}') / 30.4375 AS age_months,
       ln(1 + registered_capital) AS registered_capital_log, tax.* EXCLUDE (uscc), si.* EXCLUDE (uscc),
       ut.* EXCLUDE (uscc)
FROM reg LEFT JOIN tax USING (uscc) LEFT JOIN si USING (uscc) LEFT JOIN ut USING (uscc)
) TO '{out}' (FORMAT parquet)''')
print(con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()[0])
"""


def measured(args: list[str], cwd: Path) -> dict[str, float]:
    """Run a child; return its wall time, its stdout's last line and the peak resident memory of its tree."""
    started = time.perf_counter()
    child = psutil.Popen([sys.executable, "-c", *args], cwd=cwd, stdout=subprocess.PIPE, text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                tree = [child, *child.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = child.communicate()
    done.set()
    sampler.join()
    if child.returncode:
        raise SystemExit(f"child failed with exit code {child.returncode}")
    return {"seconds": time.perf_counter() - started, "rows": float(out.strip().splitlines()[-1]),
            "peak_gib": peak / 2**30}


def subset_dir(ingest: Path, root: Path) -> Path:
    """An ingest folder with the subset's sources linked and the others empty (same schemas)."""
    accepted = root / "accepted"
    accepted.mkdir(parents=True, exist_ok=True)
    for path in (ingest / "accepted").glob("*.parquet"):
        target = accepted / path.name
        if path.stem in SUBSET:
            target.symlink_to(path.resolve())
        else:
            pq.write_table(pq.read_schema(path).empty_table(), target)
    return root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--enterprises", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "xinyi-profile-bench",
                        help="generated tables are kept here and reused by a later run of the same size")
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    data = args.data_dir / f"{args.enterprises}"
    ingest = data / "ingest"
    stamp = data / "rows.json"
    if not stamp.exists():
        shutil.rmtree(data, ignore_errors=True)
        started = time.perf_counter()
        rows = write_accepted(ingest, args.enterprises)
        stamp.write_text(json.dumps(rows))
        print(f"generated {sum(rows.values()):,} records in {time.perf_counter() - started:.0f} s under {data}")
    rows = json.loads(stamp.read_text())
    total, subset_rows = sum(rows.values()), sum(rows[s] for s in SUBSET)
    work = Path(tempfile.mkdtemp(prefix="profile-bench-"))
    try:
        subset = subset_dir(ingest, work / "subset")
        runs = {
            "full catalogue": (measured([OURS, str(ingest), str(work / "snap"), AS_OF, str(args.partitions),
                                         str(args.workers)], root), total),
            "subset, ours": (measured([OURS, str(subset), str(work / "snap-subset"), AS_OF, str(args.partitions),
                                       str(args.workers)], root), subset_rows),
            "subset, DuckDB": (measured([DUCKDB, str(ingest), str(work / "duck.parquet"), AS_OF,
                                         str(args.workers)], root), subset_rows),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nprofiles of {args.enterprises:,} enterprises as of {AS_OF}; {args.partitions} partitions, "
          f"{args.workers} workers, {os.cpu_count()} CPUs")
    print(f"{'run':<16} {'records':>13} {'profiles':>10} {'seconds':>8} {'records/s':>11} {'peak GiB':>9}")
    for name, (result, records) in runs.items():
        print(f"{name:<16} {records:>13,} {result['rows']:>10,.0f} {result['seconds']:>8.1f} "
              f"{records / result['seconds']:>11,.0f} {result['peak_gib']:>9.2f}")
    full, ours, duck = (runs[k][0] for k in ("full catalogue", "subset, ours", "subset, DuckDB"))
    ratio = ours["seconds"] / duck["seconds"]
    print(f"\nfull build: {full['seconds']:.0f} s (target ≤ {TARGET_SECONDS}), peak {full['peak_gib']:.2f} GiB "
          f"(target ≤ {TARGET_GIB}); subset against DuckDB: {ratio:.2f} × (target ≤ {TARGET_RATIO})")
    met = full["seconds"] <= TARGET_SECONDS and full["peak_gib"] <= TARGET_GIB and ratio <= TARGET_RATIO
    print("targets met" if met else "targets NOT met")
    at_scale = args.enterprises == 1_000_000  # time and memory targets are stated for a province of a million
    scale_note = "" if at_scale else f"target stated at 1,000,000 enterprises; this run has {args.enterprises:,}"
    record(f"full snapshot, {args.enterprises:,} enterprises", full["seconds"], "s",
           *((TARGET_SECONDS, "<=") if at_scale else (None, None)), note=scale_note)
    record("full snapshot peak memory", full["peak_gib"], "GiB", *((TARGET_GIB, "<=") if at_scale else (None, None)),
           note=scale_note)
    record("full snapshot records/s", total / full["seconds"], "records/s")
    record("subset time ÷ DuckDB's", ratio, "×", TARGET_RATIO, "<=")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
