"""``xinyi-models``: train, compare, promote and roll back PD models from the command line.

``xinyi-models train TABLE`` checks the table, trains with an out-of-time window, writes the validation
report, and registers the model as ``challenger``; ``promote`` applies the promotion rule on the same
out-of-time rows; ``rollback`` and ``history`` manage and show the champion. Progress goes to the terminal
through rich; refusals are printed as one line naming what is wrong, with exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from config.settings import Settings, get_settings
from models.artifact import ScorecardScale
from models.generic import TableSpec, TrainingInputError
from models.history import CHALLENGER, CHAMPION, default_history_path, read_history
from models.promotion import PromotionDecision, PromotionError, PromotionRule, promote, rollback
from models.train import DATE_COLUMN, ID_COLUMN, TARGET_COLUMN
from models.workflow import register_run, train_and_validate

console = Console(highlight=False)


def read_table(path: Path, na_values: Sequence[str] = ()) -> pd.DataFrame:
    """A Parquet or CSV table (by suffix)."""
    if not path.exists():
        raise TrainingInputError(f"no table at {path}")
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    return pd.read_csv(path, na_values=list(na_values) or None)


def _history_path(settings: Settings) -> Path:
    return settings.champion_history_path or default_history_path(settings.resolved_mlflow_uri, settings.model_name)


def _rule(settings: Settings) -> PromotionRule:
    return PromotionRule(settings.promotion_max_auc_drop, settings.promotion_max_ece)


def _spec(args: argparse.Namespace) -> TableSpec:
    features = tuple(f.strip() for f in args.features.split(",") if f.strip()) if args.features else None
    return TableSpec(label=args.label, date=args.date, id=args.id or None, features=features,
                     catalogue_only=not args.any_features)


def _dask_scheduler(args: argparse.Namespace, settings: Settings) -> str | None:
    """``--dask-scheduler``, else ``XINYI_DASK_SCHEDULER``; ``--local`` trains here whatever is set."""
    if args.local:
        return None
    return args.dask_scheduler or settings.dask_scheduler or None


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    """Train, validate, write the report and register (``challenger`` unless told otherwise)."""
    frame = read_table(Path(args.table), args.na)
    scale = ScorecardScale(settings.score_anchor_points, settings.score_anchor_odds, settings.score_pdo,
                           settings.score_min, settings.score_max)
    run = train_and_validate(frame, _spec(args), seed=args.seed if args.seed is not None else settings.seed,
                             oot_months=args.oot_months or settings.model_oot_months,
                             gap_months=(args.gap_months if args.gap_months is not None
                                         else settings.resolved_model_gap_months),
                             calibration=args.calibration or settings.model_calibration,
                             num_threads=args.threads, scale=scale, dask_scheduler=_dask_scheduler(args, settings),
                             refit=not args.no_refit)
    summary = Table("measure", "out-of-time")
    for key, value in run.summary().items():
        summary.add_row(key, f"{value:.4f}")
    console.print(summary)
    console.print(f"calibration: {run.trained.calibration_method}; dropped columns: {run.dropped or 'none'}")
    if run.trained.refit:
        console.print(f"refitted on {run.trained.refit['development_rows']:,} development rows with "
                      f"{run.trained.refit['refit_rounds']} rounds ({run.trained.refit['folds']} cross-fitted "
                      f"folds stopped at {run.trained.refit['cv_best_iteration']})")
    if "dask_workers" in run.trained.params:
        console.print(f"trained on Dask: {run.trained.params['dask_workers']} workers, "
                      f"{run.trained.best_iteration} rounds")
    if args.report:
        Path(args.report).write_text(run.report_html, encoding="utf-8")
        console.print(f"report written to {args.report}")
    if args.dry_run:
        return 0
    alias = None if args.alias == "none" else args.alias
    registered = register_run(run, tracking_uri=settings.resolved_mlflow_uri,
                              artifact_location=settings.mlflow_artifact_dir, model_name=settings.model_name,
                              alias=alias, history_path=_history_path(settings))
    console.print(f"registered {registered.name} v{registered.version} as {alias or 'no alias'} "
                  f"(run {registered.run_id})")
    if args.promote and alias == CHALLENGER:
        return _print_decision(promote(settings.resolved_mlflow_uri, settings.model_name, frame,
                                       version=registered.version, rule=_rule(settings),
                                       history_path=_history_path(settings)))
    return 0


def _print_decision(decision: PromotionDecision, dry_run: bool = False) -> int:
    if decision.accepted:
        mark = "[green]would be promoted[/green]" if dry_run else "[green]promoted[/green]"
    else:
        mark = "[yellow]not promoted[/yellow]"
    console.print(f"{mark} v{decision.version} on {decision.rows:,} out-of-time rows: "
                  + "; ".join(decision.reasons), soft_wrap=True)
    return 0 if decision.accepted else 1


def cmd_promote(args: argparse.Namespace, settings: Settings) -> int:
    """Apply the promotion rule to the challenger (or ``--version``) on the table's out-of-time rows."""
    frame = read_table(Path(args.table), args.na)
    decision = promote(settings.resolved_mlflow_uri, settings.model_name, frame, version=args.version,
                       rule=_rule(settings), history_path=_history_path(settings), dry_run=args.dry_run)
    return _print_decision(decision, args.dry_run)


