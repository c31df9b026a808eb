"""The fusion capability of the backend contract: one kernel for a chain of pointwise ops.

``plugtorch.jit`` finds chains of pointwise kernel calls in a traced graph and offers each to
the device's backend as a ``PointwiseGroup``. A backend that can generate one kernel for it
returns a callable from ``Backend.fuse_pointwise(group)``; one that cannot (the default, and
every plug-in that does not override it) returns None and the executor runs the group's kernels
one by one, still without the dispatcher.

The group describes kernel calls exactly as the backend's own kernels receive them (the
``kargs`` a meta function returned), with ``Ref`` in place of the native arrays, so a backend
interprets a step as it interprets a call of its kernel ``step.op``: same operand conversions,
same result dtype. Every step's value is rounded to its dtype (as the unfused kernels store
it), so a fused kernel returns exactly what the unfused calls return.

>>> g = PointwiseGroup(
...     inputs=(Input((4,), float32), Input((4,), float32), Input((), float32)),
...     steps=(Step("mul", (Ref(IN, 0), Ref(IN, 1), float32), (4,), float32),
...            Step("add", (Ref(STEP, 0), Ref(IN, 2), float32), (4,), float32)),
...     outputs=(1,), shape=(4,))          # doctest: +SKIP
>>> fn = backend.fuse_pointwise(g)      # doctest: +SKIP
>>> (out,) = fn(a, b, c)                # native arrays in, fresh contiguous arrays out

Code that offers many groups before it runs any (the conformance suite's jit mode traces a batch
of entries, then replays them) may say so with ``deferred_builds()``: a backend for which
building many kernels at once costs less than building them one by one (opencl: one program,
one compiler run) may then return callables that build at their first call, all of those
waiting together. Without it, or on a backend that ignores it, nothing changes.

>>> with deferred_builds():             # doctest: +SKIP
...     traced = [plugtorch.jit.trace(f, x) for f in fns]
>>> [t(x) for t in traced]              # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass

IN, STEP = "in", "step"


@dataclass(frozen=True)
class Ref:
    """An operand of a step: input ``index`` of the group (IN) or the value of an earlier step (STEP)."""
    kind: str
    index: int


@dataclass(frozen=True)
class Input:
    """A native array the fused kernel reads: its shape (broadcastable to the group's) and dtype.

    Strides and offsets are not fixed: the callable accepts any strided array of this shape."""
    shape: tuple
    dtype: object          # a plugtorch dtype


@dataclass(frozen=True)
class Step:
    """One pointwise kernel call ``kernels[op](*kargs)`` whose result has ``shape`` and ``dtype``.

    ``kargs`` holds Refs where the kernel would receive native arrays; everything else (Python
    scalars, plugtorch dtypes) is passed as the meta function gave it."""
    op: str
    kargs: tuple
    shape: tuple
    dtype: object


@dataclass(frozen=True)
class PointwiseGroup:
    """Steps in order (each refers only to inputs and earlier steps); ``outputs`` are the step
    indices whose values leave the group, each of the group's ``shape``."""
    inputs: tuple
    steps: tuple
    outputs: tuple
    shape: tuple

    def key(self) -> tuple:
        """A hashable key: groups with equal keys can share one generated kernel."""
        return (self.inputs, self.steps, self.outputs, self.shape)


_DEFERRED = threading.local()


@contextlib.contextmanager
def deferred_builds():
    """Within it (in this thread), a backend may build the fused kernels it returns at their first
    call instead of at once; see the module docstring."""
    before = getattr(_DEFERRED, "on", False)
    _DEFERRED.on = True
    try:
        yield
    finally:
        _DEFERRED.on = before


def builds_deferred() -> bool:
    """Whether the caller asked for ``deferred_builds()``."""
    return getattr(_DEFERRED, "on", False)
