"""Ingest throughput and peak memory for a monthly tax feed in Parquet and in CSV ([data-sources] targets).

Writes a registration file and a tax feed of ``--rows`` rows (default 10 million: enterprises x months, 0.1 %
of them dirty (a negative VAT), no repeated keys), once as Parquet (string cells in 1-million-row groups, as a
province exports it) and once as quoted CSV, then ingests each in a fresh child process and prints wall time,
rows per second and the child's own peak resident memory (VmHWM). Two chunk sizes show that peak memory
follows the chunk, not the file. The accepted parts are bucketed as the pipeline writes them (8 row groups by
USCC hash). The child's CPU time (all threads) and the load average are printed beside
them: on a busy machine the wall clock says more about the neighbours than about the ingest.
Targets on the 2-core machine: >= 1,000,000 rows/s for Parquet, >= 300,000 rows/s for CSV.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.results import record
from features.schemas import SOURCES, TAX_MONTHLY
from features.uscc import make_uscc

TARGETS = {"parquet": 1_000_000, "csv": 300_000}


def write_extract(root: Path, rows: int, months: int, seed: int = 1) -> None:
    """One registration file, one tax feed in each format, and empty feeds for the other sources.

    The tax feed is generated and written a block of enterprises at a time, so this process stays small.
    """
    rng = np.random.default_rng(seed)
    enterprises = max(1, rows // months)
    codes = np.array([make_uscc("9", "1", "410102", f"{i:08d}") for i in range(1, enterprises + 1)], dtype=object)
    registration = pa.table({
        "uscc": codes, "name": [f"企业{i}" for i in range(enterprises)], "founded_on": ["2015-03-02"] * enterprises,
        "industry": ["C13"] * enterprises, "region_code": ["410102"] * enterprises,
        "registered_capital": ["1000000"] * enterprises, "enterprise_type": ["有限责任公司"] * enterprises,
        "size_class": ["小"] * enterprises, "status": ["存续"] * enterprises, "status_on": [""] * enterprises,
        "available_on": ["2015-03-09"] * enterprises,
    })
    periods = np.array([f"{2020 + m // 12}-{1 + m % 12:02d}" for m in range(months)], dtype=object)
    filed = np.array([f"{2020 + (m + 1) // 12}-{1 + (m + 1) % 12:02d}-15" for m in range(months)], dtype=object)
    raws = {fmt: root / fmt / "raw" for fmt in ("parquet", "csv")}
    for fmt, raw in raws.items():
        raw.mkdir(parents=True)
        pa_csv.write_csv(registration, raw / "registration.csv")
        for spec in SOURCES[1:]:
            if spec is not TAX_MONTHLY:
                (raw / spec.filename).write_text(",".join(spec.column_names) + "\n", encoding="utf-8")
        feed = {"source": "tax_monthly", "path": f"tax_monthly.{fmt}", "format": fmt}
        (raw / "manifest.json").write_text(json.dumps({"region": "bench", "extracted_on": "2026-10-31",
                                                       "feeds": [feed]}), encoding="utf-8")
    schema = pa.schema([(name, pa.string()) for name in TAX_MONTHLY.column_names])
    block = max(1, 1_000_000 // months)  # enterprises per block: about a million rows
    with pq.ParquetWriter(raws["parquet"] / "tax_monthly.parquet", schema) as parquet, \
            pa_csv.CSVWriter(raws["csv"] / "tax_monthly.csv", schema) as csv:
        for first in range(0, enterprises, block):
            ours = codes[first:first + block]
            n = len(ours) * months
            amounts = rng.gamma(2.0, 6000.0, size=(4, n)).round(2).astype(str).astype(object)
            amounts[0][rng.random(n) < 0.001] = "-1"  # dirty rows: negative VAT
            tax = pa.table({
                "uscc": np.repeat(ours, months), "period": np.tile(periods, len(ours)),
                "vat": amounts[0], "cit": amounts[1], "invoiced_sales": amounts[2], "overdue_tax": amounts[3],
                "filed_on": np.tile(filed, len(ours)),
            }, schema=schema)
            parquet.write_table(tax, row_group_size=1_000_000)
            csv.write_table(tax)


CHILD = """
import json, resource, sys, time
from pathlib import Path
from config.settings import Settings
from features.ingest import ingest_region
raw, out, chunk = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
before = resource.getrusage(resource.RUSAGE_SELF)
started = time.perf_counter()
# bucketed as the pipeline ingests (XINYI_PROFILE_PARTITIONS' default): what profile builds read without a shuffle
summary = ingest_region(raw, out, chunk_rows=chunk, buckets=Settings.model_fields["profile_partitions"].default)
elapsed = time.perf_counter() - started
after = resource.getrusage(resource.RUSAGE_SELF)  # every thread's CPU time: a busy machine slows the wall clock
cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
# VmHWM is this process's own peak resident memory; ru_maxrss would carry the parent's peak across exec
status = Path("/proc/self/status").read_text().splitlines()
peak_mib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
tax = summary.by_source["tax_monthly"]
print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "read": tax.read, "accepted": tax.accepted,
                  "quarantined": tax.quarantined, "peak_mib": peak_mib}))
