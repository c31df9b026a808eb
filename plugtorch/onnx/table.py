"""The one table from registry ops to ONNX operators.

Each entry maps an op name of the registry to a small function that emits ONNX nodes for one
call: ``fn(g, *args, **kwargs) -> [output names]``, called with the call's own arguments where
tensors are ``Val``\\ s (shape, dtype, whether known at export) and ints that follow a dynamic
axis are ``SymInt``\\ s; ``g`` is the emitting context (``lowering.Lowering``: ``g.input``,
``g.node``, ``g.ints`` ...). ``since`` is the first opset the mapping is valid for, and
``declines(opset, *args, **kwargs)`` may return why it does not cover a call. Composite ops
without a usable entry export through their decomposition; a core op without one cannot be
exported (``UnsupportedOperatorError``).

>>> from plugtorch.onnx.table import lookup
>>> lookup("add").since
17
"""
from __future__ import annotations

from typing import Callable

MIN_OPSET = 17


class Entry:
    __slots__ = ("name", "fn", "since", "declines")

    def __init__(self, name, fn, since, declines):
        self.name = name
        self.fn = fn
        self.since = since
        self.declines = declines


TABLE: dict[str, Entry] = {}


def onnx_op(*names: str, since: int = MIN_OPSET, declines: Callable | None = None):
    """Register the decorated function as the mapping of ``names``."""
    def deco(fn):
        for n in names:
            if n in TABLE:
                raise RuntimeError(f"plugtorch.onnx: op '{n}' is mapped twice")
            TABLE[n] = Entry(n, fn, since, declines)
        return fn
    return deco


def lookup(name: str) -> Entry | None:
    _load()
    return TABLE.get(name)


_loaded = False


def _load():
    global _loaded
    if not _loaded:
        _loaded = True
        from plugtorch.onnx import symbolic_elementwise, symbolic_nn, symbolic_shape  # noqa: F401
