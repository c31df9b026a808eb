"""Public functions PyTorch has that are short compositions of registered ops.

They are not ops of their own (no meta, no formula, no conformance entry): each calls ops,
so every backend and autograd get them for free. ``PUBLIC_TO_OP`` records the main op each
one runs, for the registry consistency test.
"""
from __future__ import annotations

import builtins as _b
import math

from plugtorch import _dtypes
from plugtorch import _ops_public as P
from plugtorch._tensor import Tensor
from plugtorch.dispatch import meta as M
from plugtorch.dispatch.arguments import as_int

__all__ = []


def public(op_name):
    return P.public(op_name, __all__)


def _check_tensor(op, x, name="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(x).__name__}")


# ---- pointwise ----------------------------------------------------------------------------
@public("sign")
def sgn(input):
    """sign for real tensors; z / |z| (0 where z is 0) for complex ones.

    >>> plugtorch.sgn(plugtorch.tensor([3 + 4j, 0j])).tolist()
    [(0.6000000238418579+0.800000011920929j), 0j]
    """
    if isinstance(input, Tensor) and input._dtype.is_complex:
        a = P.abs(input)
        zero = a == 0    # divide by 1 there: z / 0 would make the gradient nan, not torch's 0
        return P.where(zero, 0, input / P.where(zero, 1, a))
    return P.sign(input)


@public("maximum")
def fmax(input, other):
    """Elementwise maximum that ignores nan (nan only where both are nan). ``input`` where it is
    >= ``other`` or ``other`` is nan, so a tie gives ``input`` its value and the whole gradient, as
    PyTorch (maximum's tie rule split it)."""
    _refuse_complex_order("fmax", input, other)
    return P.where((input >= other) | P.isnan(other), input, other)


@public("minimum")
def fmin(input, other):
    _refuse_complex_order("fmin", input, other)
    return P.where((input <= other) | P.isnan(other), input, other)   # (fmax's rule)


def _refuse_complex_order(op, *operands):
    # (PyTorch's own check and message; the comparison inside named ge() or le())
    for t in operands:
        if isinstance(t, Tensor) and t.dtype.is_complex:
            raise RuntimeError(f"{op} not implemented for complex tensors (got {t.dtype}); compare .real or .abs()")


_F32, _F64 = _dtypes.float32, _dtypes.float64


