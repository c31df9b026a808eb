"""Changes to a valid call, by argument kind, each with what PyTorch 2.13 does afterwards.

``KEEP`` changes leave a call's validity alone (a layout, the negative spelling of a dim, a
tuple for a list, keywords, the public function or the method); ``BREAK`` changes make a
valid call invalid and set the exception class PyTorch raises (checked against torch 2.13:
``Dimension out of range`` is an IndexError, a negative size a RuntimeError, a float where
an int belongs a TypeError ...). Each change is ``fn(gen) -> str | None``: it edits
``gen.call`` and returns its name, or returns None when the call has nothing it applies to.
"""
from __future__ import annotations

import numpy as np

import plugtorch as pt
from plugtorch.conformance.entry import Input
from plugtorch.conformance.samples import usable_layout
from plugtorch.dispatch.registry import OPS

from .arguments import bind, custom_fn, first_tensor, first_tensors, signature_for
from .call import UNKNOWN, VALID, error

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
# dims that may point one past the last dim
DIM_PAST_END = {"unsqueeze": 1, "stack": 1}
# ops whose dims lists refuse repeats (roll rolls twice instead)
NO_REPEATED_DIMS = {"sum", "prod", "amax", "amin", "all", "any", "mean", "var", "std", "var_mean", "std_mean",
                    "flip", "permute", "movedim", "logsumexp", "vector_norm", "norm", "count_nonzero", "nansum"}

# index tensors: (which input's dim bounds them, out-of-range error, negative-index outcome)
INDEX_RULES = {"gather": ("dim", RuntimeError, RuntimeError), "scatter": ("dim", RuntimeError, RuntimeError),
               "scatter_add": ("dim", RuntimeError, RuntimeError), "index_select": ("dim", IndexError, IndexError),
               "index": ("position", IndexError, None), "index_put": ("position", IndexError, None),
               "embedding": ("weight", IndexError, IndexError), "nll_loss": ("classes", IndexError, IndexError),
               "cross_entropy": ("classes", IndexError, IndexError)}
# int32 index tensors are accepted (PyTorch 2.13)
INT32_INDEX = {"gather", "scatter", "scatter_add", "index_select", "index", "index_put", "embedding"}

# reductions over an empty dim: ops without an identity raise (PyTorch 2.13); the pair is
# (class when the empty dim is reduced, class for a reduction over all dims)
NO_IDENTITY = {"amax": (IndexError, RuntimeError), "amin": (IndexError, RuntimeError),
               "max": (IndexError, RuntimeError), "min": (IndexError, RuntimeError),
               "argmax": (IndexError, IndexError), "argmin": (IndexError, IndexError),
               "aminmax": (IndexError, RuntimeError), "kthvalue": (IndexError, IndexError)}
WITH_IDENTITY = {"sum", "prod", "all", "any", "count_nonzero", "mean", "cumsum", "cumprod", "logsumexp", "softmax",
                 "log_softmax", "sort", "argsort", "var", "std", "var_mean", "std_mean"}
EMPTY_UNKNOWN = {"vector_norm", "norm"}    # the inf norm of nothing is an error, the 2-norm is 0
DEFAULT_DIM_MINUS_ONE = {"kthvalue", "sort", "argsort", "topk"}

# Python scalars a dtype cannot hold: PyTorch refuses them in fills and clamps
FILL_PARAMS = {("full", "fill_value"), ("masked_fill", "value"), ("clamp", "min"), ("clamp", "max"),
               ("clamp_min", "min"), ("clamp_max", "max")}
TOO_BIG = {"uint8": 256, "int8": 300, "int16": 40000, "int32": 2 ** 40, "int64": 2 ** 63,
           "float16": 1e5, "bfloat16": 1e39, "float32": 1e40}
FACTORY_SIZE = {"full", "empty"}


class Gen:
    """What a change works on: the call, the sample context (for new values) and the rng."""

    def __init__(self, call, ctx, rng):
        self.call, self.ctx, self.rng = call, ctx, rng

    def args(self):
        sig = signature_for(self.call.entry) if self.call.target == "op" else None
        return bind(self.call.op, self.call.sample.args, self.call.sample.kwargs, sig)

    def pick(self, items):
        items = list(items)
        return items[int(self.rng.integers(len(items)))] if items else None

    def set(self, key, value):
        s = self.call.sample
        if isinstance(key, int):
            args = list(s.args)
            args[key] = value
            s.args = tuple(args)
        else:
            s.kwargs[key] = value

    def set_variadic(self, values):
        """Replace the varargs part (``view(x, 2, 3)``'s sizes) with ``values``."""
        s = self.call.sample
        first = next(a.key for a in self.args() if a.variadic)
        s.args = tuple(s.args[:first]) + tuple(values)

    def invalid(self, what, cls):
        self.call.invalid = what
        self.call.expect = error(cls)
        return what


