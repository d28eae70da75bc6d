"""``xinyi``: the command line. ``xinyi demo`` builds the demo region end to end and serves the API.

Progress goes to the terminal through rich; library code only logs. The demo keys printed at the end are
derived from the development secret on every run, so they are shown without ever being stored in clear.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from api.pipeline import DemoOutcome, DemoPipeline, StageResult
from api.portal.passwords import PORTAL_ROLES, demo_password
from config.settings import Settings, get_settings

console = Console(highlight=False)


def _report(result: StageResult) -> None:
    mark = "[dim]reused[/dim]" if result.reused else "[green]built[/green]"
    console.print(f"  {mark}  [bold]{result.name}[/bold]: {result.summary}")


def curl_command(settings: Settings, outcome: DemoOutcome) -> str:
    """A curl line that asks for a score as demo bank A, for the enterprise that authorised it."""
    bank = outcome.accounts.by_label("bank_a")
    enterprise = outcome.accounts.by_label("enterprise_1")
    body = '{"uscc": "%s"}' % enterprise.uscc  # noqa: UP031 - JSON braces read better than an f-string here
    return (
        f"curl -s -X POST http://{settings.host}:{settings.port}/v1/scores "
        f"-H {shlex.quote('Authorization: Bearer ' + bank.key)} "
        f"-H 'Content-Type: application/json' -d {shlex.quote(body)}"
    )


def _print_ending(settings: Settings, outcome: DemoOutcome) -> None:
    console.rule("[bold]ready")
    console.print(f"API docs:      http://{settings.host}:{settings.port}/docs")
    console.print(
        "Demo accounts (development keys derived from XINYI_SECRET_KEY, never stored in clear):", soft_wrap=True
    )
    for account in outcome.accounts.accounts:
        of = account.uscc or account.bank_code or ""
        console.print(f"  {account.label:<13} {account.role:<10} {of:<20} {account.key}", soft_wrap=True)
    console.print("Ask for a score as demo bank A (enterprise_1 has authorised it):")
    console.print(f"  {curl_command(settings, outcome)}", soft_wrap=True)
    console.print("Without authorisation (enterprise_2 has not authorised bank A) the same call answers 403.")
    console.print(f"Portal:        http://{settings.host}:{settings.port}/portal (account number and password; "
                  "development passwords derived from XINYI_SECRET_KEY):", soft_wrap=True)
    for account in outcome.accounts.accounts:
        if account.role in PORTAL_ROLES:
            console.print(f"  {account.label:<13} {account.role:<10} account {account.account_id:<6} password "
                          f"{demo_password(settings, account.label)}", soft_wrap=True)


def serve(settings: Settings) -> None:
    """Serve the API with the champion model on ``settings.host:port``, in ``settings.workers`` processes."""
    import uvicorn

    from api.db import migrate
    from api.serving import WORKER_APP, app_from_environment, run_workers
    from scoring.service import ScoreService

    migrate(settings.resolved_database_url)
    if settings.workers == 1:
        app = app_from_environment(settings)
        provider = app.state.score_provider
    else:  # loaded here too, so that a missing champion fails before any worker starts
        provider = ScoreService.from_registry(settings)
    processes = "" if settings.workers == 1 else f" in {settings.workers} worker processes"
    console.print(
        f"[bold green]serving[/bold green] {settings.model_name} v{provider.model_version} "
        f"on http://{settings.host}:{settings.port}{processes} (Ctrl-C stops)"
    )
    if settings.workers > 1:
        del provider  # each worker loads its own
        run_workers(WORKER_APP, settings.host, settings.port, settings.workers)
        return
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


def demo(settings: Settings, *, rebuild: bool, serve_after: bool) -> DemoOutcome:
    """Build (or reuse) the demo region, print how to use it, then serve unless told not to."""
    console.rule(f"[bold]xinyi demo: region {settings.region_name!r} in {settings.region_dir()}")
    started = time.perf_counter()
    outcome = DemoPipeline(settings, rebuild=rebuild, report=_report).run()
    console.print(f"  done in {time.perf_counter() - started:.0f} s")
    _print_ending(settings, outcome)
    if serve_after:
        serve(settings)
    return outcome


def score_batch(settings: Settings, args: argparse.Namespace) -> None:
    """Score a region's profiles into a Parquet folder with a progress bar (``scoring.batch``), resumable."""
    from datetime import date
    from pathlib import Path

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from models.artifact import PdModelArtifact
    from scoring.batch import PolicyInputs
    from scoring.batch import score_batch as run_batch
    from scoring.precredit import PreCreditPolicy
    from scoring.service import ScoreService

    if args.artifact:
        service = ScoreService(PdModelArtifact.load(args.artifact), settings.model_name, f"file:{args.artifact}",
                               num_threads=settings.lightgbm_threads)
    else:
        service = ScoreService.from_registry(settings)
    policy = PolicyInputs.from_dir(PreCreditPolicy.from_settings(settings), Path(args.facts)) if args.facts else None
    with Progress(TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console) as progress:
        task = progress.add_task("rows", total=None)
        result = run_batch(
            Path(args.source), Path(args.out), service, reasons=args.reasons, policy=policy,
            profile_as_of=date.fromisoformat(args.as_of) if args.as_of else None, chunk_rows=args.chunk_rows,
            on_chunk=lambda done: progress.update(task, completed=done.rows_done, total=done.rows_total),
        )
    kept = "" if result.with_policy else " (no policy facts: PD, score and grade only, no decision)"
    console.print(f"{result.rows:,} profiles in {result.chunks} parts at {result.out_dir}: {result.scored_chunks} "
                  f"scored now, {result.skipped_chunks} already done{kept}", soft_wrap=True)


