"""Changes that make a valid call invalid, each setting the exception class PyTorch 2.13 raises
then (``Dimension out of range`` is an IndexError, a negative size a RuntimeError, a float
where an int belongs a TypeError ...: each checked against torch)."""
from __future__ import annotations

import numpy as np

import plugtorch as pt
from plugtorch.conformance.entry import Input
from plugtorch.dispatch.registry import OPS

from ..arguments import first_tensor, first_tensors, signature_for
from ..call import UNKNOWN
from .base import DIM_PAST_END, fresh, replace_input, tensor_inputs

# ops whose dims lists refuse repeats (roll rolls twice instead; PyTorch's prod takes no list)
NO_REPEATED_DIMS = {"sum", "amax", "amin", "all", "any", "mean", "var", "std", "var_mean", "std_mean",
                    "flip", "permute", "movedim", "logsumexp", "vector_norm", "norm", "count_nonzero", "nansum"}

# index tensors: (which input's dim bounds them, out-of-range error, negative-index outcome);
# PyTorch's index_select raises IndexError on a contiguous input, RuntimeError on another
_EITHER = (IndexError, RuntimeError)
INDEX_RULES = {"gather": ("dim", RuntimeError, RuntimeError), "scatter": ("dim", RuntimeError, RuntimeError),
               "scatter_add": ("dim", RuntimeError, RuntimeError), "index_select": ("dim", _EITHER, _EITHER),
               "index": ("position", IndexError, None), "index_put": ("position", IndexError, None),
               "embedding": ("weight", IndexError, IndexError), "nll_loss": ("classes", IndexError, IndexError),
               "cross_entropy": ("classes", IndexError, IndexError)}
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

OPTIONAL_TENSORS = {"running_mean", "running_var", "weight", "bias", "attn_mask", "src"}

# Python scalars a dtype cannot hold: PyTorch refuses them in fills and clamps
FILL_PARAMS = {("full", "fill_value"), ("masked_fill", "value"), ("clamp", "min"), ("clamp", "max"),
               ("clamp_min", "min"), ("clamp_max", "max")}
TOO_BIG = {"uint8": 256, "int8": 300, "int16": 40000, "int32": 2 ** 40, "int64": 2 ** 63,
           "float16": 1e5, "bfloat16": 1e39, "float32": 1e40}
FACTORY_SIZE = {"full", "empty"}


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
    if gen.call.op in ("repeat", "tile") and any(0 in t[2].shape for t in tensor_inputs(gen)):
        return None     # PyTorch multiplies the negative repeat by the zero size and does not complain
    arg, vals, variadic = _sizes(gen)
    if not vals or not all(isinstance(v, (int, np.integer)) for v in vals):
        return None
    i = int(gen.rng.integers(len(vals)))
    vals[i] = gen.pick([-2, -5])
    _put_sizes(gen, arg, vals, variadic)
    # PyTorch's broadcast_to of an empty tensor says ValueError ("negative dimensions are not allowed")
    return gen.invalid("negative size", (RuntimeError, ValueError) if gen.call.op == "broadcast_to" else RuntimeError)


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
    else:       # None is a legal value of PyTorch's optional tensors (batch_norm's running stats ...)
        bad = gen.pick([[1.0, 2.0], "a"] + ([] if a.name in OPTIONAL_TENSORS else [None]))
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
    for arg, path, inp in tensor_inputs(gen, ("index", "indices")):
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
    replace_input(gen, arg, path, new)
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


def bad_broadcast(gen):
    """Operand shapes that do not broadcast (pointwise ops with two or more tensors)."""
    op = OPS.get(gen.call.op)
    if op is None or "pointwise" not in op.tags:
        return None
    found = [t for t in tensor_inputs(gen, ("tensor", "mask")) if t[1] is None and not t[2].on_cpu]
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
            new = fresh(gen, tuple(shape), inp.dtype, inp)
            replace_input(gen, arg, path, new)
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
    if c.op.startswith("clamp") and not dtype.is_floating_point and any(
            o is not a and o.kind == "scalar" and isinstance(o.value, float) for o in gen.args()):
        return None   # a float bound makes the result float (torch: uint8.clamp(256, 3.5) is 3.5)
    big = TOO_BIG[dtype.name]
    gen.set(a.key, big if dtype.is_floating_point else int(big))
    return gen.invalid("scalar out of range for the dtype", RuntimeError)


# PyTorch implements these in Python and takes any truthy value for their flags
TRUTHY_FLAGS = {"max_pool2d", "max_pool3d", "batch_norm", "embedding"}   # (torch: F.max_pool3d(..., return_indices="yes") returns indices)


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
    tensors = [t for t in tensor_inputs(gen) if t[1] is None]     # masks and indices count too
    if op is None or len(tensors) != 1 or tensors[0][0].kind != "tensor" or not tensors[0][2].shape:
        return None
    if not ("pointwise" in op.tags or c.op in NO_IDENTITY or c.op in WITH_IDENTITY or c.op in EMPTY_UNKNOWN):
        return None
    arg, _, inp = tensors[0]
    j = int(gen.rng.integers(len(inp.shape)))
    shape = list(inp.shape)
    shape[j] = 0
    replace_input(gen, arg, None, fresh(gen, tuple(shape), inp.dtype, inp))
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