def _tensor_inputs(gen, kinds=("tensor", "index", "mask")):
    """(arg, path, Input) for every tensor, inside lists too."""
    out = []
    for a in gen.args():
        if a.kind in kinds and isinstance(a.value, Input):
            out.append((a, None, a.value))
        elif isinstance(a.value, (list, tuple)):
            for i, v in enumerate(a.value):
                if isinstance(v, Input) and ("tensor" in kinds or a.kind != "tensors"):
                    out.append((a, i, v))
    return out


def _replace_input(gen, arg, path, new):
    if path is None:
        gen.set(arg.key, new)
    else:
        seq = list(arg.value)
        seq[path] = new
        gen.set(arg.key, type(arg.value)(seq))


def _relaid(inp: Input, layout: str) -> Input:
    """The same logical values built with another layout (contiguous, transposed or stepped)."""
    v = inp.logical()
    layout = usable_layout(v.shape, layout)
    if layout == "transposed":
        base = np.ascontiguousarray(np.swapaxes(v, -1, -2))
    elif layout == "stepped":
        base = np.repeat(v, 2, axis=-1)      # every second element is the logical one
    else:
        base, layout = np.ascontiguousarray(v), "contiguous"
    return Input(base, inp.dtype, layout, tuple(v.shape), inp.requires_grad, inp.on_cpu)


def _fresh(gen, shape, dtype, like: Input, **kw) -> Input:
    return Input(gen.ctx.values(shape, dtype=dtype, **kw), dtype, "contiguous", tuple(shape), like.requires_grad,
                 like.on_cpu)


# ---- changes that keep the call's validity --------------------------------------------------
def relayout(gen):
    found = [t for t in _tensor_inputs(gen) if not t[2].on_cpu and t[2].shape]
    if not found:
        return None
    arg, path, inp = gen.pick(found)
    if gen.call.op == "view" and arg.key == 0:
        return None     # view needs strides it can reinterpret
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
        new = _relaid(inp, layout)
    _replace_input(gen, arg, path, new)
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
    import inspect
    fn = getattr(pt, op, None)
    try:
        return inspect.signature(fn) if fn is not None else None
    except (TypeError, ValueError):
        return None


def retarget(gen):
    """Call ``plugtorch.<op>`` or the method ``x.<op>`` instead of the registry op."""
    c = gen.call
    if custom_fn(c.entry) or c.op.startswith("_"):
        return None
    options = []
    pub = _public_signature(c.op)
    if pub is not None:
        try:
            pub.bind(*c.sample.args, **c.sample.kwargs)
            options.append("public")
        except TypeError:
            pass
    if c.sample.args and isinstance(c.sample.args[0], Input) and hasattr(pt.Tensor, c.op) and c.op != "where":
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
    found = [t for t in _tensor_inputs(gen, ("tensor",)) if t[1] is None]
    if not found:
        return None
    arg, path, inp = gen.pick(found)
    new_dtype = gen.pick(c.entry.dtypes)
    low = 1 if (c.op in INT_DIVISION and arg.key != 0 and not new_dtype.is_floating_point) else None
    new = _fresh(gen, inp.values.shape if inp.layout != "expanded" else inp.shape, new_dtype, inp, low=low)
    new.layout = inp.layout if inp.layout != "expanded" else "contiguous"
    new.shape = inp.shape
    _replace_input(gen, arg, path, new)
    if c.expect is VALID and not _promotion_valid(c):
        c.expect = UNKNOWN
    return f"{arg.name} as {new_dtype.name}"


def _promotion_valid(call) -> bool:
    from .references import promoted_dtype
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


# ---- changes that make a valid call invalid -------------------------------------------------
def dim_out_of_range(gen):
    t = first_tensor(gen.args())
    cands = [a for a in gen.args() if a.kind in ("dim", "dims", "perm")]
    a = gen.pick(cands)
    if t is None or a is None:
        return None
    if gen.call.op == "cat" and any(i.shape == (0,) for i in first_tensors(gen.args())):
        return None     # cat skips 1-D empty tensors, dims included (legacy PyTorch behaviour)
    n = max(len(t.shape) + DIM_PAST_END.get(gen.call.op, 0), 1)
    bad = gen.pick([n, n + 3, -n - 1, -n - 4])
    if a.variadic:
        vals = [int(x.value) for x in gen.args() if x.variadic]
        vals[int(gen.rng.integers(len(vals)))] = bad
        gen.set_variadic(vals)
    elif a.kind == "dim":
        gen.set(a.key, bad)
    elif isinstance(a.value, (list, tuple)):
        if not a.value:
            return None
        vals = list(a.value)
        vals[int(gen.rng.integers(len(vals)))] = bad
        gen.set(a.key, type(a.value)(vals))
    else:
        gen.set(a.key, bad)
    return gen.invalid("dim out of range", IndexError)


