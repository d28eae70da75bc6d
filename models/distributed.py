"""The same PD model trained on a Dask cluster through ``lightgbm.dask`` (training beyond one machine).

What stays the same as :func:`models.train.fit_pd_model`: the split (done before this module is called),
:data:`models.train.DEFAULT_PARAMS`, the seed, the catalogue's monotone constraints, early stopping on the
validation window (first metric, binary log-loss, :data:`models.train.EARLY_STOPPING_ROUNDS` rounds without
improvement, at most :data:`models.train.MAX_BOOST_ROUNDS`), and everything after the booster: the trees up to
the best iteration, the calibration chosen on validation, metrics on train, validation and out-of-time, and
so the artifact, the report and registration (:func:`models.train.finish_fit`).

What differs: LightGBM's data-parallel tree learner. The training rows are cut into one piece per Dask worker
(by a stable hash of the enterprise, as profile partitions are, so one enterprise's rows stay together), each
worker builds histograms on its own piece and the workers sum them over LightGBM's own sockets every split.
Bagging samples each worker's piece separately, so the trees are not bit-identical to a local model's; the
tests hold the out-of-time AUC within 0.01 of the local model on the same data.

Early stopping: ``lightgbm.dask`` 4.x passes an ``eval_set`` through, but each worker evaluates only the
validation rows it holds, and the workers must all stop on the same round or the ones still training wait
on sockets until LightGBM's network timeout. So every worker receives the **whole** validation window (one
copy beside its training piece): each computes the same log-loss on the same rows, and all stop together on
the round the local path would judge by. A worker that held no copy would have no metric to stop on, which is
why the pieces are placed on workers explicitly rather than left to the scheduler.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from features.engines import partition_of
from models.calibration import CalibrationChoice
from models.train import (
    DATE_COLUMN,
    EARLY_STOPPING_ROUNDS,
    ID_COLUMN,
    MAX_BOOST_ROUNDS,
    TARGET_COLUMN,
    DataSplit,
    TrainedModel,
    feature_matrix,
    finish_fit,
    merged_params,
)

logger = logging.getLogger(__name__)

__all__ = ["DASK_NETWORK_TIMEOUT_MINUTES", "fit_pd_model_dask", "worker_pieces"]

# LightGBM's socket timeout between workers (its default is 120 minutes); a worker that dies mid-training
# then fails the run in minutes rather than hours.
DASK_NETWORK_TIMEOUT_MINUTES = 15


def worker_pieces(ids: npt.NDArray[Any] | None, rows: int, workers: int) -> list[npt.NDArray[np.int64]]:
    """Row positions of each worker's training piece: by enterprise hash, or round-robin without ids.

    Empty pieces are dropped (a tiny table on a large cluster trains on fewer workers).
    """
    if workers < 1:
        raise ValueError("a Dask cluster with no workers cannot train")
    owner = np.arange(rows) % workers if ids is None else partition_of(ids, workers)
    pieces = [np.flatnonzero(owner == k) for k in range(workers)]
    return [piece for piece in pieces if len(piece)]


def _client(scheduler: Any) -> tuple[Any, bool]:
    from distributed import Client

    if isinstance(scheduler, Client):
        return scheduler, False
    return Client(scheduler), True


def fit_pd_model_dask(
    split: DataSplit,
    feature_names: Sequence[str],
    *,
    scheduler: Any,
    seed: int,
    params: Mapping[str, Any] | None = None,
    monotone: bool = True,
    calibration: CalibrationChoice = "auto",
    label: str = TARGET_COLUMN,
    date_column: str | None = DATE_COLUMN,
    id_column: str | None = ID_COLUMN,
) -> TrainedModel:
    """:func:`models.train.fit_pd_model` with the booster trained on the Dask cluster at ``scheduler``.

    ``scheduler`` is an address (``tcp://host:8786``, as ``XINYI_DASK_SCHEDULER``) or a
    ``distributed.Client``. Each worker trains with as many LightGBM threads as it has Dask threads.
    """
    import dask.array as da
    from lightgbm.dask import DaskLGBMClassifier

    names = tuple(feature_names)
    merged = merged_params(names, seed, 1, params, monotone, rows=len(split.train))
    if "monotone_constraints_method" in merged:
        # LightGBM's distributed learners support only the "basic" method and switch to it themselves; say so
        merged["monotone_constraints_method"] = "basic"
    rounds = int(merged.pop("num_boost_round", MAX_BOOST_ROUNDS))
    samples = {"train": split.train, "validation": split.validation, "oot": split.oot}
    x = {key: feature_matrix(part, names) for key, part in samples.items()}
    y = {key: part[label].to_numpy(dtype=np.float64) for key, part in samples.items()}

    client, owned = _client(scheduler)
    try:
        workers = sorted(client.scheduler_info()["workers"])
        ids = None if id_column is None else split.train[id_column].to_numpy()
        pieces = worker_pieces(ids, len(split.train), len(workers))
        width = len(names)
        train_x, train_y, valid_x, valid_y = [], [], [], []
        for worker, rows in zip(workers, pieces, strict=False):
            # scatter pins each piece (and its copy of the validation window) to one worker
            parts = client.scatter([x["train"][rows], y["train"][rows], x["validation"], y["validation"]],
                                   workers=[worker], broadcast=False)
            n_train, n_valid = len(rows), len(y["validation"])
            train_x.append(da.from_delayed(parts[0], shape=(n_train, width), dtype=np.float64))
            train_y.append(da.from_delayed(parts[1], shape=(n_train,), dtype=np.float64))
            valid_x.append(da.from_delayed(parts[2], shape=(n_valid, width), dtype=np.float64))
            valid_y.append(da.from_delayed(parts[3], shape=(n_valid,), dtype=np.float64))
        lgb_params = {k: v for k, v in merged.items() if k != "num_threads"}  # each worker uses its own threads
        model = DaskLGBMClassifier(
            client=client,
            n_estimators=rounds,
            early_stopping_round=EARLY_STOPPING_ROUNDS,
            first_metric_only=True,
            time_out=DASK_NETWORK_TIMEOUT_MINUTES,
            **lgb_params,
        )
        with warnings.catch_warnings():
            # lightgbm.dask warns that the estimator's n_jobs is ignored: each worker uses its Dask threads
            warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
            model.fit(
                da.concatenate(train_x),
                da.concatenate(train_y),
                eval_X=(da.concatenate(valid_x),),
                eval_y=(da.concatenate(valid_y),),
                eval_names=["validation"],
                feature_name=list(names),
            )
        booster = model.booster_
        best = booster.best_iteration or booster.current_iteration()
        model_string = booster.model_to_string(num_iteration=best)
        logger.info("Dask training on %d workers stopped at round %d", len(pieces), best)
    finally:
        if owned:
            client.close()
    record = {**merged, "dask_workers": len(pieces), "tree_learner": "data"}
    return finish_fit(model_string, split, names, record, seed=seed, calibration=calibration, label=label,
                      date_column=date_column, id_column=id_column, x=x)
