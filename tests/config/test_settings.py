"""Settings: defaults, environment overrides, the refusal of default secrets, and their documentation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from config.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_defaults_use_embedded_stores_under_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'xinyi.db').resolve()}"
    assert settings.resolved_mlflow_uri == f"sqlite:///{(tmp_path / 'mlflow.db').resolve()}"
    assert settings.region_dir() == tmp_path / "regions" / "demo"


def test_environment_overrides_each_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XINYI_PORT", "9100")
    monkeypatch.setenv("XINYI_DATABASE_URL", "postgresql+psycopg://db/x")
    settings = Settings()
    assert settings.port == 9100
    assert settings.resolved_database_url == "postgresql+psycopg://db/x"


def test_default_secret_is_refused_outside_development() -> None:
    with pytest.raises(ValidationError, match="XINYI_SECRET_KEY"):
        Settings(env="production")
    assert Settings(env="production", secret_key="a-real-secret").env == "production"


def test_grant_default_may_not_exceed_the_maximum() -> None:
    with pytest.raises(ValidationError, match="AUTHORISATION_DAYS_DEFAULT"):
        Settings(authorisation_days_default=400, authorisation_days_max=365)


def test_gap_before_the_out_of_time_window_follows_the_default_horizon() -> None:
    assert Settings().resolved_model_gap_months == 12
    assert Settings(default_horizon_months=6).resolved_model_gap_months == 6
    assert Settings(model_gap_months=0, default_horizon_months=6).resolved_model_gap_months == 0


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [name for name in Settings.model_fields if f"XINYI_{name.upper()}" not in text]
    assert missing == []