def repeated_dims(gen):
    if gen.call.op not in NO_REPEATED_DIMS:
        return None
    cands = [a for a in gen.args() if a.kind in ("dims", "perm") and isinstance(a.value, (list, tuple))
             and len(a.value) >= 2 and not a.variadic]
    var = [a for a in gen.args() if a.kind == "perm" and a.variadic]
    if len(var) >= 2:
        vals = [int(x.value) for x in var]
        vals[1] = vals[0]
        gen.set_variadic(vals)
        return gen.invalid("repeated dims", RuntimeError)
    a = gen.pick(cands)
    if a is None:
        return None
    vals = list(a.value)
    vals[1] = vals[0]
    gen.set(a.key, type(a.value)(vals))
    return gen.invalid("repeated dims", RuntimeError)


def float_dim(gen):
    a = gen.pick([a for a in gen.args() if a.kind == "dim"])
    if a is None:
        return None
    gen.set(a.key, float(a.value))
    return gen.invalid("float dim", TypeError)


def _sizes(gen):
    """The size argument as (arg or None for varargs, list of ints)."""
    args = gen.args()
    var = [a for a in args if a.kind == "size" and a.variadic]
    if var:
        if len(var) == 1 and isinstance(var[0].value, (list, tuple)):
            return var[0], list(var[0].value), False
        return None, [x.value for x in var], True
    a = gen.pick([a for a in args if a.kind == "size"])
    if a is None:
        return None, None, False
    return a, (list(a.value) if isinstance(a.value, (list, tuple)) else [a.value]), False


def _put_sizes(gen, arg, vals, variadic):
    if variadic:
        gen.set_variadic(vals)
    elif isinstance(arg.value, (list, tuple)):
        gen.set(arg.key, type(arg.value)(vals))
    else:
        gen.set(arg.key, vals[0])


def negative_size(gen):
    if gen.call.op in ("repeat", "tile") and any(0 in t[2].shape for t in _tensor_inputs(gen)):
        return None     # PyTorch multiplies the negative repeat by the zero size and does not complain
    arg, vals, variadic = _sizes(gen)
    if not vals or not all(isinstance(v, (int, np.integer)) for v in vals):
        return None
    i = int(gen.rng.integers(len(vals)))
    vals[i] = gen.pick([-2, -5])
    _put_sizes(gen, arg, vals, variadic)
    return gen.invalid("negative size", RuntimeError)


def fractional_size(gen):
    arg, vals, variadic = _sizes(gen)
    if not vals:
        return None
    i = int(gen.rng.integers(len(vals)))
    vals[i] = float(abs(vals[i])) + 0.5
    _put_sizes(gen, arg, vals, variadic)
    return gen.invalid("fractional size", TypeError)


def huge_size(gen):
    if gen.call.op not in FACTORY_SIZE:
        return None
    arg, vals, variadic = _sizes(gen)
    if arg is None and not variadic:
        return None
    _put_sizes(gen, arg, [2 ** 62] if isinstance(arg.value, (list, tuple)) or variadic else [2 ** 62], variadic)
    return gen.invalid("size too large to allocate", RuntimeError)


# counts that must be positive (0 invalid too) or non-negative (0 valid)
POSITIVE_COUNTS = {"chunk", "kthvalue", "multinomial"}


def negative_count(gen):
    a = gen.pick([a for a in gen.args() if a.kind == "count" and isinstance(a.value, int)
                  and not isinstance(a.value, bool)])
    if a is None:
        return None
    gen.set(a.key, gen.pick([-1, -3] + ([0] if gen.call.op in POSITIVE_COUNTS else [])))
    return gen.invalid("negative count", RuntimeError)


def fractional_count(gen):
    a = gen.pick([a for a in gen.args() if a.kind == "count" and isinstance(a.value, int)
                  and not isinstance(a.value, bool)])
    if a is None:
        return None
    gen.set(a.key, float(a.value) + 0.5)
    return gen.invalid("fractional count", TypeError)


