"""Generic tables: what is refused (naming what and why), what is dropped without hand edits, CV without dates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.generic import TableSpec, TrainingInputError, prepare_table
from models.workflow import cross_validate_table, train_and_validate
from tests.utils.training_frames import make_generic_table, make_training_frame

GENERIC = TableSpec(label="bad", date="booked_on", id="loan_id", catalogue_only=False)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return make_generic_table(seed=1)


def test_missing_label_column_is_refused_by_name(table):
    with pytest.raises(TrainingInputError, match="no label column 'defaulted'"):
        prepare_table(table, TableSpec(label="defaulted", date="booked_on", id=None, catalogue_only=False))


def test_missing_date_column_is_refused_by_name(table):
    with pytest.raises(TrainingInputError, match="no date column 'as_of'"):
        prepare_table(table, TableSpec(label="bad", id=None, catalogue_only=False))


@pytest.mark.parametrize(
    ("values", "message"),
    [([0, 1, 2], "not binary"), (["good", "bad", "good"], "not binary"), ([0, 0, 0], "only 0"),
     ([0, None, 1], "missing values")],
)
def test_non_binary_labels_are_refused(values, message):
    frame = pd.DataFrame({"y": values, "d": pd.Timestamp("2024-01-31"), "x": [1.0, 2.0, 3.0]})
    with pytest.raises(TrainingInputError, match=message):
        prepare_table(frame, TableSpec(label="y", date="d", id=None, catalogue_only=False))


def test_boolean_labels_are_binary():
    frame = pd.DataFrame({"y": [True, False, True], "x": [1.0, 2.0, 3.0]})
    prepared = prepare_table(frame, TableSpec(label="y", date=None, id=None, catalogue_only=False))
    assert prepared.frame["y"].tolist() == [1, 0, 1]


def test_out_of_time_window_without_defaults_is_refused(table):
    late = pd.to_datetime(table["booked_on"]) > pd.Timestamp("2023-06-30")
    no_late_defaults = table.assign(bad=np.where(late, 0, table["bad"]))
    with pytest.raises(TrainingInputError, match=r"out-of-time sample from .* holds no defaults"):
        train_and_validate(no_late_defaults, GENERIC, seed=0, oot_months=6)


def test_features_the_catalogue_does_not_know_are_refused_unless_opted_out(table):
    with pytest.raises(TrainingInputError, match=r"catalogue \(version \d+\) does not know: \['debt_ratio'"):
        prepare_table(table, TableSpec(label="bad", date="booked_on", id="loan_id"))
    assert "debt_ratio" in prepare_table(table, GENERIC).feature_names


def test_catalogue_tables_pass_the_catalogue_check():
    frame = make_training_frame(n_enterprises=60, n_dates=2)
    assert len(prepare_table(frame, TableSpec()).feature_names) > 40


def test_text_constant_and_id_like_columns_are_dropped_with_reasons(table):
    prepared = prepare_table(table, GENERIC)
    assert prepared.dropped == {
        "branch": "not numeric (object)",
        "product_version": "constant (one value or all missing)",
        "row_number": "ID-like (a distinct whole number on every row)",
    }
    assert set(prepared.feature_names) == {"debt_ratio", "months_on_book", "noise"}
    assert all(prepared.frame[name].dtype == np.float64 for name in prepared.feature_names)


def test_an_explicit_text_feature_is_refused(table):
    spec = TableSpec(label="bad", date="booked_on", id=None, features=("branch",), catalogue_only=False)
    with pytest.raises(TrainingInputError, match="'branch' is not numeric"):
        prepare_table(table, spec)


def test_a_generic_dated_table_trains_and_validates(table):
    run = train_and_validate(table, GENERIC, seed=3, oot_months=6)
    assert run.trained.metrics["oot"]["auc"] > 0.75
    assert run.trained.columns == {"label": "bad", "date": "booked_on", "id": "loan_id"}
    assert run.artifact.metadata["catalogue_version"].endswith("(not enforced)")
    assert '<section id="segments">' in run.report_html  # present, saying the table has no segment columns


def test_an_undated_table_cross_validates(table):
    cv = cross_validate_table(table.drop(columns="booked_on"), GENERIC, folds=3, seed=0)
    assert len(cv.model_auc) == len(cv.plain_lightgbm_auc) == len(cv.woe_scorecard_auc) == 3
    assert min(cv.model_auc) > 0.75 and min(cv.plain_lightgbm_auc) > 0.7
