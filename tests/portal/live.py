"""A live portal for the browser tests and the screenshots: a small seeded region served by uvicorn on a free port.

The region: a small trained model (``tests.utils``), one enterprise with a profile from its training panel and
a portal password, two banks, a regulator, and a credit-loan book of two banks over 22 months so the lending
chart has a year-on-year line.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import uvicorn
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.app import create_app
from api.db import make_engine, migrate
from api.db.models import Enterprise, Loan, LoanEvent, ScoreResponse
from api.portal.passwords import set_password
from config.settings import Settings
from models.artifact import PdModelArtifact, ScorecardScale
from models.monitoring import ScoreBaseline, with_baseline
from scoring.service import ScoreService
from tests.api.factories import (
    add_account,
    add_authorisation,
    add_bank,
    add_enterprise,
    add_key,
    add_profile,
)
from tests.utils.live_server import free_port
from tests.utils.training_frames import make_training_frame, small_trained_model

PASSWORD = "portal-demo-password"
LIVE_SECRET = "live-portal-test-secret"
MONTHS = 22
"""Months of the loan book, ending with the current one, so the lending chart has a year-on-year line."""


@dataclass(frozen=True)
class LiveRegion:
    """Who can log in to the live portal, and the bank the enterprise will authorise."""

    base_url: str
    enterprise_id: int
    regulator_id: int
    bank_code: str
    bank_b_key: str
    uscc: str


def _profile_features() -> dict[str, float | None]:
    row = make_training_frame(n_enterprises=20, n_dates=1, seed=5).iloc[3]
    return {str(name): (None if isinstance(v, float) and math.isnan(v) else float(v))
            for name, v in row.items() if name not in ("uscc", "as_of", "default_12m")}


def _month(i: int) -> date:
    """The first day of the i-th month of the loan book (the last is this month)."""
    today = date.today()
    year, month = divmod(today.year * 12 + today.month - 1 - (MONTHS - 1) + i, 12)
    return date(year, month + 1, 1)


def _loan_book(db: Session, banks: list, reporters: list, borrowers: list[Enterprise]) -> None:
    """Each month each bank lends to one borrower; amounts grow over the months, faster at the first bank."""
    for b, (bank, reporter) in enumerate(zip(banks, reporters, strict=True)):
        grants = {e.uscc: add_authorisation(db, e.uscc, bank, expires_at=datetime.now(UTC) + timedelta(days=400))
                  for e in borrowers}
        for i in range(MONTHS):
            borrower = borrowers[(i + b) % len(borrowers)]
            loan = Loan(bank_id=bank.id, bank_loan_id=f"{bank.code}-{i}", uscc=borrower.uscc,
                        created_at=datetime.now(UTC))
            db.add(loan)
            db.flush()
            day = _month(i)
            amount = 400_000 + 30_000 * i * (2 - b) + 50_000 * (i % 3)
            db.add(LoanEvent(loan_id=loan.id, event_type="disbursement", event_date=day, sequence=1,
                             amount=float(amount), term_months=12, annual_rate=0.045, credit_type="credit",
                             payload={"type": "disbursement"}, reported_at=datetime.combine(day, datetime.min.time(),
                                                                                             UTC) + timedelta(days=2),
                             reported_by_account_id=reporter.id, authorisation_id=grants[borrower.uscc].id,
                             request_id=f"seed-{bank.code}-{i}"))
    db.commit()


def _stored_scores(db: Session, service: ScoreService, bank_id: int, borrowers: list[Enterprise]) -> None:
    """Six months of scores a bank was given: like the training panel at first, then drawn more and more from
    its riskier half, so the PSI rises through the 0.1 and 0.25 bands."""
    panel = make_training_frame(n_enterprises=1_200, n_dates=1, seed=100)
    features = panel.reindex(columns=list(service.artifact.feature_names))
    risk = service.artifact.predict_log_odds(features.to_numpy(dtype=np.float64))
    order = np.argsort(risk)
    rng = np.random.default_rng(3)
    for m in range(6):
        riskier = min(0.5 + 0.09 * m, 1.0)  # share of the month's draws from the riskier half
        picks = np.concatenate([rng.choice(order[600:], int(100 * riskier)),
                                rng.choice(order[:600], 100 - int(100 * riskier))])
        when = datetime(2026, 4 + m, 12, 2, tzinfo=UTC)
        for i, row in enumerate(picks):
            profile = {str(k): (None if math.isnan(v) else float(v)) for k, v in features.iloc[int(row)].items()}
            uscc = borrowers[i % len(borrowers)].uscc
            result = service.score(uscc, profile, when.date())
            db.add(ScoreResponse(id=uuid.uuid4(), uscc=uscc, bank_id=bank_id, requested_at=when,
                                 probability_of_default=result.probability_of_default, score=result.score,
                                 grade=result.grade, reasons={}, model_name=service.model_name,
                                 model_version=service.model_version, profile_as_of=when.date()))
    db.commit()


def seed(engine: Engine, settings: Settings, service: ScoreService) -> tuple[int, int, str, str, str]:
    """The region's rows; returns the enterprise and regulator account ids, bank B's code and key, the USCC."""
    with Session(engine, expire_on_commit=False) as db:
        enterprise = add_enterprise(db, name="闽江示范制造有限公司")
        bank_a, bank_b = add_bank(db, "MINJIANG_BANK"), add_bank(db, "HAIXIA_BANK")
        reporters = [add_account(db, "bank", bank=bank_a), add_account(db, "bank", bank=bank_b)]
        bank_b_key = add_key(db, reporters[1], settings)
        bank_a.name, bank_b.name = "闽江银行 Minjiang Bank", "海峡银行 Haixia Bank"
        account = add_account(db, "enterprise", uscc=enterprise.uscc)
        account.display_name = "闽江示范制造 (demo enterprise)"
        regulator = add_account(db, "regulator")
        regulator.display_name = "示范监管 (demo regulator)"
        for who in (account, regulator):
            set_password(db, who, settings, PASSWORD)
        db.commit()
        add_profile(db, enterprise.uscc, date(2026, 9, 30), _profile_features())
        add_authorisation(db, enterprise.uscc, bank_a)
        borrowers = [add_enterprise(db, name=f"借款企业{i}") for i in range(4)]
        _loan_book(db, [bank_a, bank_b], reporters, borrowers)
        _stored_scores(db, service, bank_a.id, borrowers)
        return account.id, regulator.id, bank_b.code, bank_b_key, enterprise.uscc


def _artifact_with_baseline() -> PdModelArtifact:
    """The small model, carrying the score distribution of its own training panel as the monitoring baseline."""
    artifact = PdModelArtifact.from_trained(small_trained_model(), ScorecardScale())
    panel = make_training_frame(n_enterprises=1_200, n_dates=1, seed=100)
    x = panel.reindex(columns=list(artifact.feature_names)).to_numpy(dtype=np.float64)
    return with_baseline(artifact, ScoreBaseline.from_log_odds(artifact.predict_log_odds(x), source="training panel"))


@contextmanager
def live_portal(folder: Path) -> Iterator[LiveRegion]:
    """Seed a SQLite region under ``folder`` and serve the whole app on 127.0.0.1 until the block ends."""
    url = f"sqlite:///{folder / 'portal.db'}"
    settings = Settings(env="development", secret_key=SecretStr(LIVE_SECRET), database_url=url, data_dir=folder)
    migrate(url)
    service = ScoreService(_artifact_with_baseline(), "pre_credit_pd", "1")
    engine = make_engine(url)
    try:
        enterprise_id, regulator_id, bank_code, bank_key, uscc = seed(engine, settings, service)
    finally:
        engine.dispose()
    app = create_app(settings, score_provider=service)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the portal server did not start")
        time.sleep(0.05)
    try:
        yield LiveRegion(f"http://127.0.0.1:{port}", enterprise_id, regulator_id, bank_code, bank_key, uscc)
    finally:
        server.should_exit = True
        thread.join(timeout=10)

