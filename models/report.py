"""The validation report: one self-contained HTML page a model-risk team can read and file.

Sections: summary (metrics beside the baselines), ROC, KS, calibration by decile, score distribution,
stability (PSI of train against out-of-time, overall and per feature), feature importance (mean |TreeSHAP
contribution| from LightGBM's own ``pred_contrib``), per-segment AUC and default rate (industry, region,
size class: the fairness view), calibration choice, and the record (catalogue version, training-data
fingerprint, parameters). Charts are PNGs drawn by matplotlib and embedded as data URIs: no CDN, no script.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import roc_curve

from models.artifact import ScorecardScale
from models.metrics import PSI_ACT, PSI_STABLE, auc, calibration_table, decile_bands, psi

SECTIONS = (
    "summary", "roc", "ks", "calibration", "score-distribution", "stability", "importance", "segments",
    "calibration-choice", "record",
)
SEGMENT_COLUMNS = {
    "industry_section_code": "industry (行业门类)",
    "region_province_code": "region (省份)",
    "size_class_code": "size class (企业规模)",
}
MIN_SEGMENT_ROWS = 30


@dataclass(frozen=True)
class Sample:
    """Outcomes and calibrated log-odds of one sample (train, validation or out-of-time)."""

    y: npt.NDArray[np.int_]
    log_odds: npt.NDArray[np.float64]

    @property
    def pd(self) -> npt.NDArray[np.float64]:
        """Calibrated probability of default."""
        return 1.0 / (1.0 + np.exp(-self.log_odds))


@dataclass(frozen=True)
class ReportInputs:
    """Everything the report shows; built by :mod:`models.workflow` from one training run."""

    title: str
    metrics: Mapping[str, Mapping[str, float]]
    baselines: Mapping[str, Mapping[str, Mapping[str, float]]]
    train: Sample
    oot: Sample
    scale: ScorecardScale
    feature_names: Sequence[str]
    x_train: npt.NDArray[np.float64]
    x_oot: npt.NDArray[np.float64]
    mean_abs_contribution: Mapping[str, float]
    segments: pd.DataFrame  # OOT rows: segment columns present in the table
    calibration_method: str
    calibration_scores: Mapping[str, Mapping[str, float]]
    record: Mapping[str, Any] = field(default_factory=dict)


def _scores(log_odds: npt.NDArray[np.float64], scale: ScorecardScale) -> npt.NDArray[np.float64]:
    factor = scale.pdo / math.log(2.0)
    offset = scale.anchor_points + factor * math.log(1.0 / scale.anchor_odds)
    return np.clip(np.rint(offset - factor * log_odds), scale.score_min, scale.score_max)


def _figure_html(figure: Any, alt: str) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _new_figure(width: float = 5.5, height: float = 3.6) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.4f}"
    return html.escape(str(value))


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>{body}</section>'


def _summary(inputs: ReportInputs) -> str:
    names = ("auc", "gini", "ks", "brier", "ece", "log_loss", "psi", "default_rate", "mean_pd", "rows")
    rows = [["model (" + sample + ")", *[inputs.metrics[sample].get(n, float("nan")) for n in names]]
            for sample in ("train", "validation", "oot") if sample in inputs.metrics]
    for baseline, samples in inputs.baselines.items():
        if "oot" in samples:
            rows.append([f"{baseline} (oot)", *[samples["oot"].get(n, float("nan")) for n in names]])
    refitted = isinstance(inputs.record.get("refit"), dict)
    rows_fitted = "train + validation" if refitted else "train"
    note = (f"<p>Baselines are fitted on the same {rows_fitted} rows as the model; their probabilities are "
            "uncalibrated, so compare them on AUC, Gini and KS. PSI: &lt; 0.1 stable, 0.1–0.25 watch, "
            "&gt; 0.25 act.</p>")
    if refitted:
        note += ("<p>The model was refitted on every development row: <i>train</i> is those rows scored by the "
                 "model that saw them, <i>validation</i> the same rows scored out of fold (cross-fitted by "
                 "enterprise), the sample its number of trees and its calibration were chosen on.</p>")
    return _table(["sample", *names], rows) + note


def _roc(inputs: ReportInputs) -> str:
    figure, axes = _new_figure()
    for label, sample in (("train", inputs.train), ("out-of-time", inputs.oot)):
        fpr, tpr, _ = roc_curve(sample.y, sample.pd)
        axes.plot(fpr, tpr, label=f"{label} AUC {auc(sample.y, sample.pd):.3f}")
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":")
    axes.set_xlabel("false positive rate (non-defaults flagged)")
    axes.set_ylabel("true positive rate (defaults caught)")
    axes.legend(loc="lower right")
    return _figure_html(figure, "ROC curve")


def _ks(inputs: ReportInputs) -> str:
    order = np.argsort(-inputs.oot.pd, kind="stable")
    y = inputs.oot.y[order]
    share = np.arange(1, y.size + 1) / y.size
    bad = np.cumsum(y) / max(int(y.sum()), 1)
    good = np.cumsum(1 - y) / max(int((1 - y).sum()), 1)
    at = int(np.argmax(bad - good))
    figure, axes = _new_figure()
    axes.plot(share, bad, label="defaults (cumulative share)")
    axes.plot(share, good, label="non-defaults (cumulative share)")
    axes.vlines(share[at], good[at], bad[at], color="black", linestyle="--", label=f"KS {bad[at] - good[at]:.3f}")
    axes.set_xlabel("share of out-of-time applications, riskiest first")
    axes.legend(loc="lower right")
    return _figure_html(figure, "KS curve")


def _calibration(inputs: ReportInputs) -> str:
    table = calibration_table(inputs.oot.y, inputs.oot.pd, decile_bands(inputs.oot.pd))
    figure, axes = _new_figure()
    predicted = [r.predicted_pd for r in table]
    observed = [r.observed_rate for r in table]
    axes.plot(predicted, observed, marker="o", label="deciles")
    top = max(max(predicted), max(observed)) * 1.05
    axes.plot([0, top], [0, top], color="grey", linestyle=":", label="perfect calibration")
    axes.set_xlabel("mean predicted PD")
    axes.set_ylabel("observed default rate")
    axes.legend(loc="upper left")
    rows = [[r.band, r.rows, r.defaults, r.predicted_pd, r.observed_rate] for r in table]
    return (_figure_html(figure, "calibration by decile")
            + _table(["PD decile (out-of-time)", "rows", "defaults", "predicted PD", "observed rate"], rows))


def _score_distribution(inputs: ReportInputs) -> str:
    scores = _scores(inputs.oot.log_odds, inputs.scale)
    figure, axes = _new_figure()
    edges = np.linspace(inputs.scale.score_min, inputs.scale.score_max, 41)
    axes.hist(scores[inputs.oot.y == 0], bins=edges, density=True, alpha=0.6, label="non-defaults")
    axes.hist(scores[inputs.oot.y == 1], bins=edges, density=True, alpha=0.6, label="defaults")
    axes.set_xlabel(f"score ({inputs.scale.anchor_points:.0f} at 1:{inputs.scale.anchor_odds:.0f}, "
                    f"PDO {inputs.scale.pdo:.0f})")
    axes.legend(loc="upper left")  # "best" searches every bar: slow on large samples, and warns
    return _figure_html(figure, "score distribution")


def _psi_label(value: float) -> str:
    return "stable" if value < PSI_STABLE else ("watch" if value <= PSI_ACT else "act")


def _stability(inputs: ReportInputs) -> str:
    overall = psi(inputs.train.log_odds, inputs.oot.log_odds)
    per_feature = []
    for j, name in enumerate(inputs.feature_names):
        expected, actual = inputs.x_train[:, j], inputs.x_oot[:, j]
        expected, actual = expected[~np.isnan(expected)], actual[~np.isnan(actual)]
        if expected.size and actual.size:
            value = psi(expected, actual)
            per_feature.append((name, value, _psi_label(value)))
    per_feature.sort(key=lambda row: -row[1])
    return (f"<p>PSI of the calibrated log-odds, train against out-of-time: <b>{overall:.4f}</b> "
            f"({_psi_label(overall)}).</p>"
            + _table(["feature (largest PSI first, top 15)", "PSI", "reading"], per_feature[:15]))


def _importance(inputs: ReportInputs) -> str:
    ranked = sorted(inputs.mean_abs_contribution.items(), key=lambda item: -item[1])[:20]
    figure, axes = _new_figure(6.5, 0.28 * len(ranked) + 1)
    axes.barh([name for name, _ in ranked][::-1], [value for _, value in ranked][::-1])
    axes.set_xlabel("mean |contribution| to the raw margin (log-odds), out-of-time")
    return (_figure_html(figure, "SHAP summary")
            + "<p>TreeSHAP contributions from LightGBM's <code>pred_contrib</code>, averaged in absolute value "
              "over the out-of-time applications (top 20).</p>")


def _segments(inputs: ReportInputs) -> str:
    parts = []
    for column, words in SEGMENT_COLUMNS.items():
        if column not in inputs.segments.columns:
            continue
        rows = []
        values = inputs.segments[column].to_numpy()
        for value in pd.unique(values):
            mask = values == value if not pd.isna(value) else pd.isna(values)
            y, p = inputs.oot.y[mask], inputs.oot.pd[mask]
            ranked = mask.sum() >= MIN_SEGMENT_ROWS and 0 < y.sum() < y.size
            rows.append(["missing" if pd.isna(value) else value, int(mask.sum()), float(y.mean()),
                         float(p.mean()), auc(y, p) if ranked else float("nan")])
        rows.sort(key=lambda row: -int(row[1]))
        parts.append(f"<h3>{html.escape(words)}</h3>"
                     + _table([column, "rows", "default rate", "mean PD", "AUC"], rows))
    if not parts:
        return "<p>The table has none of the segment columns (industry, region, size class).</p>"
    note = (f"<p>Out-of-time rows. AUC is shown for segments with at least {MIN_SEGMENT_ROWS} rows and both "
            "outcomes (— otherwise).</p>")
    return note + "".join(parts)


def _calibration_choice(inputs: ReportInputs) -> str:
    rows = [[method, s.get("log_loss", float("nan")), s.get("ece", float("nan"))]
            for method, s in inputs.calibration_scores.items()]
    sample = ("cross-fitted margins of the development rows" if isinstance(inputs.record.get("refit"), dict)
              else "validation sample")
    return (f"<p>Chosen: <b>{html.escape(inputs.calibration_method)}</b> (lower out-of-fold log-loss on the "
            f"{sample}, 5 folds by enterprise; ties go to Platt, whose score points stay additive).</p>"
            + _table(["method", "log-loss (out of fold)", "ECE (out of fold)"], rows))


def _record(inputs: ReportInputs) -> str:
    rows = [[key, value if isinstance(value, str | int | float) else str(value)]
            for key, value in inputs.record.items()]
    return _table(["item", "value"], rows)


_STYLE = (
    "body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:2px 6px;"
    "font-size:13px;text-align:right}th{background:#f3f3f3}td:first-child{text-align:left}"
)


def render_report(inputs: ReportInputs) -> str:
    """The whole report as one HTML string (UTF-8, no external resources)."""
    sections = [
        ("summary", "Summary: metrics beside the baselines", _summary(inputs)),
        ("roc", "ROC", _roc(inputs)),
        ("ks", "KS (Kolmogorov–Smirnov), out-of-time", _ks(inputs)),
        ("calibration", "Calibration by decile, out-of-time", _calibration(inputs)),
        ("score-distribution", "Score distribution, out-of-time", _score_distribution(inputs)),
        ("stability", "Stability (PSI), train against out-of-time", _stability(inputs)),
        ("importance", "SHAP summary (feature importance)", _importance(inputs)),
        ("segments", "Per-segment AUC and default rate", _segments(inputs)),
        ("calibration-choice", "Calibration choice", _calibration_choice(inputs)),
        ("record", "Record: catalogue, data fingerprint, parameters", _record(inputs)),
    ]
    toc = "".join(f'<li><a href="#{anchor}">{html.escape(title)}</a></li>' for anchor, title, _ in sections)
    body = "".join(_section(anchor, title, content) for anchor, title, content in sections)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(inputs.title)}'
            f"</title><style>{_STYLE}</style></head><body><h1>{html.escape(inputs.title)}</h1><ul>{toc}</ul>"
            f"{body}</body></html>")
