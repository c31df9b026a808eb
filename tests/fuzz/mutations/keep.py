"""Changes that keep a call's validity: a layout, the negative spelling of a dim, a tuple for a
list, keywords, the public function or the method, another dtype where PyTorch promotes."""
from __future__ import annotations

import inspect

import numpy as np

import plugtorch as pt
from plugtorch.conformance.entry import Input
from plugtorch.dispatch.registry import OPS

from ..arguments import custom_fn, first_tensor
from ..call import UNKNOWN, VALID
from ..references.common import promoted_dtype
from .base import DIM_PAST_END, fresh, relaid, replace_input, tensor_inputs

# ops whose result does not depend on which values the inputs hold (so an input may be
# replaced by a broadcast, "expanded" one); the others use distinct values or index ranges
VALUE_AGNOSTIC_TAGS = {"pointwise", "shape", "view"}
VALUE_AGNOSTIC = {"sum", "prod", "amax", "amin", "all", "any", "mean", "cumsum", "cumprod", "count_nonzero",
                  "logsumexp", "softmax", "log_softmax", "var", "std", "var_mean", "std_mean", "norm",
                  "vector_norm", "matmul", "mm", "bmm", "dot", "outer", "_matmul", "clone", "contiguous"}
VALUE_SENSITIVE = {"threshold_backward", "copy_"}

# binary pointwise ops that promote mixed dtypes (PyTorch); lerp and isclose refuse them
MIXED_DTYPES = {"add", "sub", "mul", "div", "true_divide", "floor_divide", "remainder", "fmod", "atan2", "pow",
                "maximum", "minimum", "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or",
                "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
                "bitwise_right_shift", "where", "logaddexp", "rsub"}
INT_DIVISION = {"floor_divide", "remainder", "fmod"}

# the methods PyTorch lets take dims / sizes unpacked: x.flip(0, 1), x.tile(2, 2)
VARARGS_METHODS = {"flip", "tile", "permute", "view", "reshape", "expand", "repeat"}
# int32 index tensors are accepted (PyTorch 2.13)
INT32_INDEX = {"gather", "scatter", "scatter_add", "index_select", "index", "index_put", "embedding"}


def relayout(gen):
    found = [t for t in tensor_inputs(gen) if not t[2].on_cpu and t[2].shape]
    if not found:
        return None
    arg, path, inp = gen.pick(found)
    if gen.call.op in ("view", "view_as_complex", "as_strided") and arg.key == 0:
        return None     # view needs strides it can reinterpret (view_as_complex: a last dim of stride 1;
                        # as_strided reads the memory, whose layout is the point)
    op = OPS.get(gen.call.op)
    agnostic = op is not None and (op.tags & VALUE_AGNOSTIC_TAGS or gen.call.op in VALUE_AGNOSTIC) \
        and gen.call.op not in VALUE_SENSITIVE and arg.kind == "tensor"
    layouts = ["contiguous", "transposed", "stepped"] + (["expanded"] if agnostic else [])
    layout = gen.pick(layouts)
    if layout == "expanded":
        shape = tuple(inp.shape)
        dims = [d for d, s in enumerate(shape) if s > 1]
        if not dims:
            return None
        d = gen.pick(dims)
        # one slice of the values it had, broadcast: values keep the ranges the sample chose
        base = np.ascontiguousarray(inp.logical()[(slice(None),) * d + (slice(0, 1),)])
        new = Input(base, inp.dtype, "expanded", shape, inp.requires_grad, inp.on_cpu)
    else:
        new = relaid(inp, layout)
    replace_input(gen, arg, path, new)
    return f"{arg.name or arg.key} {new.layout}"