@public("add")
def addcmul(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 * tensor2, computed in the three tensors' promoted dtype (PyTorch):
    float32 input + int8 * int8 does not wrap the product in int8 first."""
    dt = getattr(input, "_dtype", None)
    if (dt is _F32 or dt is _F64) and dt is getattr(tensor1, "_dtype", None) and dt is getattr(tensor2, "_dtype", None):
        # one float dtype (an optimizer's update): nothing to promote, and the common case stays fast
        return input + (tensor1 * tensor2 if value == 1 else value * tensor1 * tensor2)
    dt = _dtypes.result_type(input, tensor1, tensor2)
    if dt.category == _dtypes._INT and isinstance(value, float):
        value = int(value)   # PyTorch converts the value to an integer result's dtype (0.5 is 0)
    x, a, b = _promoted_float(dt, input, tensor1, tensor2)
    out = x + (a * b if value == 1 else value * a * b)
    return out if out.dtype is dt else out.to(dt)


@public("add")
def addcdiv(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 / tensor2, in the three tensors' promoted dtype (addcmul's)."""
    if not tensor1.dtype.is_floating_point and not tensor2.dtype.is_floating_point:
        raise RuntimeError("addcdiv(): integer division of tensors is no longer supported; "
                           "use addcmul(input, tensor1, 1 / tensor2) or convert to float first")
    dt = input._dtype
    if (dt is _F32 or dt is _F64) and dt is tensor1._dtype and dt is tensor2._dtype:
        return input + (tensor1 / tensor2 if value == 1 else value * tensor1 / tensor2)
    dt = _dtypes.result_type(input, tensor1, tensor2)
    x, a, b = _promoted_float(dt, input, tensor1, tensor2)
    out = x + (a / b if value == 1 else value * a / b)
    return out if out.dtype is dt else out.to(dt)


@public("eq")
def isposinf(input):
    _refuse_complex_inf("isposinf", input)
    return P.eq(input, math.inf)


@public("eq")
def isneginf(input):
    _refuse_complex_inf("isneginf", input)
    return P.eq(input, -math.inf)


def _refuse_complex_inf(op, input):
    if isinstance(input, Tensor) and input.dtype.is_complex:   # (a complex number has no sign of infinity)
        raise RuntimeError(f"{op} does not support complex inputs (got {input.dtype}), as in PyTorch; "
                           "test .real and .imag, or use isinf")


def _promoted_float(dt, *operands):
    """Tensor operands converted to dt, then to float32 if dt is float16/bfloat16: PyTorch converts
    the operands to the result dtype, computes half precision in float32 and rounds once."""
    from plugtorch.dispatch.ops.composite import _in_float32_if_half
    return _in_float32_if_half(dt, *(v.to(dt) if isinstance(v, Tensor) else v for v in operands))


@public("sqrt")
def hypot(input, other):
    """sqrt(input ** 2 + other ** 2) with no overflow or underflow in between (C's hypot): the
    larger magnitude times sqrt(1 + ratio ** 2); an infinity wins over nan.

    >>> plugtorch.hypot(plugtorch.tensor([3e20]), plugtorch.tensor([4e20])).tolist()   # doctest: +SKIP
    [5.000000015047466e+20]
    """
    from plugtorch.dispatch.ops.composite import _float_operands
    dt = _float_operands("hypot", input, other)
    x, y = _promoted_float(dt, input, other)
    a, b = P.abs(x), P.abs(y)
    # the scale only keeps the squares in range and hypot does not depend on it, so it carries no
    # gradient: through maximum/minimum the second derivative of hypot(x, x) came out 0
    scale = P.maximum(a, b).detach()
    scale = P.where(scale == 0, 1.0, scale)
    xs, ys = x / scale, y / scale
    out = scale * P.sqrt(xs * xs + ys * ys)
    return P.where(P.isinf(a) | P.isinf(b), math.inf, out).to(dt)


@public("mul")
def xlogy(input, other):
    """input * log(other), 0 where input == 0 (unless other is nan), in the operands' promoted
    float dtype (float32 for integers and bools; PyTorch rounds log(other) to a half type too)."""
    dt = M.float_result(_dtypes.result_type(input, other))
    if dt.is_complex:   # PyTorch has no complex kernel ("xlogy_cpu" not implemented for 'ComplexFloat')
        raise M.not_implemented_for("xlogy", dt, "xlogy takes real tensors; compute x * log(y) for complex ones")
    x, y = (v.to(dt) if isinstance(v, Tensor) else v for v in (input, other))
    if not isinstance(y, Tensor):   # a Python number (PyTorch's xlogy(tensor, 3))
        y = P.full((), float(y), dtype=x.dtype, device=x.device)
    ly = P.log(y)
    zero = (x == 0) & ~P.isnan(y)
    if isinstance(input, Tensor) and input.requires_grad:
        # at input == 0 the value is 0 but d/dinput is log(other) (0 where other <= 0), as PyTorch's
        # xlogy backward; the where alone would give 0 there
        at_zero = (x - x.detach()) * P.where(P.isfinite(ly), ly, 0.0) + 0.0
        return P.where(zero, at_zero, x * P.where(zero, 0.0, ly))   # (no 0 * inf in the other branch)
    return P.where(zero, 0.0, x * ly)


@public("log")
def logit(input, eps=None):
    """log(x / (1 - x)), with x clamped to [eps, 1 - eps] when eps is given; integer and bool
    inputs are read as the default float first (1 - x would wrap in uint8).

    >>> plugtorch.logit(plugtorch.tensor([255, 1, 0], dtype=plugtorch.uint8)).tolist()
    [nan, inf, -inf]
    """
    if isinstance(input, Tensor) and input.dtype.is_complex:   # PyTorch has no complex kernel
        raise M.not_implemented_for("logit", input.dtype, "logit takes real tensors")
    if isinstance(input, Tensor) and not input.dtype.is_floating_point:
        input = input.to(_dtypes.get_default_dtype())
    # PyTorch's documented piecewise bound, not clamp: x < eps is eps first, so an eps above 1/2
    # (lower bound above the upper) gives logit(eps) there, where clamp's max wins
    x = input if eps is None else P.where(input < eps, eps, P.where(input > 1 - eps, 1 - eps, input))
    return P.log(x / (1 - x))


@public("mul")
def deg2rad(input):
    _refuse_complex_angle("deg2rad", input)
    return input * (math.pi / 180)


@public("mul")
def rad2deg(input):
    _refuse_complex_angle("rad2deg", input)
    return input * (180 / math.pi)


def _refuse_complex_angle(op, input):
    if isinstance(input, Tensor) and input.dtype.is_complex:   # PyTorch's refusal (an angle is real)
        raise RuntimeError(f"{op} is not supported for complex tensors (got {input.dtype}); convert .real or .angle()")


@public("pow")
def float_power(input, exponent):
    """pow computed in float64, or complex128 when either operand is complex (PyTorch's float_power).

    >>> plugtorch.float_power(plugtorch.tensor([1 + 2j]), 2)
    tensor([-3.+4.j], dtype=plugtorch.complex128)
    """
    cplx = _b.any(v.dtype.is_complex if isinstance(v, Tensor) else isinstance(v, complex) for v in (input, exponent))
    dt, scalar = (_dtypes.complex128, complex) if cplx else (_dtypes.float64, float)
    a = input.to(dt) if isinstance(input, Tensor) else scalar(input)
    b = exponent.to(dt) if isinstance(exponent, Tensor) else scalar(exponent)
    return P.pow(a, b)


def float_power_(input, exponent):
    """In-place float_power: the input must already have the result's dtype (float64 or complex128), as in PyTorch."""
    cplx = input.dtype.is_complex or (exponent.dtype.is_complex if isinstance(exponent, Tensor) else isinstance(exponent, complex))
    want = _dtypes.complex128 if cplx else _dtypes.float64
    if input.dtype is not want:
        raise RuntimeError(f"float_power_(): the base given to float_power_ has dtype {input.dtype} but the operation's "
                           f"result requires dtype {want}; convert it first with x = x.to({want})")
    return input.copy_(float_power(input, exponent))


# ---- reductions ---------------------------------------------------------------------------
@public("sum")
def nansum(input, dim=None, keepdim=False, *, dtype=None):
    _check_tensor("nansum", input)
    if input.dtype.is_complex:   # PyTorch refuses them (a sum that kept NaNs, or dropped the imaginary part)
        raise RuntimeError(f"nansum(): nansum does not support complex inputs (got {input.dtype}), as in PyTorch; "
                           "sum .real and .imag with nansum separately")
    M.wrap_dims("nansum", dim, input.ndim)   # (bad dims named by this op, not by its sum)
    x = P.where(P.isnan(input), 0.0, input) if input.dtype.is_floating_point else input
    return P.sum(x, dim, keepdim, dtype=dtype)


@public("sum")
def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    if not isinstance(input, Tensor):
        raise TypeError(f"nanmean(): argument 'input' must be Tensor, not {type(input).__name__}")
    if not (input.dtype.is_floating_point or input.dtype.is_complex):   # whatever dtype= asks, as PyTorch
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype but got "
                           f"{M.LEGACY_NAMES.get(input.dtype.name)}")
    if dtype is not None and not (_dtypes.to_dtype(dtype).is_floating_point or _dtypes.to_dtype(dtype).is_complex):
        raise RuntimeError(f"nanmean(): could not infer output dtype. Optional dtype must be either a floating point "
                           f"or complex dtype. Got: {M.LEGACY_NAMES.get(_dtypes.to_dtype(dtype).name)}")
    M.wrap_dims("nanmean", dim, input.ndim)
    keep = ~P.isnan(input)
    return nansum(input, dim, keepdim, dtype=dtype) / P.sum(keep, dim, keepdim)