def audit_verify(settings: Settings) -> int:
    """Verify the audit log's hash chain, then the anchors taken outside the database (if any); 0 when intact,
    1 naming the first broken link or every anchor the log no longer matches."""
    from api.audit_anchor import AnchorError, check_anchors, read_anchors
    from api.audit_chain import verify_chain
    from api.db import make_engine, make_sessionmaker

    anchor_path = settings.resolved_audit_anchor_path()
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_sessionmaker(engine)() as session:
            result = verify_chain(session)
            anchors = read_anchors(anchor_path) if anchor_path.exists() else []
            mismatches = check_anchors(session, anchors)
    except AnchorError as exc:
        console.print(f"[red]audit anchors unreadable[/red]: {exc}", soft_wrap=True)
        return 1
    finally:
        engine.dispose()
    if result.first_break is not None:
        found = result.first_break
        console.print(f"[red]audit chain broken[/red] at row {found.row_id} ({found.kind}): {found.message}",
                      soft_wrap=True)
        return 1
    for mismatch in mismatches:
        console.print(f"[red]audit anchor broken[/red]: {mismatch.message}", soft_wrap=True)
    if mismatches:
        return 1
    checked = f"; {len(anchors)} anchors match ({anchor_path})" if anchors else f"; no anchors at {anchor_path}"
    console.print(f"[green]audit chain intact[/green]: {result.rows_checked} rows, head at seq {result.head_seq}"
                  f"{checked}", soft_wrap=True)
    return 0


def audit_anchor(settings: Settings) -> int:
    """Append the audit chain's head to the anchor file and print it (to publish or copy elsewhere too)."""
    from api.audit_anchor import take_anchor
    from api.db import make_engine, make_sessionmaker

    path = settings.resolved_audit_anchor_path()
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_sessionmaker(engine)() as session:
            anchor = take_anchor(session, path)
    finally:
        engine.dispose()
    if anchor is None:
        console.print("the audit log is empty: nothing to anchor")
        return 0
    console.print(f"anchored seq {anchor.seq} {anchor.row_hash} at {anchor.taken_at} in {path}", soft_wrap=True)
    return 0


