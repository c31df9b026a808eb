"""Public index and grid helpers made of registered ops: ``tril_indices``, ``triu_indices``,
``unravel_index``, ``isin``, ``nonzero_static``, ``trapezoid``/``trapz``,
``cumulative_trapezoid``, ``logspace``, ``range``, ``scalar_tensor``, ``empty_strided``.

Compositions (no op of their own); ``PUBLIC_TO_OP`` records the main op each runs.
"""
from __future__ import annotations

import builtins as _b
import math

from plugtorch import _dtypes
from plugtorch import _ops_public as P
from plugtorch._ops_compound import _check_tensor
from plugtorch._tensor import Tensor
from plugtorch.dispatch import meta as M
from plugtorch.dispatch.arguments import as_int, as_ints

__all__ = []


def public(op_name):
    return P.public(op_name, __all__)


def _triangle(name, row, col, offset, dtype, device, lower):
    row, col, offset = as_int(name, "row", row), as_int(name, "col", col), as_int(name, "offset", offset)
    if row < 0:
        raise RuntimeError(f"{name}(): row must be non-negative, got {row}")
    if col < 0:
        raise RuntimeError(f"{name}(): col must be non-negative, got {col}")
    dtype = _dtypes.int64 if dtype is None else dtype
    if dtype not in (_dtypes.int32, _dtypes.int64):
        raise M.not_implemented_for(name, dtype, "only int32 and int64 are supported")
    r = P.arange(row, device=device).unsqueeze(1)
    c = P.arange(col, device=device).unsqueeze(0)
    keep = (c - r <= offset) if lower else (c - r >= offset)
    rr, cc = r.expand(row, col), c.expand(row, col)
    return P.stack([rr[keep], cc[keep]]).to(dtype)


@public("nonzero")
def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The (row, column) coordinates of the lower triangle of a ``row`` x ``col`` matrix, in
    row-major order, as a 2 x N tensor.

    >>> plugtorch.tril_indices(2, 2).tolist()
    [[0, 1, 1], [0, 0, 1]]
    """
    return _triangle("tril_indices", row, col, offset, dtype, device, True)


@public("nonzero")
def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The coordinates of the upper triangle (``offset`` diagonals above the main one and up)."""
    return _triangle("triu_indices", row, col, offset, dtype, device, False)


@public("remainder")
def unravel_index(indices, shape):
    """Flat indices into ``shape`` as a tuple of coordinate tensors (negative indices count
    from the end).

    >>> [t.item() for t in plugtorch.unravel_index(plugtorch.tensor(4), (2, 3))]
    [1, 1]
    """
    if not isinstance(indices, Tensor):
        indices = P.tensor(indices)
    if indices.dtype.is_floating_point or indices.dtype.is_complex or indices.dtype is _dtypes.bool:
        raise TypeError(f"expected 'indices' to be integer dtype, but got {indices.dtype}")
    shape = as_ints("unravel_index", "shape", (shape,) if isinstance(shape, int) else shape)
    if any(s < 0 for s in shape):
        raise RuntimeError(f"'shape' cannot have negative values, but got {tuple(shape)}")
    n = math.prod(shape)
    # torch 2.13 checks no range: an index outside [-n, n) wraps (floor modulo n), as here
    flat = indices.long() % n if n else indices.long()
    out = []
    for s in reversed(shape):
        out.append(flat % s)
        flat = flat // s
    return tuple(reversed(out))