@public("trace")
def trace(input):
    """The sum of the main diagonal (the registry op ``trace``, on autocast's CPU float32 list)."""
    from plugtorch.dispatch.dispatcher import dispatch
    from plugtorch.dispatch.registry import OPS
    return dispatch(OPS["trace"], input)


@public("sub")
def diff(input, n=1, dim=-1, prepend=None, append=None):
    """Differences of neighbours along ``dim``, ``n`` times."""
    if not isinstance(input, Tensor):
        raise TypeError(f"diff(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional (got a 0-d tensor)")
    d = M.wrap_dim("diff", dim, input.ndim)
    n = as_int("diff", "n", n)
    if n < 0:
        raise RuntimeError(f"diff(): order must be non-negative but got {n}")
    x = input
    for name, t in (("prepend", prepend), ("append", append)):
        if t is None:
            continue
        if not isinstance(t, Tensor):
            raise TypeError(f"diff(): argument '{name}' must be Tensor, not {type(t).__name__}")
        if t.ndim != input.ndim:
            raise RuntimeError(f"diff expects prepend or append to be the same dimension as input: input is "
                               f"{input.ndim}-d, {name} is {t.ndim}-d")
        for j in range(input.ndim):
            if j != d and t.shape[j] != input.shape[j]:
                raise RuntimeError(f"diff expects the shape of tensor to prepend or append to match that of input "
                                   f"except along the differencing dimension; input.size({j}) = {input.shape[j]}, "
                                   f"but got tensor.size({j}) = {t.shape[j]} ({name} of shape {tuple(t.shape)})")
    if prepend is not None or append is not None:
        x = P.cat([t for t in (prepend, x, append) if t is not None], d)
    for _ in range(n):
        k = x.shape[d]
        if k == 0:
            break
        x = x.narrow(d, 1, k - 1) - x.narrow(d, 0, k - 1) if x.dtype is not _dtypes.bool else \
            P.logical_xor(x.narrow(d, 1, k - 1), x.narrow(d, 0, k - 1))
    return x


