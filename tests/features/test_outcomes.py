"""Default labels: 12 months after the as-of date, none for enterprises already in default or unfinished windows."""

from __future__ import annotations

import pandas as pd

from features.outcomes import LABEL, label_applications


def _profiles() -> pd.DataFrame:
    as_of = pd.Timestamp("2024-06-30")
    return pd.DataFrame({"uscc": ["A", "B", "C", "D", "E"], "as_of": [as_of] * 4 + [pd.Timestamp("2025-12-31")]})


def test_labels_count_defaults_in_the_next_twelve_months_only() -> None:
    defaults = pd.DataFrame({
        "uscc": ["A", "B", "C"],
        "default_month": pd.to_datetime(["2025-06-01", "2025-07-01", "2024-06-01"]),
        "reported_on": pd.to_datetime(["2025-09-01", "2025-10-01", "2024-09-01"]),
    })
    labelled = label_applications(_profiles(), defaults, observed_until=pd.Timestamp("2026-06-30"))
    got = dict(zip(labelled["uscc"], labelled[LABEL], strict=True))
    assert got == {"A": 1, "B": 0, "D": 0}  # C already in default; E's year is not over


def test_first_default_counts_when_an_enterprise_defaults_twice() -> None:
    defaults = pd.DataFrame({"uscc": ["A", "A"], "default_month": pd.to_datetime(["2026-01-01", "2024-09-01"]),
                             "reported_on": pd.to_datetime(["2026-04-01", "2024-12-01"])})
    labelled = label_applications(_profiles(), defaults, observed_until=pd.Timestamp("2026-06-30"))
    assert labelled.set_index("uscc").loc["A", LABEL] == 1
