"""``xinyi analyst``: retrain on new loan outcomes and compare the challenger with the champion.

``retrain`` labels the region's profiles from every default known (the region's outcomes file and the loan
reports stored since), trains, validates and registers a ``challenger``; ``compare`` scores challenger and
champion on the same out-of-time rows and says whether the promotion rule would accept (``--apply`` moves the
champion when it does). ``xinyi-models promote``, ``rollback`` and ``history`` manage the champion too.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from api.analyst import (
    compare,
    default_observed_until,
    known_defaults,
    region_outcomes_path,
    region_profiles_path,
    retrain,
    retraining_table,
    retraining_table_path,
)
from api.db import make_engine, migrate
from config.settings import Settings
from features.outcomes import LABEL
from models.generic import TrainingInputError
from models.promotion import PromotionError

console = Console(highlight=False)


def cmd_retrain(args: argparse.Namespace, settings: Settings) -> int:
    """Label, train, validate, register as challenger; write the table for ``compare``."""
    profiles_path = Path(args.profiles) if args.profiles else region_profiles_path(settings)
    if not profiles_path.exists():
        raise TrainingInputError(f"no profiles at {profiles_path}; run `xinyi demo` or pass --profiles")
    outcomes: Path | None = Path(args.outcomes) if args.outcomes else region_outcomes_path(settings)
    if args.no_outcomes_file:
        outcomes = None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.resolved_database_url)  # a fresh data directory: no reports yet, an empty schema
    engine = make_engine(settings.resolved_database_url)
    try:
        defaults = known_defaults(engine, outcomes, days_past_due=settings.default_days_past_due)
    finally:
        engine.dispose()
    observed = pd.Timestamp(args.observed_until) if args.observed_until else default_observed_until(date.today())
    table = retraining_table(pd.read_parquet(profiles_path), defaults, observed_until=observed,
                             horizon_months=settings.default_horizon_months)
    console.print(f"{len(table):,} applications to {observed.date()} labelled from {len(defaults):,} known defaults "
                  f"(default rate {table[LABEL].mean():.2%})")
    out = Path(args.out) if args.out else retraining_table_path(settings)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out, index=False)
    result = retrain(settings, table, register=not args.dry_run, num_threads=args.threads)
    summary = Table("measure", "out-of-time")
    for key, value in result.run.summary().items():
        summary.add_row(key, f"{value:.4f}")
    console.print(summary)
    if result.registered is not None:
        console.print(f"registered {result.registered.name} v{result.registered.version} as challenger; "
                      f"table at {out} (`xinyi analyst compare` reads it)")
    return 0


def cmd_compare(args: argparse.Namespace, settings: Settings) -> int:
    """Challenger against champion on the same out-of-time rows; exit 1 when the rule refuses."""
    path = Path(args.table) if args.table else retraining_table_path(settings)
    if not path.exists():
        raise TrainingInputError(f"no table at {path}; run `xinyi analyst retrain` first or pass --table")
    decision = compare(settings, pd.read_parquet(path), version=args.version, apply=args.apply)
    table = Table("measure", f"challenger v{decision.version}", f"champion v{decision.previous or '-'}")
    for key in ("auc", "ks", "brier", "ece"):
        champion = "" if decision.champion is None else f"{decision.champion[key]:.4f}"
        table.add_row(key, f"{decision.challenger[key]:.4f}", champion)
    console.print(table)
    moved = "promoted" if decision.accepted and args.apply else "would be promoted" if decision.accepted \
        else "not promoted"
    console.print(f"{moved} on {decision.rows:,} out-of-time rows: " + "; ".join(decision.reasons), soft_wrap=True)
    return 0 if decision.accepted else 1


def build_parser() -> argparse.ArgumentParser:
    """The ``xinyi analyst`` arguments."""
    parser = argparse.ArgumentParser(prog="xinyi analyst", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    retrain_cmd = commands.add_parser("retrain", help="label profiles from known defaults, train a challenger")
    retrain_cmd.add_argument("--profiles", help="profiles Parquet (default: the region's applications.parquet)")
    retrain_cmd.add_argument("--outcomes", help="outcomes CSV (default: the region's outcomes/defaults.csv)")
    retrain_cmd.add_argument("--no-outcomes-file", action="store_true", help="only the stored loan reports")
    retrain_cmd.add_argument("--observed-until", help="YYYY-MM-DD outcomes are complete to (default: 4 months ago)")
    retrain_cmd.add_argument("--out", help="where to write the labelled table (default beside the profiles)")
    retrain_cmd.add_argument("--threads", type=int, default=1, help="LightGBM threads")
    retrain_cmd.add_argument("--dry-run", action="store_true", help="train and validate, register nothing")
    compare_cmd = commands.add_parser("compare", help="challenger against champion on the same out-of-time rows")
    compare_cmd.add_argument("--table", help="labelled table (default: the last retraining table)")
    compare_cmd.add_argument("--version", help="version to compare (default: the challenger alias)")
    compare_cmd.add_argument("--apply", action="store_true", help="promote when the rule accepts")
    return parser


def main(argv: Sequence[str], settings: Settings) -> int:
    """Run one analyst command; refusals print one line naming what is wrong and exit 2."""
    args = build_parser().parse_args(argv)
    commands = {"retrain": cmd_retrain, "compare": cmd_compare}
    try:
        return commands[args.command](args, settings)
    except (TrainingInputError, PromotionError) as exc:
        console.print(f"[red]refused:[/red] {exc}", soft_wrap=True)
        return 2
