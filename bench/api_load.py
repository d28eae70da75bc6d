"""Load on ``POST /v1/scores`` over loopback: key check, grant check, score with reasons, decision, stored response
and audit row — against the in-process cost of score + reasons for the same model, and the floors under it.

Prints, in one run:

1. the in-process cost of ``ScoreService.score`` (PD, score, grade, reasons; what bench/scoring_latency.py times)
   on the served profiles, median and p99;
2. closed loop at fixed concurrency (default 1, then 8): p50, p99 and throughput; concurrency 1 gives the
   request cost without queueing, the higher one the saturated throughput;
3. open loop at a fixed offered rate (default 200 req/s, Poisson arrivals): p50, p99;
4. the floors: an empty FastAPI endpoint served and loaded the same way; the whole app called as ASGI in this
   process (no HTTP); one audit row appended and committed on its own;
5. the ratios to the targets: p50 (concurrency 1) ≤ 1.3 × in-process; saturated throughput
   ≥ 0.9 × (2 ÷ in-process seconds); p99 ≤ 15 ms at 200 req/s — and the floors as the same ratios.

The model is trained here (≥ 300 trees, the project's parameters with a slower learning rate) on the synthetic
training frame (``--model-cache DIR`` keeps it for the next run), saved in a temporary data directory with a fresh
database (a temporary SQLite file, or with ``--database-url postgresql+psycopg://…`` a fresh schema there, dropped
afterwards), enterprises, profiles, grants and one bank key; or the registry's champion with ``--champion``. The
server is uvicorn on 127.0.0.1 with ``--workers`` processes (default one per core, as ``XINYI_WORKERS`` would be set
in production; ``api.serving``), loaded once all its processes are idle. The load generator runs in this process
on the same cores: raw asyncio streams sending pre-built requests, each answer read in full and checked (status
200, JSON naming the USCC asked about, with a score), its own heap frozen before each load phase so that its
garbage collections do not count as the server's latency. The bank's rate limit is off for the run. Usage::

    .venv/bin/python bench/api_load.py [--workers N] [--concurrency 1 8] [--rate 200] [--seconds 15]
        [--database-url URL] [--model-cache DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from http_load import closed_loop, free_port, ms, open_loop, score_request, start_server, stop_server
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session

from api.app import create_app
from api.audit import write_event
from api.db import make_engine, make_sessionmaker, migrate
from api.db.models import Account, AuditEvent, Authorisation, Bank, Enterprise, EnterpriseProfile, utcnow
from api.schemas import DEFAULT_SCOPES
from api.security import issue_key
from api.serving import app_from_environment
from bench.results import record
from config.settings import Settings, get_settings
from features.catalogue import FEATURE_NAMES
from features.uscc import make_uscc
from models.artifact import PdModelArtifact, ScorecardScale
from models.train import DEFAULT_PARAMS, feature_matrix, train_pd_model
from scoring.facts import PolicyFacts, RevenueEvidence
from scoring.service import ScoreService
from tests.utils.training_frames import make_training_frame

MODEL_DIR_ENV = "XINYI_BENCH_MODEL_DIR"
MIN_TREES = 300
PROFILE_AS_OF = date(2026, 3, 31)


def trained_service(min_trees: int) -> ScoreService:
    """A production-size model: the default parameters at a slower learning rate, so early stopping keeps more
    than ``min_trees`` trees."""
    frame = make_training_frame(n_enterprises=4_000, n_dates=8, seed=3)
    params = {"learning_rate": 0.01, "num_boost_round": max(min_trees + 200, 600)}
    trained = train_pd_model(frame, FEATURE_NAMES, seed=11, num_threads=2, params=params)
    artifact = PdModelArtifact.from_trained(trained, ScorecardScale())
    trees = artifact.booster.num_trees()
    if trees < min_trees:
        raise SystemExit(f"the trained model has {trees} trees, fewer than {min_trees}; raise num_boost_round")
    return ScoreService(artifact, "bench_pd", "1", num_threads=1)


def bench_profiles(service: ScoreService, n: int) -> list[dict[str, float | None]]:
    """``n`` profiles drawn like the training frame's, in the model's features."""
    frame = make_training_frame(n_enterprises=n, n_dates=1, seed=5)
    return [{name: None if np.isnan(v) else float(v) for name, v in zip(service.feature_names, row, strict=True)}
            for row in feature_matrix(frame, service.feature_names)]


def seed_database(settings: Settings, profiles: list[dict[str, float | None]]) -> tuple[list[str], str]:
    """Enterprises with these profiles, each having authorised one bank; returns their USCCs and the bank's key."""
    migrate(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    facts = PolicyFacts((), RevenueEvidence(6_000_000.0, 180_000.0, 12, 12)).to_json()
    usccs = [make_uscc("9", "1", "350100", f"{i + 1:08d}") for i in range(len(profiles))]
    now = utcnow()
    with Session(engine) as session:
        bank = Bank(code="BENCH_BANK", name="压测银行")
        session.add(bank)
        session.flush()
        account = Account(role="bank", display_name="bench bank", bank_id=bank.id, created_at=now)
        session.add(account)
        for uscc, profile in zip(usccs, profiles, strict=True):
            session.add(Enterprise(uscc=uscc, name="压测企业", region_code="350100", industry="C13", status="存续"))
            session.flush()
            session.add(EnterpriseProfile(uscc=uscc, as_of=PROFILE_AS_OF, features=profile, policy_facts=facts))
            session.add(Authorisation(uscc=uscc, bank_id=bank.id, purpose="pre_credit", scopes=list(DEFAULT_SCOPES),
                                      granted_at=now - timedelta(days=1), expires_at=now + timedelta(days=30)))
        session.flush()
        key = issue_key(session, account, settings)
        session.commit()
    engine.dispose()
    return usccs, key


def served_app() -> FastAPI:
    """The app each uvicorn worker builds (``--factory``): settings from ``XINYI_*``, the bench's saved model or
    the registry's champion."""
    model_dir = os.environ.get(MODEL_DIR_ENV)
    service = ScoreService(PdModelArtifact.load(model_dir), "bench_pd", "1", num_threads=1) if model_dir else None
    return app_from_environment(score_provider=service)  # as each `xinyi serve` worker builds it


def in_process_us(service: ScoreService, profiles: list[dict[str, float | None]], repeats: int) -> list[float]:
    """Microseconds per ``ScoreService.score`` call (score + reasons), after a warm-up."""
    times = []
    for i in range(repeats + 200):
        profile = profiles[i % len(profiles)]
        started = time.perf_counter_ns()
        service.score("x", profile, PROFILE_AS_OF)
        if i >= 200:
            times.append((time.perf_counter_ns() - started) / 1e3)
    return times


def empty_app() -> FastAPI:
    """The floor under any FastAPI service here: ``POST /v1/scores`` answering the USCC it was sent, with no
    middleware, no key, no database and no model (served the same way, measured with the same client)."""
    app = FastAPI()

    @app.post("/v1/scores")
    async def echo(request: Request) -> JSONResponse:
        body = await request.json()
        return JSONResponse({"uscc": body["uscc"], "score": None})

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    return app


def server_environment(data_dir: Path, *, champion: bool, database_url: str | None = None,
                       model_cache: Path | None = None) -> tuple[dict[str, str], ScoreService]:
    """The served process's environment (``database_url``, by default SQLite in ``data_dir``; no rate limit;
    keys cached) and the model it serves: the registry's champion, or a ≥ MIN_TREES model, trained and saved
    under ``data_dir`` (or loaded from ``model_cache`` when a model is saved there, saved there when not)."""
    env = {**os.environ, "XINYI_DATABASE_URL": database_url or f"sqlite:///{data_dir / 'service.db'}",
           "XINYI_RATE_LIMIT_PER_SECOND": "0", "XINYI_KEY_CACHE_SECONDS": "3600"}
    if champion:
        return env, ScoreService.from_registry(get_settings())
    model_dir = model_cache or data_dir / "model"
    if model_cache is not None and (model_cache / "booster.txt").exists():
        service = ScoreService(PdModelArtifact.load(model_cache), "bench_pd", "1", num_threads=1)
    else:
        service = trained_service(MIN_TREES)
        service.artifact.save(model_dir)
    env[MODEL_DIR_ENV] = str(model_dir)
    return env, service


@contextmanager
def fresh_database(url: str | None) -> Iterator[str | None]:
    """``url`` as given for SQLite (None: the temporary file); for PostgreSQL a URL on a fresh schema, dropped
    afterwards, so the bench never touches the tables already there."""
    if url is None or not url.startswith("postgresql"):
        yield url
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


async def _asgi_post(app: FastAPI, request: bytes, uscc: str) -> None:
    head, _, body = request.partition(b"\r\n\r\n")
    headers = [tuple(part.strip().lower() if i == 0 else part.strip() for i, part in enumerate(line.split(b":", 1)))
               for line in head.split(b"\r\n")[1:]]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/v1/scores", "raw_path": b"/v1/scores", "query_string": b"", "root_path": "",
             "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {}}
    messages: list[Any] = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[Any] = []

    async def receive() -> Any:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    await app(scope, receive, send)
    answer = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    if sent[0]["status"] != 200 or answer["uscc"] != uscc:
        raise SystemExit(f"the in-process app answered {sent[0]['status']}")


def in_app_ms(settings: Settings, service: ScoreService, key: str, usccs: list[str], repeats: int
              ) -> tuple[list[float], float]:
    """Milliseconds per ``POST /v1/scores`` through the whole app (middleware, key, grant, score, stored answer,
    audit row) called as ASGI in this process: the service's own cost without HTTP, uvicorn or a client; and the
    CPU milliseconds (this process, all threads) per call, which a busy machine inflates far less than wall time."""
    app = create_app(settings, score_provider=service)
    requests = [score_request("127.0.0.1", 80, key, u) for u in usccs]

    async def run() -> tuple[list[float], float]:
        times = []
        for i in range(repeats + 50):
            if i == 50:
                cpu = time.process_time()
            started = time.perf_counter()
            await _asgi_post(app, requests[i % len(usccs)], usccs[i % len(usccs)])
            if i >= 50:
                times.append((time.perf_counter() - started) * 1e3)
        return times, (time.process_time() - cpu) * 1e3 / repeats

    try:
        return asyncio.run(run())
    finally:
        app.state.engine.dispose()


def audit_commit_ms(settings: Settings, repeats: int) -> list[float]:
    """Milliseconds to append one audit row (chain head locked and moved, row inserted, committed) on its own."""
    engine = make_engine(settings.resolved_database_url)
    factory = make_sessionmaker(engine)
    times = []
    for i in range(repeats + 20):
        event = AuditEvent(at=utcnow(), request_id=f"bench-{i}", actor_account_id=None, actor_role="anonymous",
                           action="bench.audit_commit", uscc=None, outcome="allowed", http_status=200, detail=None)
        started = time.perf_counter()
        write_event(factory, event)
        if i >= 20:
            times.append((time.perf_counter() - started) * 1e3)
    engine.dispose()
    return times


def measure_server(env: dict[str, str], workers: int, app: str, key: str, usccs: list[str],
                   concurrencies: list[int], seconds: float, label: str) -> dict[int, tuple[float, float, float]]:
    """Closed loops at each concurrency against ``app`` served by uvicorn: p50 ms, p99 ms, req/s for each."""
    port = free_port()
    server = start_server(env, workers, port, app)
    closed = {}
    try:
        print(f"\nclosed loop, POST /v1/scores, {label}, {seconds:g} s each")
        for concurrency in concurrencies:
            latencies, failures, elapsed = asyncio.run(
                closed_loop(f"http://127.0.0.1:{port}", key, usccs, concurrency, seconds))
            closed[concurrency] = (ms(latencies, 50), ms(latencies, 99), len(latencies) / elapsed)
            print(f"  concurrency {concurrency:>3}: p50 {closed[concurrency][0]:6.2f} ms   p99 "
                  f"{closed[concurrency][1]:6.2f} ms   {closed[concurrency][2]:7.0f} req/s   "
                  f"non-200 or wrong body: {len(failures)}")
    finally:
        stop_server(server)
    return closed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="server worker processes, as XINYI_WORKERS (default: one per core, %(default)s here)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8], help="closed-loop clients")
    parser.add_argument("--rate", type=float, default=200.0,
                        help="open-loop offered rate (req/s); 0 skips the open loop")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each load phase")
    parser.add_argument("--enterprises", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=2_000, help="in-process calls timed")
    parser.add_argument("--champion", action="store_true", help="serve the registry's champion")
    parser.add_argument("--database-url", help="serve from this database (postgresql+psycopg://…: a fresh schema "
                        "there, dropped afterwards); default a temporary SQLite file")
    parser.add_argument("--model-cache", type=Path,
                        help="load the trained bench model from this folder, or train it and save it there")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="xinyi-api-load-") as tmp, fresh_database(args.database_url) as url:
        env, service = server_environment(Path(tmp), champion=args.champion, database_url=url,
                                          model_cache=args.model_cache)
        settings = Settings(database_url=env["XINYI_DATABASE_URL"], rate_limit_per_second=0, key_cache_seconds=3600)
        database = "PostgreSQL" if settings.resolved_database_url.startswith("postgresql") else "SQLite (WAL)"
        profiles = bench_profiles(service, args.enterprises)
        usccs, key = seed_database(settings, profiles)
        booster = service.artifact.booster
        print(f"model: {booster.num_trees()} trees, {len(service.feature_names)} features, num_leaves "
              f"{booster.params.get('num_leaves', DEFAULT_PARAMS['num_leaves'])}; {len(usccs)} enterprises; "
              f"{os.cpu_count()} CPU cores; server: uvicorn, {args.workers} workers, {database}; "
              f"load generator: raw asyncio streams in this process on the same cores; load average before: "
              f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}")

        cost = in_process_us(service, profiles, args.repeats)
        in_process_ms = statistics.median(cost) / 1e3
        print(f"\nin process, ScoreService.score (PD, score, grade, reasons), {args.repeats} calls: "
              f"median {in_process_ms:.3f} ms, p99 {np.percentile(cost, 99) / 1e3:.3f} ms")

        closed = measure_server(env, args.workers, "api_load:served_app", key, usccs, args.concurrency,
                                args.seconds, f"the service on {database}")
        open_p99 = float("nan")
        if args.rate > 0:
            port = free_port()
            server = start_server(env, args.workers, port)
            late: list[float] = []
            try:
                latencies, failures, sent = asyncio.run(
                    open_loop(f"http://127.0.0.1:{port}", key, usccs, args.rate, args.seconds, lateness=late))
            finally:
                stop_server(server)
            open_p50, open_p99 = ms(latencies, 50), ms(latencies, 99)
            print(f"\nopen loop, {args.rate:g} req/s offered (Poisson), {sent} requests: p50 {open_p50:.2f} ms   "
                  f"p99 {open_p99:.2f} ms   non-200 or wrong body: {len(failures)}")
            print(f"  of which the generator's lateness (its timer and its own work before each send, counted in "
                  f"the latencies): p50 {ms(late, 50):.2f} ms, p99 {ms(late, 99):.2f} ms")

        empty = measure_server(env, args.workers, "api_load:empty_app", key, usccs,
                               [min(args.concurrency), max(args.concurrency)], args.seconds / 2,
                               "an empty FastAPI endpoint (no middleware, key, database or model)")
        in_app, in_app_cpu = in_app_ms(settings, service, key, usccs, max(200, args.repeats // 4))
        audit = audit_commit_ms(settings, max(200, args.repeats // 4))
        print(f"\nin process, the whole app called as ASGI (no HTTP, no uvicorn, no client), {len(in_app)} calls: "
              f"p50 {statistics.median(in_app):.2f} ms, p99 {np.percentile(in_app, 99):.2f} ms; "
              f"CPU {in_app_cpu:.2f} ms a call")
        print(f"in process, one audit row appended and committed on its own ({database}), {len(audit)} times: "
              f"p50 {statistics.median(audit):.2f} ms, p99 {np.percentile(audit, 99):.2f} ms")

    load, cores = os.getloadavg(), os.cpu_count() or 1
    shared = "other work may have shared the cores" if load[0] > cores else "below the core count"
    print(f"\nload average after (1, 5, 15 min): {' '.join(f'{v:.1f}' for v in load)} on {cores} cores — {shared}")
    report(args, database, in_process_ms, closed, open_p99, empty, statistics.median(in_app), in_app_cpu,
           statistics.median(audit))


def report(args: argparse.Namespace, database: str, in_process_ms: float, closed: dict[int, tuple[float, float, float]],
           open_p99: float, empty: dict[int, tuple[float, float, float]], in_app_p50: float, in_app_cpu: float,
           audit_p50: float) -> None:
    """Print the ratios to the targets beside the floors that bound them, and record them."""
    lowest, highest = min(closed), max(closed)
    best_throughput = max(t for _, _, t in closed.values())
    empty_throughput = max(t for _, _, t in empty.values())
    ceiling = 2 / (in_process_ms / 1e3)
    suffix = "" if database.startswith("SQLite") else f" ({database})"
    print(f"\ntargets ({database})")
    print(f"  p50 at concurrency {lowest} / in-process: {closed[lowest][0]:.2f} / {in_process_ms:.3f} ms = "
          f"{closed[lowest][0] / in_process_ms:.2f} × (target ≤ 1.3 ×)")
    print(f"  saturated throughput (best closed loop, up to concurrency {highest}) / (2 ÷ in-process): "
          f"{best_throughput:.0f} / {ceiling:.0f} req/s = {best_throughput / ceiling:.2f} × (target ≥ 0.9 ×)")
    print(f"  p99 at {args.rate:g} req/s: {open_p99:.2f} ms (target ≤ 15 ms) = {open_p99 / 15:.2f} × the target")
    print("floors on this machine, measured above")
    print(f"  an empty FastAPI endpoint over loopback, p50 at concurrency {lowest}: {empty[lowest][0]:.2f} ms = "
          f"{empty[lowest][0] / in_process_ms:.2f} × in-process on its own; its best throughput "
          f"{empty_throughput:.0f} req/s = {empty_throughput / ceiling:.2f} × the throughput target's reference")
    print(f"  the whole app as ASGI in process (no HTTP): p50 {in_app_p50:.2f} ms = "
          f"{in_app_p50 / in_process_ms:.2f} × in-process, CPU {in_app_cpu:.2f} ms a call = "
          f"{in_app_cpu / in_process_ms:.2f} × (one core's ceiling {1e3 / in_app_cpu:.0f} req/s); of it one audit "
          f"commit alone: {audit_p50:.2f} ms")
    record(f"POST /v1/scores p50 at concurrency {lowest} ÷ in-process score + reasons{suffix}",
           closed[lowest][0] / in_process_ms, "ratio", 1.3, "<=",
           note=f"{closed[lowest][0]:.2f} ms against {in_process_ms:.3f} ms")
    record(f"saturated throughput ÷ (2 cores ÷ in-process cost){suffix}", best_throughput / ceiling, "ratio", 0.9,
           ">=", note=f"{best_throughput:.0f} req/s")
    if args.rate > 0:
        record(f"p99 at {args.rate:g} req/s offered{suffix}", open_p99, "ms", 15.0, "<=")
    record(f"floor: empty FastAPI endpoint p50 at concurrency {lowest} ÷ in-process{suffix}",
           empty[lowest][0] / in_process_ms, "ratio", note=f"{empty[lowest][0]:.2f} ms; {empty_throughput:.0f} req/s")
    record(f"floor: whole app as ASGI in process, p50{suffix}", in_app_p50, "ms",
           note=f"CPU {in_app_cpu:.2f} ms a call; audit commit alone {audit_p50:.2f} ms")


if __name__ == "__main__":
    main()
