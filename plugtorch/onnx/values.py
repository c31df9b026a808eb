"""The values the exporter lowers: tensors with their traces' real data, and dynamic ints.

A ``Val`` is one tensor of the exported graph: the real tensor each trace computed (plugtorch
eager, so decompositions can run on it and constant folding can read it), its ONNX name now,
whether it is known at export, its dtype, and its dims (a ``SymInt`` where a dim follows a
dynamic axis). A ``SymInt`` is an int the traced program computed from a dynamic size.
"""
from __future__ import annotations

import plugtorch as pt
from plugtorch import _dtypes
from plugtorch.onnx.errors import OnnxExporterError

INT64_MAX = 2 ** 63 - 1
INT64_MIN = -2 ** 63


class SymInt:
    """An int argument that follows dynamic axes: ``const + sum(coef[s] * size(s))``;
    ``value`` is what it was in the traced example."""

    __slots__ = ("value", "const", "coef", "source")

    def __init__(self, value, const, coef, source=None):
        self.value = value
        self.const = const
        self.coef = coef      # tuple of (symbol, int) pairs, nonzero ints
        # (Val, dim) for a size that is no affine function of the axes (a strided convolution's
        # output height): read from that value's run-time shape, plus const (no coef)
        self.source = source

    def key(self):
        if self.source is not None:
            return ("dim of", id(self.source[0]), self.source[1], self.const)
        return (self.const, self.coef)

    def __repr__(self):
        if self.source is not None:
            return f"SymInt(a run-time size + {self.const} = {self.value} in the example)"
        terms = " + ".join(f"{a}*{s}" for s, a in self.coef)
        return f"SymInt({terms} + {self.const} = {self.value} in the example)"


class Val:
    """A tensor value of the exported graph. ``tensors[k]``: the real tensor trace ``k``
    computed; ``name``: its ONNX name now; ``const``: known at export; ``dims``: per dim an int,
    or a SymInt for dims that follow a dynamic axis. A view keeps ``root`` (the value whose
    memory it views) and ``view`` (parent Val, the call that made it, which output): after a
    write to the root it is emitted again."""

    __slots__ = ("tensors", "name", "const", "dtype", "dims", "root", "version", "view", "seen", "__weakref__")

    def __init__(self, tensors, name, const, dtype, dims):
        self.tensors = tensors
        self.name = name
        self.const = const
        self.dtype = dtype
        self.dims = dims
        self.root = self
        self.version = 0      # writes to this value (roots)
        self.view = None
        self.seen = 0         # a view: the root's version when it was emitted

    @property
    def shape(self):
        return tuple(d.value if isinstance(d, SymInt) else d for d in self.dims)

    @property
    def ndim(self):
        return len(self.dims)

    @property
    def dynamic(self) -> bool:
        return any(isinstance(d, SymInt) for d in self.dims)

    def __repr__(self):
        return f"Val({self.name}: {self.dtype} {list(self.dims)}{' const' if self.const else ''})"


class ViewRecipe:
    __slots__ = ("parent", "entry", "args", "kwargs", "index", "op", "site")

    def __init__(self, parent, entry, args, kwargs, index, op, site):
        self.parent, self.entry, self.args, self.kwargs = parent, entry, args, kwargs
        self.index, self.op, self.site = index, op, site


def is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def has_symint(t) -> bool:
    c = t.__class__
    if c is SymInt:
        return True
    if c in (list, tuple):
        return any(has_symint(x) for x in t)
    if c is dict:
        return any(has_symint(x) for x in t.values())
    return False


def vals_in(t) -> list:
    out = []

    def walk(x):
        c = x.__class__
        if c is Val:
            out.append(x)
        elif c in (list, tuple):
            for y in x:
                walk(y)
        elif c is dict:
            for y in x.values():
                walk(y)
    walk(t)
    return out


def real_args(t, k):
    """The template with each Val replaced by trace ``k``'s tensor, each SymInt by its int."""
    c = t.__class__
    if c is Val:
        return t.tensors[k]
    if c is SymInt:
        raise AssertionError("use per-trace templates for real calls")
    if c is list:
        return [real_args(x, k) for x in t]
    if c is tuple:
        return tuple(real_args(x, k) for x in t)
    if c is dict:
        return {key: real_args(x, k) for key, x in t.items()}
    return t


_ONNX_DTYPES = {}


def onnx_dtype(onnx, dtype) -> int:
    if not _ONNX_DTYPES:
        T = onnx.TensorProto
        _ONNX_DTYPES.update({pt.bool: T.BOOL, pt.uint8: T.UINT8, pt.int8: T.INT8, pt.int16: T.INT16,
                             pt.int32: T.INT32, pt.int64: T.INT64, pt.float16: T.FLOAT16,
                             pt.bfloat16: T.BFLOAT16, pt.float32: T.FLOAT, pt.float64: T.DOUBLE})
    try:
        return _ONNX_DTYPES[dtype]
    except KeyError:
        raise OnnxExporterError(f"plugtorch.onnx.export: ONNX has no element type for {dtype}") from None


def opmath(dtype):
    """The dtype pointwise math runs in (as plugtorch's kernels): float16/bfloat16 in float32,
    small integers in int32; the result is cast back."""
    if dtype in (pt.float16, pt.bfloat16):
        return pt.float32
    if dtype in (pt.int8, pt.uint8, pt.int16):
        return pt.int32
    return dtype


def result_type(a, b, k=0):
    """plugtorch's promotion of two operands (Vals or Python scalars), from the real values."""
    ra = a.tensors[k] if isinstance(a, Val) else (a.value if isinstance(a, SymInt) else a)
    rb = b.tensors[k] if isinstance(b, Val) else (b.value if isinstance(b, SymInt) else b)
    return _dtypes.result_type(ra, rb)