def negative_dim(gen):
    t = first_tensor(gen.args())
    if t is None:
        return None
    cands = [a for a in gen.args() if a.kind in ("dim", "dims", "perm") and not a.variadic]
    varargs = [a for a in gen.args() if a.kind == "perm" and a.variadic]
    n = max(len(t.shape) + DIM_PAST_END.get(gen.call.op, 0), 1)
    if varargs:
        gen.set_variadic([_flip_sign(int(a.value), n) for a in varargs])
        return "dims spelled the other way round"
    a = gen.pick(cands)
    if a is None:
        return None
    if a.kind == "dim":
        gen.set(a.key, _flip_sign(int(a.value), n))
    elif isinstance(a.value, (list, tuple)):
        gen.set(a.key, type(a.value)(_flip_sign(int(d), n) for d in a.value))
    else:
        gen.set(a.key, _flip_sign(int(a.value), n))
    return f"{a.name} spelled the other way round"


def _flip_sign(d, n):
    return d - n if d >= 0 else d + n


def list_tuple(gen):
    cands = [a for a in gen.args() if a.kind in ("dims", "size", "perm") and isinstance(a.value, (list, tuple))
             and not a.variadic]
    a = gen.pick(cands)
    if a is None:
        return None
    gen.set(a.key, tuple(a.value) if isinstance(a.value, list) else list(a.value))
    return f"{a.name} as a {'tuple' if isinstance(a.value, list) else 'list'}"


def keywords(gen):
    """Pass the trailing positional arguments by their parameter names."""
    if gen.call.target == "method" or custom_fn(gen.call.entry) or gen.call.entry.compare is not None:
        return None     # (an entry's own compare reads the sample's positional arguments)
    sig = OPS[gen.call.op].signature if gen.call.target == "op" else _public_signature(gen.call.op)
    if sig is None:
        return None
    s = gen.call.sample
    params = list(sig.parameters.values())
    movable = 0
    for i in range(len(s.args) - 1, 0, -1):
        if i >= len(params) or params[i].kind is not params[i].POSITIONAL_OR_KEYWORD:
            break
        movable += 1
    if not movable:
        return None
    k = 1 + int(gen.rng.integers(movable))
    first = len(s.args) - k
    moved = {params[i].name: s.args[i] for i in range(first, len(s.args))}
    s.args = tuple(s.args[:first])
    s.kwargs = {**moved, **s.kwargs}
    return f"{', '.join(moved)} by keyword"


def _public_signature(op):
    fn = getattr(pt, op, None)
    try:
        return inspect.signature(fn) if fn is not None else None
    except (TypeError, ValueError):
        return None


def _same_leading_names(pub, op, n):
    """Whether the public function's first ``n`` parameters are the registry op's, by name."""
    from plugtorch.dispatch.registry import OPS
    mine = list(OPS[op].signature.parameters)[:n]
    return list(pub.parameters)[:n] == mine


def retarget(gen):
    """Call ``plugtorch.<op>`` or the method ``x.<op>`` instead of the registry op."""
    c = gen.call
    if custom_fn(c.entry) or c.op.startswith("_"):
        return None
    options = []
    pub = _public_signature(c.op)
    if pub is not None and not _same_leading_names(pub, c.op, len(c.sample.args)):
        pub = None     # plugtorch.<op> follows PyTorch's other order (torch.embedding(weight, indices))
    if pub is not None:
        try:
            pub.bind(*c.sample.args, **c.sample.kwargs)
            options.append("public")
        except TypeError:
            pass
    if c.sample.args and isinstance(c.sample.args[0], Input) and callable(getattr(pt.Tensor, c.op, None)) \
            and c.op != "where":   # (x.real, x.imag are attributes)
        options.append("method")
    how = gen.pick(options)
    if how is None:
        return None
    var = [a for a in gen.args() if a.variadic]
    if how == "public" and var and not any(p.kind is p.VAR_POSITIONAL for p in pub.parameters.values()):
        first = var[0].key     # plugtorch.permute(x, (1, 0)) takes the dims as one tuple
        c.sample.args = tuple(c.sample.args[:first]) + (tuple(a.value for a in var),)
    if how == "method" and c.op in VARARGS_METHODS and len(c.sample.args) < 2:
        return None
    c.target = how
    if how == "method" and c.op in VARARGS_METHODS and len(c.sample.args) >= 2 \
            and isinstance(c.sample.args[-1], (list, tuple)) and c.sample.args[-1] and gen.rng.random() < 0.7:
        c.varargs = True
    return f"via {how}" + (" with unpacked dims" if c.varargs else "")


