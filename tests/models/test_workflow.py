"""One training run: model, baselines on the same split, the report's sections, the record, monotonicity."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from features.catalogue import CATALOGUE_VERSION, FEATURE_SPECS
from models.artifact import PdModelArtifact
from models.baselines import PLAIN_LIGHTGBM, WOE_SCORECARD
from models.generic import fingerprint
from models.monitoring import stored_baseline, training_window_baseline
from models.report import SECTIONS
from models.train import feature_matrix
from tests.utils.training_frames import small_validation_run


@pytest.fixture(scope="module")
def run_and_frame():
    frame, run = small_validation_run()
    return run, frame


def test_baselines_are_trained_on_the_same_split_and_reported(run_and_frame):
    run, _ = run_and_frame
    assert set(run.baselines) == {WOE_SCORECARD, PLAIN_LIGHTGBM}
    assert run.trained.refit  # the main model was refitted on train + validation ...
    for samples in run.baselines.values():
        assert set(samples) == {"train", "oot"}  # ... and so were both baselines: no out-of-fold sample
        for sample, metrics in samples.items():
            assert metrics["rows"] == run.trained.metrics[sample]["rows"]  # same rows as the main model
        assert samples["oot"]["auc"] > 0.6  # the panel has signal; both baselines find it
    assert run.summary()[f"auc_oot_{WOE_SCORECARD}"] == run.baselines[WOE_SCORECARD]["oot"]["auc"]
    assert run.artifact.metadata["baselines"][PLAIN_LIGHTGBM] == run.baselines[PLAIN_LIGHTGBM]["oot"]


def test_main_model_reports_probability_metrics(run_and_frame):
    run, _ = run_and_frame
    oot = run.trained.metrics["oot"]
    assert {"auc", "gini", "ks", "brier", "ece", "log_loss", "psi", "mean_pd"} <= set(oot)
    assert 0 <= oot["ece"] < 0.05 and 0 < oot["brier"] < oot["default_rate"]
    assert run.trained.calibration_method in ("platt", "isotonic")
    assert set(run.trained.calibration_scores) == {"platt", "isotonic"}


def test_report_holds_every_section_with_its_charts(run_and_frame):
    run, _ = run_and_frame
    page = run.report_html
    for anchor in SECTIONS:
        assert f'<section id="{anchor}">' in page
    assert page.count("data:image/png;base64,") == 5  # ROC, KS, calibration, score distribution, SHAP
    assert not re.search(r"""(src|href)=["']https?:""", page)  # self-contained: no CDN
    segments = page.split('<section id="segments">')[1].split("</section>")[0]
    for words in ("industry", "region", "size class"):
        assert words in segments
    record = page.split('<section id="record">')[1]
    assert run.artifact.metadata["training_fingerprint"] in record and "catalogue_version" in record


def test_record_holds_catalogue_version_and_data_fingerprint(run_and_frame):
    run, frame = run_and_frame
    meta = run.artifact.metadata
    assert meta["catalogue_version"] == CATALOGUE_VERSION
    assert re.fullmatch(r"[0-9a-f]{64}", meta["training_fingerprint"])
    columns = ["uscc", "as_of", "default_12m", "sales_12m_log"]
    base = fingerprint(frame, columns)
    assert fingerprint(frame.set_index(frame.index + 7), columns) == base  # the row index is not data
    changed = frame.copy()
    changed.loc[changed.index[0], "sales_12m_log"] = 99.0
    assert fingerprint(changed, columns) != base


def test_save_load_gives_identical_scores(run_and_frame, tmp_path):
    run, frame = run_and_frame
    x = feature_matrix(frame, run.artifact.feature_names)
    loaded = PdModelArtifact.load(run.artifact.save(tmp_path / "model"))
    np.testing.assert_array_equal(loaded.predict_pd(x), run.artifact.predict_pd(x))
    np.testing.assert_array_equal(run.artifact.predict_pd(x), run.trained.predict_pd(x))
    assert loaded.calibration_method == run.trained.calibration_method


def test_isotonic_models_round_trip_too(tmp_path):
    from models.workflow import train_and_validate
    from tests.utils.training_frames import make_training_frame

    frame = make_training_frame(n_enterprises=500, n_dates=8, seed=2)
    run = train_and_validate(frame, seed=1, calibration="isotonic")
    assert run.artifact.calibration_method == "isotonic"
    x = feature_matrix(frame, run.artifact.feature_names)
    loaded = PdModelArtifact.load(run.artifact.save(tmp_path / "iso"))
    np.testing.assert_array_equal(loaded.predict_pd(x), run.artifact.predict_pd(x))


def test_raising_a_feature_in_its_safer_direction_never_raises_the_pd(run_and_frame):
    """Monotonicity on the trained model: for every feature with a catalogue risk direction, moving each row's
    value towards safer (up for safer-when-higher, down for riskier-when-higher) never lowers the score."""
    run, frame = run_and_frame
    artifact = run.artifact
    x = feature_matrix(frame.sample(400, random_state=0), artifact.feature_names)
    base = artifact.predict_pd(x)
    checked = 0
    for j, name in enumerate(artifact.feature_names):
        riskier = FEATURE_SPECS[name].higher_is_riskier
        if riskier is None:
            continue
        column = x[:, j]
        spread = np.nanstd(column) or 1.0
        for step in (0.1, 1.0, 5.0):
            moved = x.copy()
            moved[:, j] = column + (-step if riskier else step) * spread
            assert np.all(artifact.predict_pd(moved) <= base + 1e-12), name
        checked += 1
    assert checked >= 40


def test_training_is_reproducible_with_a_seed():
    from models.workflow import train_and_validate
    from tests.utils.training_frames import make_training_frame

    frame = make_training_frame(n_enterprises=300, n_dates=8, seed=4)
    first, second = (train_and_validate(frame, seed=9) for _ in range(2))
    assert first.trained.booster.model_to_string() == second.trained.booster.model_to_string()
    assert first.trained.calibration == second.trained.calibration
    assert first.baselines == second.baselines
    assert isinstance(pd.Timestamp(first.artifact.metadata["oot_start"]), pd.Timestamp)


def test_artifact_carries_its_training_score_baseline_for_monitoring(run_and_frame, tmp_path):
    run, frame = run_and_frame
    baseline = stored_baseline(PdModelArtifact.load(run.artifact.save(tmp_path / "model")))
    assert baseline is not None  # monitoring's PSI needs no training table for models trained from now on
    assert baseline.rows == run.trained.metrics["train"]["rows"]  # every development row, none out of time
    recomputed = training_window_baseline(run.artifact, frame)  # what monitoring did without a stored one
    assert recomputed.rows == baseline.rows
    assert recomputed.edges == pytest.approx(baseline.edges)