# ---- linear algebra -----------------------------------------------------------------------
# mv, addmm, addmv, baddbmm: registry ops (plugtorch/dispatch/ops/composite.py)


@public("index_put")
def diag(input, diagonal=0):
    """A vector's diagonal matrix, or a matrix's ``diagonal``-th diagonal (a copy)."""
    _check_tensor("diag", input)
    if input.ndim == 2:
        return input.diagonal(diagonal).clone()
    if input.ndim != 1:
        raise RuntimeError(f"diag(): expected a 1-D or 2-D tensor, got {input.ndim}-D")
    n = input.shape[0] + _b.abs(diagonal)
    out = P.zeros((n, n), dtype=input.dtype, device=input.device)
    i = P.arange(input.shape[0], device=input.device)
    return out.index_put((i + _b.max(0, -diagonal), i + _b.max(0, diagonal)), input)


# ---- shape --------------------------------------------------------------------------------
def _tensor_list(op, tensors, allow_empty=False):
    """The Tensors of a stacking function's list argument, checked as PyTorch does."""
    if not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}(): argument 'tensors' must be a tuple or list of Tensors, not {type(tensors).__name__}")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): expected Tensor as element {i} of 'tensors', but got {type(t).__name__}")
    if not tensors and not allow_empty:
        raise RuntimeError(f"{op} expects a non-empty TensorList")
    return tuple(tensors)


def _atleast(nd):
    def f(*tensors):
        ts = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
        _tensor_list(f"atleast_{nd}d", ts, allow_empty=True)
        out = []
        for t in ts:
            if t.ndim < nd:
                if t.ndim == 0:
                    shape = (1,) * nd
                elif t.ndim == 1:
                    shape = (1, t.shape[0], 1)[:nd]
                else:
                    shape = tuple(t.shape) + (1,)
                t = t.reshape(shape)
            out.append(t)
        return out[0] if len(tensors) == 1 and not isinstance(tensors[0], (list, tuple)) else tuple(out)
    f.__name__ = f"atleast_{nd}d"
    return public("view")(f)


atleast_1d, atleast_2d, atleast_3d = _atleast(1), _atleast(2), _atleast(3)


@public("cat")
def hstack(tensors):
    ts = atleast_1d(_tensor_list("hstack", tensors))
    return P.cat(ts, 0 if ts[0].ndim == 1 else 1)


@public("cat")
def vstack(tensors):
    return P.cat(atleast_2d(_tensor_list("vstack", tensors)), 0)


row_stack = vstack
__all__.append("row_stack")
P.PUBLIC_TO_OP["row_stack"] = "cat"


@public("cat")
def dstack(tensors):
    return P.cat(atleast_3d(_tensor_list("dstack", tensors)), 2)


@public("cat")
def column_stack(tensors):
    return P.cat([t.reshape(-1, 1) if t.ndim <= 1 else t for t in _tensor_list("column_stack", tensors)], 1)