def not_a_tensor(gen):
    """A list, a string or None where a tensor is required."""
    sig = signature_for(gen.call.entry)
    required = set()
    if sig is not None:
        required = {p.name for p in sig.parameters.values() if p.default is p.empty}
    cands = [a for a in gen.args() if a.kind in ("tensor", "index", "mask", "tensors")
             and (a.name in required or a.name is None) and not (isinstance(a.value, Input) and a.value.on_cpu)
             and not (gen.call.target == "method" and a.key == 0)]
    a = gen.pick(cands)
    if a is None:
        return None
    if a.kind == "tensors":
        bad = gen.pick([[1, 2], "ab", None])
    else:
        bad = gen.pick([[1.0, 2.0], "a", None])
    gen.set(a.key, bad)
    return gen.invalid("not a tensor", TypeError)


def index_out_of_range(gen):
    return _bad_index(gen, negative=False)


def negative_index(gen):
    return _bad_index(gen, negative=True)


def _bad_index(gen, negative):
    rule = INDEX_RULES.get(gen.call.op)
    if rule is None:
        return None
    where, out_cls, neg = rule
    found = []
    for arg, path, inp in _tensor_inputs(gen, ("index", "indices")):
        size = _index_bound(gen, where, arg, path)
        if size is not None and inp.values.size and inp.dtype is pt.int64:
            found.append((arg, path, inp, size))
    if not found:
        return None
    arg, path, inp, size = gen.pick(found)
    v = inp.logical().copy()
    flat = v.reshape(-1)
    i = int(gen.rng.integers(flat.size))
    if negative:
        if size == 0:
            return None
        flat[i] = int(flat[i]) % size - size
    else:
        flat[i] = gen.pick([size, size + 2, -size - 1])
    new = Input(np.ascontiguousarray(v), inp.dtype, "contiguous", tuple(v.shape), inp.requires_grad, inp.on_cpu)
    _replace_input(gen, arg, path, new)
    if negative:
        if neg is None:
            return "negative index"
        return gen.invalid("negative index", neg)
    return gen.invalid("index out of range", out_cls)


def _index_bound(gen, where, arg, path):
    args = {a.name: a.value for a in gen.args()}
    x = first_tensor(gen.args())
    if where == "dim":
        d = args.get("dim")
        if x is None or not isinstance(d, int) or not x.shape:
            return None
        return x.shape[d]
    if where == "position":
        if path is None or x is None or path >= len(x.shape):
            return None
        return x.shape[path]
    if where == "weight":
        w = args.get("weight")
        return w.shape[0] if isinstance(w, Input) and w.shape else None
    if where == "classes":
        inp = args.get("input")
        if not isinstance(inp, Input) or not inp.shape:
            return None
        return inp.shape[1] if len(inp.shape) >= 2 else inp.shape[0]
    return None


def int32_index(gen):
    if gen.call.op not in INT32_INDEX:
        return None
    found = [t for t in _tensor_inputs(gen, ("index", "indices")) if t[2].dtype is pt.int64]
    if not found:
        return None
    arg, path, inp = gen.pick(found)
    new = Input(inp.values.astype(np.int32), pt.int32, inp.layout, inp.shape, inp.requires_grad, inp.on_cpu)
    _replace_input(gen, arg, path, new)
    return "int32 index"


def bad_broadcast(gen):
    """Operand shapes that do not broadcast (pointwise ops with two or more tensors)."""
    op = OPS.get(gen.call.op)
    if op is None or "pointwise" not in op.tags:
        return None
    found = [t for t in _tensor_inputs(gen, ("tensor", "mask")) if t[1] is None and not t[2].on_cpu]
    if len(found) < 2:
        return None
    shapes = [tuple(t[2].shape) for t in found]
    nd = max(len(s) for s in shapes)
    full = [[1] * (nd - len(s)) + list(s) for s in shapes]
    k = int(gen.rng.integers(len(found)))
    for j in range(nd):
        others = {f[j] for i, f in enumerate(full) if i != k} - {1}
        if others:
            size = max(others) + 2
            arg, path, inp = found[k]
            shape = list(full[k])
            shape[j] = size
            new = _fresh(gen, tuple(shape), inp.dtype, inp)
            _replace_input(gen, arg, path, new)
            return gen.invalid("shapes that do not broadcast", RuntimeError)
    return None


def scalar_out_of_range(gen):
    """A fill value the result's dtype cannot hold (full, masked_fill, clamp)."""
    c = gen.call
    dtype = c.sample.kwargs.get("dtype") if c.op == "full" else first_tensor(gen.args())
    dtype = getattr(dtype, "dtype", dtype)
    if dtype is None or dtype.name not in TOO_BIG:
        return None
    if c.op.startswith("clamp") and dtype.is_floating_point and dtype is not pt.float16:
        return None
    a = gen.pick([a for a in gen.args() if (c.op, a.name) in FILL_PARAMS and a.kind == "scalar"])
    if a is None:
        return None
    big = TOO_BIG[dtype.name]
    gen.set(a.key, big if dtype.is_floating_point else int(big))
    return gen.invalid("scalar out of range for the dtype", RuntimeError)


