"""Champion and challenger: promotion by a stated rule on the same out-of-time data, and rollback.

The rule (:class:`PromotionRule`, configurable through settings): the challenger replaces the champion only
when, scored on the same rows — the challenger's out-of-time window of the table given — its AUC is at most
``max_auc_drop`` below the champion's and its expected calibration error is at most ``max_ece``. A refused
promotion changes nothing. Rollback points ``champion`` at any earlier registered version. Every change is
appended to the champion history (:mod:`models.history`).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from models.artifact import PdModelArtifact
from models.history import (
    CHALLENGER,
    CHAMPION,
    ChampionEvent,
    default_history_path,
    record_champion,
    unrecorded_change,
)
from models.metrics import auc, brier, expected_calibration_error, ks
from models.registry import alias_version, client_for, load_model_version, quiet_mlflow
from models.train import feature_matrix

logger = logging.getLogger(__name__)


class PromotionError(ValueError):
    """A promotion or rollback that cannot be carried out (unknown version, data the models cannot read)."""


@dataclass(frozen=True)
class PromotionRule:
    """Challenger AUC ≥ champion AUC − ``max_auc_drop`` and challenger ECE ≤ ``max_ece``, same rows."""

    max_auc_drop: float = 0.005
    max_ece: float = 0.02

    def judge(self, challenger: dict[str, float], champion: dict[str, float] | None) -> tuple[bool, list[str]]:
        """Whether the rule accepts, and the reasons in words (every failed condition is named)."""
        reasons = []
        accepted = True
        if challenger["ece"] > self.max_ece:
            accepted = False
            reasons.append(f"challenger ECE {challenger['ece']:.4f} exceeds {self.max_ece:.4f}")
        if champion is None:
            reasons.append("no champion yet")
        elif challenger["auc"] < champion["auc"] - self.max_auc_drop:
            accepted = False
            reasons.append(f"challenger AUC {challenger['auc']:.4f} is more than {self.max_auc_drop:.4f} below "
                           f"the champion's {champion['auc']:.4f}")
        else:
            reasons.append(f"challenger AUC {challenger['auc']:.4f} against champion {champion['auc']:.4f} "
                           f"(allowed drop {self.max_auc_drop:.4f})")
        if accepted:
            reasons.append(f"challenger ECE {challenger['ece']:.4f} within {self.max_ece:.4f}")
        return accepted, reasons


@dataclass(frozen=True)
class PromotionDecision:
    """What was compared, on how many rows, and whether ``champion`` moved."""

    accepted: bool
    version: str
    previous: str | None
    rows: int
    challenger: dict[str, float]
    champion: dict[str, float] | None
    reasons: tuple[str, ...]


def evaluate_artifact(artifact: PdModelArtifact, frame: pd.DataFrame, label: str) -> dict[str, float]:
    """AUC, KS, Brier and ECE of ``artifact`` on ``frame``; refuses a frame lacking the model's features."""
    missing = [name for name in artifact.feature_names if name not in frame.columns]
    if missing:
        raise PromotionError(f"the comparison table lacks features the model needs: {missing[:10]}")
    y = frame[label].to_numpy(dtype=np.int64)
    pd_ = artifact.predict_pd(feature_matrix(frame, artifact.feature_names))
    return {"auc": auc(y, pd_), "ks": ks(y, pd_), "brier": brier(y, pd_),
            "ece": expected_calibration_error(y, pd_), "rows": float(y.size)}