@public("flip")
def fliplr(input):
    """Flip the columns (dim 1) of a tensor of at least 2 dims."""
    if not isinstance(input, Tensor) or input.ndim < 2:
        raise RuntimeError(f"fliplr(): Input must be >= 2-d (got {_ndim_of(input)})")
    return P.flip(input, (1,))


@public("flip")
def flipud(input):
    """Flip the rows (dim 0) of a tensor of at least 1 dim."""
    if not isinstance(input, Tensor) or input.ndim < 1:
        raise RuntimeError(f"flipud(): Input must be >= 1-d (got {_ndim_of(input)})")
    return P.flip(input, (0,))


def _ndim_of(x):
    return f"a {x.ndim}-d tensor" if isinstance(x, Tensor) else type(x).__name__


@public("view")
def ravel(input):
    """The elements as a 1-d tensor (a view when the layout allows)."""
    return P.reshape(input, (-1,))


@public("sort")
def msort(input):
    """``sort(input, dim=0).values``."""
    return P.sort(input, 0).values


@public("narrow")
def tensor_split(input, indices_or_sections=None, dim=0, *, sections=None, indices=None,
                 tensor_indices_or_sections=None):
    """Split into ``n`` nearly equal parts (the first ``size % n`` one larger), or at the given indices.

    >>> [p.tolist() for p in plugtorch.arange(5).tensor_split(2)]
    [[0, 1, 2], [3, 4]]
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"tensor_split(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
    d = M.wrap_dim("tensor_split", dim, input.ndim)
    n = input.shape[d]
    given = [v for v in (indices_or_sections, sections, indices, tensor_indices_or_sections) if v is not None]
    if len(given) != 1:
        raise TypeError("tensor_split(): pass exactly one of indices_or_sections, sections=, indices= or "
                        f"tensor_indices_or_sections= (got {len(given)})")
    sec = given[0]
    if isinstance(sec, Tensor):
        if sec.dtype is not _dtypes.int64:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to have dtype of long, but got {sec.dtype}")
        if sec.ndim > 1:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                               f"one-dimensional tensor, but got a tensor with {sec.ndim} dims")
        sec = sec.item() if sec.ndim == 0 else sec.tolist()
    if isinstance(sec, int) and not isinstance(sec, bool):
        if sec <= 0:
            raise RuntimeError(f"tensor_split(): number of sections must be larger than 0, got {sec}")
        q, r = divmod(n, sec)
        bounds, start = [], 0
        for i in range(sec):
            bounds.append((start, start + q + (i < r)))
            start = bounds[-1][1]
    elif isinstance(sec, (list, tuple)):
        idx = M.as_shape("tensor_split", tuple(sec)) if sec else ()
        edges = [0, *idx, n]
        bounds = [slice(a, b).indices(n)[:2] for a, b in zip(edges, edges[1:])]
    else:
        raise TypeError(f"tensor_split(): indices_or_sections must be an int, a sequence of ints or a long "
                        f"tensor, not {type(sec).__name__}")
    return tuple(input.narrow(d, a, _b.max(0, b - a)) for a, b in bounds)


def _split_along(name, dim, min_ndim):
    def f(input, indices_or_sections):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
        if input.ndim < min_ndim:
            raise RuntimeError(f"{name} requires a tensor with at least {min_ndim} dimension, but got a tensor "
                               f"with {input.ndim} dimensions!")
        d = 0 if name == "hsplit" and input.ndim == 1 else dim
        sec = indices_or_sections
        if isinstance(sec, int) and not isinstance(sec, bool) and sec and input.shape[d] % sec:
            raise RuntimeError(f"{name} attempted to split along dimension {d}, but the size of the dimension "
                               f"{input.shape[d]} is not divisible by the split_size {sec}!")
        return tensor_split(input, sec, d)
    f.__name__ = f.__qualname__ = name   # Python's argument errors name it: "hsplit() takes 2 ..."
    f.__doc__ = f"``tensor_split`` along dim {dim}, into equal parts when given a count."
    return public("narrow")(f)


hsplit, vsplit, dsplit = _split_along("hsplit", 1, 1), _split_along("vsplit", 0, 2), _split_along("dsplit", 2, 3)


@public("expand")
def meshgrid(*tensors, indexing="ij"):
    ts = list(tensors[0]) if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else list(tensors)
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"meshgrid(): indexing must be 'ij' or 'xy', got {indexing!r}")
    if not ts:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for t in ts:
        if not isinstance(t, Tensor):
            raise TypeError(f"meshgrid(): expected tensors, got {type(t).__name__}")
        if t.ndim > 1:   # it flattened them, where PyTorch refuses
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got a tensor of "
                               f"shape {list(t.shape)}; flatten it first (t.flatten()) if that is meant")
    if any(t._dtype is not ts[0]._dtype for t in ts):
        raise RuntimeError("meshgrid expects all tensors to have the same dtype, got "
                           f"{', '.join(str(t._dtype) for t in ts)}; cast them to one dtype first")
    if any(t.device != ts[0].device for t in ts):
        raise RuntimeError("meshgrid expects all tensors to have the same device, got "
                           f"{', '.join(str(t.device) for t in ts)}")
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t.numel() for t in ts)
    n = len(ts)
    out = [t.reshape((1,) * i + (-1,) + (1,) * (n - i - 1)).expand(shape) for i, t in enumerate(ts)]
    if swap:
        out[0], out[1] = out[1], out[0]
    return tuple(out)


@public("expand")
def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each element ``repeats`` times along ``dim`` (flattened when dim is None).

    ``repeat_interleave(repeats)`` alone (a 1-D integer tensor) repeats each index ``i`` of it
    ``repeats[i]`` times. ``output_size``, when given, must be the length of the result along ``dim``."""
    if repeats is None:
        if not isinstance(input, Tensor):
            raise TypeError(f"repeat_interleave(): argument 'repeats' must be Tensor, not {type(input).__name__}")
        if input.ndim != 1:
            raise RuntimeError(f"repeat_interleave(): repeats must be a 1-D tensor when it is the only argument, "
                               f"got shape {tuple(input.shape)}")
        if input._dtype not in (_dtypes.int32, _dtypes.int64):
            raise NotImplementedError(f"repeat_interleave(): not implemented for repeats of dtype {input._dtype}; "
                                      "repeats must be an int32 or int64 tensor")
        idx = P.arange(input.shape[0], dtype=input._dtype, device=input.device)
        return repeat_interleave(idx, input, 0, output_size=output_size)
    if output_size is not None:
        output_size = as_int("repeat_interleave", "output_size", output_size)
        out = repeat_interleave(input, repeats, dim)
        got = out.shape[0 if dim is None else M.wrap_dim("repeat_interleave", dim, out.ndim)]
        if got != output_size:
            raise RuntimeError(f"repeat_interleave(): output_size={output_size} does not match the repeated "
                               f"length {got} along dim {dim}; pass output_size={got} or leave it out")
        return out
    x = input.flatten() if dim is None else input
    d = 0 if dim is None else M.wrap_dim("repeat_interleave", dim, x.ndim)
    if isinstance(repeats, Tensor):
        M.data_dependent_on_meta("repeat_interleave", input, repeats)
        if repeats._dtype not in (_dtypes.int32, _dtypes.int64):
            raise NotImplementedError(f"repeat_interleave(): not implemented for repeats of dtype {repeats._dtype}; "
                                      "repeats must be an int32 or int64 tensor")
        if repeats.ndim > 1:
            raise RuntimeError(f"repeat_interleave(): repeats must be 0-dim or 1-dim tensor, got shape "
                               f"{tuple(repeats.shape)}")
    else:
        repeats = as_int("repeat_interleave", "repeats", repeats)
    if isinstance(repeats, Tensor) and repeats.numel() != 1:
        counts = repeats.tolist()
        if _b.any(c < 0 for c in counts):
            raise RuntimeError(f"repeat_interleave(): repeats can not be negative (got {counts})")
        if len(counts) != x.shape[d]:
            raise RuntimeError(f"repeat_interleave(): repeats must have the same size as input along dim, "
                               f"got {len(counts)} and {x.shape[d]}")
        idx = [i for i, c in enumerate(counts) for _ in range(c)]
        return x.index_select(d, P.tensor(idx, dtype=_dtypes.int64, device=x.device))
    r = int(repeats)
    if r < 0:
        raise RuntimeError(f"repeat_interleave(): Repeats must be non-negative, got {r}")
    shp = tuple(x.shape)
    y = x.unsqueeze(d + 1).expand(shp[:d + 1] + (r,) + shp[d + 1:])
    return y.reshape(shp[:d] + (shp[d] * r,) + shp[d + 1:])


