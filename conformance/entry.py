"""What the suite knows about one op (or, later, one module or optimizer): an ``Entry``.

An entry is a name, a sample generator, a callable applied to the inputs, the dtypes it
supports and whether it is differentiable, plus error inputs and how to compare results.
Inputs are described device-independently (``Input``: values on the host plus a layout
recipe), so the same sample is built on the backend under test and on cpu.

>>> e = Entry("neg", samples=lambda ctx: [Sample(Input(np.ones((2, 3), np.float32)))])
>>> e.fn is plugtorch.ops.neg
True
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

import plugtorch as pt
from plugtorch import _dtypes


class _Device:
    """Placeholder for "the device under test" in a sample's arguments."""

    def __repr__(self):
        return "DEVICE"


DEVICE = _Device()


@dataclass
class Input:
    """A tensor argument: host values, dtype and a layout recipe applied on the device.

    ``layout`` is one of "contiguous", "transposed" (the last two dims swapped, so ``values``
    holds the transposed data), "stepped" (every second element of the last dim of ``values``)
    or "expanded" (``values`` has size 1 in dim ``expand_dim``, broadcast to ``shape``).
    ``on_cpu`` keeps a (0-d) tensor on cpu, as PyTorch allows beside any device.
    """

    values: np.ndarray
    dtype: Any = None
    layout: str = "contiguous"
    shape: tuple | None = None       # the final shape ("expanded" needs it)
    requires_grad: bool = True       # differentiate with respect to it (when float)
    on_cpu: bool = False

    def __post_init__(self):
        if self.dtype is None:
            self.dtype = _dtypes.from_numpy_dtype(self.values.dtype)
        if self.shape is None:
            self.shape = _layout_shape(self.values.shape, self.layout)

    def make(self, device) -> "pt.Tensor":
        dev = "cpu" if self.on_cpu else device
        with pt.no_grad():
            t = pt.tensor(self.values, dtype=self.dtype, device=dev)
            if self.layout == "transposed":
                t = t.transpose(-1, -2)
            elif self.layout == "stepped":
                t = pt.ops.slice(t, t.ndim - 1, 0, None, 2)
            elif self.layout == "expanded":
                t = t.expand(self.shape)
        return t

    def logical(self) -> np.ndarray:
        """The values as the op sees them (the layout applied on the host)."""
        v = self.values
        if self.layout == "transposed":
            return np.swapaxes(v, -1, -2)
        if self.layout == "stepped":
            return v[..., ::2]
        if self.layout == "expanded":
            return np.broadcast_to(v, self.shape)
        return v

    def describe(self) -> str:
        lay = "" if self.layout == "contiguous" else f" {self.layout}"
        where = " (cpu)" if self.on_cpu else ""
        return f"{self.dtype.name}{list(self.shape)}{lay}{where}"


