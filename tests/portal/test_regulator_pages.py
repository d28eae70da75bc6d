"""Regulator pages: the figures of ``api.regulator_metrics`` and the champion's monitoring, as tables, SVG charts
and CSV downloads identical to the functions' tables."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.app import create_app
from api.regulator_metrics import coverage, credit_lending
from config.settings import Settings
from models.artifact import PdModelArtifact
from models.monitoring import with_baseline
from scoring.service import ScoreService
from tests.api.factories import FakeScorer
from tests.api.test_regulator_metrics import Book, book  # noqa: F401 - the hand-computed loan book fixture
from tests.api.test_regulator_monitoring import HALVES, monitored  # noqa: F401 - the monitoring fixture
from tests.portal.conftest import Cast, log_in

BAR = re.compile(r'<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)" fill="#3b6ea5"><title>')


def _read_csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def _same_as_csv(frame: pd.DataFrame) -> pd.DataFrame:
    return _read_csv(frame.to_csv(index=False))


def test_lending_page_draws_a_bar_per_month_and_filters_by_group(
    browser: TestClient, cast: Cast, book: Book, db: Session  # noqa: F811
) -> None:
    log_in(browser, cast.regulator.id)
    page = browser.get("/portal/regulator/lending")
    assert page.status_code == 200
    platform = credit_lending(db, by="platform")
    disbursing_months = int((platform["disbursed_amount"] > 0).sum())
    first_chart = page.text.split('id="chart-1"')[1].split("</figure>")[0]
    heights = [float(h) for h in BAR.findall(first_chart)]
    assert len(heights) == len(platform)  # one bar a month, zero-height where nothing was disbursed
    assert sum(h > 0 for h in heights) == disbursing_months > 0
    assert "<polyline" in first_chart  # the year-on-year line
    by_bank = browser.get("/portal/regulator/lending", params={"by": "bank", "group": "B"})
    rows = re.findall(r"<tr><td>(\d{4}-\d{2})</td><td>(\w+)</td>", by_bank.text)
    assert rows and {group for _, group in rows} == {"B"}


def test_lending_csv_is_the_metrics_table(browser: TestClient, cast: Cast, book: Book, db: Session) -> None:  # noqa: F811
    log_in(browser, cast.regulator.id)
    response = browser.get("/portal/regulator/lending.csv", params={"by": "region"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert 'filename="credit_lending_region.csv"' in response.headers["content-disposition"]
    pd.testing.assert_frame_equal(_read_csv(response.text), _same_as_csv(credit_lending(db, by="region")))


def test_coverage_page_and_csv(browser: TestClient, cast: Cast, db: Session, settings: Settings) -> None:
    log_in(browser, cast.regulator.id)
    lines = coverage(db, settings)
    page = browser.get("/portal/regulator/coverage").text
    for line in lines:
        assert line.measure in page
        if line.rate is not None:
            assert f"{line.rate * 100:.1f}%" in page
    csv = _read_csv(browser.get("/portal/regulator/coverage.csv").text)
    assert csv["measure"].tolist() == [line.measure for line in lines]
    assert csv["numerator"].astype(int).tolist() == [line.numerator for line in lines]


def test_tables_without_their_source_say_so(settings: Settings, engine: Engine, cast: Cast, tmp_path: Path) -> None:
    empty_region = settings.model_copy(update={"data_dir": tmp_path})  # no ingest has run here
    app = create_app(empty_region, score_provider=FakeScorer())
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        log_in(client, cast.regulator.id)
        quality = client.get("/portal/regulator/quality")
        assert quality.status_code == 200 and 'class="notice"' in quality.text and "<table>" not in quality.text
        assert client.get("/portal/regulator/unknown.csv").status_code == 404


def test_monitoring_without_a_model_says_so(browser: TestClient, cast: Cast) -> None:
    log_in(browser, cast.regulator.id)
    page = browser.get("/portal/regulator/monitoring")
    assert page.status_code == 200 and "No scoring model is loaded" in page.text


@pytest.fixture
def champion_browser(settings: Settings, engine: Engine, artifact: PdModelArtifact) -> Iterator[TestClient]:
    """The portal of an app serving model version 3 with the HALVES baseline."""
    service = ScoreService(with_baseline(artifact, HALVES), "pre_credit_pd", "3")
    alerting = settings.model_copy(update={"monitoring_min_scores": 1})  # the fixture's months are small
    app = create_app(alerting, score_provider=service)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        yield client


def test_monitoring_shows_the_apis_psi_with_bands_and_grades(
    champion_browser: TestClient, cast: Cast, monitored: str  # noqa: F811
) -> None:
    api = champion_browser.get("/v1/regulator/monitoring/drift", headers={"Authorization": f"Bearer {monitored}"})
    assert api.status_code == 200
    drift = api.json()["rows"]
    log_in(champion_browser, cast.regulator.id)
    page = champion_browser.get("/portal/regulator/monitoring")
    assert page.status_code == 200
    for row in drift:
        assert f"<td>{row['month']}</td><td>{row['scores']}</td><td>{row['psi']:.2f}</td><td>{row['band']}</td>" in (
            page.text)
    assert page.text.count('stroke-dasharray="6 4"') == 2  # the 0.1 and 0.25 bands
    assert 'id="alerts"' in page.text and "偏离训练基准" in page.text  # the alerts in the visitor's language
    csv = _read_csv(champion_browser.get("/portal/regulator/monitoring/drift.csv").text)
    assert csv["month"].tolist() == [row["month"] for row in drift]
    assert [float(v) for v in csv["psi"]] == pytest.approx([row["psi"] for row in drift])
