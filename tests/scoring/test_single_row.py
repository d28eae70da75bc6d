"""SingleRowContributions: LightGBM's single-row C API gives exactly ``Booster.predict(pred_contrib=True)``."""

from __future__ import annotations

import gc
import threading

import numpy as np
import pytest

from models.artifact import PdModelArtifact
from models.train import feature_matrix
from scoring import single_row
from scoring.single_row import SingleRowContributions
from tests.utils.training_frames import make_training_frame


@pytest.fixture(scope="module")
def rows(artifact: PdModelArtifact) -> np.ndarray:
    x = feature_matrix(make_training_frame(n_enterprises=80, n_dates=1, seed=23), artifact.feature_names)
    x[::3, ::4] = np.nan  # missing values take each tree's default branch on both paths
    x[1] = np.nan
    x[2] = 0.0
    return x


def test_contributions_equal_booster_predict_exactly(artifact: PdModelArtifact, rows: np.ndarray):
    contributions = SingleRowContributions(artifact.booster)
    assert contributions.available
    expected = artifact.booster.predict(rows, pred_contrib=True)
    got = np.vstack([contributions(row) for row in rows])
    np.testing.assert_array_equal(got, expected)


def test_each_call_returns_its_own_array(artifact: PdModelArtifact, rows: np.ndarray):
    contributions = SingleRowContributions(artifact.booster)
    first = contributions(rows[0])
    kept = first.copy()
    contributions(rows[5])
    np.testing.assert_array_equal(first, kept)  # the output buffer is reused, the result is not


def test_concurrent_callers_get_their_own_rows(artifact: PdModelArtifact, rows: np.ndarray):
    contributions = SingleRowContributions(artifact.booster)
    expected = artifact.booster.predict(rows, pred_contrib=True)
    wrong: list[int] = []
    barrier = threading.Barrier(4)

    def work(offset: int) -> None:
        barrier.wait()
        for _ in range(20):
            for k in range(offset, len(rows), 4):
                if not np.array_equal(contributions(rows[k]), expected[k]):
                    wrong.append(k)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
    assert 1 <= len(contributions._made) <= 4  # an idle predictor is reused, a busy one never shared


def test_a_row_of_the_wrong_shape_is_refused(artifact: PdModelArtifact, rows: np.ndarray):
    contributions = SingleRowContributions(artifact.booster)
    with pytest.raises(ValueError, match="feature values"):
        contributions(rows[0][:-1])
    with pytest.raises(ValueError, match="feature values"):
        contributions(rows[:1])  # one row as a 1 × n matrix: the caller flattens it


def test_without_the_c_api_it_falls_back_to_booster_predict(artifact, rows, monkeypatch):
    def missing() -> None:
        raise ImportError("no _LIB in this LightGBM")

    monkeypatch.setattr(single_row, "_library", missing)
    contributions = SingleRowContributions(artifact.booster)
    assert not contributions.available
    np.testing.assert_array_equal(contributions(rows[3]), artifact.booster.predict(rows[3:4], pred_contrib=True)[0])


def test_predictors_are_freed_with_the_model(artifact: PdModelArtifact, rows: np.ndarray, monkeypatch):
    freed: list[int] = []
    real = single_row._free_handles

    def counting(free, handles, booster) -> None:  # type: ignore[no-untyped-def]
        freed.append(len(handles))
        real(free, handles, booster)

    monkeypatch.setattr(single_row, "_free_handles", counting)
    contributions = SingleRowContributions(artifact.booster)
    contributions(rows[0])
    del contributions
    gc.collect()
    assert freed == [1]
