"""NumPy references: what PyTorch returns for an op, computed another way.

``reference(call)`` gives the expected outputs of a call as ``[(array, dtype), ...]``, or None
when the op has no reference here (random ops, nn ops, sorts with ties) or the reference
cannot say (an integer division by zero). The result dtype comes from an independent copy
of PyTorch's promotion rules (``promoted_dtype``: dim tensors, then 0-d tensors, then Python
scalars, by category), not from plugtorch's own ``_dtypes``, so the check means something.

Floats are computed as PyTorch computes them: float16 and bfloat16 in float32, then rounded;
sums in float64 (the tolerance of a sum grows with its length, see conformance/tolerances.py).

>>> import numpy as np
>>> x = np.array([[1, 2], [3, 4]], np.int8)
>>> [(a.tolist(), d.name) for a, d in REFERENCES["sum"](x, dim=1)]
[([3, 7], 'int64')]
"""
from __future__ import annotations

import inspect

import numpy as np

import plugtorch as pt
from plugtorch.conformance.entry import DEVICE, Input

from ..arguments import custom_fn
from . import indexing, pointwise, reductions, shape
from .common import promote_types, promoted_dtype

REFERENCES = {**pointwise.REFERENCES, **reductions.REFERENCES, **shape.REFERENCES, **indexing.REFERENCES}
__all__ = ["REFERENCES", "reference", "promote_types", "promoted_dtype"]


def host_args(sample):
    """The sample's arguments with every Input replaced by its logical host values."""
    def conv(v):
        if isinstance(v, Input):
            return np.asarray(v.logical())    # 0-d values stay arrays (a NumPy scalar reads as a Python number)
        if v is DEVICE:
            return None
        if isinstance(v, list):
            return [conv(x) for x in v]
        if isinstance(v, tuple):
            return tuple(conv(x) for x in v)
        return v
    return [conv(a) for a in sample.args], {k: conv(v) for k, v in sample.kwargs.items()}


def reference(call):
    """``[(array, dtype), ...]`` PyTorch returns for ``call``, or None when there is no reference."""
    fn = REFERENCES.get(call.op)
    if fn is None or (custom_fn(call.entry) and call.target == "op"):
        return None
    args, kwargs = host_args(call.sample)
    if call.target == "public":
        try:
            bound = inspect.signature(getattr(pt, call.op)).bind(*args, **kwargs)
        except TypeError:
            return None
        args, kwargs = _rebind_for_op(call.op, bound)
        if args is None:
            return None
    return fn(*args, **kwargs)


def _rebind_for_op(op, bound):
    """Arguments bound to the public function, passed on by the op's parameter names."""
    from plugtorch.dispatch.registry import OPS
    sig = OPS[op].signature
    names = list(sig.parameters)
    args, kwargs = [], {}
    for name, value in bound.arguments.items():
        p = bound.signature.parameters[name]
        if p.kind is p.VAR_POSITIONAL:
            args.extend(value)
        elif p.kind is p.VAR_KEYWORD:
            kwargs.update(value)
        elif name in names:
            kwargs[name] = value
        else:
            return None, None
    return args, kwargs
