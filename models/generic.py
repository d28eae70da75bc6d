"""Any table with a label and a date column, checked and made ready for training (the analysts' entry point).

A bank's own loan book joined to platform profiles arrives with whatever columns it has. This module says
which of them the model may use, and refuses — naming what and why — what cannot be trained on: a missing
label or date column, a label that is not binary, a feature the catalogue does not know (unless the caller
opts out for tables that are not catalogue features), or no usable feature at all. It copes without hand
edits with what needs no judgement: text columns are left out (categoricals are encoded by the feature
layer), constant and ID-like columns are dropped, booleans become floats, missing values stay NaN for
LightGBM. Class imbalance needs nothing: the model is trained on the true rates and calibrated, so PDs keep
their meaning, and reweighting would only have to be undone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.catalogue import CATALOGUE_VERSION, FEATURE_SPECS
from models.train import DATE_COLUMN, ID_COLUMN, TARGET_COLUMN, DataSplit

ID_LIKE_MIN_ROWS = 50


class TrainingInputError(ValueError):
    """A training table that cannot be trained on; the message names the column or window and why."""


@dataclass(frozen=True)
class TableSpec:
    """How to read a training table: label, date and enterprise-id columns, features, catalogue check.

    ``features`` None means every other numeric column. ``catalogue_only`` refuses features the catalogue
    does not know; set it False for generic tables (its monotone constraints then cover catalogue names only).
    ``date`` None means there is no time order (cross-validation instead of an out-of-time window); ``id``
    None means every row is its own enterprise.
    """

    label: str = TARGET_COLUMN
    date: str | None = DATE_COLUMN
    id: str | None = ID_COLUMN
    features: tuple[str, ...] | None = None
    catalogue_only: bool = True


@dataclass(frozen=True)
class PreparedTable:
    """The table with float64 features and a 0/1 int label, the features kept and those dropped, with why."""

    frame: pd.DataFrame
    feature_names: tuple[str, ...]
    dropped: dict[str, str] = field(default_factory=dict)


def _require_columns(frame: pd.DataFrame, spec: TableSpec) -> None:
    for role, column in (("label", spec.label), ("date", spec.date), ("enterprise id", spec.id)):
        if column is not None and column not in frame.columns:
            shown = ", ".join(map(str, list(frame.columns)[:8]))
            raise TrainingInputError(
                f"the table has no {role} column {column!r} (its columns start: {shown}); "
                f"name the {role} column that is there"
            )


def binary_label(values: pd.Series, name: str) -> pd.Series:
    """The label as int 0/1; refuses missing values and anything but two outcomes coded 0/1 or False/True."""
    if values.isna().any():
        raise TrainingInputError(f"label {name!r} has {int(values.isna().sum())} missing values; every row "
                                 "needs an observed outcome (drop rows whose horizon has not ended)")
    found = pd.unique(values)
    if values.dtype == bool:
        return values.astype(np.int64)
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.isna().any() or not numeric.isin((0, 1)).all():
        shown = ", ".join(map(repr, sorted(map(str, found))[:6]))
        raise TrainingInputError(f"label {name!r} is not binary: it must hold 0 (no default) and 1 (default), "
                                 f"found {shown}")
    if numeric.nunique() < 2:
        raise TrainingInputError(f"label {name!r} holds only {int(numeric.iloc[0])}: training needs both "
                                 "defaults and non-defaults")
    return numeric.astype(np.int64)


def _why_dropped(column: pd.Series) -> str | None:
    values = column.dropna()
    if values.nunique() <= 1:
        return "constant (one value or all missing)"
    if len(column) >= ID_LIKE_MIN_ROWS and values.nunique() == len(column):
        as_float = values.to_numpy(dtype=np.float64)
        if np.all(as_float == np.round(as_float)):
            return "ID-like (a distinct whole number on every row)"
    return None


def prepare_table(frame: pd.DataFrame, spec: TableSpec) -> PreparedTable:
    """Check ``frame`` against ``spec`` and return it ready for training, or raise :class:`TrainingInputError`."""
    _require_columns(frame, spec)
    reserved = {c for c in (spec.label, spec.date, spec.id) if c is not None}
    candidates = list(spec.features) if spec.features is not None else [c for c in frame.columns
                                                                         if c not in reserved]
    missing = [c for c in candidates if c not in frame.columns]
    if missing:
        raise TrainingInputError(f"features not in the table: {missing}")
    if spec.catalogue_only:
        unknown = [c for c in candidates if c not in FEATURE_SPECS]
        if unknown:
            raise TrainingInputError(
                f"features the catalogue (version {CATALOGUE_VERSION}) does not know: {unknown[:10]}; a model "
                "for the platform uses catalogue features only (their risk directions give the monotone "
                "constraints); for a table of other features opt out (catalogue_only=False, --any-features)"
            )
    out = pd.DataFrame(index=frame.index)
    for name in reserved:
        out[name] = frame[name]
    out[spec.label] = binary_label(frame[spec.label], spec.label)
    if spec.date is not None:
        dates = pd.to_datetime(frame[spec.date], errors="coerce")
        if dates.isna().any():
            raise TrainingInputError(f"date column {spec.date!r} has {int(dates.isna().sum())} missing or "
                                     "unreadable dates")
        out[spec.date] = dates
    kept: list[str] = []
    dropped: dict[str, str] = {}
    for name in candidates:
        column = frame[name]
        if column.dtype == bool:
            column = column.astype(np.float64)
        if not pd.api.types.is_numeric_dtype(column):
            if spec.features is not None:
                raise TrainingInputError(f"feature {name!r} is not numeric ({column.dtype}); the model sees "
                                         "float columns only: encode it first")
            dropped[name] = f"not numeric ({column.dtype})"
            continue
        reason = _why_dropped(column)
        if reason is not None:
            dropped[name] = reason
            continue
        out[name] = column.to_numpy(dtype=np.float64, na_value=np.nan)
        kept.append(name)
    if not kept:
        raise TrainingInputError(f"no usable feature left; dropped: {dropped}")
    return PreparedTable(frame=out, feature_names=tuple(kept), dropped=dropped)


def check_split(split: DataSplit, label: str) -> None:
    """Refuse a split whose samples cannot be judged: each needs defaults and non-defaults."""
    for sample, part in (("train", split.train), ("validation", split.validation), ("out-of-time", split.oot)):
        defaults = int(part[label].sum()) if len(part) else 0
        if defaults == 0 or defaults == len(part):
            window = f" from {split.oot_start.date()}" if sample == "out-of-time" and split.oot_start else ""
            what = "no defaults" if defaults == 0 else "only defaults"
            raise TrainingInputError(
                f"the {sample} sample{window} holds {what} ({len(part):,} rows): AUC and calibration cannot "
                "be judged there; widen the window (oot_months) or add outcomes"
            )


def fingerprint(frame: pd.DataFrame, columns: Sequence[str]) -> str:
    """SHA-256 of the training data: column names, dtypes and every value, independent of the row index."""
    digest = hashlib.sha256()
    for name in columns:
        digest.update(f"{name}:{frame[name].dtype};".encode())
    hashed = pd.util.hash_pandas_object(frame[list(columns)], index=False).to_numpy()
    digest.update(hashed.tobytes())
    return digest.hexdigest()
