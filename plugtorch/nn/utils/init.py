"""``nn.utils.skip_init``: build a module without initialising its parameters and buffers.

>>> import plugtorch as pt
>>> m = skip_init(pt.nn.Linear, 3, 4)
>>> tuple(m.weight.shape), m.weight.requires_grad
((4, 3), True)
"""
from __future__ import annotations

import inspect

from plugtorch.dispatch.dispatcher import DispatchMode

__all__ = ["skip_init"]


class _SkipInPlaceWrites(DispatchMode):
    """Turns every in-place op (nn.init's fills and random draws) into a no-op: PyTorch builds the
    module on the meta device and allocates it empty; plugtorch allocates it and writes nothing."""

    def __plugtorch_dispatch__(self, op, args, kwargs, call):
        if "inplace" in op.tags:
            return args[0]
        return call(args, kwargs)


def skip_init(module_cls, *args, **kwargs):
    """``module_cls(*args, **kwargs)`` with its parameters and buffers left uninitialised (their
    values are arbitrary; no random numbers are drawn). The module must take a ``device`` argument."""
    from plugtorch.nn.modules.module import Module
    if not (isinstance(module_cls, type) and issubclass(module_cls, Module)):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    with _SkipInPlaceWrites():
        return module_cls(*args, **kwargs)
