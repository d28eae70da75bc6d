"""schemathesis against every operation of the API, as a bank, an enterprise and an operator, positive and negative
cases.

Each generated case is drawn for one of the callers (its key fixed) and sent to the ASGI app (no network) on a
fresh SQLite database holding one enterprise that authorised one bank, with a profile and a fake scorer; every
answer is checked for server errors and against the OpenAPI document (status, content type, headers, body
schema, negative data refused, authentication enforced). Prints per operation the cases generated and the
distinct failures and the seconds it took, then the totals, which are also recorded for docs/benchmarks.md
(distinct failures and server errors, target 0; operations that got ``--cases`` cases). The suite runs the same
runner lightly (tests/api/test_schemathesis.py). Usage::

    .venv/bin/python bench/api_fuzz.py [--cases 1000] [--only /v1/scores /v1/loans] [--skip /v1/operator] [--as bank]

At 1,000 cases it takes about 20 minutes on the shared 2-core machine at a load average of 7 to 9 (100 cases per
operation: 3,615 cases in 113 s; the time grows with the cases, not faster); ``--only`` and ``--skip`` split it
into groups of operations when less time is at hand.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Err

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.results import record

CHECKED_MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
EXCLUDED_CHECKS = [positive_data_acceptance]
"""Schema-valid is not always acceptable here: a USCC's check digit, a bank code that exists, a cursor this list
gave out are rules JSON Schema cannot state; they answer 4xx problems naming the field, which the other checks
hold to the document."""


@dataclass
class OperationReport:
    """What fuzzing one operation found: cases generated, calls made, distinct failures (titles) and one example
    request of each."""

    label: str
    cases: int = 0
    calls: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def server_errors(self) -> int:
        """Distinct failures that are server errors (a 5xx answer, or the app raised)."""
        return sum("server error" in title.lower() for title in self.failures)


def _failure_titles(error: BaseException) -> list[str]:
    if isinstance(error, FailureGroup):
        return [f"{f.title}: {f.message.splitlines()[0] if f.message else ''}" for f in error.exceptions]
    if isinstance(error, Failure):
        return [f"{error.title}: {error.message.splitlines()[0] if error.message else ''}"]
    first_line = (str(error).splitlines() or [""])[0][:200]
    return [f"server error (the app raised) {type(error).__name__}: {first_line}"]


def fuzz(app: FastAPI, callers: Mapping[str, Mapping[str, str]], cases: int, *, only: tuple[str, ...] = (),
         skip: tuple[str, ...] = (), on_done: Callable[[OperationReport], None] | None = None
         ) -> list[OperationReport]:
    """Up to ``cases`` generated cases per operation (positive and negative), each drawn for one of the callers."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    reports = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # the document itself is broken: nothing to fuzz against
        operation = result.ok()
        if (only and not operation.path.startswith(only)) or operation.path.startswith(skip):
            continue
        report = OperationReport(f"{operation.method.upper()} {operation.path}")
        # the caller's key is fixed in each case (in both places the document allows), so a negative case never
        # breaks it only to have it put back; it is also passed as explicit auth, which the auth checks probe
        strategy = st.one_of(*(
            operation.as_strategy(generation_mode=mode, headers=_key_headers(headers)).map(partial(_as, role))
            for mode in CHECKED_MODES for role, headers in callers.items()
        ))
        started = time.perf_counter()
        _run(strategy, report, callers, cases)
        report.seconds = time.perf_counter() - started
        reports.append(report)
        if on_done is not None:
            on_done(report)
    return reports


def _as(role: str, case: schemathesis.Case) -> tuple[str, schemathesis.Case]:
    """A generated case paired with the caller it is sent as."""
    return role, case


def _key_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The caller's key as bearer and as ``X-API-Key`` alike (the document offers both)."""
    key = headers["Authorization"].removeprefix("Bearer ")
    return {"Authorization": f"Bearer {key}", "X-API-Key": key}


