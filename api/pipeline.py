"""The demo region, end to end: generate → ingest → profiles → train → policy facts → load the service database.

A recipe of small named stages. Each stage writes its output atomically and leaves a stamp; a second run
reuses every stage whose stamp matches its inputs, and a rebuilt stage forces the ones after it to rebuild.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from api.db import make_engine, migrate
from api.demo_loans import (
    APPLICATIONS_PER_ENTERPRISES,
    SCREENED_PER_ENTERPRISES,
    demo_loans_stored,
    plan_loans,
    plan_screening,
    store_loans,
    store_screening,
)
from api.portal.passwords import set_demo_passwords
from api.repository import DemoAccounts, create_demo_accounts, refresh_profiles, upsert_enterprises
from config.settings import Settings
from features.catalogue import CATALOGUE_VERSION, FEATURE_NAMES, FEATURE_SPECS
from features.engines import engine_for
from features.ingest import current, ingest_region, load_accepted
from features.outcomes import LABEL, label_applications, load_defaults
from features.profiles import SourceTables
from features.snapshots import write_snapshot
from features.synthetic import RegionFiles, generate_region
from models.artifact import ScorecardScale
from models.generic import TableSpec
from models.history import CHAMPION
from models.registry import load_model_by_alias
from models.train import training_recipe
from models.workflow import register_run, train_and_validate
from scoring.facts import facts_by_enterprise, load_fact_tables, policy_records, revenue_evidence

log = logging.getLogger(__name__)

REPORTING_LAG_MONTHS = 4  # a default is reported back by banks within four months (回传)
DEMO_ENTERPRISES = 4
_DEMO_CORE_SOURCES = ("registration", "tax_monthly", "social_insurance_monthly")


@dataclass(frozen=True)
class StageResult:
    """What one stage did: its name, whether it reused earlier output, and a one-line summary."""

    name: str
    reused: bool
    summary: str


@dataclass
class DemoOutcome:
    """Everything the run command prints at the end."""

    region: RegionFiles
    model_version: str
    metrics: dict[str, float]
    accounts: DemoAccounts
    stages: list[StageResult] = field(default_factory=list)


def _read_stamp(path: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def _write_stamp(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    tmp.replace(path)


def application_dates(first_period: pd.Timestamp, observed_until: pd.Timestamp, horizon: int = 12) -> list:
    """Quarter ends with 12 months of history before them and a finished 12-month outcome after them."""
    start = (first_period + pd.DateOffset(months=12)).to_period("Q").to_timestamp(how="end").normalize()
    last = (observed_until - pd.DateOffset(months=horizon)) + pd.offsets.MonthEnd(0)
    return [d.normalize() for d in pd.date_range(start, last, freq="QE")]


class DemoPipeline:
    """Builds the demo region under ``settings.region_dir()`` and loads it into the service database."""

    def __init__(
        self, settings: Settings, *, rebuild: bool = False, report: Callable[[StageResult], None] | None = None
    ) -> None:
        self.settings = settings
        self.rebuild = rebuild
        self.report = report or (lambda result: log.info("%s: %s", result.name, result.summary))
        self.root = settings.region_dir()
        self.region = RegionFiles(self.root)
        self._dirty = rebuild

    # --- stages ----------------------------------------------------------------------------------------

    def _stage(self, name: str, stamp: Path, inputs: dict[str, Any], build: Callable[[], dict[str, Any]]) -> dict:
        previous = _read_stamp(stamp)
        if not self._dirty and previous is not None and previous.get("inputs") == inputs:
            result = previous["result"]
            self.report(StageResult(name, True, result.get("summary", "")))
            return dict(result)
        self._dirty = True  # everything after a rebuilt stage is rebuilt too
        result = build()
        _write_stamp(stamp, {"inputs": inputs, "result": result})
        self.report(StageResult(name, False, result.get("summary", "")))
        return result

    def generate(self) -> dict:
        """Stage 1: the seeded synthetic region's raw source files."""
        s = self.settings
        inputs = {"seed": s.seed, "enterprises": s.demo_enterprises, "region": s.region_name}

        def build() -> dict:
            generate_region(
                self.root / "raw-build", n_enterprises=s.demo_enterprises, seed=s.seed, region=s.region_name
            )
            for child in ("raw", "outcomes", "truth"):
                target = self.root / child
                if target.exists():
                    shutil.rmtree(target)
                (self.root / "raw-build" / child).rename(target)
            shutil.rmtree(self.root / "raw-build", ignore_errors=True)
            manifest = json.loads((self.region.raw_dir / "manifest.json").read_text(encoding="utf-8"))
            return {
                "summary": f"{s.demo_enterprises:,} enterprises, extracted on {manifest['extracted_on']}",
                "extracted_on": manifest["extracted_on"],
            }

        return self._stage("generate region", self.root / "stamps" / "generate.json", inputs, build)

    def ingest(self, generated: dict) -> dict:
        """Stage 2: validate every raw file; accepted rows typed, rejected rows quarantined with reasons."""

        def build() -> dict:
            summary = ingest_region(self.region.raw_dir, self.root / "ingest",
                                    buckets=self.settings.profile_partitions)  # snapshots read without a shuffle
            return {
                "summary": f"read {summary.total_read:,} rows: {summary.total_accepted:,} accepted, "
                f"{summary.total_quarantined:,} quarantined, {summary.total_duplicates:,} duplicates",
                "read": summary.total_read,
            }

        inputs = {"upstream": generated, "buckets": self.settings.profile_partitions}  # a new count: re-ingest
        return self._stage("ingest", self.root / "stamps" / "ingest.json", inputs, build)

    def profiles(self, ingested: dict, generated: dict) -> dict:
        """Stage 3: point-in-time profiles at every application date (labelled) and as of extraction."""

        def build() -> dict:
            tables = SourceTables.from_accepted(self.root / "ingest")
            extracted_on = pd.Timestamp(generated["extracted_on"])
            observed_until = (extracted_on - pd.DateOffset(months=REPORTING_LAG_MONTHS)) + pd.offsets.MonthEnd(0)
            horizon = self.settings.default_horizon_months
            dates = application_dates(tables.tax_monthly["period"].min(), observed_until, horizon)
            engine = engine_for(self.settings.dask_scheduler, self.settings.profile_partitions,
                                self.settings.profile_workers)
            applications = label_applications(
                engine.build(tables, dates),
                load_defaults(self.region.outcomes_path),
                observed_until=observed_until,
                horizon_months=horizon,
            )
            snapshot = write_snapshot(self.root / "ingest", self.root / "snapshots", extracted_on, engine)
            serving = snapshot.read()
            out = self.root / "profiles"
            out.mkdir(parents=True, exist_ok=True)
            for name, frame in (("applications", applications), ("serving", serving)):
                tmp = out / f"{name}.parquet.tmp"
                frame.to_parquet(tmp, index=False)
                tmp.replace(out / f"{name}.parquet")
            rate = applications[LABEL].mean()
            return {
                "summary": f"{len(applications):,} applications on {len(dates)} dates "
                f"(default rate {rate:.1%}); {len(serving):,} serving profiles",
                "dates": [str(d.date()) for d in dates],
            }

        # a new catalogue (version or feature list) rebuilds profiles, and through them the model
        inputs = {"upstream": ingested, "horizon_months": self.settings.default_horizon_months,
                  "catalogue": CATALOGUE_VERSION, "features": list(FEATURE_NAMES)}
        return self._stage("profiles", self.root / "stamps" / "profiles.json", inputs, build)

    def model(self, profiled: dict) -> dict:
        """Stage 4: train LightGBM with an out-of-time window and its baselines, log the model and its validation
        report to MLflow, register it as ``champion`` (recorded in the champion history)."""
        s = self.settings
        inputs = {"upstream": profiled, "tracking": s.resolved_mlflow_uri, "model": s.model_name,
                  "calibration": s.model_calibration, "oot_months": s.model_oot_months,
                  "gap_months": s.resolved_model_gap_months,
                  "training": training_recipe()}
        stamp = self.root / "stamps" / "model.json"
        previous = _read_stamp(stamp)
        if previous is not None and not self._registered(previous["result"].get("version")):
            self._dirty = True  # the registry was wiped: retrain

        def build() -> dict:
            applications = pd.read_parquet(self.root / "profiles" / "applications.parquet")
            scale = ScorecardScale(s.score_anchor_points, s.score_anchor_odds, s.score_pdo, s.score_min, s.score_max)
            run = train_and_validate(
                applications, TableSpec(features=FEATURE_NAMES), seed=s.seed, oot_months=s.model_oot_months,
                gap_months=s.resolved_model_gap_months,
                calibration=s.model_calibration, num_threads=2, scale=scale, dask_scheduler=s.dask_scheduler,
            )
            registered = register_run(
                run,
                tracking_uri=s.resolved_mlflow_uri,
                artifact_location=s.mlflow_artifact_dir,
                model_name=s.model_name,
                alias=CHAMPION,
                history_path=s.champion_history_path,
            )
            metrics = run.trained.flat_metrics()
            return {
                "summary": f"{s.model_name} v{registered.version} (champion): AUC out-of-time "
                f"{metrics.get('auc_oot', float('nan')):.3f}, KS {metrics.get('ks_oot', 0):.3f}",
                "version": registered.version,
                "run_id": registered.run_id,
                "metrics": metrics,
            }

        return self._stage("train and register", stamp, inputs, build)

    def policy_facts(self, ingested: dict, generated: dict) -> dict:
        """Stage 5: each enterprise's policy records in force and revenue evidence as of extraction."""
        inputs = {"upstream": ingested, "extracted_on": generated["extracted_on"]}

        def build() -> dict:
            tables = load_fact_tables(self.root / "ingest")
            extracted_on = pd.Timestamp(generated["extracted_on"])
            records = policy_records(tables, extracted_on)
            evidence = revenue_evidence(tables, extracted_on)
            out = self.root / "policy"
            out.mkdir(parents=True, exist_ok=True)
            for name, frame in (("records", records), ("evidence", evidence.reset_index())):
                tmp = out / f"{name}.parquet.tmp"
                frame.to_parquet(tmp, index=False)
                tmp.replace(out / f"{name}.parquet")
            restricted = records[
                ((records["source"] == "list_entries") & (records["kind"] == "black"))
                | ((records["source"] == "judicial") & (records["kind"] == "失信被执行人"))
            ]
            return {
                "summary": f"{len(records):,} records in force for {records['uscc'].nunique():,} enterprises; "
                f"{restricted['uscc'].nunique():,} on the black list or 失信被执行人; "
                f"revenue evidence for {len(evidence):,}",
            }

        return self._stage("policy facts", self.root / "stamps" / "policy_facts.json", inputs, build)

    def _registered(self, version: str | None) -> bool:
        try:
            _, champion = load_model_by_alias(self.settings.resolved_mlflow_uri, self.settings.model_name)
        except Exception:  # any registry failure means "not there": retrain
            return False
        return champion == version

    def database(self) -> DemoAccounts:
        """Stage 6: migrate, load enterprises and serving profiles with their policy facts, create demo accounts."""
        url = self.settings.resolved_database_url
        migrate(url)
        engine = make_engine(url)
        try:
            registration = current(load_accepted(self.root / "ingest", "registration"))
            serving = pd.read_parquet(self.root / "profiles" / "serving.parquet")
            facts = facts_by_enterprise(
                pd.read_parquet(self.root / "policy" / "records.parquet"),
                pd.read_parquet(self.root / "policy" / "evidence.parquet").set_index("uscc"),
                serving["uscc"].astype(str),
            )
            upsert_enterprises(engine, registration.to_dict("records"))
            loaded = refresh_profiles(engine, serving, facts)
            picks = self.demo_enterprises(serving, registration)
            accounts = create_demo_accounts(engine, self.settings, picks)
            with Session(engine) as session:  # portal logins for the demo's enterprises and regulator
                set_demo_passwords(session, self.settings, [(a.account_id, a.label) for a in accounts.accounts])
        finally:
            engine.dispose()
        self.report(
            StageResult(
                "service database",
                False,
                f"{len(registration):,} enterprises, {loaded:,} profiles, {len(accounts.accounts)} demo accounts",
            )
        )
        return accounts

    def loan_reports(self, modelled: dict, generated: dict, demo_usccs: list[str]) -> dict:
        """Stage 7: the demo banks' loans over the last 30 months, scored by the champion and reported (回传)
        through the loan-report storage (``api.demo_loans``), so regulators and monitoring see real figures."""
        s = self.settings
        inputs = {"upstream": modelled, "extracted_on": generated["extracted_on"], "seed": s.seed,
                  "screened_per": SCREENED_PER_ENTERPRISES}
        url = s.resolved_database_url
        engine = make_engine(url)
        if demo_loans_stored(engine) == 0:
            self._dirty = True  # a fresh database: store them again

        def build() -> dict:
            from scoring.service import ScoreService

            artifact, version = load_model_by_alias(s.resolved_mlflow_uri, s.model_name)
            applications = pd.read_parquet(self.root / "profiles" / "applications.parquet")
            registration = current(load_accepted(self.root / "ingest", "registration"))
            operating = set(registration.loc[registration["status"] == "存续", "uscc"]) - set(demo_usccs)
            applications = applications[applications["uscc"].isin(operating)]  # demo enterprises' grants stay as shown
            scored = ScoreService(artifact, s.model_name, version).score_frame(applications)
            defaults = load_defaults(self.region.outcomes_path).groupby("uscc")["default_month"].min()
            extracted_on = pd.Timestamp(generated["extracted_on"]).date()
            loans = plan_loans(scored, defaults, end=extracted_on, seed=s.seed,
                               per_month=max(1, s.demo_enterprises // APPLICATIONS_PER_ENTERPRISES))
            kept = demo_loans_stored(engine)
            if kept == 0:
                stored = store_loans(engine, loans, model_name=s.model_name, model_version=version)
                disbursed = sum(any(e.body.type == "disbursement" for e in loan.events) for loan in loans)
                reported = (f"{len(loans):,} applications, {disbursed:,} loans disbursed, {stored.events:,} events "
                            "reported by the demo banks")
            else:  # reports are stored once per database, as a bank's would be: never re-sent or replaced
                reported = f"{kept:,} demo loans reported to this database before, kept as they were"
            screening = plan_screening(scored, end=extracted_on, seed=s.seed,
                                       per_month=max(1, s.demo_enterprises // SCREENED_PER_ENTERPRISES))
            screened = store_screening(engine, screening, model_name=s.model_name, model_version=version)
            scored_more = (f"{screened:,} more enterprises scored without applying" if screened or screening.empty
                           else "the earlier scores of enterprises screened without applying kept")
            return {"summary": f"{reported}; {scored_more}"}

        try:
            return self._stage("loan reports", self.root / "stamps" / "loan_reports.json", inputs, build)
        finally:
            engine.dispose()

    @staticmethod
    def demo_enterprises(serving: pd.DataFrame, registration: pd.DataFrame) -> list[str]:
        """A stable handful of operating enterprises with full registration, tax and social-insurance profiles,
        to play the demo's enterprises (other sources are legitimately missing for many enterprises)."""
        open_ = registration.loc[registration["status"] == "存续", "uscc"]
        core = [name for name, spec in FEATURE_SPECS.items() if spec.source in _DEMO_CORE_SOURCES]
        full = serving.dropna(subset=core)
        candidates = sorted(set(full["uscc"]) & set(open_))
        return candidates[:DEMO_ENTERPRISES]

    def run(self) -> DemoOutcome:
        """Run every stage in order, reusing what is already built."""
        stages: list[StageResult] = []
        outer = self.report

        def record(result: StageResult) -> None:
            stages.append(result)
            outer(result)

        self.report = record
        try:
            generated = self.generate()
            ingested = self.ingest(generated)
            profiled = self.profiles(ingested, generated)
            modelled = self.model(profiled)
            self.policy_facts(ingested, generated)
            accounts = self.database()
            self.loan_reports(modelled, generated, [a.uscc for a in accounts.accounts if a.uscc])
        finally:
            self.report = outer
        return DemoOutcome(self.region, str(modelled["version"]), modelled["metrics"], accounts, stages)
