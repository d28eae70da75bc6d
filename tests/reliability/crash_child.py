"""The child process of the crash tests: runs one real code path and stops dead at a named point.

``python -m tests.reliability.crash_child --marker FILE [--pause MODULE:ATTR] [--nth N] [--after]
[--match TEXT] [--pause-sql TEXT] -- COMMAND ARGS…``

Before running ``COMMAND`` it wraps the named function (or, with ``--pause-sql``, every SQL statement) so that
its ``N``-th matching call writes ``FILE`` and then sleeps; the test waits for ``FILE`` and sends SIGKILL, so
the kill lands exactly there and not by timing luck. Nothing in the library knows about it: the wrapping
lives only in this process. Commands: ``xinyi …`` and ``xinyi-models …`` (the real command lines),
``ingest RAW OUT``, ``snapshot INGEST ROOT AS_OF`` and ``refresh DATABASE_URL PROFILES_PARQUET``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

_SLEEP_SECONDS = 600  # long enough for any test to kill us; the test's own timeout ends a forgotten child


def _stop_here(marker: Path) -> None:
    marker.write_text(str(os.getpid()), encoding="utf-8")
    time.sleep(_SLEEP_SECONDS)
    sys.exit(3)  # only reached when nobody killed us: the test then fails on the exit status


def _install_pause(target: str, marker: Path, nth: int, after: bool, match: str | None) -> None:
    """Wrap ``module:attr`` (``attr`` may be ``Class.method``) so its ``nth`` matching call stops the process."""
    module_name, _, path = target.partition(":")
    owner: Any = importlib.import_module(module_name)
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    original: Callable[..., Any] = getattr(owner, name)
    calls = 0

    def paused(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        if match is not None and match not in " ".join(map(str, args)):
            return original(*args, **kwargs)
        calls += 1
        if calls == nth and not after:
            _stop_here(marker)
        result = original(*args, **kwargs)
        if calls == nth and after:
            _stop_here(marker)
        return result

    setattr(owner, name, paused)


def _install_sql_pause(match: str, marker: Path, nth: int) -> None:
    """Stop after the ``nth`` SQL statement containing ``match`` ran (inside its transaction, before commit)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    calls = 0

    def after_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        nonlocal calls
        if match in statement:
            calls += 1
            if calls == nth:
                _stop_here(marker)

    event.listen(Engine, "after_cursor_execute", after_execute)


def _run(command: Sequence[str]) -> int:
    name, args = command[0], list(command[1:])
    if name == "xinyi":
        from api.cli import main

        return main(args)
    if name == "xinyi-models":
        from models.cli import main as models_main

        return models_main(args)
    if name == "ingest":
        from features.ingest import ingest_region

        ingest_region(Path(args[0]), Path(args[1]))
        return 0
    if name == "snapshot":
        import pandas as pd

        from features.engines import engine_for
        from features.snapshots import write_snapshot

        write_snapshot(Path(args[0]), Path(args[1]), pd.Timestamp(args[2]), engine_for(None, 4, 1))
        return 0
    if name == "refresh":
        import pandas as pd

        from api.db import make_engine
        from api.repository import refresh_profiles

        engine = make_engine(args[0])
        try:
            refresh_profiles(engine, pd.read_parquet(args[1]))
        finally:
            engine.dispose()
        return 0
    raise SystemExit(f"unknown command {name!r}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--marker", required=True, type=Path)
    parser.add_argument("--pause", help="module:attr to stop at")
    parser.add_argument("--nth", type=int, default=1, help="stop at this matching call (default the first)")
    parser.add_argument("--after", action="store_true", help="stop after the call returned, not before it")
    parser.add_argument("--match", help="count only calls whose arguments contain this text")
    parser.add_argument("--pause-sql", help="stop after a SQL statement containing this text")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if args.pause:
        _install_pause(args.pause, args.marker, args.nth, args.after, args.match)
    if args.pause_sql:
        _install_sql_pause(args.pause_sql, args.marker, args.nth)
    return _run(command)


if __name__ == "__main__":
    sys.exit(main())
