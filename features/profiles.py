"""Point-in-time enterprise profiles (企业画像): one row per enterprise and as-of date, every catalogue feature.

A record counts only if the platform held it on the as-of date (event and availability on or before it, not
yet corrected) and, for penalties, court entries and lists, only while the publication and repair rules let it
(``features.asof``). The catalogue (``features.catalogue``) defines every feature; ``features.profile_monthly``
and ``features.profile_records`` compute them on columns encoded once per call, so many as-of dates cost only
masks and sums. This module is the per-partition function both engines run (``features.engines``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from features import profile_monthly as monthly
from features import profile_records as records
from features.asof import PUBLICATION_MONTHS
from features.catalogue import CATALOGUE_VERSION, FEATURE_NAMES
from features.profile_columns import ENTERPRISE, Encoded, Floats, Mask, arrow_ints

SOURCES = (
    "registration",
    "tax_monthly",
    "tax_credit_grade",
    "social_insurance_monthly",
    "housing_fund_monthly",
    "utilities_monthly",
    "admin_records",
    "judicial",
    "list_entries",
    "commitments",
)
__all__ = ["CATALOGUE", "PUBLICATION_MONTHS", "SOURCES", "FeatureSet", "SourceTables", "build_profiles",
           "profile_as_of", "profiles_for_pairs"]


@dataclass(frozen=True)
class SourceTables:
    """The accepted records of every source, typed as ingest writes them (every version, ``_superseded_on``)."""

    registration: pd.DataFrame
    tax_monthly: pd.DataFrame
    tax_credit_grade: pd.DataFrame
    social_insurance_monthly: pd.DataFrame
    housing_fund_monthly: pd.DataFrame
    utilities_monthly: pd.DataFrame
    admin_records: pd.DataFrame
    judicial: pd.DataFrame
    list_entries: pd.DataFrame
    commitments: pd.DataFrame

    @classmethod
    def from_accepted(cls, ingest_dir: Path, sources: Iterable[str] = SOURCES) -> SourceTables:
        """Read the accepted Parquet tables that ``features.ingest`` wrote under ``ingest_dir``."""
        return cls(**{s: pd.read_parquet(ingest_dir / "accepted" / f"{s}.parquet") for s in sources})

    def frames(self) -> dict[str, pd.DataFrame]:
        """Every source's table by name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


_COLUMNS = {**monthly.COLUMNS, **records.COLUMNS}
PROFILE_COLUMNS: dict[str, tuple[str, ...]] = _COLUMNS
"""Per source, the columns (besides its event and availability dates) that profiles read."""
_PREPARE: dict[str, Callable[[str, Encoded], Encoded]] = {
    **dict.fromkeys(monthly.COLUMNS, monthly.prepare), **dict.fromkeys(records.COLUMNS, records.prepare)}
Sources = Mapping[str, Encoded]


@dataclass(frozen=True)
class FeatureSet:
    """What a build computes and reads: the whole catalogue, or a named subset of its features (the bench's
    DuckDB yardstick) computed by the same code path with only the columns it needs."""

    name: str
    version: str
    """The snapshot folder's ``catalogue=<version>``: a subset never lands where the catalogue's snapshots are."""
    features: tuple[str, ...]
    columns: Mapping[str, tuple[str, ...]]
    """Per source read, the columns besides its event and availability dates; sources not named are skipped."""
    prepare: Callable[[str, Encoded], Encoded]
    compute: Callable[[Sources, pd.Timestamp], tuple[Mask, dict[str, Floats]]]


def _prepare(source: str, encoded: Encoded) -> Encoded:
    return _PREPARE[source](source, encoded)


def catalogue_features(s: Sources, as_of: pd.Timestamp) -> tuple[Mask, dict[str, Floats]]:
    """The enterprises open on ``as_of`` (a boolean per registry entry) and every catalogue feature per entry."""
    open_now, out = records.registration_features(s["registration"], as_of)
    out.update(monthly.tax_features(s["tax_monthly"], as_of))
    out.update(monthly.tax_grade_features(s["tax_credit_grade"], as_of))
    out.update(monthly.social_insurance_features(s["social_insurance_monthly"], as_of))
    out.update(monthly.housing_fund_features(s["housing_fund_monthly"], as_of, out["headcount_latest"]))
    out.update(monthly.utilities_features(s["utilities_monthly"], as_of))
    out.update(monthly.per_head_features(out))
    out.update(records.admin_features(s["admin_records"], as_of))
    out.update(records.judicial_features(s["judicial"], as_of))
    out.update(records.list_features(s["list_entries"], as_of))
    out.update(records.commitment_features(s["commitments"], as_of))
    return open_now, out


CATALOGUE = FeatureSet("catalogue", CATALOGUE_VERSION, FEATURE_NAMES, _COLUMNS, _prepare, catalogue_features)


def _registry(uscc: np.ndarray, position: np.ndarray | None) -> pd.Index:
    """The partition's enterprises in order: by ``_enterprise`` when a partition file carries it."""
    if position is None:
        return pd.Index(pd.unique(uscc))
    names = np.empty(int(position.max()) + 1 if len(position) else 0, dtype=object)
    names[position] = uscc
    return pd.Index(names)


