"""``xinyi``: the command line. ``xinyi demo`` builds the demo region end to end and serves the API.

Progress goes to the terminal through rich; library code only logs. The demo keys printed at the end are
derived from the development secret on every run, so they are shown without ever being stored in clear.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import time
from collections.abc import Sequence

from rich.console import Console

from api.pipeline import DemoOutcome, DemoPipeline, StageResult
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


def serve(settings: Settings) -> None:
    """Serve the API with the champion model on ``settings.host:port``."""
    import uvicorn

    from api.app import create_app
    from api.db import migrate
    from scoring.service import ScoreService

    migrate(settings.resolved_database_url)
    provider = ScoreService.from_registry(settings)
    app = create_app(settings, provider)
    console.print(
        f"[bold green]serving[/bold green] {settings.model_name} v{provider.model_version} "
        f"on http://{settings.host}:{settings.port} (Ctrl-C stops)"
    )
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``xinyi`` command."""
    parser = argparse.ArgumentParser(prog="xinyi", description=__doc__)
    parser.add_argument("--verbose", action="store_true", help="log library progress too")
    commands = parser.add_subparsers(dest="command", required=True)
    demo_cmd = commands.add_parser("demo", help="build the demo region end to end and serve the API")
    demo_cmd.add_argument("--rebuild", action="store_true", help="rebuild every stage instead of reusing")
    demo_cmd.add_argument("--no-serve", action="store_true", help="stop after building and printing")
    commands.add_parser("serve", help="serve the API with the registered champion model")
    commands.add_parser("migrate", help="upgrade the service database to the latest schema")
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
    else:
        from api.db import migrate

        migrate(settings.resolved_database_url)
        console.print("database is at the latest schema")
    return 0


if __name__ == "__main__":
    sys.exit(main())