def cmd_rollback(args: argparse.Namespace, settings: Settings) -> int:
    """Point ``champion`` at an earlier version."""
    event = rollback(settings.resolved_mlflow_uri, settings.model_name, args.version, reason=args.reason,
                     history_path=_history_path(settings))
    console.print(f"champion is now v{event.version} (was v{event.previous}): {event.reason}")
    return 0


def cmd_history(args: argparse.Namespace, settings: Settings) -> int:
    """Print which version was champion when."""
    table = Table("at (UTC)", "version", "previous", "action", "reason")
    for event in read_history(_history_path(settings)):
        table.add_row(event.at, event.version, event.previous or "", event.action, event.reason)
    console.print(table)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (separate so tests and docs can read it)."""
    parser = argparse.ArgumentParser(prog="xinyi-models", description=__doc__)
    parser.add_argument("--verbose", action="store_true", help="log library progress too")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train, validate and register a model from a table")
    train.add_argument("table", help="Parquet or CSV file: one row per application")
    train.add_argument("--label", default=TARGET_COLUMN, help="0/1 default label column")
    train.add_argument("--date", default=DATE_COLUMN, help="application date column")
    train.add_argument("--id", default=ID_COLUMN, help="enterprise id column ('' if none)")
    train.add_argument("--features", help="comma-separated features (default: every other numeric column)")
    train.add_argument("--any-features", action="store_true", help="allow features the catalogue does not know")
    train.add_argument("--oot-months", type=int, help="out-of-time window (default XINYI_MODEL_OOT_MONTHS)")
    train.add_argument("--gap-months", type=int,
                       help="development months dropped before the out-of-time window, so every development "
                            "outcome is observed before it opens (default XINYI_MODEL_GAP_MONTHS: the default "
                            "horizon)")
    train.add_argument("--calibration", choices=("auto", "platt", "isotonic"), help="default XINYI_MODEL_CALIBRATION")
    train.add_argument("--seed", type=int, help="default XINYI_SEED")
    train.add_argument("--threads", type=int, default=1, help="LightGBM threads (here; Dask workers use their own)")
    train.add_argument("--no-refit", action="store_true",
                       help="fit on train, stop and calibrate on validation (no cross-fitting, no refit)")
    train.add_argument("--dask-scheduler", help="train on this Dask cluster (default XINYI_DASK_SCHEDULER)")
    train.add_argument("--local", action="store_true", help="train on this machine even if XINYI_DASK_SCHEDULER is set")
    train.add_argument("--alias", choices=(CHALLENGER, CHAMPION, "none"), default=CHALLENGER)
    train.add_argument("--report", help="also write the validation report to this HTML file")
    train.add_argument("--promote", action="store_true", help="apply the promotion rule right after registering")
    train.add_argument("--dry-run", action="store_true", help="train and report, register nothing")
    promote_cmd = commands.add_parser("promote", help="promote the challenger if the rule allows")
    promote_cmd.add_argument("table", help="table holding the challenger's out-of-time window")
    promote_cmd.add_argument("--version", help="version to promote (default: the challenger alias)")
    promote_cmd.add_argument("--dry-run", action="store_true", help="compare only, move nothing")
    rollback_cmd = commands.add_parser("rollback", help="point champion at an earlier version")
    rollback_cmd.add_argument("version")
    rollback_cmd.add_argument("--reason", required=True, help="why (kept in the champion history)")
    commands.add_parser("history", help="which version was champion when")
    for sub in (train, promote_cmd):
        sub.add_argument("--na", action="append", default=[], help="extra text read as missing (CSV)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``xinyi-models``."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    commands = {"train": cmd_train, "promote": cmd_promote, "rollback": cmd_rollback, "history": cmd_history}
    try:
        return commands[args.command](args, get_settings())
    except (TrainingInputError, PromotionError) as exc:
        console.print(f"[red]refused[/red]: {exc}", soft_wrap=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
