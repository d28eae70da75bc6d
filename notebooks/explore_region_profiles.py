# %% [markdown]
# # Explore a region's profiles (企业画像)
#
# What the platform knows about the region's enterprises: each catalogue feature's coverage and spread in the
# serving profiles, the enterprises by size class and industry, realised default rates by segment in the
# labelled applications, and the data quality of each source. Run `xinyi demo --no-serve` first (or point
# `XINYI_DATA_DIR` at a data directory holding a built region). Reads only; writes nothing.

# %% tags=["parameters"]
import os
from pathlib import Path

DATA_DIR = Path(os.environ.get("XINYI_DATA_DIR", "../data"))
REGION = os.environ.get("XINYI_REGION_NAME", "demo")

# %%
import matplotlib.pyplot as plt
import pandas as pd

from api.analyst import default_rate_by, profile_overview, region_profiles_path
from api.regulator_metrics import data_quality, quality_report_path
from config.settings import Settings

settings = Settings(data_dir=DATA_DIR, region_name=REGION)
serving = pd.read_parquet(settings.region_dir() / "profiles" / "serving.parquet")
applications = pd.read_parquet(region_profiles_path(settings))
print(f"{len(serving):,} enterprises profiled as of {serving['as_of'].max():%Y-%m-%d}; "
      f"{len(applications):,} labelled applications on {applications['as_of'].nunique()} dates")

# %% [markdown]
# ## Each feature: where it comes from, how often it is missing, and its spread

# %%
overview = profile_overview(serving)
overview.sort_values("missing_share", ascending=False).head(15)

# %%
overview.groupby("source")["missing_share"].mean().sort_values().plot.barh(
    title="Mean share missing by source", figsize=(6, 4))
plt.tight_layout()

# %% [markdown]
# ## Default rate by size class and industry section (labelled applications)
#
# Size class codes: 微 0, 小 1, 中 2, 大 3; industry sections A–T as 0–19 (docs/features.md).

# %%
default_rate_by(applications, "size_class_code")

# %%
by_industry = default_rate_by(applications, "industry_section_code")
by_industry.plot.bar(x="industry_section_code", y="default_rate", legend=False, figsize=(8, 3),
                     title="Realised 12-month default rate by industry section")
plt.tight_layout()

# %% [markdown]
# ## Data quality of each source (数据质量), from the latest ingest

# %%
quality = data_quality(quality_report_path(settings))
quality[quality["department"] == "all"][["source", "read", "accepted", "quarantined", "qualified_rate"]]
