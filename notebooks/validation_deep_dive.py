# %% [markdown]
# # Validation deep-dive: the champion's quality, calibration, reasons and stability
#
# The champion on the out-of-time rows of the region's labelled applications: discrimination, grades against
# realised defaults, calibration by band, the reasons (LightGBM's `pred_contrib`, which the service serves,
# checked against shap's TreeExplainer) with SHAP plots, and the score drift the regulator sees (PSI by month
# of the stored scores against the training baseline). Run `xinyi demo --no-serve` first. Reads only.

# %% tags=["parameters"]
import os
from pathlib import Path

DATA_DIR = Path(os.environ.get("XINYI_DATA_DIR", "../data"))
REGION = os.environ.get("XINYI_REGION_NAME", "demo")
SHAP_ROWS = int(os.environ.get("XINYI_NOTEBOOK_ROWS", "2000"))

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import shap
from sqlalchemy.orm import Session

from api.analyst import region_profiles_path
from api.db import make_engine
from api.model_monitoring import champion_baseline, monitoring_report
from api.regulator_metrics import beijing_today
from config.settings import Settings
from features.outcomes import LABEL
from models.metrics import auc, calibration_table, decile_bands, ks
from models.promotion import out_of_time_rows
from models.registry import load_model_by_alias
from scoring.scale import Scorecard, grades_for

settings = Settings(data_dir=DATA_DIR, region_name=REGION)
artifact, version = load_model_by_alias(settings.resolved_mlflow_uri, settings.model_name)
oot = out_of_time_rows(artifact, pd.read_parquet(region_profiles_path(settings)))
x = oot[list(artifact.feature_names)].to_numpy(np.float64)
pd_hat = artifact.predict_pd(x)
print(f"v{version} on {len(oot):,} out-of-time rows: AUC {auc(oot[LABEL], pd_hat):.3f}, "
      f"KS {ks(oot[LABEL], pd_hat):.3f}")

# %% [markdown]
# ## Grades against realised defaults, and calibration by grade and by PD decile

# %%
card = Scorecard.from_scale(artifact.scale)
grades = grades_for(card.scores_from_log_odds(artifact.predict_log_odds(x)))
pd.crosstab(grades, oot[LABEL].to_numpy(), margins=True)

# %%
pd.DataFrame(calibration_table(oot[LABEL].to_numpy(), pd_hat, grades, order=list("ABCDE")))

# %%
pd.DataFrame(calibration_table(oot[LABEL].to_numpy(), pd_hat, decile_bands(pd_hat)))

# %% [markdown]
# ## Reasons: `pred_contrib` against shap's TreeExplainer, and the SHAP plots

# %%
sample = x[: min(SHAP_ROWS, len(x))]
contributions = artifact.booster.predict(sample, pred_contrib=True)
values = shap.TreeExplainer(artifact.booster).shap_values(sample)
print("largest |pred_contrib − shap| =", float(np.abs(contributions[:, :-1] - values).max()))

# %%
shap.summary_plot(values, sample, feature_names=list(artifact.feature_names), max_display=15, show=False)
plt.tight_layout()

# %%
top = int(np.abs(values).mean(axis=0).argmax())
shap.dependence_plot(top, values, sample, feature_names=list(artifact.feature_names), show=False)
plt.tight_layout()

# %% [markdown]
# ## Stability: PSI by month of the stored scores against the training baseline (0.1 watch, 0.25 act)

# %%
engine = make_engine(settings.resolved_database_url)
with Session(engine) as session:
    report = monitoring_report(session, settings, artifact, version, as_of=beijing_today(),
                               baseline=champion_baseline(artifact, settings))
engine.dispose()
print(f"baseline: {report.baseline.source}; {len(report.alerts)} alerts")
report.drift

# %%
report.grades
