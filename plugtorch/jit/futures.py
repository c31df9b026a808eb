"""``plugtorch.jit.fork`` and ``wait``, and the ``Future`` they pass, as ``torch.jit`` outside TorchScript.

Outside TorchScript PyTorch runs a forked call at once, in the calling thread, and hands back a
completed ``Future``; an exception the call raises comes out of ``fork`` itself. plugtorch
has no TorchScript interpreter, so this is the only behaviour there is, and a traced caller
records the forked call's ops in order like any other call.

>>> import plugtorch as pt
>>> fut = pt.jit.fork(lambda x, k=1: x + k, pt.ones(2), k=3)
>>> fut.done(), pt.jit.wait(fut).tolist()
(True, [4.0, 4.0])
"""
from __future__ import annotations

import threading

_UNSET = object()


class Future:
    """A value that is set once (``set_result`` or ``set_exception``) and read with ``wait()``,
    which blocks until then, as ``torch.futures.Future``."""

    def __init__(self, *, devices=None):
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._value = _UNSET
        self._error = None
        self._callbacks: list = []

    def done(self) -> bool:
        return self._done.is_set()

    def set_result(self, result) -> None:
        self._complete(result, None)

    def set_exception(self, result) -> None:
        if not isinstance(result, BaseException):
            raise TypeError(f"set_exception(): expected an exception, got {type(result).__name__}")
        self._complete(_UNSET, result)

    def _complete(self, value, error):
        with self._lock:
            if self._done.is_set():
                raise RuntimeError("Attempting to mark a completed Future as complete again. Note that a Future "
                                   "can only be marked completed once.")
            self._value, self._error = value, error
            self._done.set()
            callbacks, self._callbacks = self._callbacks, []
        for cb in callbacks:
            cb(self)

    def wait(self):
        """Block until the future is complete; return its value or raise its exception."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value

    def value(self):
        """The value of a completed future (its exception raised); does not block."""
        if not self._done.is_set():
            raise RuntimeError("Future.value(): the Future is not completed yet (use wait() to block until it is)")
        return self.wait()

    def then(self, callback) -> "Future":
        """A new Future completed with ``callback(self)`` once this one completes; an exception the
        callback raises completes it with a RuntimeError naming that exception."""
        out = Future()

        def run(fut):
            try:
                out.set_result(callback(fut))
            except Exception as e:      # (as torch: wrapped, the callback's error as the cause)
                err = RuntimeError(f"Got the following error when running the callback: {type(e).__name__}: {e}")
                err.__cause__ = e
                out.set_exception(err)
        self.add_done_callback(run)
        return out

    def add_done_callback(self, callback) -> None:
        """Call ``callback(self)`` once the future completes (at once if it already has)."""
        with self._lock:
            if not self._done.is_set():
                self._callbacks.append(callback)
                return
        callback(self)

    def __repr__(self):
        if not self.done():
            return "Future(pending)"
        return f"Future(exception={self._error!r})" if self._error is not None else f"Future(value={self._value!r})"


def fork(func, *args, **kwargs) -> Future:
    """Call ``func(*args, **kwargs)`` now and return a completed Future holding its result (an
    exception it raises propagates from ``fork``, as in PyTorch outside TorchScript)."""
    if not callable(func):
        raise TypeError(f"plugtorch.jit.fork(): expected a callable, got {type(func).__name__}")
    fut = Future()
    fut.set_result(func(*args, **kwargs))
    return fut


def wait(future):
    """``future.wait()``: the forked call's result."""
    if not isinstance(future, Future):
        raise TypeError(f"plugtorch.jit.wait(): expected the Future plugtorch.jit.fork returns, got "
                        f"{type(future).__name__}")
    return future.wait()