@public("sort")
def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Whether each element of ``elements`` is among ``test_elements`` (nan never is).

    >>> plugtorch.isin(plugtorch.tensor([1, 2, 3]), plugtorch.tensor([2, 5])).tolist()
    [False, True, False]
    """
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin(): at least one of 'elements' and 'test_elements' must be a Tensor")
    ref = elements if isinstance(elements, Tensor) else test_elements
    dev = ref.device
    e = elements if isinstance(elements, Tensor) else P.tensor(elements, device=dev)
    t = test_elements if isinstance(test_elements, Tensor) else P.tensor(test_elements, device=dev)
    dt = _dtypes.promote_types(e.dtype, t.dtype)
    e, t = e.to(dt), t.reshape(-1).to(dt)
    if t.numel() == 0:
        hit = P.zeros(tuple(e.shape), dtype=_dtypes.bool, device=dev)
    else:
        s = P.sort(t)[0]
        # nan sorts last but searchsorted's bisection (PyTorch's) treats it as neither above nor
        # below, which would hide the values before it: search a key with nan read as inf (a nan
        # element still matches nothing, as nan != nan)
        key = P.where(P.isnan(s), float("inf"), s) if s.dtype.is_floating_point else s
        at = P.searchsorted(key, e.reshape(-1)).clamp(max=s.shape[0] - 1)
        hit = (s[at] == e.reshape(-1)).reshape(tuple(e.shape))
    return ~hit if invert else hit


@public("nonzero")
def nonzero_static(input, *, size, fill_value=-1):
    """``nonzero(input)`` cut or padded (with ``fill_value``) to exactly ``size`` rows."""
    _check_tensor("nonzero_static", input)
    size = as_int("nonzero_static", "size", size)
    if size < 0:
        raise RuntimeError(f"nonzero_static: 'size' must be an non-negative integer, got {size}")
    nz = P.nonzero(input)
    rows = nz.shape[0]
    if rows >= size:
        return nz[:size]
    pad = P.full((size - rows, nz.shape[1]), fill_value, dtype=nz.dtype, device=input.device)
    return P.cat([nz, pad])


# ---- integrals -----------------------------------------------------------------------------
def _trapezoid_parts(name, y, x, dx, dim):
    _check_tensor(name, y, "y")
    if y.ndim == 0:   # (wrap_dim lets dim 0 / -1 name a 0-d tensor itself; there is nothing to integrate along)
        raise IndexError(f"{name}(): Dimension specified as {dim} but tensor has no dimensions; y needs at least "
                         "one dim of sample points")
    d = M.wrap_dim(name, dim, y.ndim)
    n = y.shape[d]
    if y.dtype.is_floating_point or y.dtype.is_complex:
        yf = y
    else:
        yf = y.to(_dtypes.get_default_dtype())
    m, one = _b.max(n - 1, 0), _b.min(n, 1)   # (an empty dim has no pairs: the sum is 0, as PyTorch's)
    pairs = yf.narrow(d, one, m) + yf.narrow(d, 0, m)
    if x is None:
        return pairs * ((1.0 if dx is None else dx) / 2), d
    _check_tensor(name, x, "x")
    if x.ndim == 1:
        if x.shape[0] != n:
            raise RuntimeError(f"{name}: There must be one `x` value for each sample point (x has {x.shape[0]}, "
                               f"y has {n} along dim {d})")
        steps = (x[1:] - x[:-1]).reshape((-1,) + (1,) * (y.ndim - 1 - d))
    else:
        steps = x.narrow(d, one, m) - x.narrow(d, 0, m)
    return pairs * steps / 2, d


@public("sum")
def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The trapezoidal rule along ``dim``: spacing ``x`` (sample points) or ``dx`` (default 1).

    >>> plugtorch.trapezoid(plugtorch.tensor([1., 2., 4.])).item()
    4.5
    """
    if x is not None and dx is not None:
        raise TypeError("trapezoid(): pass either x or dx, not both")
    parts, d = _trapezoid_parts("trapezoid", y, x, dx, dim)
    return parts.sum(d)


@public("sum")
def trapz(y, x=None, *, dx=None, dim=-1):
    """The old name of ``trapezoid``."""
    return trapezoid(y, x, dx=dx, dim=dim)


@public("cumsum")
def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """The running trapezoidal integral along ``dim`` (one element fewer than ``y``)."""
    if x is not None and dx is not None:
        raise TypeError("cumulative_trapezoid(): pass either x or dx, not both")
    parts, d = _trapezoid_parts("cumulative_trapezoid", y, x, dx, dim)
    return parts.cumsum(d)


