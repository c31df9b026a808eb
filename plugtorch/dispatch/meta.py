"""Helpers the meta functions share: device checks, broadcasting, promotion, dims.

Every error here names the op and the offending shapes, dtypes or devices.
"""
from __future__ import annotations

from numpy import generic as _np_generic

from plugtorch import _dtypes
from plugtorch._caches import Memo
from plugtorch._dtypes import _FLOAT, _INT, _PROMOTE, combine_weak

Tensor = None  # set by plugtorch/__init__

_BCAST = Memo(4096)       # (shape, shape) -> broadcast shape
_BIN_DTYPE = Memo(1024)   # (dtype or scalar type, same) -> result dtype


def broadcast_shapes(*shapes, op="broadcast_shapes"):
    """The shape all ``shapes`` broadcast to, or RuntimeError naming them.

    >>> broadcast_shapes((2, 1), (3,))
    (2, 3)
    """
    if len(shapes) == 2:
        key = shapes
        r = _BCAST.get(key)
        if r is not None:
            return r
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for s in shapes:
        off = ndim - len(s)
        for i, n in enumerate(s):
            j = off + i
            if n < 0:
                raise RuntimeError(f"{op}(): negative dimension {n} in shape {tuple(s)}")
            if out[j] == 1:
                out[j] = n
            elif n != 1 and n != out[j]:
                raise _not_broadcastable(shapes, op)
    r = tuple(out)
    if len(shapes) == 2:
        _BCAST[key] = r
    return r


def _not_broadcastable(shapes, op) -> RuntimeError:
    """The error for shapes that do not broadcast, naming (as PyTorch) the last dimension where
    two sizes other than 1 differ."""
    ndim = max(len(s) for s in shapes)
    for j in reversed(range(ndim)):
        sizes = [s[j - ndim + len(s)] for s in shapes if j - ndim + len(s) >= 0]
        big = [n for n in sizes if n != 1]
        other = next((n for n in big if n != big[0]), None) if big else None
        if other is not None:
            return RuntimeError(
                f"{op}(): the shapes {' and '.join(str(tuple(x)) for x in shapes)} are not "
                f"broadcastable: size {big[0]} and size {other} differ at non-singleton dimension {j}")
    raise AssertionError("_not_broadcastable called for shapes that broadcast")


def device_mismatch(op, d1, d2):
    return RuntimeError(
        f"{op}(): Expected all tensors to be on the same device, but found at least two "
        f"devices, {d1} and {d2}! Move them with .to(device) first.")


def common_device(op, tensors, default=None):
    """The device all tensors share (0-d cpu tensors may join any device, as in PyTorch)."""
    dev = None
    for t in tensors:
        d = t._device
        if dev is None:
            dev = d
        elif d is not dev:
            if d.type == "cpu" and t.ndim == 0:
                continue
            if dev.type == "cpu" and _zero_dim_cpu_only(tensors, dev):
                dev = d
                continue
            raise device_mismatch(op, dev, d)
    return dev if dev is not None else default


def _zero_dim_cpu_only(tensors, cpu):
    return all(t.ndim == 0 for t in tensors if t._device is cpu)


def native(t, dev):
    """A tensor's native array on ``dev``; a 0-d cpu tensor on another device becomes a scalar
    (while plugtorch.jit traces, a number the graph reads from the tensor at each call)."""
    if t._device is dev:
        return t._data
    from plugtorch.dispatch import dispatcher as _dispatcher   # (it imports this module)
    if _dispatcher._modes:
        rec = _dispatcher._stack.recorder
        if rec is not None:
            return rec.scalar_read(t)
    return t.item()


def check_dtype(op, dtype, dev, be):
    reason = be.unsupported_dtype(dtype, dev.index)
    if reason:
        raise TypeError(f"{op}(): dtype {dtype} is not supported on device '{dev}': {reason}")


def check_joined_dtype(op, dtype, dev):
    """The dtype an op computes in on ``dev`` when a 0-d cpu tensor joined its tensors there: the
    promotion may lead to the 0-d tensor's dtype (a float16 scalar beside an int16 tensor), which
    the device may lack. TypeError naming the dtype and device, as a transfer of it would raise."""
    if dev.type == "cpu":
        return
    from plugtorch.dispatch.dispatcher import _resolve_backend
    check_dtype(op, dtype, dev, dev._backend or _resolve_backend(dev))


