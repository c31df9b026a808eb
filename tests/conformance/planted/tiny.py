"""Bugs in functions that exist to stay accurate for tiny arguments (expm1, log1p, tanh ...):
caught only by the tiny-value samples, compared relatively (float32's default atol of 1e-5
would accept any result below it)."""
from __future__ import annotations

import numpy as np

from . import Bug


def _float_only(formula):
    def make(cpu):
        def k(x, dtype):
            if x.dtype.kind != "f":
                return cpu(x, dtype)
            with np.errstate(all="ignore"):    # (zeros pass through, keeping their sign)
                return np.asarray(np.where(x == 0, x, formula(x.astype(dtype.numpy)))).astype(dtype.numpy)
        return k
    return make


FLOATS = ("float32", "float64")

BUGS = [
    Bug("expm1 as exp(x) - 1", "hard numerics", "expm1", {"expm1": _float_only(lambda x: np.exp(x) - 1)},
        dtypes=FLOATS, check="forward"),
    Bug("log1p as log(1 + x)", "hard numerics", "log1p", {"log1p": _float_only(lambda x: np.log(1 + x))},
        dtypes=FLOATS, check="forward"),
    Bug("tanh as (exp(2x) - 1) / (exp(2x) + 1) for small x", "hard numerics", "tanh",
        {"tanh": _float_only(lambda x: np.where(np.abs(x) < 1, (np.exp(2 * x) - 1) / (np.exp(2 * x) + 1), np.tanh(x)))},
        dtypes=FLOATS, check="forward"),
    Bug("sinh as (exp(x) - exp(-x)) / 2", "hard numerics", "sinh",
        {"sinh": _float_only(lambda x: np.where(np.abs(x) < 1, (np.exp(x) - np.exp(-x)) / 2, np.sinh(x)))},
        dtypes=FLOATS, check="forward"),
]
