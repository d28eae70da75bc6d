"""api/client.py against a real uvicorn server with a trained model: grant → score → loan report → access log →
revoke → 403; and every client method is an operation of the served OpenAPI document."""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Iterator
from datetime import date

import numpy as np
import pytest
import uvicorn
from sqlalchemy.orm import Session

from api import client as client_module
from api.app import create_app
from api.client import OPERATIONS, ApiProblem, XinyiClient
from config.settings import Settings
from features.catalogue import FEATURE_NAMES
from models.artifact import PdModelArtifact
from models.train import feature_matrix
from scoring.service import ScoreService
from tests.api.factories import add_account, add_bank, add_enterprise, add_key, add_profile
from tests.utils.live_server import free_port
from tests.utils.training_frames import make_training_frame


def test_every_client_method_is_an_operation_of_the_document() -> None:
    document = create_app(Settings(env="test", secret_key="not-the-default-secret", database_url="sqlite://")).openapi()
    served = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    methods = {name.removeprefix("iter_") for name, _ in inspect.getmembers(XinyiClient, inspect.isfunction)
               if not name.startswith("_") and name != "close"}

    assert set(OPERATIONS.values()) - served == set()
    assert methods == set(OPERATIONS)


def test_the_client_imports_nothing_from_the_server() -> None:
    source = inspect.getsource(client_module)
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]

    assert all(line.split()[1].split(".")[0] in {"__future__", "time", "collections", "types", "typing", "urllib",
                                                  "httpx"} for line in imports), imports


@pytest.fixture
def server(settings: Settings, engine: object, artifact: PdModelArtifact) -> Iterator[str]:
    """The app with a small trained model, served by uvicorn on a free loopback port."""
    app = create_app(settings, score_provider=ScoreService(artifact, "e2e_pd", "3"))
    port = free_port()
    served = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not served.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    served.should_exit = True
    thread.join(timeout=10)


def access_log_of(owner: XinyiClient, rows: int) -> list[dict[str, object]]:
    """The whole access log, walked one row a page, once it holds ``rows`` rows: the audit row of a request is
    written just after its answer is sent, so the last one may land a few milliseconds after the bank sees it."""
    deadline = time.monotonic() + 10
    while len(log := list(owner.iter_access_log(limit=1))) < rows and time.monotonic() < deadline:
        time.sleep(0.05)
    return log


@pytest.mark.slow
def test_grant_score_report_read_the_log_revoke_and_be_refused(
    server: str, db: Session, settings: Settings
) -> None:
    enterprise = add_enterprise(db)
    frame = make_training_frame(n_enterprises=10, n_dates=1, seed=5)
    row = feature_matrix(frame, FEATURE_NAMES)[0]
    add_profile(db, enterprise.uscc, date(2026, 3, 31),
                {name: None if np.isnan(v) else float(v) for name, v in zip(FEATURE_NAMES, row, strict=True)})
    bank = add_bank(db)
    bank_key = add_key(db, add_account(db, "bank", bank=bank), settings)
    enterprise_key = add_key(db, add_account(db, "enterprise", uscc=enterprise.uscc), settings)

    with XinyiClient(server, bank_key) as lender, XinyiClient(server, enterprise_key) as owner:
        assert lender.ready()["model"] == {"name": "e2e_pd", "version": "3"}
        with pytest.raises(ApiProblem) as before:
            lender.score(enterprise.uscc)
        receipt = owner.grant(bank.code, days=30)
        answer = lender.score(enterprise.uscc, requested_amount=400_000)
        stored = lender.report_loan_event("LN-E2E-1", {"uscc": enterprise.uscc, "type": "application",
                                                       "event_date": "2026-04-01", "amount": 400_000,
                                                       "term_months": 12})
        read_back = lender.read_score(answer["id"])
        log = access_log_of(owner, rows=4)
        revoked = owner.revoke(receipt["id"])
        with pytest.raises(ApiProblem) as after:
            lender.score(enterprise.uscc)

    assert (before.value.status, before.value.slug) == (403, "not-authorised")
    assert receipt["status"] == "active" and receipt["bank_code"] == bank.code
    assert answer["uscc"] == enterprise.uscc and answer["model"] == {"name": "e2e_pd", "version": "3"}
    assert 300 <= answer["score"] <= 900 and answer["grade"] in "ABCDE"
    assert answer["reasons"]["lowering"] or answer["reasons"]["raising"]
    assert read_back == answer
    assert stored["authorisation_id"] == receipt["id"]
    assert [(r["action"], r["outcome"], r["authorisation_id"]) for r in log] == [
        ("score.read", "allowed", receipt["id"]),
        ("loan.report", "allowed", receipt["id"]),
        ("score.create", "allowed", receipt["id"]),
        ("score.create", "denied", None),
    ]
    assert all(r["bank_code"] == bank.code for r in log)
    assert revoked["status"] == "revoked"
    assert (after.value.status, after.value.slug) == (403, "not-authorised")