def out_of_time_rows(artifact: PdModelArtifact, frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``frame`` inside ``artifact``'s out-of-time window (all rows for an undated model)."""
    columns = artifact.metadata.get("columns") or {"date": "as_of"}
    date_column, start, end = columns.get("date"), artifact.metadata.get("oot_start"), artifact.metadata.get("oot_end")
    if date_column is None or start is None or end is None:
        return frame
    if date_column not in frame.columns:
        raise PromotionError(f"the comparison table has no date column {date_column!r}")
    dates = pd.to_datetime(frame[date_column])
    return frame[(dates >= pd.Timestamp(start)) & (dates <= pd.Timestamp(end))]


def promote(
    tracking_uri: str,
    model_name: str,
    frame: pd.DataFrame,
    *,
    version: str | None = None,
    rule: PromotionRule | None = None,
    history_path: Path | None = None,
    dry_run: bool = False,
) -> PromotionDecision:
    """Compare a challenger (``version``, default the ``challenger`` alias) with the champion on the same
    out-of-time rows of ``frame``; move ``champion`` only if ``rule`` accepts (and not ``dry_run``), and
    record it."""
    rule = rule or PromotionRule()
    history = history_path or default_history_path(tracking_uri, model_name)
    with quiet_mlflow():
        client = client_for(tracking_uri)
        version = version or alias_version(client, model_name, CHALLENGER)
        previous = alias_version(client, model_name, CHAMPION)
    repaired = unrecorded_change(history, model_name, previous)
    if repaired is not None and not dry_run:
        record_champion(history, repaired)
        logger.warning("recorded %s of %s v%s, which an interrupted run had not", repaired.action, model_name,
                       repaired.version)
        if version is None:  # the interrupted promotion had already consumed the challenger alias
            return PromotionDecision(True, repaired.version, repaired.previous, 0, {}, None, (repaired.reason,))
    if version is None:
        raise PromotionError(f"{model_name} has no challenger to promote; train one or name a version")
    if version == previous:
        raise PromotionError(f"version {version} of {model_name} is already the champion")
    challenger_model = _load(tracking_uri, model_name, version)
    label = str((challenger_model.metadata.get("columns") or {}).get("label") or "default_12m")
    rows = out_of_time_rows(challenger_model, frame)
    if rows.empty or rows[label].nunique() < 2:
        raise PromotionError(f"the table has no out-of-time rows with both outcomes in version {version}'s window "
                             f"{challenger_model.metadata.get('oot_start')}..{challenger_model.metadata.get('oot_end')}")
    challenger = evaluate_artifact(challenger_model, rows, label)
    champion = None if previous is None else evaluate_artifact(_load(tracking_uri, model_name, previous), rows, label)
    accepted, reasons = rule.judge(challenger, champion)
    decision = PromotionDecision(accepted, version, previous, len(rows), challenger, champion, tuple(reasons))
    if accepted and not dry_run:
        with quiet_mlflow():
            client.set_registered_model_alias(model_name, CHAMPION, version)
            if alias_version(client, model_name, CHALLENGER) == version:
                client.delete_registered_model_alias(model_name, CHALLENGER)
        evidence = {"rule": asdict(rule), "rows": len(rows), "challenger": challenger, "champion": champion}
        record_champion(history, ChampionEvent.now(model_name, version, previous, "promote", "; ".join(reasons),
                                                   evidence))
    logger.info("promotion of %s v%s %s: %s", model_name, version, "accepted" if accepted else "refused",
                "; ".join(reasons))
    return decision


def rollback(
    tracking_uri: str, model_name: str, version: str, *, reason: str, history_path: Path | None = None
) -> ChampionEvent:
    """Point ``champion`` back at an earlier registered ``version`` and record why."""
    with quiet_mlflow():
        client = client_for(tracking_uri)
        previous = alias_version(client, model_name, CHAMPION)
        repaired = unrecorded_change(history_path or default_history_path(tracking_uri, model_name), model_name,
                                     previous)
        if repaired is not None:
            record_champion(history_path or default_history_path(tracking_uri, model_name), repaired)
        versions = {str(v.version) for v in client.search_model_versions(f"name='{model_name}'")}
        if str(version) not in versions:
            raise PromotionError(f"{model_name} has no version {version} (registered: {sorted(versions, key=int)})")
        if previous is not None and int(version) >= int(previous):
            raise PromotionError(f"version {version} is not earlier than the champion v{previous}; "
                                 "a newer version becomes champion by promotion")
        client.set_registered_model_alias(model_name, CHAMPION, str(version))
    event = ChampionEvent.now(model_name, str(version), previous, "rollback", reason)
    record_champion(history_path or default_history_path(tracking_uri, model_name), event)
    logger.info("rolled %s back from v%s to v%s: %s", model_name, previous, version, reason)
    return event


def _load(tracking_uri: str, model_name: str, version: str) -> PdModelArtifact:
    try:
        return load_model_version(tracking_uri, model_name, version)
    except Exception as exc:  # MLflow raises its own types for unknown versions and missing artifacts
        raise PromotionError(f"cannot load {model_name} version {version}: {type(exc).__name__}") from exc
