"""no_grad, enable_grad, set_grad_enabled, inference_mode: thread-local, usable as decorators."""
from __future__ import annotations

import functools

from plugtorch.dispatch.dispatcher import grad_state


class _GradContext:
    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(*self._args):
                return fn(*args, **kwargs)
        return wrapper

    _args = ()

    def __exit__(self, *exc):
        grad_state.enabled = self._prev
        return False


class no_grad(_GradContext):
    """Disable gradient recording (context manager or decorator).

    >>> with no_grad():
    ...     y = x * 2          # doctest: +SKIP
    """

    def __enter__(self):
        self._prev = grad_state.enabled
        grad_state.enabled = False


class enable_grad(_GradContext):
    def __enter__(self):
        self._prev = grad_state.enabled
        grad_state.enabled = True


class set_grad_enabled(_GradContext):
    def __init__(self, mode: bool):
        self._args = (mode,)
        self._prev = grad_state.enabled
        grad_state.enabled = bool(mode)   # takes effect at once, as in PyTorch

    def __enter__(self):
        pass


class inference_mode(_GradContext):
    """Like no_grad (plugtorch has no separate inference tensors)."""

    def __init__(self, mode: bool = True):
        self._args = (mode,)
        self.mode = mode

    def __enter__(self):
        self._prev = grad_state.enabled
        self._prev_inf = grad_state.inference
        if self.mode:
            grad_state.enabled = False
            grad_state.inference = True

    def __exit__(self, *exc):
        grad_state.enabled = self._prev
        grad_state.inference = self._prev_inf
        return False


def is_grad_enabled() -> bool:
    return grad_state.enabled


def is_inference_mode_enabled() -> bool:
    return grad_state.inference
