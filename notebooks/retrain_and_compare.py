# %% [markdown]
# # Retrain on new loan outcomes and compare the challenger with the champion
#
# Banks report their loans back to the platform (回传). This notebook labels the region's profiles from every
# default known — the outcomes file the region came with and the loan reports stored since — trains a
# challenger with the same out-of-time method as the champion, and compares both on the same out-of-time rows
# by the promotion rule. The steps are `api.analyst`'s, the same as `xinyi analyst retrain` and
# `xinyi analyst compare`. With `XINYI_NOTEBOOK_REGISTER=1` the challenger is registered in MLflow (never
# promoted here: `xinyi analyst compare --apply` does that).

# %% tags=["parameters"]
import os
from pathlib import Path

DATA_DIR = Path(os.environ.get("XINYI_DATA_DIR", "../data"))
REGION = os.environ.get("XINYI_REGION_NAME", "demo")
OBSERVED_UNTIL = os.environ.get("XINYI_NOTEBOOK_OBSERVED_UNTIL")  # YYYY-MM-DD; default four months ago
REGISTER = os.environ.get("XINYI_NOTEBOOK_REGISTER", "0") == "1"

# %%
from datetime import date

import pandas as pd

from api.analyst import (
    compare,
    default_observed_until,
    known_defaults,
    region_outcomes_path,
    region_profiles_path,
    retrain,
    retraining_table,
)
from api.db import make_engine
from config.settings import Settings
from features.outcomes import LABEL
from models.promotion import evaluate_artifact, out_of_time_rows
from models.registry import load_model_by_alias

settings = Settings(data_dir=DATA_DIR, region_name=REGION)
observed_until = pd.Timestamp(OBSERVED_UNTIL) if OBSERVED_UNTIL else default_observed_until(date.today())

# %% [markdown]
# ## Label the profiles from every default known

# %%
engine = make_engine(settings.resolved_database_url)
defaults = known_defaults(engine, region_outcomes_path(settings))
engine.dispose()
profiles = pd.read_parquet(region_profiles_path(settings))
table = retraining_table(profiles, defaults, observed_until=observed_until,
                         horizon_months=settings.default_horizon_months)
print(f"{len(defaults):,} defaults known; {len(table):,} applications to {observed_until:%Y-%m-%d}, "
      f"default rate {table[LABEL].mean():.2%}")
table.groupby("as_of")[LABEL].agg(["size", "mean"])

# %% [markdown]
# ## Train the challenger

# %%
challenger = retrain(settings, table, register=REGISTER)
pd.Series(challenger.run.summary()).round(4)

# %% [markdown]
# ## Challenger against champion on the challenger's out-of-time rows

# %%
champion, champion_version = load_model_by_alias(settings.resolved_mlflow_uri, settings.model_name)
rows = out_of_time_rows(challenger.run.artifact, table)
side_by_side = pd.DataFrame({
    "challenger": evaluate_artifact(challenger.run.artifact, rows, LABEL),
    f"champion v{champion_version}": evaluate_artifact(champion, rows, LABEL),
})
side_by_side.round(4)

# %% [markdown]
# ## What the promotion rule says (registered challengers only; nothing moves here)

# %%
if challenger.registered is not None:
    decision = compare(settings, table, version=challenger.registered.version)
    print(("accepted: " if decision.accepted else "refused: ") + "; ".join(decision.reasons))
else:
    print("Set XINYI_NOTEBOOK_REGISTER=1 to register the challenger and apply the promotion rule.")
