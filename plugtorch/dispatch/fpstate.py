"""Kernels stay silent about inf and nan under any warning filter, as PyTorch's are.

NumPy reports a floating-point overflow, a division by zero or an invalid value (``log(-1)``,
a nan cast to int) through Python's warnings, or raises ``FloatingPointError`` under
``np.seterr(all="raise")``. The kernel modules ignore those warnings by a filter of their own,
but a filter the program adds later wins: under ``pytest -W error``, a ``filterwarnings =
error`` setting or ``warnings.simplefilter("error")``, ``x / 0`` raised RuntimeWarning where
PyTorch returns inf. ``np.errstate`` around every kernel would cost more than a small op
itself (1.5 us against 0.5 us for a 64-element add), so the dispatcher does this instead:

* a kernel that writes nothing but its result and draws no random numbers runs unguarded;
  when it raises one of ``FP_ERRORS`` it runs again under ``quietly`` (a ``try`` costs nothing
  until it raises);
* a kernel that writes into an argument (an in-place op, an optimizer's fused update, a jit
  replay into preallocated buffers) or draws random numbers cannot run twice, so it runs under
  ``quietly`` from the start whenever ``strict()`` says the program has such a filter or NumPy
  setting (a check of ~0.1 us, memoised on the filter list and NumPy's error state).

>>> import warnings, plugtorch as pt
>>> with warnings.catch_warnings():
...     warnings.simplefilter("error")
...     (pt.tensor([1.0, -1.0]) / 0).tolist()
[inf, -inf]
"""
from __future__ import annotations

import warnings

import numpy as np

try:   # NumPy >= 2: its error state is a context variable (private; compared by identity only)
    from numpy._core._ufunc_config import _extobj_contextvar
    _np_state = _extobj_contextvar.get
except ImportError:   # (pragma: no cover) another NumPy: np.geterr() at every check
    _np_state = object

# what a NumPy kernel raises about inf/nan results under a strict filter or np.seterr
FP_ERRORS = (RuntimeWarning, FloatingPointError)

# the last verdict and what it was computed from: warnings.filters, its length, NumPy's state
_filters, _length, _numpy, _verdict = None, -1, None, False


def strict() -> bool:
    """Whether a NumPy floating-point warning could escape a kernel now: a warning filter that
    turns RuntimeWarning into an error, or an ``np.seterr`` other than ignore/warn (~0.1 us)."""
    f = warnings.filters
    if f is _filters and len(f) == _length and _np_state() is _numpy:
        return _verdict
    return _recheck(f)


def _recheck(f) -> bool:
    global _filters, _length, _numpy, _verdict
    _verdict = any(action == "error" and issubclass(RuntimeWarning, category)
                   for action, _msg, category, _mod, _line in f) or \
        any(mode not in ("ignore", "warn") for mode in np.geterr().values())
    _filters, _length, _numpy = f, len(f), _np_state()
    return _verdict


def quietly(kernel, *args):
    """``kernel(*args)`` with NumPy's floating-point reports and RuntimeWarnings off."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with np.errstate(all="ignore"):
            return kernel(*args)
