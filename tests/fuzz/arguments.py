"""What each argument of a call is: its parameter name in the registry and its kind.

A conformance ``Sample`` holds bare positional and keyword values. Binding them to the op's
signature (``plugtorch.dispatch.registry.OPS[op].signature``) names each one; the name and
the value together give its kind, which decides how the fuzzer may change it:

    tensor   a tensor of values (an ``Input``)         index    an integer index tensor
    mask     a bool tensor that selects                tensors  a list of tensors (cat, stack)
    dim      one dim of the first tensor                dims     several dims (a list or varargs)
    perm     a permutation of dims (permute)            size     a shape: varargs or a tuple
    count    a number of things (k, chunks, steps)     flag     a bool option (keepdim ...)
    scalar   a Python number operand                   other    anything else (left alone)

>>> bound = bind("sum", (Input(np.ones((2, 3), np.float32)), 1))
>>> [(a.name, a.kind) for a in bound]
[('input', 'tensor'), ('dim', 'dim')]
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np

from plugtorch.conformance.entry import Input
from plugtorch.dispatch.registry import OPS

DIM_NAMES = {"dim", "dim0", "dim1", "dim2", "start_dim", "end_dim"}
DIMS_NAMES = {"dims", "source", "destination"}
SIZE_NAMES = {"size", "sizes", "shape"}
COUNT_NAMES = {"k", "chunks", "num_samples", "steps", "n", "m", "length", "num_groups"}
FLAG_NAMES = {"keepdim", "descending", "stable", "largest", "sorted", "accumulate", "replacement", "as_tuple",
              "equal_nan", "ceil_mode", "count_include_pad", "return_indices", "is_causal", "unbiased"}
INDEX_NAMES = {"index", "indices", "idx", "target"}

# (op, parameter) pairs whose name says something else than usual
NAME_KIND = {("tile", "dims"): "size", ("unflatten", "sizes"): "size", ("split", "split_size_or_sections"): "count",
             ("roll", "dims"): "other", ("roll", "shifts"): "other", ("permute", "dims"): "perm",
             ("embedding", "input"): "index", ("take_along_dim", "dim"): "dim", ("diagonal", "offset"): "other",
             ("linspace", "steps"): "count", ("eye", "n"): "count", ("eye", "m"): "count", ("randperm", "n"): "count",
             ("select", "index"): "other", ("norm", "dim"): "dims", ("layer_norm", "normalized_shape"): "other",
             ("group_norm", "num_groups"): "other", ("unflatten", "dim"): "dim", ("rot90", "k"): "other"}
# torch.special's orthogonal polynomials take any real n (truncated; a negative n gives 0)
NAME_KIND.update({(op, "n"): "other" for op in OPS if op.startswith("special_") and "_polynomial_" in op})


@dataclass
class Arg:
    """One argument: where it sits in the call (``key`` an int position or a keyword), its
    parameter name (None when the signature does not say) and its kind."""

    key: Any
    name: str | None
    kind: str
    value: Any
    variadic: bool = False     # the name is a ``*sizes``-style parameter: several positions


def custom_fn(entry) -> bool:
    """The entry applies its own callable (``lambda x, dim, idx: take_along_dim(x, idx, dim)``),
    not ``plugtorch.ops.<op>``."""
    fn = entry.fn
    return getattr(fn, "_op", None) is not OPS.get(entry.op)


def signature_for(entry):
    """The signature that names a sample's arguments: the registry's, or the entry's own callable's."""
    op = OPS.get(entry.op)
    fn = entry.fn
    if custom_fn(entry):
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            sig = None
        if sig is not None and not any(p.kind is p.VAR_POSITIONAL for p in sig.parameters.values()):
            return sig
    return op.signature if op is not None else None


def bind(op_name, args, kwargs=None, signature=None) -> list:
    """The arguments of a call, named and classified (positional ones first)."""
    kwargs = kwargs or {}
    sig = signature if signature is not None else (OPS[op_name].signature if op_name in OPS else None)
    names, variadic = _positional_names(sig, len(args))
    out = [Arg(i, names[i], kind_of(op_name, names[i], v), v, names[i] == variadic) for i, v in enumerate(args)]
    out += [Arg(k, k, kind_of(op_name, k, v), v) for k, v in kwargs.items()]
    if variadic is not None:
        _classify_variadic(op_name, variadic, out)
    return out


def _positional_names(sig, n):
    if sig is None:
        return [None] * n, None
    names, variadic = [], None
    for p in sig.parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
        elif p.kind is p.VAR_POSITIONAL:
            variadic = p.name
            names += [p.name] * max(0, n - len(names))
            break
    names += [None] * max(0, n - len(names))
    return names[:n], variadic


def _classify_variadic(op, name, args):
    """``view(x, 2, 3)`` and ``view(x, (2, 3))``: the varargs together are one size / dims list."""
    kind = NAME_KIND.get((op, name)) or ("size" if name in SIZE_NAMES else "perm" if name == "dims" else "other")
    var = [a for a in args if a.variadic]
    for a in var:
        a.kind = kind
        if len(var) == 1 and isinstance(a.value, (list, tuple)):
            a.variadic = False      # the packed spelling: view(x, (2, 3))


def kind_of(op, name, value) -> str:
    if isinstance(value, Input):
        if NAME_KIND.get((op, name)) == "index" or (name in INDEX_NAMES and value.dtype.name in ("int64", "int32")):
            return "index"
        if name in ("mask", "condition") and value.dtype.name == "bool":
            return "mask"
        return "tensor"
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Input) for v in value):
        return "tensors"
    if isinstance(value, (list, tuple)) and any(isinstance(v, Input) for v in value):
        return "indices" if name == "indices" else "other"
    override = NAME_KIND.get((op, name))
    if override:
        fits = {"dim": _is_int(value), "count": _is_int(value), "dims": _is_int(value) or _int_list(value),
                "size": _is_int(value) or _int_list(value)}
        return override if fits.get(override, True) else "other"
    if name in DIM_NAMES:
        if _is_int(value):
            return "dim"
        if _int_list(value):
            return "dims"
    if name in DIMS_NAMES and (_is_int(value) or _int_list(value)):
        return "dims"
    if name in SIZE_NAMES and (_is_int(value) or _int_list(value)):
        return "size"
    if name in COUNT_NAMES and _is_int(value):
        return "count"
    if name in FLAG_NAMES and isinstance(value, bool):
        return "flag"
    if isinstance(value, (bool, int, float)) and not isinstance(value, np.ndarray):
        return "scalar"
    return "other"


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _int_list(v) -> bool:
    return isinstance(v, (list, tuple)) and all(_is_int(x) for x in v)


def first_tensor(args) -> Input | None:
    """The tensor dims refer to: the first tensor argument, or the first element of a tensor list."""
    for a in args:
        if a.kind in ("tensor", "index", "mask") and isinstance(a.value, Input):
            return a.value
        if a.kind == "tensors":
            return a.value[0]
    return None


def first_tensors(args) -> list:
    """The tensors of the first tensor-list argument (cat, stack), or []."""
    return next((list(a.value) for a in args if a.kind == "tensors"), [])