"""


def run_ingest(raw: Path, out: Path, chunk_rows: int) -> dict[str, float]:
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", CHILD, str(raw), str(out), str(chunk_rows)], cwd=root,
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000, help="tax rows per format (default 10 million)")
    parser.add_argument("--months", type=int, default=50, help="months per enterprise")
    parser.add_argument("--chunks", type=int, nargs="+", default=[1_000_000, 250_000], help="chunk sizes to run")
    parser.add_argument("--repeat", type=int, default=1, help="runs per case; the median is printed")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="xinyi-ingest-bench-"))
    try:
        started = time.perf_counter()
        write_extract(work, args.rows, args.months)
        print(f"wrote {args.rows:,} tax rows per format in {time.perf_counter() - started:.0f} s "
              f"(csv {(work / 'csv/raw/tax_monthly.csv').stat().st_size / 2**20:,.0f} MiB, parquet "
              f"{(work / 'parquet/raw/tax_monthly.parquet').stat().st_size / 2**20:,.0f} MiB)")
        print(f"load average before the runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"{'format':8} {'chunk':>10} {'rows':>12} {'seconds':>8} {'rows/s':>12} {'target':>10} "
              f"{'peak MiB':>9} {'CPU s':>7} {'rows/CPU-s':>11}")
        failed = False
        for fmt in ("parquet", "csv"):
            for chunk in args.chunks:
                runs = []
                for i in range(args.repeat):
                    out = work / fmt / f"out-{chunk}-{i}"
                    runs.append(run_ingest(work / fmt / "raw", out, chunk))
                    shutil.rmtree(out, ignore_errors=True)
                seconds = float(np.median([r["seconds"] for r in runs]))
                cpu = float(np.median([r["cpu_seconds"] for r in runs]))
                peak = float(np.median([r["peak_mib"] for r in runs]))
                rate = runs[0]["read"] / seconds
                ok = rate >= TARGETS[fmt]
                failed |= not ok
                print(f"{fmt:8} {chunk:>10,} {runs[0]['read']:>12,.0f} {seconds:>8.1f} {rate:>12,.0f} "
                      f"{TARGETS[fmt]:>10,} {peak:>9,.0f} {cpu:>7.1f} {runs[0]['read'] / cpu:>11,.0f} "
                      f"{'ok' if ok else 'BELOW TARGET'}")
                load = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
                record(f"{fmt} rows/s, {runs[0]['read']:,} rows, chunk {chunk:,}", rate, "rows/s", TARGETS[fmt], ">=",
                       note=load)
                record(f"{fmt} rows per CPU-second (all threads), chunk {chunk:,}", runs[0]["read"] / cpu,
                       "rows/CPU-s", note=load)
                record(f"{fmt} peak memory, chunk {chunk:,}", peak, "MiB")
        print(f"(parent peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB; "
              "rows/s include registration and the empty feeds)")
        return 1 if failed else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