# ---- derivatives ---------------------------------------------------------------------------
def _gradient_along(f, d, spacing, edge_order):
    """The second-order accurate central differences of ``f`` along dim ``d`` (one-sided of order
    ``edge_order`` at the ends), NumPy's ``gradient`` formulas; ``spacing`` a number or coordinates."""
    n = f.shape[d]

    def part(start, length=1):
        return f.narrow(d, start, length)
    if not isinstance(spacing, Tensor):
        h = spacing
        interior = (part(2, n - 2) - part(0, n - 2)) / (2 * h)
        if edge_order == 1:
            first, last = (part(1) - part(0)) / h, (part(n - 1) - part(n - 2)) / h
        else:
            first = (part(0) * -1.5 + part(1) * 2 - part(2) * 0.5) / h
            last = (part(n - 3) * 0.5 - part(n - 2) * 2 + part(n - 1) * 1.5) / h
        return P.cat([first, interior, last], d)
    x = spacing.to(f.device, f.dtype.to_real() if f.dtype.is_complex else f.dtype)
    along = (-1,) + (1,) * (f.ndim - 1 - d)            # broadcasts along dim d
    dx = x[1:] - x[:-1]
    dx1, dx2 = dx[:-1].reshape(along), dx[1:].reshape(along)
    interior = (part(0, n - 2) * (-dx2 / (dx1 * (dx1 + dx2))) + part(1, n - 2) * ((dx2 - dx1) / (dx1 * dx2))
                + part(2, n - 2) * (dx1 / (dx2 * (dx1 + dx2))))
    if edge_order == 1:
        first, last = (part(1) - part(0)) / dx[0], (part(n - 1) - part(n - 2)) / dx[-1]
    else:
        a1, a2 = dx[0], dx[1]
        first = (part(0) * (-(2 * a1 + a2) / (a1 * (a1 + a2))) + part(1) * ((a1 + a2) / (a1 * a2))
                 + part(2) * (-a1 / (a2 * (a1 + a2))))
        b1, b2 = dx[-2], dx[-1]
        last = (part(n - 3) * (b2 / (b1 * (b1 + b2))) + part(n - 2) * (-(b1 + b2) / (b1 * b2))
                + part(n - 1) * ((2 * b2 + b1) / (b2 * (b1 + b2))))
    return P.cat([first, interior, last], d)


@public("cat")
def gradient(input, *, spacing=1, dim=None, edge_order=1):
    """The derivative of ``input`` estimated along each of ``dim`` (every dim by default) by
    central differences, as ``numpy.gradient``: ``spacing`` a number, one number per dim, or one
    1-D tensor of coordinates per dim; a tuple of tensors, one per dim.

    >>> [t.tolist() for t in plugtorch.gradient(plugtorch.tensor([1., 4., 9., 16.]))]
    [[3.0, 4.0, 6.0, 7.0]]
    """
    _check_tensor("gradient", input, "input")
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    dims = [M.wrap_dim("gradient", dim, input.ndim)] if isinstance(dim, int) else (
        list(_b.range(input.ndim)) if dim is None else [M.wrap_dim("gradient", d, input.ndim) for d in dim])
    if isinstance(spacing, (list, tuple)):
        if len(spacing) != len(dims):
            raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or it's spacing and dim "
                               f"arguments to have the same length, but got a spacing argument of length "
                               f"{len(spacing)} and a dim argument of length {len(dims)}.")
        spacings = list(spacing)
    else:
        spacings = [spacing.item() if isinstance(spacing, Tensor) else spacing] * len(dims)
    for d, sp in zip(dims, spacings):
        if input.shape[d] < edge_order + 1:
            raise RuntimeError("torch.gradient expected each dimension size to be at least edge_order+1")
        if isinstance(sp, Tensor) and (sp.ndim != 1 or sp.shape[0] != input.shape[d]):
            raise RuntimeError(f"torch.gradient expected each tensor to be on the same device and its coordinates "
                               f"to be 1-D with one value per element of the dim: got shape {tuple(sp.shape)} for "
                               f"dim {d} of size {input.shape[d]}")
    f = input if input.dtype.is_floating_point or input.dtype.is_complex else input.to(_dtypes.get_default_dtype())
    return tuple(_gradient_along(f, d, sp, edge_order) for d, sp in zip(dims, spacings))