def _layout_shape(shape, layout):
    shape = tuple(shape)
    if layout == "transposed":
        return shape[:-2] + (shape[-1], shape[-2])
    if layout == "stepped":
        return shape[:-1] + ((shape[-1] + 1) // 2,)
    return shape


@dataclass
class Sample:
    """One call: positional and keyword arguments (Inputs, lists of Inputs, plain values).

    ``out_device`` is where the result must live: None for the device under test, or "cpu".
    ``reduction_length``: how many elements each output sums (loosens tolerances, see
    tolerances.py); None for ops that do not accumulate.
    ``forward_tol``: ``{dtype: (rtol, atol)}`` replacing the forward values' tolerance of this
    sample (not its gradients'): samples of tiny values compare them relatively, where the
    default atol (1e-5 for float32) would accept any tiny result.
    """

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    name: str = ""
    out_device: str | None = None
    reduction_length: int | None = None
    forward_tol: dict | None = None

    def __init__(self, *args, name="", out_device=None, reduction_length=None, forward_tol=None, **kwargs):
        self.args = args
        self.kwargs = kwargs
        self.name = name
        self.out_device = out_device
        self.reduction_length = reduction_length
        self.forward_tol = forward_tol

    def inputs(self) -> list:
        return [a for a in _walk((self.args, self.kwargs)) if isinstance(a, Input)]

    def describe(self) -> str:
        def fmt(v):
            if isinstance(v, Input):
                return v.describe()
            if isinstance(v, (list, tuple)) and any(isinstance(x, Input) for x in v):
                return "[" + ", ".join(fmt(x) for x in v) + "]"
            return repr(v)
        parts = [fmt(a) for a in self.args] + [f"{k}={fmt(v)}" for k, v in self.kwargs.items()]
        return f"({', '.join(parts)})" + (f"  [{self.name}]" if self.name else "")

    def materialize(self, device, grad: bool = False):
        """Build the arguments on ``device``; with ``grad``, float inputs become leaves requiring grad.

        Returns ``(args, kwargs, leaves)``, ``leaves`` the tensors to differentiate.
        """
        leaves = []

        def build(v):
            if isinstance(v, Input):
                t = v.make(device)
                if grad and v.requires_grad and (t.dtype.is_floating_point or t.dtype.is_complex):
                    t = t.detach().requires_grad_()
                    leaves.append(t)
                return t
            if v is DEVICE:
                return pt.device(device) if isinstance(device, str) else device
            if isinstance(v, list):
                return [build(x) for x in v]
            if isinstance(v, tuple):
                return tuple(build(x) for x in v)
            return v
        args = tuple(build(a) for a in self.args)
        kwargs = {k: build(v) for k, v in self.kwargs.items()}
        return args, kwargs, leaves


def _walk(v):
    if isinstance(v, dict):
        for x in v.values():
            yield from _walk(x)
    elif isinstance(v, (list, tuple)):
        for x in v:
            yield from _walk(x)
    else:
        yield v


@dataclass
class ErrorInput:
    """A call that must fail: ``error`` is the exception type cpu raises (and so must the device)."""

    sample: Sample
    error: type
    match: str | None = None     # a regex the cpu message must contain (keeps the database honest)


ALL_DTYPES = tuple(_dtypes.real_dtypes)   # entries opt in to complex64/complex128 (COMPLEX_DTYPES)
COMPLEX_DTYPES = tuple(_dtypes.complex_dtypes)
FLOAT_DTYPES = tuple(_dtypes.float_dtypes)
INT_DTYPES = tuple(_dtypes.int_dtypes)
NUMERIC_DTYPES = INT_DTYPES + FLOAT_DTYPES


class Entry:
    """One row of the database.

    name          the op name in the registry (or a module/optimizer name)
    samples       ``samples(ctx) -> iterable of Sample``; ``ctx`` is a samples.SampleContext
    fn            the callable applied to the built arguments (default: ``plugtorch.ops.<name>``)
    dtypes        dtypes the entry supports on cpu
    differentiable  check gradients of float inputs against cpu
    error_inputs  ``error_inputs(ctx) -> iterable of ErrorInput``
    compare       ``compare(actual, expected, sample) -> str | None``: a custom check of the
                  outputs (host NumPy arrays) for ops whose values legitimately differ between
                  backends (random numbers, uninitialised memory); None means "values match"
    inplace       the op writes into its first argument: compare the mutation, not "unchanged"
    tol           ``{dtype: (rtol, atol)}`` overrides of the default table
    random        the op draws random numbers: check that a seed repeats them on the backend
                  (seeding.py); default: the registry's "random" tag
    zero_sign     compare the sign of zeros exactly (default); False for ops that pick one of
                  equal values (maximum, amax, clamp ...: opdb.PICK_AMONG_EQUAL), where PyTorch
                  picks -0.0 or +0.0 depending on the code path
    complex_grad  also compare gradients in the complex dtypes (ops on autograd's complex
                  allowlist, autograd/complex_formulas.py); complex inputs then require grad
    """

    def __init__(self, name: str, *, samples: Callable[[Any], Iterable[Sample]],
                 fn: Callable | None = None, dtypes: Iterable = ALL_DTYPES,
                 differentiable: bool | None = None, error_inputs: Callable | None = None,
                 compare: Callable | None = None, inplace: bool | None = None,
                 tol: dict | None = None, op: str | None = None, doc: str = "", random: bool | None = None,
                 zero_sign: bool = True, complex_grad: bool = False):
        self.name = name
        self.op = op if op is not None else name
        self.samples = samples
        self._fn = fn
        self.dtypes = tuple(dtypes)
        opdef = pt.dispatch.registry.OPS.get(self.op)
        if differentiable is None:
            differentiable = opdef.differentiable if opdef is not None else False
        self.differentiable = differentiable
        self.error_inputs = error_inputs
        self.compare = compare
        if inplace is None:
            inplace = opdef is not None and "inplace" in opdef.tags
        self.inplace = inplace
        self.random = random if random is not None else opdef is not None and "random" in opdef.tags
        self.tol = tol or {}
        self.doc = doc
        self.zero_sign = zero_sign
        self.complex_grad = complex_grad

    @property
    def fn(self) -> Callable:
        if self._fn is None:
            self._fn = getattr(pt.ops, self.op)
        return self._fn

    def __repr__(self):
        return f"<conformance entry {self.name} dtypes={[d.name for d in self.dtypes]}>"