def prune_scores(settings: Settings, args: argparse.Namespace) -> int:
    """Delete scores past ``XINYI_SCORE_RETENTION_DAYS`` in batches (api.retention, docs/operations.md)."""
    from api.db import make_engine, make_sessionmaker
    from api.retention import prune_scores as prune

    engine = make_engine(settings.resolved_database_url)
    try:
        done = prune(make_sessionmaker(engine), settings, batch_rows=args.batch_rows, pause_seconds=args.pause_seconds)
    except ValueError as exc:
        console.print(f"[red]prune refused[/red]: {exc}", soft_wrap=True)
        return 2
    finally:
        engine.dispose()
    console.print(f"deleted {done.deleted} score{'s' if done.deleted != 1 else ''} given before "
                  f"{done.cutoff:%Y-%m-%d %H:%M} UTC ({settings.score_retention_days} days) in {done.batches} "
                  f"batches; kept {done.kept_for_review} named by review requests", soft_wrap=True)
    return 0


def create_operator(settings: Settings, name: str) -> int:
    """Create an operator account with its first key, printed once (bootstrap on an empty, migrated database)."""
    from api.accounts import bootstrap_operator
    from api.db import make_engine, make_sessionmaker, migrate

    migrate(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_sessionmaker(engine)() as session:
            account, key = bootstrap_operator(session, settings, name)
    finally:
        engine.dispose()
    console.print(f"operator account {account.id} ({account.display_name}) created; its key, shown this once:")
    console.print(f"  {key}", soft_wrap=True)
    return 0


def read_password() -> str:
    """A new password from a prompt (typed twice, not echoed) or, when stdin is not a terminal, its first line."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("New portal password: ")
    if getpass.getpass("Again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def set_account_password(settings: Settings, account_id: int) -> int:
    """Set the portal password of an enterprise or regulator account (argon2id of the peppered password)."""
    from api.db import make_engine, make_sessionmaker, migrate
    from api.db.models import Account
    from api.portal.passwords import PasswordRefused, set_password

    migrate(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_sessionmaker(engine)() as session:
            account = session.get(Account, account_id)
            if account is None:
                console.print(f"[red]no account {account_id}[/red]")
                return 1
            try:
                set_password(session, account, settings, read_password())
            except (PasswordRefused, ValueError) as exc:
                console.print(f"[red]password not set[/red]: {exc}")
                return 1
            session.commit()
    finally:
        engine.dispose()
    console.print(f"portal password of account {account_id} ({account.role}) set; it may log in at /portal")
    return 0


def backup_or_restore(settings: Settings, args: argparse.Namespace) -> int:
    """``xinyi backup --to DIR`` and ``xinyi restore --from DIR [--force]`` (api.backup, docs/operations.md)."""
    from api.backup import BackupError, backup, restore

    try:
        if args.command == "backup":
            done = backup(settings, args.to)
            console.print(f"backed up the {done.database} database, MLflow store and snapshots to {done.folder}: "
                          f"{done.files} files, {done.bytes:,} bytes, checksums in manifest.json", soft_wrap=True)
        else:
            done = restore(settings, args.source, force=args.force)
            console.print(f"restored {done.files} files ({done.database} database, MLflow store, snapshots) "
                          f"from {done.folder} into {settings.data_dir}", soft_wrap=True)
    except BackupError as exc:
        console.print(f"[red]{args.command} refused:[/red] {exc}", soft_wrap=True)
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``xinyi`` command."""
    parser = argparse.ArgumentParser(prog="xinyi", description=__doc__)
    parser.add_argument("--verbose", action="store_true", help="log library progress too")
    commands = parser.add_subparsers(dest="command", required=True)
    demo_cmd = commands.add_parser("demo", help="build the demo region end to end and serve the API")
    demo_cmd.add_argument("--rebuild", action="store_true", help="rebuild every stage instead of reusing")
    demo_cmd.add_argument("--no-serve", action="store_true", help="stop after building and printing")
    commands.add_parser("serve", help="serve the API with the registered champion model, in XINYI_WORKERS "
                        "processes on one port")
    commands.add_parser("migrate", help="upgrade the service database to the latest schema")
    commands.add_parser("analyst", help="retrain on new loan outcomes; compare challenger and champion "
                        "(`xinyi analyst -h`)", add_help=False)
    audit_cmd = commands.add_parser("audit", help="the hash-chained audit log").add_subparsers(
        dest="audit_command", required=True)
    audit_cmd.add_parser("verify", help="check every link of the audit chain and every anchor; exit 1 naming the "
                         "first broken one")
    audit_cmd.add_parser("anchor", help="append the chain's head to the anchor file (XINYI_AUDIT_ANCHOR_PATH)")
    scores_cmd = commands.add_parser("scores", help="stored scores").add_subparsers(dest="scores_command",
                                                                                 required=True)
    prune_cmd = scores_cmd.add_parser("prune", help="delete scores older than XINYI_SCORE_RETENTION_DAYS, in "
                                      "batches (not those a review request names; audit rows stay)")
    prune_cmd.add_argument("--batch-rows", type=int, default=500, help="scores deleted per transaction (500)")
    prune_cmd.add_argument("--pause-seconds", type=float, default=0.05,
                           help="pause between batches, so scoring gets the write lock in between (0.05)")
    accounts_cmd = commands.add_parser("accounts", help="platform accounts").add_subparsers(
        dest="accounts_command", required=True)
    operator_cmd = accounts_cmd.add_parser("create-operator", help="create an operator and print its key once")
    operator_cmd.add_argument("--name", required=True, help="the operator's display name")
    password_cmd = accounts_cmd.add_parser(
        "set-password", help="set the portal password of an enterprise or regulator account (read from a prompt "
        "or stdin, never an argument)")
    password_cmd.add_argument("--account-id", type=int, required=True, help="the account's number")
    batch = commands.add_parser("score-batch", help="score a profiles Parquet file or snapshot folder to Parquet")
    batch.add_argument("source", help="profiles Parquet file, or a folder of them (a profile snapshot)")
    batch.add_argument("out", help="output folder: one Parquet part per chunk and _manifest.json (resumable)")
    batch.add_argument("--reasons", action="store_true", help="add the reasons (slower)")
    batch.add_argument("--facts", help="folder with records.parquet and evidence.parquet: adds decision and limit")
    batch.add_argument("--artifact", help="a saved model folder instead of the registry's champion")
    batch.add_argument("--as-of", help="profile date (YYYY-MM-DD) when the input has no as_of column")
    batch.add_argument("--chunk-rows", type=int, default=100_000, help="rows per part (default 100000)")
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:1] == ["analyst"]:  # its own parser (api.cli_analyst), so `xinyi analyst retrain -h` works
        from api.cli_analyst import main as analyst_main

        return analyst_main(given[1:], get_settings())
    backup_cmd = commands.add_parser("backup", help="back up the database, MLflow store and snapshots")
    backup_cmd.add_argument("--to", required=True, type=Path, help="new or empty folder for the backup")
    restore_cmd = commands.add_parser("restore", help="restore a backup into the configured data directory")
    restore_cmd.add_argument("--from", dest="source", required=True, type=Path, help="a folder made by backup")
    restore_cmd.add_argument("--force", action="store_true", help="replace a target that already holds data")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings = get_settings()
    if args.command == "demo":
        demo(settings, rebuild=args.rebuild, serve_after=not args.no_serve)
    elif args.command == "serve":
        serve(settings)
    elif args.command == "score-batch":
        score_batch(settings, args)
    elif args.command in ("backup", "restore"):
        return backup_or_restore(settings, args)
    elif args.command == "scores":
        return prune_scores(settings, args)
    elif args.command == "audit":
        return audit_anchor(settings) if args.audit_command == "anchor" else audit_verify(settings)
    elif args.command == "accounts" and args.accounts_command == "set-password":
        return set_account_password(settings, args.account_id)
    elif args.command == "accounts":
        return create_operator(settings, args.name)
    else:
        from api.db import migrate

        migrate(settings.resolved_database_url)
        console.print("database is at the latest schema")
    return 0


if __name__ == "__main__":
    sys.exit(main())