# PyTorch's messages name dtypes by their legacy type names ("not implemented for 'Bool'")
LEGACY_NAMES = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int",
                "int64": "Long", "float16": "Half", "bfloat16": "BFloat16", "float32": "Float",
                "float64": "Double", "complex64": "ComplexFloat", "complex128": "ComplexDouble",
                "float8_e4m3fn": "Float8_e4m3fn", "float8_e5m2": "Float8_e5m2",
                "float8_e4m3fnuz": "Float8_e4m3fnuz", "float8_e5m2fnuz": "Float8_e5m2fnuz"}


def not_implemented_for(op, dtype, hint=""):
    """The error for a dtype an op has no kernel for: NotImplementedError (a RuntimeError), as
    PyTorch raises from its dtype dispatch (``"abs_cpu" not implemented for 'Bool'``)."""
    return NotImplementedError(f"{op}(): not implemented for dtype {dtype} "
                               f"('{LEGACY_NAMES.get(dtype.name, dtype.name)}')" + (f"; {hint}" if hint else ""))


def data_dependent_on_meta(op, *tensors):
    """NotImplementedError, as PyTorch's meta device raises, when an op whose result's shape depends
    on the values (nonzero, masked_select, unique ...) gets a meta tensor, which has none."""
    for t in tensors:
        if t is not None and t._device.type == "meta":
            raise data_dependent_error(op)


def data_dependent_error(op):
    return NotImplementedError(
        f"{op}(): the shape of its result depends on the tensor's values, which a meta tensor does not "
        "have (as PyTorch's meta device, meta tensors refuse data-dependent shapes); run it on a device "
        "with data (materialize meta tensors first: module.to_empty(device=...), then load the weights)")


def check_bool(op, name, value):
    """A flag (keepdim, descending, largest ...) must be a bool, as PyTorch's argument parser
    requires: a str or an int is a TypeError, never taken for its truth value."""
    if value.__class__ is not bool:
        t = type(value)
        raise TypeError(f"{op}(): argument '{name}' must be bool, not "
                        f"{t.__name__ if t.__module__ == 'builtins' else t.__module__ + '.' + t.__name__}")


_MAX_BYTES = (1 << 63) - 1


def check_storage_size(op, shape, itemsize):
    """RuntimeError, as PyTorch's, when ``shape`` needs more bytes than a 64-bit size can hold."""
    n = itemsize
    for s in shape:
        n *= s
    if n > _MAX_BYTES:
        raise RuntimeError(f"{op}(): Storage size calculation overflowed with sizes={list(shape)} "
                           f"({n} bytes); no device can hold a tensor this large")


def scalar_arg(op, value):
    """``value`` as a Python number: a NumPy scalar (``np.float32(2)``, ``np.int64(3)``, ``np.bool_``)
    becomes the Python number it holds, as PyTorch takes it (a weak scalar, like a Python one);
    anything else that is not a number is a TypeError (``check_scalar``)."""
    if isinstance(value, _np_generic) and value.dtype.kind in "biufc":
        return value.item()
    check_scalar(op, value)
    return value


def check_scalar(op, value):
    if value.__class__ in (int, float, bool):
        return
    if isinstance(value, (int, float, complex)):
        return
    raise TypeError(f"{op}(): expected a Tensor or a number, got {type(value).__name__}")


def binary_dtype(a, b):
    """Promoted dtype of a Tensor ``a`` and a Tensor or scalar ``b``."""
    if b.__class__ is Tensor or isinstance(b, Tensor):
        key = (a._dtype, b._dtype, not a._data.shape, not b._data.shape)
        r = _BIN_DTYPE.get(key)
        if r is None:
            r = _BIN_DTYPE[key] = _dtypes.result_type(a, b)
        return r
    return combine_weak(a._dtype if a._data.shape else None, None if a._data.shape else a._dtype,
                        _dtypes._scalar_category(b))


