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
import inspect
import itertools

from plugtorch.dispatch.dispatcher import grad_state

_force_serials = itertools.count(1)


def _force_on():
    """Grad mode turned on explicitly (not inherited): ``grad_state.forced`` takes a new serial."""
    grad_state.forced = next(_force_serials)


class _GradContext:
    """Base: a context manager that is also a decorator (a fresh context per call; a decorated
    generator runs each of its steps inside the context, as PyTorch's)."""

    def _fresh(self):
        return self.__class__()

    def __call__(self, fn):
        if inspect.isgeneratorfunction(fn):
            return self._wrap_generator(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self._fresh():
                return fn(*args, **kwargs)
        return wrapper

    def _wrap_generator(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            gen = fn(*args, **kwargs)
            try:
                with self._fresh():
                    response = gen.send(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        with self._fresh():
                            gen.close()
                        raise
                    except BaseException as e:
                        with self._fresh():
                            response = gen.throw(e)
                    else:
                        with self._fresh():
                            response = gen.send(request)
            except StopIteration as e:
                return e.value
        return wrapper

    def __enter__(self):
        self._prev = grad_state.enabled
        grad_state.enabled = self._mode()

    def __exit__(self, *exc):
        grad_state.enabled = self._prev
        return False


class _BareDecorator(_GradContext):
    """``@no_grad`` works without parentheses too, as in PyTorch."""

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_BareDecorator):
    """Disable gradient recording (context manager or decorator).

    >>> with no_grad():
    ...     y = x * 2          # doctest: +SKIP
    """

    def _mode(self):
        return False


class enable_grad(_BareDecorator):
    """Enable gradient recording, e.g. inside ``no_grad`` (context manager or decorator).
    Inside ``inference_mode`` nothing is recorded all the same, as in PyTorch."""

    def _mode(self):
        return not grad_state.inference

    def __enter__(self):
        super().__enter__()
        self._prev_forced = grad_state.forced
        _force_on()

    def __exit__(self, *exc):
        grad_state.forced = self._prev_forced
        return super().__exit__(*exc)


class set_grad_enabled(_GradContext):
    """Turn recording on or off: at once as a function, for a block as a context manager,
    for a function's calls as a decorator (PyTorch's semantics)."""

    def __init__(self, mode: bool):
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled(): argument 'enabled' (position 1) must be bool, not "
                            f"{type(mode).__name__}")
        self.mode = mode
        self._prev = grad_state.enabled
        self._prev_forced = grad_state.forced
        grad_state.enabled = mode and not grad_state.inference   # at once, as in PyTorch
        if mode:
            _force_on()

    def _fresh(self):
        return set_grad_enabled(self.mode)

    def __call__(self, fn):
        # decorating must not change the current mode
        grad_state.enabled, grad_state.forced = self._prev, self._prev_forced
        return super().__call__(fn)

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        grad_state.forced = self._prev_forced
        return super().__exit__(*exc)


class inference_mode(_GradContext):
    """Like no_grad, and ``is_inference_mode_enabled()`` reports it (plugtorch has no separate
    inference tensors). ``inference_mode(False)`` leaves inference mode and turns gradients on,
    as PyTorch's does; ``@inference_mode`` works without parentheses."""

    def __new__(cls, mode=True):
        if isinstance(mode, bool):
            return super().__new__(cls)
        return cls()(mode)

    def __init__(self, mode: bool = True):
        self.mode = mode

    def _fresh(self):
        return inference_mode(self.mode)

    def __enter__(self):
        self._prev = grad_state.enabled
        self._prev_inf = grad_state.inference
        self._prev_forced = grad_state.forced
        grad_state.enabled = not self.mode
        grad_state.inference = self.mode
        if not self.mode:
            _force_on()

    def __exit__(self, *exc):
        grad_state.enabled = self._prev
        grad_state.inference = self._prev_inf
        grad_state.forced = self._prev_forced
        return False


def is_grad_enabled() -> bool:
    """Whether ops record gradients in this thread now."""
    return grad_state.enabled


def is_inference_mode_enabled() -> bool:
    return grad_state.inference