# ---- factories -----------------------------------------------------------------------------
@public("linspace")
def logspace(start, end, steps, base=10.0, *, dtype=None, layout=None, device=None, requires_grad=False):
    """``base ** linspace(start, end, steps)``.

    >>> plugtorch.logspace(0, 2, 3).tolist()
    [1.0, 10.0, 100.0]
    """
    if dtype is not None:
        dt = dtype
    elif any(isinstance(v, complex) or (isinstance(v, Tensor) and v.is_complex()) for v in (start, end)):
        dt = _dtypes.default_complex_dtype()   # as linspace
    else:
        dt = _dtypes.get_default_dtype()
    integral = not (dt.is_floating_point or dt.is_complex or dt is _dtypes.bool)
    work = _dtypes.float64 if integral or dt is _dtypes.float64 else dt
    if integral:   # as PyTorch: the ends truncate to dt, the powers are taken in float64 and truncate too
        start, end = (int(v.item() if isinstance(v, Tensor) else v) for v in (start, end))
    exps = P.linspace(start, end, steps, dtype=work, device=device)
    out = P.pow(float(base), exps).to(dt)
    return out.requires_grad_() if requires_grad else out


# plugtorch.range (set in plugtorch/__init__): not in __all__, so that `from _ops_indices import *`
# leaves the builtin range alone in _ops_public
@P.public("arange")
def range(start, end, step=1, *, dtype=None, layout=None, device=None, requires_grad=False):
    """The deprecated ``arange`` that includes ``end``: ``start, start + step, ..., end``
    (default dtype float).

    >>> plugtorch.range(0, 2, 0.5).tolist()
    [0.0, 0.5, 1.0, 1.5, 2.0]
    """
    import warnings
    warnings.warn("plugtorch.range is deprecated and will be removed in a future release because its behavior is "
                  "inconsistent with Python's range builtin. Instead, use plugtorch.arange, which produces values in "
                  "[start, end).", UserWarning, stacklevel=2)
    if step == 0:
        raise RuntimeError("range(): step must be nonzero")
    n = int(math.floor((end - start) / step)) + 1
    if (end - start) * step < 0:   # (range(1, 0) is an error, as PyTorch, not an empty tensor)
        raise RuntimeError(f"range(): upper bound and lower bound inconsistent with step sign (start={start}, "
                           f"end={end}, step={step})")
    dt = _dtypes.get_default_dtype() if dtype is None else dtype
    out = (P.arange(n, dtype=_dtypes.float64, device=device) * step + start).to(dt)
    return out.requires_grad_() if requires_grad else out


@public("full")
def scalar_tensor(s, *, dtype=None, layout=None, device=None, requires_grad=False):
    """A 0-d tensor holding ``s`` (the default float dtype unless ``dtype`` says otherwise)."""
    return P.full((), s, dtype=dtype or _dtypes.get_default_dtype(), device=device, requires_grad=requires_grad)


@public("empty")
def empty_strided(size, stride, *, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    """An uninitialised tensor of ``size`` laid out with ``stride`` (in elements) over memory of just
    the elements it reaches, as PyTorch's.

    >>> plugtorch.empty_strided((2, 3), (1, 2)).stride()
    (1, 2)
    """
    size, stride = as_ints("empty_strided", "size", size), as_ints("empty_strided", "stride", stride)
    if len(size) != len(stride):
        raise RuntimeError(f"mismatch in length of strides and shape (size {list(size)}, stride {list(stride)})")
    from plugtorch.backends.base import is_contiguous
    from plugtorch.dispatch.ops.arrangements import storage_needed
    if any(s < 0 for s in stride):
        raise RuntimeError(f"empty_strided(): negative strides are not supported (size {list(size)}, stride "
                           f"{list(stride)}); allocate with positive strides and .flip() the dims")
    if is_contiguous(size, stride) or any(n < 0 for n in size):
        return P.empty(size, dtype=dtype, device=device, requires_grad=requires_grad)
    memory = P.empty((storage_needed(size, stride, 0),), dtype=dtype, device=device)
    view = memory.as_strided(size, stride, 0)
    out = Tensor._wrap(view._data, view._dtype, view._device)   # a tensor of its own, not a view
    return out.requires_grad_() if requires_grad else out
