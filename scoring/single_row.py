"""TreeSHAP contributions (``pred_contrib``) of one profile through LightGBM's single-row C API, set up once.

``Booster.predict`` prepares a predictor, checks and copies its input and asks the library for the output size on
every call: about 30 µs, a quarter of a one-row ``pred_contrib`` on a small model. LightGBM's *Fast* single-row
functions (``LGBM_BoosterPredictForMatSingleRowFastInit`` once, ``LGBM_BoosterPredictForMatSingleRowFast`` per
row) keep that preparation in a handle, so a call is only the tree walk. The numbers are LightGBM's own: the same
predictor code on the same row (``tests/scoring/test_single_row.py`` checks them equal to ``Booster.predict``).

A handle serves one caller at a time (LightGBM locks it), so concurrent requests each take an idle one, with its
own row and output buffers, from a small pool, or make one; all are freed with the model.
"""

from __future__ import annotations

import ctypes
import logging
import weakref
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

_PREDICT_CONTRIB = 3  # C_API_PREDICT_CONTRIB
_FLOAT64 = 1  # C_API_DTYPE_FLOAT64
_Slot = tuple[ctypes.c_void_p, Any, npt.NDArray[np.float64], int, npt.NDArray[np.float64], int]
"""One prepared predictor: handle, output-length cell, input row and output buffers with their addresses."""


def _library() -> Any:
    """LightGBM's loaded shared library (the Python package's own ``_LIB``)."""
    from lightgbm.basic import _LIB

    return _LIB


def _raise_for(status: int) -> None:
    if status != 0:
        raise lgb.basic.LightGBMError(_library().LGBM_GetLastError().decode("utf-8"))


def _free_handles(free: Any, handles: list[ctypes.c_void_p], booster: lgb.Booster) -> None:
    """Free every handle made for ``booster`` (which the handles point into: kept alive until now)."""
    for handle in handles:
        free(handle)
    handles.clear()


class SingleRowContributions:
    """``booster.predict(row, pred_contrib=True)[0]`` for one float64 row, without the per-call set-up.

    ``available`` is false where this LightGBM lacks the single-row C API (then :meth:`__call__` falls back to
    ``Booster.predict``, same numbers, slower).
    """

    def __init__(self, booster: lgb.Booster, num_threads: int = 1) -> None:
        self._booster = booster
        self._num_threads = num_threads
        self.n_features = booster.num_feature()
        self._width = self.n_features + 1  # contributions, then the expected value
        self._num_iteration = booster.best_iteration  # as Booster.predict takes it (≤ 0: every tree)
        self._idle: list[_Slot] = []
        self._made: list[ctypes.c_void_p] = []
        try:
            lib = _library()
            self._init = lib["LGBM_BoosterPredictForMatSingleRowFastInit"]
            self._predict = lib["LGBM_BoosterPredictForMatSingleRowFast"]  # our own function object: ours to type
            self._predict.restype = ctypes.c_int
            self._predict.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
            self._handle_of_booster = booster._handle
            weakref.finalize(self, _free_handles, lib["LGBM_FastConfigFree"], self._made, booster)
            self._idle.append(self._new_slot())
            self.available = True
        except (ImportError, AttributeError, lgb.basic.LightGBMError) as error:
            logger.warning("LightGBM's single-row prediction is unavailable (%s); using Booster.predict", error)
            self.available = False

    def _new_slot(self) -> _Slot:
        """A prepared single-row predictor of contributions with its own input, output and length cells."""
        handle = ctypes.c_void_p()
        _raise_for(self._init(
            self._handle_of_booster, ctypes.c_int(_PREDICT_CONTRIB), ctypes.c_int(0),
            ctypes.c_int(self._num_iteration), ctypes.c_int(_FLOAT64), ctypes.c_int32(self.n_features),
            ctypes.c_char_p(f"num_threads={self._num_threads}".encode()), ctypes.byref(handle),
        ))
        self._made.append(handle)
        row, out = np.empty(self.n_features, dtype=np.float64), np.empty(self._width, dtype=np.float64)
        # addresses taken once: asking NumPy for them costs more per call than copying the row in
        return handle, ctypes.byref(ctypes.c_int64()), row, row.ctypes.data, out, out.ctypes.data

    def __call__(self, row: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Contributions of each feature to the raw margin, then the expected value (``n_features + 1`` values).

        ``row`` holds ``n_features`` values in model order (NaN for missing).
        """
        if row.shape != (self.n_features,):
            raise ValueError(f"expected {self.n_features} feature values, got shape {row.shape}")
        if not self.available:
            return np.asarray(self._booster.predict(row.reshape(1, -1), pred_contrib=True,
                                                    num_threads=self._num_threads), dtype=np.float64)[0]
        try:
            slot = self._idle.pop()  # list.pop and append are atomic: one caller per slot
        except IndexError:
            slot = self._new_slot()
        handle, length, x, x_at, out, out_at = slot
        try:
            x[:] = row
            _raise_for(self._predict(handle, x_at, length, out_at))
            return out.copy()
        finally:
            self._idle.append(slot)