@public("index")
def take(input, index):
    _check_tensor("take", input)
    _check_tensor("take", index, "index")
    if index.dtype is not _dtypes.int64:   # (a bool or uint8 index would be a mask)
        raise RuntimeError(f"take(): Expected a long tensor for index, but got {M.LEGACY_NAMES.get(index.dtype.name)}; "
                           "use index.long()")
    return input.reshape(-1)[index]


# ---- order statistics and searching (sort and comparisons, so every backend has them) ----
def _median(name, input, dim, keepdim, skip_nan):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
    M.check_bool(name, "keepdim", keepdim)
    if input.dtype is _dtypes.bool:
        raise M.not_implemented_for(name, input.dtype, "convert bool tensors with .long() first")
    x = input.reshape(-1) if dim is None else input
    d = 0 if dim is None else M.wrap_dim(name, dim, x.ndim)
    if x.ndim == 0:
        x = x.reshape(1)
    n = x.shape[d]
    if n == 0 and dim is None:   # PyTorch: nan (an integer dtype's smallest value) for no values
        fill = math.nan if input.dtype.is_floating_point else _dtypes.iinfo(input.dtype).min
        return P.full((), fill, dtype=input.dtype, device=input.device)
    if n == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size (input shape {tuple(input.shape)})")
    v, i = P.sort(x, d)                                  # nan sorts last, stably
    nnan = P.isnan(x).sum(d, keepdim=True)
    if skip_nan:   # the lower median of the values that are not nan (nan if all are)
        k = P.clamp_min(P.floor_divide(n - nnan - 1, 2), 0)
    else:          # PyTorch propagates nan: the first nan in sorted order
        k = P.where(nnan > 0, n - nnan, (n - 1) // 2)
    values, indices = v.gather(d, k), i.gather(d, k)
    if dim is None:
        values = values.reshape(())
        if input.requires_grad:   # shared evenly by the elements equal to it, as PyTorch's median()
            m = values.detach()
            hit = (x == m) | ((x != x) & (m != m)) if x.dtype.is_floating_point else x == m
            values = m + P.where(hit, x - x.detach(), 0.0).sum() / hit.sum()
        return values
    if not keepdim or input.ndim == 0:
        values, indices = values.squeeze(d), indices.squeeze(d)
    return getattr(P.return_types, name)(values, indices)


@public("sort")
def median(input, dim=None, keepdim=False):
    """The lower of the two middle values (nan if there is a nan); with ``dim``, (values, indices)."""
    return _median("median", input, dim, keepdim, False)


@public("sort")
def nanmedian(input, dim=None, keepdim=False):
    """``median`` ignoring nan."""
    return _median("nanmedian", input, dim, keepdim, True)


@public("sort")
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values of ``input`` (flattened), sorted; optionally inverse indices and counts.

    With ``dim``, the distinct slices along ``dim``, in lexicographic order (as ``numpy.unique``
    with ``axis``); the inverse then maps each slice of ``input`` to its row of the result.
    """
    M.data_dependent_on_meta("unique", input)
    if dim is not None:
        if input.ndim == 0:
            raise IndexError(f"unique(): a 0-d tensor has no dim {dim} to take slices along; call unique() "
                             "without dim")
        d = M.wrap_dim("unique", dim, input.ndim)
        if _b.any(n == 0 for i, n in enumerate(input.shape) if i != d):
            raise RuntimeError(f"unique(): There are 0 sized dimensions, and they aren't selected, so unique "
                               f"cannot be applied (input shape {tuple(input.shape)}, dim {d})")
        return _unique_dim(input, d, return_inverse, return_counts)
    flat = input.reshape(-1)
    v, order = P.sort(flat)
    n = v.shape[0]
    first = P.ones(n, dtype=_dtypes.bool, device=input.device)
    if n > 1:
        first[1:] = v[1:] != v[:-1]
    values = v[first]
    out = [values]
    if return_inverse:
        group = P.cumsum(first, 0) - 1                   # the group of each sorted element
        inverse = P.empty(n, dtype=_dtypes.int64, device=input.device)
        inverse[order] = group
        out.append(inverse.reshape(tuple(input.shape)))
    if return_counts:
        starts = P.nonzero(first).reshape(-1)
        ends = P.cat([starts[1:], P.full((1,), n, dtype=_dtypes.int64, device=input.device)])
        out.append(ends - starts)
    return out[0] if len(out) == 1 else tuple(out)


def _unique_dim(input, d, return_inverse, return_counts):
    x = input.movedim(d, 0)
    n = x.shape[0]
    rows = x.reshape(n, math.prod(x.shape[1:]))
    dev = input.device
    order = P.arange(n, device=dev)
    for col in reversed(range(rows.shape[1])):   # stable sorts from the last column: lexicographic
        _, idx = P.sort(rows[order, col], stable=True)
        order = order[idx]
    r = rows[order]
    first = P.ones(n, dtype=_dtypes.bool, device=dev)
    if n > 1:
        first[1:] = (r[1:] != r[:-1]).any(1) if rows.shape[1] else False
    values = x[order][first].movedim(0, d)
    out = [values]
    if return_inverse:
        inverse = P.empty(n, dtype=_dtypes.int64, device=dev)
        inverse[order] = P.cumsum(first, 0) - 1
        out.append(inverse)
    if return_counts:
        starts = P.nonzero(first).reshape(-1)
        out.append(P.cat([starts[1:], P.full((1,), n, dtype=_dtypes.int64, device=dev)]) - starts)
    return out[0] if len(out) == 1 else tuple(out)


@public("searchsorted")
def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):
    """Indices where ``input`` would be inserted into the last dim of ``sorted_sequence``
    (a Python number ``input`` gives a 0-d result).

    >>> plugtorch.searchsorted(plugtorch.tensor([1, 3, 3, 5]), 3, right=True)
    tensor(3)
    """
    if not isinstance(input, Tensor) and isinstance(sorted_sequence, Tensor):
        # a Python number is a weak scalar, as in PyTorch: it takes the sequence's dtype
        # within its category (int into uint8 stays uint8, 2.5 into int64 is a float)
        input = P.tensor(input, dtype=_dtypes.result_type(sorted_sequence, input), device=sorted_sequence.device)
    return P.ops.searchsorted(sorted_sequence, input, out_int32=out_int32, right=right, side=side, sorter=sorter)


@public("searchsorted")
def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The bucket of each value: boundaries[i-1] < x <= boundaries[i] (right=False).

    >>> plugtorch.bucketize(plugtorch.tensor([0.5, 1.0, 9.0]), plugtorch.tensor([1.0, 2.0])).tolist()
    [0, 0, 2]
    """
    _check_tensor("bucketize", boundaries, "boundaries")
    if boundaries.ndim != 1:
        raise RuntimeError(f"bucketize(): boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


@public("index_put")
def bincount(input, weights=None, minlength=0):
    """How often each non-negative integer occurs in the 1-d ``input`` (weighted if given)."""
    M.data_dependent_on_meta("bincount", input)
    if input.dtype.is_floating_point:
        raise M.not_implemented_for("bincount", input.dtype, "bincount counts non-negative integers")
    if input.ndim != 1 or input.dtype is _dtypes.bool:
        raise RuntimeError(f"bincount(): input must be a 1-d integer tensor, got {input.ndim}-d {input.dtype}")
    minlength = as_int("bincount", "minlength", minlength)
    if minlength < 0:
        raise RuntimeError(f"bincount(): minlength should be >= 0, got {minlength}")
    if weights is not None and (weights.ndim != 1 or weights.shape[0] != input.shape[0]):
        raise RuntimeError(f"bincount(): weights should be 1-d and have the same length as input, got weights "
                           f"of shape {tuple(weights.shape)} for input of shape {tuple(input.shape)}")
    if input.numel() and int(input.amin()) < 0:
        raise RuntimeError("bincount(): input must contain only non-negative integers")
    n = _b.max(int(input.amax()) + 1 if input.numel() else 0, minlength)
    if weights is None:
        dtype = _dtypes.int64
    else:   # PyTorch sums float32 and float64 weights in their dtype, any other in float64
        dtype = weights.dtype if weights.dtype in (_dtypes.float32, _dtypes.float64) else _dtypes.float64
    out = P.zeros(n, dtype=dtype, device=input.device)
    vals = weights.to(dtype) if weights is not None else P.ones(input.shape[0], dtype=dtype, device=input.device)
    return out.index_put((input.long(),), vals, accumulate=True)
