"""The op registry: every op is declared here once, and everything else is keyed by its name.

An op has a meta function (validates arguments once for every backend and says where the
result lives and what dtype it has), tags, and for composite ops a decomposition into other
ops. Backends provide kernels by name; autograd formulas are keyed by name too.

>>> from plugtorch.dispatch import registry
>>> registry.get("add").tags
frozenset({'pointwise'})
"""
from __future__ import annotations

import inspect
from typing import Callable

from plugtorch import _caches

OPS: dict[str, "OpDef"] = {}
FAST_MAX = 1024     # entries of an op's dispatch memo (op.fast)


def _forget_dispatch_memos():
    for op in list(OPS.values()):
        op.fast.clear()


_caches.on_invalidate(_forget_dispatch_memos)

# How the dispatcher treats a kernel's return value.
OUT_TENSOR, OUT_MULTI, OUT_VIEW, OUT_INPLACE, OUT_RAW = range(5)

# scalar_checked: the meta checks a Python scalar operand's value (pow's integer exponent) or
# rewrites it (an integer divisor wrapped to the dtype), so the dispatcher does not memoise such
# calls by the scalar's type alone; dynamic_shape: the
# result's shape depends on the data (nonzero), so a traced graph checks it at each replay
KNOWN_TAGS = frozenset({"pointwise", "reduction", "view", "inplace", "random", "factory",
                        "linalg", "indexing", "shape", "transfer", "nondeterministic",
                        "scalar_checked", "dynamic_shape"})


class OpDef:
    """One op: name, meta function, tags and, for composite ops, a decomposition."""

    __slots__ = ("name", "meta", "decomposition", "tags", "differentiable", "grad_nyi", "out_kind",
                 "signature", "doc", "fast", "operator", "runs_once", "writes", "__weakref__")

    def __init__(self, name, meta, decomposition, tags, differentiable, out_kind, doc, writes=None):
        self.name = name
        # an OUT_RAW op: a function of its (positional) arguments returning those it writes into
        # (None: every tensor argument). plugtorch.jit records these writes and no others
        self.writes = writes
        self.meta = meta
        self.decomposition = decomposition
        self.tags = tags
        # differentiable="not_implemented" (PyTorch's not_implemented derivatives: geqrf,
        # heaviside ...): not differentiable, but a floating result of inputs that require grad
        # requires grad too, and a backward that reaches it raises, instead of the gradient
        # silently leaving out this path
        self.grad_nyi = differentiable == "not_implemented"
        self.differentiable = False if self.grad_nyi else differentiable
        self.out_kind = out_kind
        # its kernel cannot simply run again after raising a floating-point warning halfway
        # (it writes into an argument or draws random numbers): see dispatch/fpstate.py
        self.runs_once = out_kind == OUT_INPLACE or bool(tags & {"inplace", "random"}) or name.endswith("_")
        fn = meta or decomposition
        self.signature = inspect.signature(fn)
        self.doc = doc or (fn.__doc__ if fn is not None else None)
        # memoised meta results (see dispatcher.binary): a plain dict, the dispatcher stores
        # into it with _caches.put (at most FAST_MAX entries), invalidate() clears it
        self.fast = {}
        # (arity, function) of a pointwise op's memoised operator (dispatcher.binary_operator):
        # dispatch() calls it for plain tensor operands instead of running the meta every time
        self.operator = None

    @property
    def is_core(self) -> bool:
        """Core ops must have a kernel on every backend; composite ops decompose."""
        return self.decomposition is None

    def __repr__(self):
        kind = "core" if self.is_core else "composite"
        return f"<op {self.name} ({kind}) {self.signature}>"


def register_op(name: str, meta: Callable | None = None, *, decomposition: Callable | None = None,
                tags=(), differentiable: bool | str = True, out_kind: int = OUT_TENSOR,
                doc: str | None = None, writes: Callable | None = None) -> OpDef:
    """Declare an op. ``meta(*args, **kwargs) -> (device, kernel_args, out_dtype)``; ``writes``
    (an ``out_kind=OUT_RAW`` op): ``writes(args)``, the tensor arguments it writes into."""
    if name in OPS:
        raise RuntimeError(f"op '{name}' is already registered; pick another name or "
                           "unregister the old one first")
    if meta is None and decomposition is None:
        raise TypeError(f"op '{name}': a core op needs a meta function")
    tags = frozenset(tags)
    unknown = tags - KNOWN_TAGS
    if unknown:
        raise ValueError(f"op '{name}': unknown tags {sorted(unknown)}")
    if "view" in tags:
        out_kind = OUT_VIEW
    elif "inplace" in tags:
        out_kind = OUT_INPLACE
    op = OpDef(name, meta, decomposition, tags, differentiable, out_kind, doc, writes)
    OPS[name] = op
    return op


def unregister_op(name: str) -> None:
    OPS.pop(name, None)


def get(name: str) -> OpDef:
    try:
        return OPS[name]
    except KeyError:
        raise NotImplementedError(f"there is no op named '{name}' in the plugtorch registry") from None


def core_ops() -> list[str]:
    return sorted(n for n, op in OPS.items() if op.is_core)


def composite_ops() -> list[str]:
    return sorted(n for n, op in OPS.items() if not op.is_core)
