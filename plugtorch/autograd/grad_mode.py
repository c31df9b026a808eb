"""no_grad, enable_grad, set_grad_enabled, inference_mode: thread-local, usable as decorators.

The state lives in ``dispatcher.grad_state`` (a ``threading.local``), so each thread starts
with gradients enabled and one thread's ``no_grad`` never affects another.

>>> x = plugtorch.ones(2, requires_grad=True)
>>> with plugtorch.no_grad():
...     (x * 2).requires_grad
False
"""
from __future__ import annotations

import functools

from plugtorch.dispatch.dispatcher import grad_state


class _GradContext:
    """Base: a context manager that is also a decorator (a fresh context per call)."""

    def _fresh(self):
        return self.__class__()

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self._fresh():
                return fn(*args, **kwargs)
        return wrapper

    def __enter__(self):
        self._prev = grad_state.enabled
        grad_state.enabled = self._mode()

    def __exit__(self, *exc):
        grad_state.enabled = self._prev
        return False


class no_grad(_GradContext):
    """Disable gradient recording (context manager or decorator).

    >>> with no_grad():
    ...     y = x * 2          # doctest: +SKIP
    """

    def _mode(self):
        return False


class enable_grad(_GradContext):
    """Enable gradient recording, e.g. inside ``no_grad`` (context manager or decorator)."""

    def _mode(self):
        return True


class set_grad_enabled(_GradContext):
    """Turn recording on or off: at once as a function, for a block as a context manager,
    for a function's calls as a decorator (PyTorch's semantics)."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self._prev = grad_state.enabled
        grad_state.enabled = self.mode   # takes effect at once, as in PyTorch

    def _fresh(self):
        return set_grad_enabled(self.mode)

    def __call__(self, fn):
        grad_state.enabled = self._prev   # decorating must not change the current mode
        return super().__call__(fn)

    def __enter__(self):
        pass


class inference_mode(_GradContext):
    """Like no_grad, and ``is_inference_mode_enabled()`` reports it (plugtorch has no separate
    inference tensors). ``inference_mode(False)`` is a no-op."""

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)

    def _fresh(self):
        return inference_mode(self.mode)

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
    """Whether ops record gradients in this thread now."""
    return grad_state.enabled


def is_inference_mode_enabled() -> bool:
    return grad_state.inference
