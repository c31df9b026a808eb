"""What a program asks of ``plugtorch.compile`` (``disable``, ``allow_in_graph``,
``assume_constant_result``) and asks about it (``is_compiling``, ``is_exporting``).

``plugtorch.compile`` traces at the op level and replays a whole call's graph, so a part of a
call cannot run eagerly on its own: a call reaching a function marked ``disable`` is a graph
break, and its signature runs eagerly (``fullgraph=True`` raises), counted in
``plugtorch.compiler.stats()`` and reported by ``plugtorch.compiler.explain``.

>>> import plugtorch as pt
>>> @pt.compiler.disable
... def log_stats(x):
...     return x * 2
>>> f = pt.compile(lambda x: log_stats(x) + 1)
>>> f(pt.ones(2)).tolist()
[3.0, 3.0]
>>> pt.compiler.stats()["graph_breaks"] >= 1
True
"""
from __future__ import annotations

import contextlib
import functools
import threading


class _State(threading.local):
    def __init__(self):
        self.compiling = 0      # compile traces under way in this thread
        self.exporting = 0      # exporter traces under way
        self.disabled: list = []   # one list per compile trace: the disabled functions it reached


_state = _State()


def is_compiling() -> bool:
    """True while ``plugtorch.compile`` traces a call (the first call of each signature), False
    when the call runs eagerly or replays (the replay runs no Python).

    >>> is_compiling()
    False
    """
    return _state.compiling > 0


def is_dynamo_compiling() -> bool:
    """``is_compiling()``: plugtorch's compile has one tracer, no separate Dynamo stage."""
    return _state.compiling > 0


def is_exporting() -> bool:
    """True while ``plugtorch.onnx.export`` traces the model."""
    return _state.exporting > 0


@contextlib.contextmanager
def compiling():
    """Mark a compile trace: yields the list that collects the disabled functions it reaches."""
    reached: list = []
    _state.compiling += 1
    _state.disabled.append(reached)
    try:
        yield reached
    finally:
        _state.disabled.pop()
        _state.compiling -= 1


@contextlib.contextmanager
def exporting():
    _state.exporting += 1
    try:
        yield
    finally:
        _state.exporting -= 1


def disable(fn=None, recursive=True, *, reason=None):
    """Run ``fn`` eagerly under ``plugtorch.compile``: a compiled call that reaches it is a graph
    break (its signature runs eagerly; ``fullgraph=True`` raises). Usable as ``@disable`` or
    ``@disable(reason=...)``. ``recursive=False`` (PyTorch: only ``fn``'s own frame is skipped,
    its callees still compile) runs the whole call eagerly too, as plugtorch cannot compile part
    of a call: the results are eager's either way."""
    if fn is None:
        return functools.partial(disable, recursive=recursive, reason=reason)
    if not callable(fn):
        raise AssertionError("fn must be callable")
    fn = getattr(fn, "_plugtorch_disabled", fn)     # (the function a disable wrapper runs)
    name = getattr(fn, "__qualname__", None) or type(fn).__name__

    @functools.wraps(fn)
    def run_eagerly(*args, **kwargs):
        if not _state.disabled:
            return fn(*args, **kwargs)
        # reached while compile traces: the trace becomes a graph break (its graph is dropped),
        # and the function runs as it would eagerly (is_compiling() is False in it)
        _state.disabled[-1].append(name + (f" ({reason})" if reason else ""))
        depth, frames = _state.compiling, _state.disabled
        _state.compiling, _state.disabled = 0, []
        try:
            return fn(*args, **kwargs)
        finally:
            _state.compiling, _state.disabled = depth, frames
    run_eagerly._plugtorch_disabled = fn
    return run_eagerly


def allow_in_graph(fn):
    """Returns ``fn`` (a list of functions: a list of them). PyTorch's Dynamo would otherwise
    trace into ``fn``'s Python; plugtorch's tracer records ops wherever they run, so every
    function is already 'in the graph'."""
    if isinstance(fn, (list, tuple)):
        return [allow_in_graph(x) for x in fn]
    if not callable(fn):
        raise AssertionError("allow_in_graph expects a callable")
    return fn


def assume_constant_result(fn):
    """Marks ``fn`` (``_dynamo_marked_constant``) and returns it. PyTorch bakes such a function's
    result into the graph without a guard; plugtorch's compile needs no such promise: the
    Python values a traced call reads (the globals and closures of the program's functions it
    reaches, module attributes) are guarded, and a tensor read into Python is re-read by the
    replay, so a changed result traces again instead of replaying a stale constant."""
    fn._dynamo_marked_constant = True
    return fn
