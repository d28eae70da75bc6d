"""Scoring fixtures: the session's small real model as a ScoreService, and the configured pre-credit policy."""

from __future__ import annotations

import pytest

from config.settings import Settings
from models.artifact import PdModelArtifact
from scoring.precredit import PreCreditPolicy
from scoring.service import ScoreService


@pytest.fixture(scope="module")
def service(artifact: PdModelArtifact) -> ScoreService:
    """The small real model behind a ScoreService (a module may define its own)."""
    return ScoreService(artifact, "pre_credit_pd", "7")


@pytest.fixture(scope="module")
def policy() -> PreCreditPolicy:
    """The pre-credit policy of the default settings."""
    return PreCreditPolicy.from_settings(Settings())
