"""One typed settings object, read from ``XINYI_*`` environment variables.

Every value has a documented default that runs the embedded single-machine setup: SQLite and a local
MLflow store under one data directory. ``docs/configuration.md`` lists them all.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Grade = Literal["A", "B", "C", "D", "E"]
DEFAULT_DAYS_PAST_DUE = 90
"""Default definition (DOMAIN.md): a loan is in default from the day it is 90 days past due."""
DEV_SECRET = "dev-only-secret-change-me"  # noqa: S105 - the documented development default, refused elsewhere


class Settings(BaseSettings):
    """Configuration of the whole platform; ``XINYI_<FIELD>`` overrides each field."""

    model_config = SettingsConfigDict(env_prefix="XINYI_", env_file=None, extra="ignore")

    env: Literal["development", "test", "production"] = Field(
        "development", description="Deployment environment; default secrets are refused outside development."
    )
    data_dir: Path = Field(Path("data"), description="Root folder for raw files, snapshots, SQLite and MLflow.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the service database; default SQLite at <data_dir>/xinyi.db."
    )
    mlflow_tracking_uri: str | None = Field(
        None, description="MLflow tracking and registry store; default SQLite at <data_dir>/mlflow.db."
    )
    secret_key: SecretStr = Field(
        SecretStr(DEV_SECRET), description="Server secret (pepper for key hashing); must be set in production."
    )
    model_name: str = Field("pre_credit_pd", description="Registered MLflow model name.")
    region_name: str = Field("demo", description="Name of the demo region built by `xinyi demo`.")
    demo_enterprises: int = Field(20_000, ge=200, description="Enterprises in the synthetic demo region.")
    seed: int = Field(20260401, description="Seed of the synthetic region and of model training.")
    host: str = Field("127.0.0.1", description="Address the API listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port the API listens on.")
    workers: int = Field(
        1, ge=1, le=64, description="Processes serving the API (`xinyi serve`), sharing its port: one per core to "
        "use the machine (docs/operations.md, load and soak)."
    )
    dask_scheduler: str | None = Field(
        None,
        description="Dask scheduler address (tcp://host:8786) for building profiles and for `xinyi-models train`; "
        "unset: this machine.",
    )
    profile_partitions: int = Field(
        8, ge=1, description="Partitions (by USCC hash) profiles are built in; ingest writes accepted tables in as "
        "many buckets, so a build with this count (or a divisor) reads its partitions without a shuffle.")
    profile_workers: int = Field(
        1, ge=1, description="Worker processes building profile partitions here (memory: one partition each)."
    )
    lightgbm_threads: int = Field(1, ge=1, description="LightGBM threads when scoring inside the service.")
    key_cache_seconds: int = Field(
        60, ge=0, description="How long a verified API key is remembered in memory (0 disables the cache)."
    )
    key_failure_limit: int = Field(
        5, ge=1, description="Failed presentations of one key id within the window that lock it out; counted in "
        "each worker process on its own (with N workers, up to N times as many failures before every worker locks)."
    )
    key_failure_address_limit: int = Field(
        20, ge=1, description="Failed key presentations from one client address within the window that lock it out."
    )
    key_failure_window_seconds: float = Field(
        300.0, gt=0, description="Window in which failed key presentations are counted (seconds)."
    )
    key_lockout_seconds: float = Field(
        900.0, gt=0, description="How long a locked-out key id or address gets 429, even with the right secret."
    )
    rate_limit_per_second: float = Field(
        20.0, ge=0, description="Requests a second each bank account may make on average (0: no limit); the buckets "
        "live in each worker process, so with N uvicorn workers a bank may get up to N times this (docs/api.md)."
    )
    rate_limit_burst: int = Field(
        200, ge=1, description="Requests a bank account may make at once before the per-second rate applies; a "
        "score batch counts each enterprise."
    )
    score_retention_days: int = Field(
        730, ge=30, description="Days a score given to a bank is kept; `xinyi scores prune` deletes older ones (not "
        "those a review request names; audit rows are never deleted). Keep it above the default horizon plus the "
        "months banks take to report, or model monitoring loses the scores its outcomes belong to."
    )
    sqlite_checkpoint_seconds: float = Field(
        1.0, ge=0, description="On SQLite, how often a background thread of each API process copies the write-ahead "
        "log into the database file (0: SQLite checkpoints inside request commits instead; docs/operations.md)."
    )
    score_anchor_points: float = Field(600.0, description="Scorecard score at the anchor odds.")
    score_anchor_odds: float = Field(50.0, gt=0, description="Good:bad odds at the anchor score (50 means 1:50).")
    score_pdo: float = Field(40.0, gt=0, description="Points to double the odds.")
    score_min: float = Field(300.0, description="Lowest score reported.")
    score_max: float = Field(900.0, description="Highest score reported.")
    authorisation_days_default: int = Field(365, ge=1, description="Default validity of a grant in days.")
    authorisation_days_max: int = Field(365, ge=1, description="Longest validity a grant may have in days.")
    portal_session_minutes: int = Field(60, ge=1, description="How long a portal login lasts before signing in again.")
    portal_login_failures: int = Field(
        5, ge=1, description="Failed portal logins allowed per account within the window; more are refused (429) "
        "until it passes."
    )
    portal_login_window_seconds: int = Field(900, ge=1, description="Window over which failed portal logins count.")
    portal_login_address_failures: int = Field(
        20, ge=1, description="Failed portal logins allowed from one client address within the window, whichever "
        "accounts they name."
    )
    decision_approve_worst_grade: Grade = Field(
        "C", description="Worst grade still approved by the model (docs/scoring.md, decision table)."
    )
    decision_refer_worst_grade: Grade = Field(
        "D", description="Worst grade referred to a loan officer; worse grades are declined."
    )
    limit_sales_share: float = Field(
        0.2, gt=0, le=1, description="Pre-credit limit base: this share of 12-month invoiced sales."
    )
    limit_tax_multiple: float = Field(
        8.0, gt=0, description="The base is capped at this multiple of tax paid (VAT + CIT) over 12 months."
    )
    limit_pd_ceiling: float = Field(
        0.10, gt=0, le=1, description="PD at which the limit shrinks to zero: limit × (1 − PD / ceiling)."
    )
    limit_rounding: int = Field(10_000, ge=1, description="The limit is rounded down to a multiple of this (yuan).")
    limit_max: float = Field(3_000_000.0, gt=0, description="Largest pre-credit limit suggested (yuan).")
    unscorable_min_age_months: float = Field(
        6.0, ge=0, description="Enterprises registered fewer months than this are unscorable (insufficient data)."
    )
    unscorable_min_record_months: int = Field(
        1, ge=1, description="Unscorable with fewer months than this of both tax and social-insurance records "
        "in the last 12."
    )
    default_horizon_months: int = Field(
        12, ge=1, le=36, description="Default definition: first 90+ days past due (as banks report it, 回传) "
        "within this many months after the application date."
    )
    default_days_past_due: int = Field(
        DEFAULT_DAYS_PAST_DUE, ge=30, le=360, description="Default definition: days past due from which a reported "
        "loan counts as in default (labels for retraining, regulators' loan-report resolution)."
    )
    audit_anchor_path: Path | None = Field(
        None, description="File that `xinyi audit anchor` appends the audit chain's head to and `xinyi audit verify` "
        "checks; keep it off the database host. Default <data_dir>/audit-anchors.jsonl."
    )
    max_request_bytes: int = Field(
        1_048_576, ge=1024, description="Largest request body accepted (bytes); larger ones get 413 body-too-large."
    )
    model_calibration: Literal["auto", "platt", "isotonic"] = Field(
        "auto", description="PD calibration: auto picks Platt or isotonic by out-of-fold validation log-loss."
    )
    model_oot_months: int = Field(12, ge=1, description="Months at the end of a training table held out of time.")
    model_gap_months: int | None = Field(
        None, ge=0, description="Months of development rows dropped just before the out-of-time window (label "
        "maturity: each development row's outcome is fully observed before the window opens, so no window "
        "default is already a development label). Unset: the default horizon (XINYI_DEFAULT_HORIZON_MONTHS)."
    )
    promotion_max_auc_drop: float = Field(
        0.005, ge=0, description="Promotion: challenger AUC may be at most this below the champion's, same rows."
    )
    promotion_max_ece: float = Field(
        0.02, gt=0, description="Promotion: highest expected calibration error a challenger may have."
    )
    champion_history_path: Path | None = Field(
        None, description="Champion history (JSON lines); default beside the MLflow SQLite store."
    )
    policy_rules_path: Path | None = Field(
        None, description="Policy rules file (联合惩戒); default: the packaged scoring/rules/policy_v1.json."
    )
    regulator_existing_enterprises: int | None = Field(
        None, ge=1, description="Existing enterprises in the region (市场主体), the denominator of registered and "
        "authorised coverage; unset: the register's operating (存续) enterprises."
    )
    regulator_total_banks: int | None = Field(
        None, ge=1, description="Banks in the region, the denominator of banks connected; unset: every bank known "
        "to the platform."
    )
    loan_report_deadline_days: int = Field(
        30, ge=0, description="A loan event reported within this many days of its date counts as on time (回传)."
    )
    monitoring_min_scores: int = Field(
        100, ge=1, description="Monitoring: a month with fewer stored scores gets its PSI but raises no alert."
    )
    monitoring_min_defaults: int = Field(
        20, ge=1, description="Monitoring: the AUC alert needs at least this many defaults and non-defaults."
    )

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.env != "development" and self.secret_key.get_secret_value() == DEV_SECRET:
            raise ValueError("XINYI_SECRET_KEY must be set to a non-default value outside development")
        if self.authorisation_days_default > self.authorisation_days_max:
            raise ValueError("XINYI_AUTHORISATION_DAYS_DEFAULT must not exceed XINYI_AUTHORISATION_DAYS_MAX")
        if self.decision_approve_worst_grade > self.decision_refer_worst_grade:
            raise ValueError(
                "XINYI_DECISION_APPROVE_WORST_GRADE must not be worse than XINYI_DECISION_REFER_WORST_GRADE"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        """The service database URL, defaulting to SQLite inside the data directory."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'xinyi.db').resolve()}"

    @property
    def resolved_mlflow_uri(self) -> str:
        """The MLflow store URI, defaulting to SQLite inside the data directory."""
        return self.mlflow_tracking_uri or f"sqlite:///{(self.data_dir / 'mlflow.db').resolve()}"

    @property
    def resolved_model_gap_months(self) -> int:
        """The development/out-of-time gap: the setting, or the default horizon (label maturity)."""
        return self.default_horizon_months if self.model_gap_months is None else self.model_gap_months

    @property
    def mlflow_artifact_dir(self) -> Path:
        """Where MLflow keeps model artifacts for the embedded store."""
        return (self.data_dir / "mlartifacts").resolve()

    def resolved_audit_anchor_path(self) -> Path:
        """Where audit anchors are appended and read: the setting, or ``<data_dir>/audit-anchors.jsonl``."""
        return self.audit_anchor_path or self.data_dir / "audit-anchors.jsonl"

    def region_dir(self, region: str | None = None) -> Path:
        """Folder holding everything built for one region."""
        return self.data_dir / "regions" / (region or self.region_name)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
