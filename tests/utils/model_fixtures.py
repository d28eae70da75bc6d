"""Fixtures for model and scoring tests: one small trained model and its artifact per session."""

from __future__ import annotations

import pytest

from models.artifact import PdModelArtifact, ScorecardScale
from models.train import TrainedModel
from tests.utils.training_frames import small_trained_model


@pytest.fixture(scope="session")
def trained() -> TrainedModel:
    return small_trained_model()


@pytest.fixture(scope="session")
def artifact(trained: TrainedModel) -> PdModelArtifact:
    return PdModelArtifact.from_trained(trained, ScorecardScale())
