"""Anomaly detection, as ``torch.autograd.detect_anomaly``.

While it is on, every node the forward pass records remembers the Python stack of the call
that made it; a backward formula that returns NaN raises, and any error in backward is preceded
by a warning showing where the failing node's forward op was called.

>>> import plugtorch as pt
>>> x = pt.tensor([0.0], requires_grad=True)
>>> with pt.autograd.set_detect_anomaly(True):
...     y = pt.sqrt(x) * 0
>>> y.grad_fn.name()
'MulBackward'
>>> is_anomaly_enabled()
False
"""
from __future__ import annotations

import functools
import os
import threading
import traceback
import warnings

_PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # plugtorch/
_KEEP = (os.path.join(_PKG, "nn") + os.sep,)    # torch shows its nn frames too


class _State:
    """Process-wide, as PyTorch's ``AnomalyMode`` (not per thread)."""
    enabled = False
    check_nan = True


state = _State()


def is_anomaly_enabled() -> bool:
    """Whether anomaly detection is on."""
    return state.enabled


def is_anomaly_check_nan_enabled() -> bool:
    """Whether anomaly detection checks backward outputs for NaN."""
    return state.check_nan


def _set(mode: bool, check_nan: bool) -> None:
    state.enabled = bool(mode)
    state.check_nan = bool(check_nan)
    from plugtorch.autograd import engine
    engine.update_extras()


class detect_anomaly:
    """Context manager (or decorator) turning anomaly detection on.

    >>> import plugtorch as pt
    >>> x = pt.tensor([0.0], requires_grad=True)
    >>> with detect_anomaly():                          # doctest: +SKIP
    ...     (pt.sqrt(x) * 0).sum().backward()
    RuntimeError: Function 'SqrtBackward' returned nan values in its 0th output.
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.prev = state.enabled
        self.check_nan = check_nan
        self.prev_check_nan = state.check_nan
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime "
                      "and should only be enabled for debugging.", stacklevel=2)

    def __enter__(self) -> None:
        _set(True, self.check_nan)

    def __exit__(self, *args) -> None:
        _set(self.prev, self.prev_check_nan)

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = (state.enabled, state.check_nan)
            _set(True, self.check_nan)
            try:
                return fn(*args, **kwargs)
            finally:
                _set(*prev)
        return wrapper


class set_detect_anomaly:
    """Turn anomaly detection on or off: at once, and back on exit when used as a context manager.

    >>> _ = set_detect_anomaly(True); is_anomaly_enabled()
    True
    >>> _ = set_detect_anomaly(False); is_anomaly_enabled()
    False
    """

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.prev = state.enabled
        self.prev_check_nan = state.check_nan
        _set(mode, check_nan)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *args) -> None:
        _set(self.prev, self.prev_check_nan)


def set_anomaly_enabled(enabled: bool, check_nan: bool = True) -> None:
    """``torch.set_anomaly_enabled``: turn anomaly detection on or off."""
    _set(enabled, check_nan)


# ---- used by the engine while anomaly detection is on -------------------------------------
def forward_stack() -> list:
    """The caller's stack, without plugtorch's own frames at its end (dispatch, autograd)."""
    frames = traceback.extract_stack()[:-1]
    while frames and frames[-1].filename.startswith(_PKG) and not frames[-1].filename.startswith(_KEEP):
        frames.pop()
    return frames


def check_nan(node, outs) -> None:
    """Raise if a gradient a node returned holds NaN (torch's message, plugtorch's node name)."""
    for k, g in enumerate(outs):
        if g is not None and g._dtype.is_floating_point and bool(g.isnan().any()):
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {k}th output.")


_running = threading.local()   # .node: the node whose formula runs now, in this thread's backward


def running_node():
    return getattr(_running, "node", None)


def set_running_node(node) -> None:
    _running.node = node


def warn_forward_stack(node) -> None:
    """Show where ``node``'s forward op was called (before the backward error propagates), and for
    a node recorded by a backward formula (create_graph) where that formula's node was called."""
    frames = getattr(node, "_anomaly_trace", None)
    if frames is None:
        warnings.warn(f"Error detected in {node.name()}. No forward pass information available. Enable "
                      "detect anomaly during forward pass for more information.", stacklevel=3)
        return
    warnings.warn(f"Error detected in {node.name()}. Traceback of forward call that caused the error:\n"
                  + "".join(traceback.format_list(frames)), stacklevel=3)
    parent = getattr(node, "_anomaly_parent", None)
    while parent is not None:
        frames = getattr(parent, "_anomaly_trace", None)
        if frames is None:
            break
        warnings.warn(f"\n\nPrevious calculation was induced by {parent.name()}. Traceback of forward call that "
                      "induced the previous calculation:\n" + "".join(traceback.format_list(frames)), stacklevel=3)
        parent = getattr(parent, "_anomaly_parent", None)