def wrap_dim(op, dim, ndim):
    n = ndim if ndim > 0 else 1
    if dim.__class__ is not int:
        if isinstance(dim, bool) or not hasattr(dim, "__index__"):
            raise TypeError(f"{op}(): dim must be an int, got {type(dim).__name__}")
        dim = dim.__index__()
    if dim < -n or dim >= n:
        raise IndexError(f"{op}(): Dimension out of range (expected to be in range of "
                         f"[{-n}, {n - 1}], but got {dim})")
    return dim + n if dim < 0 else dim


def wrap_dims(op, dim, ndim):
    """Normalise ``dim`` (None, int or sequence) to a sorted tuple of distinct dims."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (list, tuple)):
        dims = tuple(sorted(wrap_dim(op, d, ndim) for d in dim))
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"{op}(): dim {tuple(dim)} appears multiple times in the list of dims")
        # an empty dim list reduces every dim, as in PyTorch; a 0-d tensor has no dims to name
        return dims if dims and ndim else tuple(range(ndim))
    d = wrap_dim(op, dim, ndim)
    return (d,) if ndim else ()


def as_shape(op, size):
    """Accept f(2, 3), f((2, 3)), f([2, 3]) and Size; check the entries."""
    if len(size) == 1 and isinstance(size[0], (list, tuple)):
        size = size[0]
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = int(s)
        elif isinstance(s, _np_generic) and s.dtype.kind in "iu":   # zeros(np.prod(shape)), as PyTorch
            s = int(s)
        if not isinstance(s, int) or isinstance(s, bool):
            raise TypeError(f"{op}(): size must be a sequence of ints, got {type(s).__name__} in {tuple(size)}")
        out.append(s)
    return tuple(out)


def check_nonneg_shape(op, shape):
    for s in shape:
        if s < 0:
            raise RuntimeError(f"{op}(): Trying to create tensor with negative dimension {s}: {list(shape)}")


def _dense(t) -> bool:
    """Whether ``t``'s elements fill a block of memory once each, in some order of its dims."""
    expected = 1
    for st, n in sorted((st, n) for n, st in zip(t.shape, t.stride()) if n != 1):
        if st != expected:
            return False
        expected *= n
    return True


def check_no_partial_overlap(op, dst, src):
    """Refuse writing ``dst`` from ``src`` when they share some memory but not all of it in the same
    layout, as PyTorch does (the result would depend on the order elements are written in:
    a device kernel reads elements its neighbours already wrote). Layouts PyTorch finds too hard
    to tell (not dense) pass, as there.

    >>> import plugtorch as pt
    >>> r = pt.arange(4.)
    >>> check_no_partial_overlap("copy_", r[1:], r[:-1])
    Traceback (most recent call last):
    ...
    RuntimeError: copy_(): unsupported operation: some elements of the input tensor and the written-to tensor refer to a single memory location. Please clone() the tensor before performing the operation.
    """
    vc = src._vc      # (views and detach() share the version counter: the same memory)
    if src is dst or vc is None or vc is not dst._vc or src._dtype.itemsize != dst._dtype.itemsize:
        return
    if src.numel() == 0 or dst.numel() == 0 or not (_dense(src) and _dense(dst)):
        return
    if getattr(type(dst._backend()).storage_offset, "unknown", False):
        return            # a backend that cannot tell where an array sits in memory (its views are copies)
    a0, b0 = dst.storage_offset(), src.storage_offset()
    a1, b1 = a0 + dst.numel(), b0 + src.numel()
    if (a0, a1) == (b0, b1):
        partial = tuple(s for s, n in zip(dst.stride(), dst.shape) if n != 1) != \
            tuple(s for s, n in zip(src.stride(), src.shape) if n != 1)
    else:
        partial = a0 < b1 and b0 < a1
    if partial:
        raise RuntimeError(f"{op}(): unsupported operation: some elements of the input tensor and the written-to "
                           "tensor refer to a single memory location. Please clone() the tensor before performing "
                           "the operation.")


def float_result(dtype):
    """Result dtype of float-valued ops (sqrt, exp, true division): ints become the default float."""
    return dtype if dtype.category >= _FLOAT else _dtypes.get_default_dtype()


def is_int_or_bool(dtype):
    return dtype.category <= _INT


def promote(a, b):
    return _PROMOTE[a, b]