def _run(strategy: st.SearchStrategy[tuple[str, schemathesis.Case]], report: OperationReport,
         callers: Mapping[str, Mapping[str, str]], cases: int) -> None:
    """Each generated case, sent as the caller it was drawn for; failures are recorded, not raised, so the count
    runs to the end."""

    @given(drawn=strategy)
    @settings(max_examples=cases, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def run(drawn: tuple[str, schemathesis.Case]) -> None:
        role, case = drawn
        report.cases += 1
        report.calls += 1
        try:
            case.call_and_validate(headers=_key_headers(callers[role]), excluded_checks=EXCLUDED_CHECKS)
        except (Exception, FailureGroup) as error:  # a check failed, or the app raised: a server error
            for title in _failure_titles(error):
                report.failures.setdefault(f"as {role}: {title}", case.as_curl_command(_key_headers(callers[role])))

    run()


def fuzz_app(database_url: str) -> tuple[FastAPI, dict[str, dict[str, str]]]:
    """The app on a migrated database with the usual cast (tests/api/factories) and the callers' headers."""
    from pydantic import SecretStr
    from sqlalchemy.orm import Session

    from api.app import create_app
    from api.db import make_engine, migrate
    from config.settings import Settings
    from tests.api.factories import FakeScorer, add_account, add_key, bearer, build_scenario

    settings = Settings(env="test", secret_key=SecretStr("fuzz-secret-not-the-default"), database_url=database_url,
                        rate_limit_per_second=0, key_failure_limit=10**9, key_failure_address_limit=10**9)
    migrate(database_url)
    engine = make_engine(database_url)
    with Session(engine, expire_on_commit=False) as session:
        scenario = build_scenario(session, settings)
        operator_key = add_key(session, add_account(session, "operator"), settings)
    engine.dispose()
    app = create_app(settings, score_provider=FakeScorer())
    return app, {"bank": bearer(scenario.bank_a_key), "enterprise": bearer(scenario.enterprise_key),
                 "operator": bearer(operator_key)}


def print_report(report: OperationReport) -> None:
    """One operation's line, and each distinct failure with a request that shows it."""
    print(f"  {report.label:<58} {report.cases:>6} {report.calls:>6} {len(report.failures):>8} {report.seconds:>7.1f}",
          flush=True)
    for title, curl in report.failures.items():
        print(f"      {title}\n        e.g. {curl[:300]}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000, help="generated cases per operation")
    parser.add_argument("--only", nargs="+", default=[], help="only operations whose path starts with one of these")
    parser.add_argument("--skip", nargs="+", default=[], help="leave out operations whose path starts with these")
    parser.add_argument("--as", dest="roles", nargs="+", default=["bank", "enterprise", "operator"],
                        choices=["bank", "enterprise", "operator"], help="callers each case is sent as")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xinyi-api-fuzz-") as tmp:
        app, every_caller = fuzz_app(f"sqlite:///{Path(tmp) / 'fuzz.db'}")
        callers = {role: every_caller[role] for role in args.roles}
        print(f"schemathesis {schemathesis.__version__}: up to {args.cases} cases per operation (positive and "
              f"negative), each drawn for one of: {', '.join(callers)}")
        print(f"  {'operation':<58} {'cases':>6} {'calls':>6} {'failures':>8} {'seconds':>7}", flush=True)
        started = time.perf_counter()
        reports = fuzz(app, callers, args.cases, only=tuple(args.only), skip=tuple(args.skip), on_done=print_report)
        spent = time.perf_counter() - started
    total_failures = sum(len(r.failures) for r in reports)
    print(f"\n{len(reports)} operations, {sum(r.cases for r in reports):,} cases, {sum(r.calls for r in reports):,} "
          f"calls in {spent:.0f} s; {total_failures} distinct failures; operations under {args.cases} cases: "
          f"{sum(r.cases < args.cases for r in reports)} (their inputs allow fewer distinct cases)")
    short = [r for r in reports if r.cases < args.cases]
    record("distinct failures (server errors and answers off the OpenAPI document)", total_failures, "failures",
           0, "<=", note=f"{sum(r.server_errors for r in reports)} of them server errors")
    record("distinct server errors", sum(r.server_errors for r in reports), "failures", 0, "<=")
    record(f"operations fuzzed with {args.cases:,} cases", len(reports) - len(short), "operations",
           note=f"as {', '.join(callers)}; positive and negative cases; under {args.cases:,} (their inputs allow "
           f"fewer distinct cases): {', '.join(f'{r.label} ({r.cases})' for r in short) or 'none'}")
    record("cases generated", sum(r.cases for r in reports), "cases",
           note=f"{len(reports)} operations in {spent:.0f} s")
    sys.exit(1 if total_failures else 0)


if __name__ == "__main__":
    main()