def change_dtype(gen):
    """Another dtype for one operand of a promoting pointwise op: valid where PyTorch promotes."""
    c = gen.call
    if c.op not in MIXED_DTYPES:
        return None
    found = [t for t in tensor_inputs(gen, ("tensor",)) if t[1] is None]
    if not found:
        return None
    arg, path, inp = gen.pick(found)
    new_dtype = gen.pick(c.entry.dtypes)
    low = 1 if (c.op in INT_DIVISION and arg.key != 0 and not new_dtype.is_floating_point) else None
    new = fresh(gen, inp.values.shape if inp.layout != "expanded" else inp.shape, new_dtype, inp, low=low)
    new.layout = inp.layout if inp.layout != "expanded" else "contiguous"
    new.shape = inp.shape
    replace_input(gen, arg, path, new)
    if c.expect is VALID and not _promotion_valid(c):
        c.expect = UNKNOWN
    return f"{arg.name} as {new_dtype.name}"


def _promotion_valid(call) -> bool:
    operands = [v for v in call.sample.args if isinstance(v, (Input, bool, int, float))]
    if call.op == "where":
        operands = operands[1:]
    res = promoted_dtype(operands)
    if res not in call.entry.dtypes:
        return False
    if call.op == "sub" and res is pt.bool:
        return False
    if call.op == "pow" and not res.is_floating_point:
        return False   # negative integer exponents are errors
    if call.op.startswith("bitwise") and res.is_floating_point:
        return False
    return True


def change_scalar(gen):
    """Another Python number for a scalar operand (bool, int, float, inf, nan, -0.0)."""
    if gen.call.entry.compare is not None:
        return None     # random ops: the entry's compare knows only the ranges of its own samples
    cands = [a for a in gen.args() if a.kind == "scalar" and a.name not in ("alpha",)]
    a = gen.pick(cands)
    if a is None:
        return None
    choices = [True, False, 0, 1, -3, 7, 2.5, -0.0, float("inf"), float("-inf"), float("nan"), 1e-3]
    v = choices[int(gen.rng.integers(len(choices)))]
    gen.set(a.key, v)
    gen.call.expect = UNKNOWN if gen.call.expect is VALID else gen.call.expect
    return f"{a.name}={v!r}"


def change_dtype_arg(gen):
    """Another ``dtype=`` (a cast is valid to any dtype; elsewhere the outcome is PyTorch's to say)."""
    a = gen.pick([a for a in gen.args() if a.name == "dtype" and isinstance(a.value, pt.dtype)])
    if a is None:
        return None
    new = gen.pick(pt._dtypes.real_dtypes)
    gen.set(a.key, new)
    if gen.call.op != "_to_dtype" and gen.call.expect is VALID:
        gen.call.expect = UNKNOWN
    return f"dtype={new.name}"


def toggle_flag(gen):
    a = gen.pick([a for a in gen.args() if a.kind == "flag" and a.name != "sorted"])
    if a is None:
        return None
    gen.set(a.key, not a.value)
    if a.name != "keepdim" and gen.call.expect is VALID:
        gen.call.expect = UNKNOWN
    return f"{a.name}={not a.value}"


def int32_index(gen):
    if gen.call.op not in INT32_INDEX:
        return None
    found = [t for t in tensor_inputs(gen, ("index", "indices")) if t[2].dtype is pt.int64]
    if not found:
        return None
    arg, path, inp = gen.pick(found)
    new = Input(inp.values.astype(np.int32), pt.int32, inp.layout, inp.shape, inp.requires_grad, inp.on_cpu)
    replace_input(gen, arg, path, new)
    return "int32 index"