# PyTorch implements these in Python and takes any truthy value for their flags
TRUTHY_FLAGS = {"max_pool2d", "batch_norm", "embedding"}


# integer parameters other than dims, sizes and counts: a float there is a TypeError in PyTorch
INT_PARAMS = {"stride", "padding", "dilation", "kernel_size", "groups", "output_padding", "ignore_index", "offset",
              "diagonal", "shifts", "padding_idx", "num_groups", "from_", "to"}
INT_PARAMS_OF = {"slice": {"start", "end", "step"}, "narrow": {"start"}, "select": {"index"}}


def float_for_int(gen):
    op = gen.call.op
    names = INT_PARAMS | INT_PARAMS_OF.get(op, set())
    cands = []
    for a in gen.args():
        ints = [a.value] if isinstance(a.value, int) else list(a.value) if isinstance(a.value, (list, tuple)) else []
        if a.name in names and ints and all(isinstance(v, int) and not isinstance(v, bool) for v in ints):
            cands.append(a)
    a = gen.pick(cands)
    if a is None or (op == "random_" and gen.call.dtype.is_floating_point and a.name == "to"):
        return None
    if isinstance(a.value, int):
        gen.set(a.key, a.value + 0.5)
    else:
        vals = list(a.value)
        vals[int(gen.rng.integers(len(vals)))] += 0.5
        gen.set(a.key, type(a.value)(vals))
    return gen.invalid("float for an int parameter", TypeError)


def str_flag(gen):
    if gen.call.op in TRUTHY_FLAGS:
        return None
    a = gen.pick([a for a in gen.args() if a.kind == "flag"])
    if a is None:
        return None
    gen.set(a.key, "yes")
    return gen.invalid("string for a bool flag", TypeError)


def empty_input(gen):
    """A zero-size dim in the only tensor of a pointwise op or a reduction."""
    c = gen.call
    op = OPS.get(c.op)
    tensors = [t for t in _tensor_inputs(gen, ("tensor",)) if t[1] is None]
    if op is None or len(tensors) != 1 or not tensors[0][2].shape:
        return None
    if not ("pointwise" in op.tags or c.op in NO_IDENTITY or c.op in WITH_IDENTITY or c.op in EMPTY_UNKNOWN):
        return None
    arg, _, inp = tensors[0]
    j = int(gen.rng.integers(len(inp.shape)))
    shape = list(inp.shape)
    shape[j] = 0
    _replace_input(gen, arg, None, _fresh(gen, tuple(shape), inp.dtype, inp))
    if c.op in NO_IDENTITY:
        dim = {a.name: a.value for a in gen.args()}.get("dim", -1 if c.op in DEFAULT_DIM_MINUS_ONE else None)
        if dim is None or (isinstance(dim, (list, tuple)) and not dim):
            return gen.invalid("reduction of an empty tensor over all dims", NO_IDENTITY[c.op][1])
        dims = [dim] if isinstance(dim, int) else list(dim)
        if any(d % len(shape) == j for d in dims):
            return gen.invalid("reduction over an empty dim", NO_IDENTITY[c.op][0])
    if c.op in EMPTY_UNKNOWN:
        c.expect = UNKNOWN
    return f"empty dim {j}"


def change_dtype_arg(gen):
    """Another ``dtype=`` (a cast is valid to any dtype; elsewhere the outcome is PyTorch's to say)."""
    a = gen.pick([a for a in gen.args() if a.name == "dtype" and isinstance(a.value, pt.dtype)])
    if a is None:
        return None
    new = gen.pick(pt._dtypes.all_dtypes)
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


KEEP = (relayout, relayout, relayout, negative_dim, list_tuple, keywords, retarget, retarget, change_dtype,
        change_scalar, int32_index, change_dtype_arg, toggle_flag)
# internal ops (``_to_dtype``, ``_cross_entropy_backward`` ...) get only their public callers'
# arguments: they are fuzzed for layouts and spellings, not for argument checking
KEEP_INTERNAL = (relayout, relayout, negative_dim, list_tuple, keywords)
BREAK = (dim_out_of_range, repeated_dims, float_dim, negative_size, fractional_size, huge_size, negative_count,
         fractional_count, not_a_tensor, index_out_of_range, negative_index, bad_broadcast, scalar_out_of_range,
         str_flag, empty_input, float_for_int)