class EncodedRegion:
    """Every source a feature set reads, for one partition, encoded once against its registry (the USCCs of
    its registrations)."""

    def __init__(self, registry: pd.Index, sources: dict[str, Encoded], feature_set: FeatureSet = CATALOGUE) -> None:
        self.registry, self.sources, self.feature_set = registry, sources, feature_set

    @classmethod
    def of_tables(cls, tables: SourceTables, feature_set: FeatureSet = CATALOGUE) -> EncodedRegion:
        """A partition (or a whole region) held as pandas frames."""
        reg = tables.registration
        position = reg[ENTERPRISE].to_numpy(dtype=np.int64) if ENTERPRISE in reg.columns else None
        registry = _registry(reg["uscc"].to_numpy(dtype=object), position)
        frames = tables.frames()
        return cls(registry, {
            name: feature_set.prepare(name, Encoded.of(frames[name], name, registry, columns,
                                                      monthly.ORDER_BY.get(name)))
            for name, columns in feature_set.columns.items()}, feature_set)

    @classmethod
    def of_arrow(cls, tables: Mapping[str, pa.Table], feature_set: FeatureSet = CATALOGUE) -> EncodedRegion:
        """A partition read back as Arrow tables (``features.snapshots``), encoded without pandas."""
        reg = tables["registration"]
        position = arrow_ints(reg.column(ENTERPRISE))
        registry = _registry(reg.column("uscc").to_numpy(zero_copy_only=False), position)
        return cls(registry, {
            name: feature_set.prepare(name, Encoded.of_arrow(tables[name], name, len(registry), columns,
                                                            monthly.ORDER_BY.get(name)))
            for name, columns in feature_set.columns.items()}, feature_set)

    @classmethod
    def of_arrays(cls, arrays: Mapping[str, dict[str, np.ndarray]], feature_set: FeatureSet = CATALOGUE
                  ) -> EncodedRegion:
        """A partition cut in memory (``features.snapshots``): per source, columns already converted as
        :meth:`of_arrow` converts them."""
        reg = arrays["registration"]
        registry = _registry(reg["uscc"], np.asarray(reg[ENTERPRISE], dtype=np.int64))
        return cls(registry, {
            name: feature_set.prepare(name, Encoded.of_arrays(arrays[name], name, len(registry), columns,
                                                             monthly.ORDER_BY.get(name)))
            for name, columns in feature_set.columns.items()}, feature_set)

    def features_on(self, as_of: pd.Timestamp) -> tuple[Mask, dict[str, Floats]]:
        """The enterprises open on ``as_of`` (a boolean per registry entry) and every feature per entry."""
        return self.feature_set.compute(self.sources, as_of)

    def frame_on(self, as_of: pd.Timestamp, wanted: np.ndarray | None = None) -> pd.DataFrame:
        """Profiles on ``as_of``: columns uscc, as_of, the feature set's features (float64), for open
        enterprises (of ``wanted`` registry positions when given), in registry order."""
        open_now, values = self.features_on(as_of)
        rows = np.flatnonzero(open_now)
        if wanted is not None:
            rows = np.intersect1d(rows, wanted)
        frame = pd.DataFrame({name: values[name][rows] for name in self.feature_set.features}, dtype=np.float64)
        frame.insert(0, "as_of", pd.Timestamp(as_of).as_unit("ns"))
        frame.insert(0, "uscc", self.registry.to_numpy()[rows])
        return frame


def profile_as_of(tables: SourceTables, as_of: pd.Timestamp) -> pd.DataFrame:
    """Profiles of every enterprise open on ``as_of``: columns uscc, as_of and FEATURE_NAMES (float64)."""
    return EncodedRegion.of_tables(tables).frame_on(pd.Timestamp(as_of))


def build_profiles(tables: SourceTables, as_of_dates: Iterable[pd.Timestamp]) -> pd.DataFrame:
    """Profiles of every open enterprise at several as-of dates, stacked (the training-side read)."""
    region = EncodedRegion.of_tables(tables)
    frames = [region.frame_on(pd.Timestamp(d)) for d in as_of_dates]
    return pd.concat(frames, ignore_index=True)


def profiles_for_pairs(tables: SourceTables, pairs: pd.DataFrame) -> pd.DataFrame:
    """Profiles for (uscc, as_of) pairs — many application dates per enterprise — one row per pair whose
    enterprise is open on its date, sorted by (as_of, uscc)."""
    region = EncodedRegion.of_tables(tables)
    frames = []
    dates = pd.DatetimeIndex(pairs["as_of"])
    for as_of in dates.unique().sort_values():
        uscc = pairs["uscc"].to_numpy(dtype=object)[dates == as_of]
        wanted = region.registry.get_indexer(pd.Index(uscc))
        frames.append(region.frame_on(as_of, np.unique(wanted[wanted >= 0])))
    if not frames:
        return pd.DataFrame(columns=["uscc", "as_of", *FEATURE_NAMES])
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["as_of", "uscc"], ignore_index=True)
