"""The public functions: ``plugtorch.add``, ``plugtorch.zeros`` ...

Each public function is an op of the registry (``plugtorch.ops.<name>``), or a thin wrapper
that normalises arguments (``alpha=``, ``rounding_mode=``, size tuples) and calls ops.
``PUBLIC_TO_OP`` records which op each wrapper runs, and tests check it against the registry.
"""
from __future__ import annotations

import builtins as _b
import functools
import inspect
import types

import numpy as np

from plugtorch import _dtypes, _out, return_types
from plugtorch import _memory_format as MF
from plugtorch._device import canonical
from plugtorch._tensor import Tensor
from plugtorch.dispatch import meta as M
from plugtorch.dispatch.arguments import check_int64, check_values_fit, fit_scalar
from plugtorch.dispatch.ops.indexing import check_index_along
from plugtorch.dispatch import dispatcher as _dispatcher
from plugtorch.dispatch.dispatcher import dispatch
from plugtorch.dispatch.registry import OPS

ops = types.SimpleNamespace()   # plugtorch.ops.<name>: every registered op, dispatched as is


_NUMPY_NAMES = {"axis": "dim", "keepdims": "keepdim"}


def numpy_names(op, kwargs):
    """``kwargs`` with NumPy's ``axis=`` / ``keepdims=`` renamed to ``dim=`` / ``keepdim=``, which
    PyTorch accepts for every function and method that has a ``dim`` / ``keepdim`` argument."""
    for np_name, name in _NUMPY_NAMES.items():
        if np_name in kwargs:
            if name in kwargs:
                raise TypeError(f"{op}(): got both '{np_name}' and '{name}'; they name the same argument")
            kwargs[name] = kwargs.pop(np_name)
    return kwargs


def _make_op_function(op, out_name=None):
    """The public function of ``op``; with ``out_name``, one that takes ``out=`` too (named so in
    its errors), checked only on the keyword path so calls without keywords cost the same."""
    def fn(*args, **kwargs):
        if kwargs and ("axis" in kwargs or "keepdims" in kwargs):
            kwargs = numpy_names(op.name, kwargs)
        return dispatch(op, *args, **kwargs)
    if out_name is not None:
        plain = fn

        def fn(*args, **kwargs):
            if kwargs:
                if "out" in kwargs:
                    out = kwargs.pop("out")
                    if out is not None:
                        return _out.call(out_name, plain, args, kwargs, out, out_name in _out.FACTORIES)
                if "axis" in kwargs or "keepdims" in kwargs:
                    kwargs = numpy_names(op.name, kwargs)
            return dispatch(op, *args, **kwargs)
        fn._takes_out = True
    fn.__name__ = op.name
    fn.__qualname__ = op.name
    fn.__signature__ = op.signature if out_name is None else _out.signature_with_out(op.signature)
    fn.__doc__ = op.doc
    fn._op = op
    return fn


def refresh_ops():
    for name, op in OPS.items():
        setattr(ops, name, _make_op_function(op))


refresh_ops()

# which op each hand-written public function runs (for the registry consistency test)
PUBLIC_TO_OP: dict = {}


def public(op_name, exported=None):
    """Record that the decorated public function runs registry op ``op_name`` (and append its
    name to ``exported``, a module's ``__all__``, when given)."""
    def deco(fn):
        PUBLIC_TO_OP[fn.__name__] = op_name
        if exported is not None:
            exported.append(fn.__name__)
        return fn
    return deco


# ---- arithmetic with extra arguments ------------------------------------------------------
def _times_alpha(name, input, other, alpha):
    """``alpha * other`` for add/sub in the dtype of ``input + other``: alpha takes no part in type
    promotion and must fit that dtype, as PyTorch's alpha_check (add(bool, bool, alpha=2) is bool;
    an int8 ``other`` times 2 does not wrap before an int64 add).

    >>> _times_alpha("add", plugtorch.tensor([1]), plugtorch.tensor([100], dtype=plugtorch.int8), 2).tolist()
    [200]
    """
    if (alpha.__class__ is float or alpha.__class__ is int) and other.__class__ is Tensor and \
            input.__class__ is Tensor and other._dtype is input._dtype and other._dtype.is_floating_point:
        return other * alpha     # the common case (an optimizer's p.add_(d, alpha=-lr)), checked cheaply
    rt = _dtypes.result_type(input, other)
    is_bool = isinstance(alpha, (_b.bool, np.bool_))
    if is_bool and rt is not _dtypes.bool:
        raise RuntimeError(f"{name}(): Boolean alpha only supported for Boolean results "
                           f"(alpha={alpha!r}, the result is {rt}); pass alpha={int(alpha)}")
    if not (rt.is_floating_point or rt.is_complex) and not (is_bool or isinstance(alpha, (_b.int, np.integer))):
        raise RuntimeError(f"{name}(): For integral input tensors, argument alpha must not be a floating "
                           f"point number (alpha={alpha!r}, the result is {rt}); cast an operand to a "
                           f"floating-point dtype first")
    if not rt.is_complex and isinstance(alpha, (_b.complex, np.complexfloating)):
        raise RuntimeError(f"{name}(): For non-complex input tensors, argument alpha must not be a complex "
                           f"number (alpha={alpha!r}, the result is {rt})")
    if not is_bool and isinstance(alpha, (_b.int, np.integer)) and not rt.is_floating_point:
        # an integer alpha must fit the result's dtype (uint8: 256 is refused, -1 wraps); sub's
        # negated, as PyTorch's sub is add with -alpha (int32 sub takes alpha=2**31)
        alpha = int(alpha)
        if not -(1 << 63) <= alpha < 1 << 64:
            raise OverflowError(f"{name}(): the Python int alpha={alpha} is too big to convert: scalars must fit "
                                "in 64 bits, [-2**63, 2**64 - 1]")
        fit_scalar(name, -alpha if name == "sub" else alpha, rt)
    if rt is _dtypes.bool:
        alpha = bool(alpha)
    if isinstance(other, Tensor) and other.dtype is not rt:
        other = other.to(rt)     # (only when it differs: .to() of the same dtype costs more than the product)
    return other * alpha


@public("add")
def add(input, other, *, alpha=1, out=None):
    """input + alpha * other.

    >>> plugtorch.add(plugtorch.tensor([1, 2]), 3).tolist()
    [4, 5]
    """
    if type(alpha) is not _b.int or alpha != 1:   # True and 1.0 are checked too
        other = _times_alpha("add", input, other, alpha)
    if out is None:
        return dispatch(OPS["add"], input, other)
    return _out.write("add", dispatch(OPS["add"], input, other), out)


@public("sub")
def sub(input, other, *, alpha=1, out=None):
    if type(alpha) is not _b.int or alpha != 1:
        other = _times_alpha("sub", input, other, alpha)
    if out is None:
        return dispatch(OPS["sub"], input, other)
    return _out.write("sub", dispatch(OPS["sub"], input, other), out)


subtract = sub


@public("div")
def div(input, other, *, rounding_mode=None, out=None):
    """True division, or rounded with ``rounding_mode='trunc'|'floor'``."""
    if out is not None:
        return _out.write("div", div(input, other, rounding_mode=rounding_mode), out)
    if rounding_mode is None:
        return dispatch(OPS["div"], input, other)
    if rounding_mode == "floor":
        return dispatch(OPS["floor_divide"], input, other)
    if rounding_mode == "trunc":
        dt = M.binary_dtype(input, other) if isinstance(input, Tensor) else M.binary_dtype(other, input)
        if dt.is_floating_point:
            return dispatch(OPS["div"], input, other).trunc()
        # floor, then one up where the division was inexact and the quotient negative
        # (a nonzero Python remainder has the divisor's sign: it differs from the dividend's)
        q = dispatch(OPS["floor_divide"], input, other)
        m = dispatch(OPS["remainder"], input, other)
        return q + ((m != 0) & ((m < 0) != (input < 0))).to(q.dtype)
    raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'")


divide = div


@public("round")
def round(input, *, decimals=0):
    """Round half to even; with ``decimals``, to that many decimal places (as PyTorch does).

    >>> plugtorch.tensor([0.5, 1.5, 2.675]).round(decimals=0).tolist()
    [0.0, 2.0, 3.0]
    """
    if decimals == 0:
        return dispatch(OPS["round"], input)
    if not input.dtype.is_floating_point:
        raise M.not_implemented_for("round", input.dtype, f"decimals={decimals} needs a floating-point tensor; "
                                    "convert the input with .float() first")
    # PyTorch's kernel: float16/bfloat16 in float32 (round(88.69, decimals=3) in float16 overflowed
    # to inf), and a negative ``decimals`` divides by the exact 10 ** -decimals, not times 0.1 ...
    x = input.float() if input.dtype in (_dtypes.float16, _dtypes.bfloat16) else input
    if decimals > 0:
        scale = 10.0 ** decimals
        r = dispatch(OPS["round"], x * scale) / scale
    else:
        scale = 10.0 ** -decimals
        r = dispatch(OPS["round"], x / scale) * scale
    # ... and where x * scale overflows, x is already a whole number of those decimals: x, not inf or
    # nan (round(3e38, decimals=1) in float32 is 3e38; torch 2.13 gives inf); inf and nan stay
    r = where(r.isfinite(), r, x)
    return r.to(input.dtype) if r.dtype != input.dtype else r
multiply = ops.mul
true_divide = ops.true_divide


@public("sort")
def sort(input, dim=-1, descending=False, stable=False):
    """Sorted values and their indices along ``dim`` (stable; nan sorts as the largest value).

    >>> plugtorch.sort(plugtorch.tensor([3, 1, 2])).indices.tolist()
    [1, 2, 0]
    """
    v, i = dispatch(OPS["sort"], input, dim, descending, stable)
    return return_types.sort(v, i)


@public("topk")
def topk(input, k, dim=-1, largest=True, sorted=True):
    v, i = dispatch(OPS["topk"], input, k, dim, largest, sorted)
    return return_types.topk(v, i)


@public("kthvalue")
def kthvalue(input, k, dim=-1, keepdim=False):
    v, i = dispatch(OPS["kthvalue"], input, k, dim, keepdim)
    return return_types.kthvalue(v, i)


@public("mode")
def mode(input, dim=-1, keepdim=False):
    """(values, indices): the most frequent value along ``dim``, the smallest of ties.

    >>> plugtorch.mode(plugtorch.tensor([3, 1, 3, 1, 2])).values
    tensor(1)
    """
    v, i = dispatch(OPS["mode"], input, dim, keepdim)
    return return_types.mode(v, i)


@public("aminmax")
def aminmax(input, *, dim=None, keepdim=False):
    a, b = dispatch(OPS["aminmax"], input, dim=dim, keepdim=keepdim)
    return return_types.aminmax(a, b)


# ---- creation -----------------------------------------------------------------------------
def _nested_array(obj):
    """``np.asarray(obj)``, with PyTorch's errors for a ragged nested sequence (NumPy's only say
    'inhomogeneous shape')."""
    try:
        return np.asarray(obj)
    except ValueError:
        if isinstance(obj, (list, tuple)):
            _check_rectangular(obj)
        raise


def _check_rectangular(data):
    """Raise PyTorch's error for the first element of ``data`` that breaks the shape read along
    the first elements (``[[1, 2], [3]]``: ValueError; ``[[1, 2], 3]`` or ``[1, [2, 3]]``: TypeError)."""
    sizes = []
    seq = data
    while isinstance(seq, (list, tuple)):
        sizes.append(len(seq))
        if not seq:
            break
        seq = seq[0]

    def walk(x, dim, where):
        for i, v in enumerate(x):
            at = f"{where}[{i}]"
            is_seq = isinstance(v, (list, tuple))
            if dim + 1 < len(sizes):
                if not is_seq:
                    raise TypeError(f"tensor(): not a sequence: data{at} is {v!r}, but the shape read "
                                    f"from the first elements, {sizes}, expects a sequence of length "
                                    f"{sizes[dim + 1]} there (ragged nested sequences are not supported)")
                if len(v) != sizes[dim + 1]:
                    raise ValueError(f"tensor(): expected sequence of length {sizes[dim + 1]} at dim {dim + 1} "
                                     f"(got {len(v)}) at data{at}: ragged nested sequences are not supported; "
                                     "pad the rows to one length")
                walk(v, dim + 1, at)
            elif is_seq:
                raise TypeError(f"tensor(): data{at} is a {type(v).__name__} where a number was expected: the "
                                f"shape read from the first elements is {sizes} (ragged nested sequences are not "
                                "supported)")
    walk(data, 0, "")


def _infer_dtype(obj):
    a = _nested_array(obj)
    if a.dtype.kind in "uO" and not isinstance(obj, (np.ndarray, np.generic)):
        leaves = list(_flat(obj)) if isinstance(obj, (list, tuple)) else [obj]
        if (a.dtype.kind == "O" and _b.any(isinstance(v, float) for v in leaves)
                and _b.all(isinstance(v, (int, float)) for v in leaves)):
            # a float makes the dtype the default float one, which holds ints beyond 64 bits, as PyTorch
            return _dtypes.get_default_dtype(), np.asarray(obj, dtype=np.float64)
        check_int64("tensor", leaves)
    if a.dtype == np.float64 and not isinstance(obj, (np.ndarray, np.generic)):
        return _dtypes.get_default_dtype(), a
    if a.dtype.kind in "U S O".split():
        bad = next((v for v in (_flat(obj) if isinstance(obj, (list, tuple)) else (obj,))
                    if not isinstance(v, (bool, int, float, _b.complex, np.generic, np.ndarray))), obj)
        # PyTorch: TypeError for text, RuntimeError for None or another object
        err = TypeError if isinstance(bad, (str, bytes)) else RuntimeError
        raise err(f"tensor(): could not infer dtype of {type(bad).__name__}: the data must hold numbers, NumPy "
                  "arrays or tensors")
    if a.dtype.kind == "c" and not isinstance(obj, (np.ndarray, np.generic)):
        return _dtypes.default_complex_dtype(), a   # Python complex numbers, as PyTorch's
    return _dtypes.from_numpy_dtype(a.dtype) if a.dtype != np.float64 else _dtypes.float64, a


def _leaf_dtypes(data):
    """PyTorch's dtype for a nested sequence holding NumPy scalars or arrays (or tensors, made
    0-d arrays): each leaf's own dtype, Python floats the default dtype, ints int64, complex
    numbers the default complex dtype, promoted together (``[np.float64(1.5)]`` is float64;
    NumPy's inference gave float64 for ``[np.float32(1), 2.0]``, so the default dtype was used
    for both). None for a leaf of another kind (the general path reports it)."""
    result = None
    for leaf in _flat(data):
        if isinstance(leaf, (np.ndarray, np.generic)):
            if leaf.dtype.kind in "USOV":
                return None
            try:
                d = _dtypes.from_numpy_dtype(leaf.dtype)
            except TypeError:
                return None
        elif isinstance(leaf, bool):
            d = _dtypes.bool
        elif isinstance(leaf, int):
            d = _dtypes.int64
        elif isinstance(leaf, float):
            d = _dtypes.get_default_dtype()
        elif isinstance(leaf, complex):
            d = _dtypes.default_complex_dtype()
        else:
            return None
        result = d if result is None else _dtypes.promote_types(result, d)
    return result


def _first_leaf(data):
    while isinstance(data, (list, tuple)) and data:
        data = data[0]
    return data


def _to_host_array(data, dtype):
    if isinstance(data, Tensor):
        data = data.detach()._host()
    elif isinstance(data, (list, tuple)) and _holds_tensors(data):
        data = _nested_tensors_to_host(data)
        if dtype is None:
            dtype = _leaf_dtypes(data)
    elif dtype is None and isinstance(data, (list, tuple)) and isinstance(_first_leaf(data), (np.generic, np.ndarray)):
        dtype = _leaf_dtypes(data)
    if dtype is None:
        dtype, arr = _infer_dtype(data)
    else:
        dtype = _dtypes.to_dtype(dtype)
        arr = _nested_array(data)
        if not isinstance(data, np.ndarray):   # Python numbers are checked one by one, as PyTorch
            if arr.dtype.kind == "c" and not dtype.is_complex:   # (NumPy would drop the imaginary parts)
                raise TypeError(f"tensor(): must be real number, not complex: the data holds complex numbers and "
                                f"dtype is {dtype}; pass a complex dtype or take .real first")
            if arr.dtype.kind in "uO" and dtype.category == _dtypes._INT:
                check_int64("tensor", _flat(data) if isinstance(data, (list, tuple)) else (data,))
            elif arr.dtype.kind == "O" and _b.all(isinstance(v, (int, float)) for v in (
                    _flat(data) if isinstance(data, (list, tuple)) else (data,))):
                arr = np.asarray(data, dtype=np.float64)   # ints beyond 64 bits, for a float or bool dtype
            check_values_fit("tensor", arr, dtype)
    if arr.dtype.kind == "O":
        raise TypeError(f"tensor(): could not convert {type(data).__name__} to a tensor "
                        "(ragged nested sequences are not supported)")
    arr = _dtypes.host_cast(arr, dtype.numpy)   # (astype, but float8_e4m3fn saturates, as PyTorch's)
    # np.ascontiguousarray would turn a 0-d array into a 1-d one
    return dtype, arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)


def _holds_tensors(data) -> bool:
    """Whether a nested list holds Tensors; plain numbers are the common case, so a list whose
    first leaf is a number is checked in C (NumPy finds an object array if Tensors hide later)."""
    first = data
    while isinstance(first, (list, tuple)) and first:
        first = first[0]
    if isinstance(first, Tensor):
        return True
    if isinstance(first, (int, float, bool)):
        try:
            return np.asarray(data).dtype.kind == "O" and _b.any(isinstance(x, Tensor) for x in _flat(data))
        except ValueError:   # ragged: let the general path report it
            return False
    return _b.any(isinstance(x, Tensor) for x in _flat(data))


def _flat(x):
    for a in x:
        if isinstance(a, (list, tuple)):
            yield from _flat(a)
        else:
            yield a


def _nested_tensors_to_host(data):
    if isinstance(data, Tensor):
        # a tensor inside a sequence is one number, as in PyTorch (tensor([t1, t2]) of
        # one-element tensors has shape [2]); several values would be silently nested
        if data.numel() != 1:
            raise ValueError(f"tensor(): only one element tensors can be converted to Python scalars, but the "
                             f"data holds a tensor of shape {list(data.shape)}; use plugtorch.stack(tensors) "
                             "to put tensors together")
        return data.detach()._host().reshape(())
    if isinstance(data, (list, tuple)):
        return [_nested_tensors_to_host(x) for x in data]
    return data


@public("_to_device")
def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor holding a copy of ``data`` (nested lists, numbers, NumPy arrays, tensors).

    >>> plugtorch.tensor([[1, 2], [3, 4]]).dtype
    plugtorch.int64
    """
    if isinstance(data, Tensor) and data.is_meta:   # no values to copy: a meta tensor of its shape, as PyTorch
        out = data.detach().to(dtype=dtype, copy=True).to(device if device is not None else "meta")
        return out.requires_grad_() if requires_grad else out
    dtype, arr = _to_host_array(data, dtype)
    if arr is data or (isinstance(data, np.ndarray) and np.shares_memory(arr, data)):
        arr = arr.copy()
    out = _from_host(arr, dtype, device, data if isinstance(data, np.ndarray) else None)
    if requires_grad:
        out.requires_grad_()
    return out


def _tell_tracer(cpu_t, src=None):
    if _dispatcher._modes:
        rec = _dispatcher._stack.recorder
        if rec is not None:   # plugtorch.jit: a tensor made in the traced call, not before it
            rec.made_from_host(cpu_t, src)
    return cpu_t


def _from_host(arr, dtype, device, src=None):
    cpu_t = _tell_tracer(Tensor._wrap(arr, dtype, canonical("cpu")), src)
    dev = canonical(device)
    if dev.type == "cpu":
        return cpu_t
    return dispatch(OPS["_to_device"], cpu_t, dev)


@public("_to_device")
def as_tensor(data, dtype=None, device=None):
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    if isinstance(data, np.ndarray) and canonical(device).type == "cpu":
        try:
            t = from_numpy(data)
            return t if dtype is None else t.to(dtype=dtype)
        except TypeError:
            pass
    return tensor(data, dtype=dtype, device=device)


@public("_to_device")
def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False):
    """``obj`` as a tensor, sharing its memory where it can (a tensor of the same dtype and device,
    a NumPy array, a DLPack producer or a buffer on cpu). ``copy=True`` always copies;
    ``copy=False`` refuses to copy (ValueError where sharing is impossible).

    >>> import numpy as np
    >>> a = np.zeros(2)
    >>> plugtorch.asarray(a, copy=False).add_(1) is not None, a.tolist()
    (True, [1.0, 1.0])
    """
    dt = None if dtype is None else _dtypes.to_dtype(dtype)
    t, why = (None, None) if copy else _alias(obj, dt, device)
    if t is None:
        if copy is False:
            raise ValueError(f"asarray(): can't alias {why} (copy=False); pass copy=None to copy only where "
                             "needed, or copy=True")
        if isinstance(obj, Tensor):
            t = obj.to(device=device, dtype=dt, copy=True)
            if not requires_grad:
                t = t.detach()
        elif hasattr(obj, "__dlpack__") and not isinstance(obj, np.ndarray):
            t = from_dlpack(obj, copy=True).to(device=device, dtype=dt)
        else:
            t = tensor(obj, dtype=dt, device=device)
    if requires_grad and not t.requires_grad:
        t = (t.detach() if t is obj else t).requires_grad_()
    elif not requires_grad and t.requires_grad:
        t = t.detach()
    return t


def _alias(obj, dt, device):
    """``obj`` as a tensor sharing its memory, or (None, why not)."""
    if isinstance(obj, Tensor):
        if dt is not None and dt is not obj.dtype:
            return None, f"tensor with dtype {obj.dtype} into dtype {dt}"
        if device is not None and canonical(device) != obj.device:
            return None, f"tensor from device {obj.device} to {canonical(device)}"
        return obj, None
    if device is not None and canonical(device).type != "cpu":
        return None, f"{type(obj).__name__} (host memory) into a tensor on {canonical(device)}"
    if isinstance(obj, np.ndarray):
        try:
            t = from_numpy(obj)   # (a negative stride raises, as PyTorch)
        except TypeError:
            return None, f"NumPy array of dtype {obj.dtype}, which plugtorch has no dtype for,"
        if dt is not None and dt is not t.dtype:
            return None, f"NumPy array with dtype {t.dtype} into dtype {dt}"
        return t, None
    if hasattr(obj, "__dlpack__"):
        t = from_dlpack(obj)
        if dt is not None and dt is not t.dtype:
            return None, f"{type(obj).__name__} with dtype {t.dtype} into dtype {dt}"
        return t, None
    if isinstance(obj, (bytes, bytearray, memoryview)) or type(obj).__name__ == "array":
        want = dt or _dtypes.get_default_dtype()
        nbytes = memoryview(obj).nbytes
        if nbytes % want.itemsize:
            raise ValueError(f"asarray(): buffer length ({nbytes} bytes) must be a multiple of the element size "
                             f"({want.itemsize}) of {want}")
        return from_numpy(np.frombuffer(obj, dtype=want.numpy)), None
    return None, f"arbitrary sequence ({type(obj).__name__}) into a tensor"


@public("_to_device")
def from_numpy(ndarray):
    """A cpu tensor sharing memory with ``ndarray``."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy(): expected np.ndarray (got {type(ndarray).__name__})")
    dt = _dtypes.from_numpy_dtype(ndarray.dtype)
    if _b.any(s < 0 for s in ndarray.strides):
        raise ValueError("from_numpy(): At least one stride in the given numpy array is negative; "
                         "copy it first (array.copy())")
    return _tell_tracer(Tensor._wrap(ndarray, dt, canonical("cpu")))


@public("_to_device")
def from_dlpack(ext, *, device=None, copy=None):
    """A tensor from any DLPack producer (NumPy, CuPy, plugtorch ...), sharing its memory where
    it can. ``device=`` asks for another device (through the host where needed), ``copy=True``
    for a copy, ``copy=False`` refuses to copy (BufferError when one is needed).

    >>> import numpy as np
    >>> plugtorch.from_dlpack(np.arange(3)).tolist()
    [0, 1, 2]
    """
    target = None if device is None else canonical(device)
    if isinstance(ext, Tensor):   # our own tensors need no capsule
        src = ext.detach()
        if target is None or target is src.device:
            return src.clone() if copy else src
        if copy is False:
            raise BufferError(f"from_dlpack(): moving a tensor from {src.device} to {target} needs a copy, "
                              "but copy=False was given")
        return src.to(target)
    dev_type, dev_id = ext.__dlpack_device__()
    if dev_type == 2 and (target is None or target.type == "cuda"):  # kDLCUDA
        from plugtorch.backends import get_backend
        native = get_backend("cuda").from_dlpack(ext)
        t = Tensor._wrap(native, _dtypes.from_numpy_dtype(native.dtype), canonical(f"cuda:{dev_id}"))
        if copy and (target is None or target is t.device):
            t = t.clone()
        return _moved(t, target, copy)
    if dev_type != 1 and target is None:   # kDLCPU
        raise RuntimeError(f"from_dlpack(): unsupported DLPack device type {dev_type}: plugtorch imports host "
                           "(1) and CUDA (2) memory; pass device='cpu' to ask the producer for a host copy")
    if dev_type == 1 and copy is None:
        arr = np.from_dlpack(ext)
    else:   # NumPy negotiates the host copy (dl_device=) or the copy= request with the producer
        arr = np.from_dlpack(ext, device="cpu", copy=copy)
    return _moved(from_numpy(arr), target, copy)


def _moved(t, target, copy):
    if target is None or target is t.device:
        return t
    if copy is False:
        raise BufferError(f"from_dlpack(): moving a tensor from {t.device} to {target} needs a copy, "
                          "but copy=False was given")
    return t.to(target)


def _size_arg(op, size, kw=None):
    """A factory's size from ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])``, a Size or ``f(size=(2, 3))``."""
    if kw is not None:
        if size:
            raise TypeError(f"{op}(): got the size both positionally {size} and as size={kw!r}")
        size = (kw,) if isinstance(kw, (list, tuple)) else (kw,)
    if not size:
        raise TypeError(f"{op}(): missing the required argument 'size' (e.g. {op}(2, 3) or {op}((2, 3)))")
    return M.as_shape(op, size)


def _factory(name, fill):
    def f(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False,
          **kw):
        if out is not None:
            return _out.call(name, f, size, dict(kw, dtype=dtype, layout=layout, device=device,
                                                  requires_grad=requires_grad), out, True)
        shape = _size_arg(name, size, _size_kw(name, kw))
        dt = _dtypes.to_dtype(dtype) if dtype is not None else _dtypes.get_default_dtype()
        M.check_storage_size(name, shape, dt.itemsize)
        t = dispatch(OPS["full"], shape, fill, dtype=dt, device=device)
        return t.requires_grad_() if requires_grad else t
    f.__name__ = name
    PUBLIC_TO_OP[name] = "full"
    return f


def _size_kw(op, kw):
    """The ``size=`` keyword of a factory that takes its size as ``*size`` (None when absent)."""
    if not kw:
        return None
    size = kw.pop("size", None)
    if kw:
        raise TypeError(f"{op}() got an unexpected keyword argument '{next(iter(kw))}'")
    return size


zeros = _factory("zeros", 0)
ones = _factory("ones", 1)


@public("empty")
def empty(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False,
          memory_format=None, **kw):
    if out is not None:
        return _out.call("empty", empty, size, dict(kw, dtype=dtype, layout=layout, device=device,
                                                    requires_grad=requires_grad, memory_format=memory_format), out, True)
    size = _size_arg("empty", size, _size_kw("empty", kw))
    if memory_format is None or memory_format is MF.contiguous_format:
        t = dispatch(OPS["empty"], size, dtype=dtype, device=device)
    else:
        t = _empty_in_format(size, memory_format, dtype, device)
    return t.requires_grad_() if requires_grad else t


def _empty_in_format(size, memory_format, dtype, device):
    # empty(..., memory_format=plugtorch.channels_last): a permuted view of an NHWC-shaped empty tensor
    MF.check("empty", memory_format)
    if memory_format is MF.preserve_format:
        raise RuntimeError("empty(): unsupported memory format preserve_format (there is no tensor to "
                           "preserve the layout of); pass contiguous_format or channels_last(_3d), or use empty_like")
    shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)
    MF.check_rank(memory_format, len(shape))
    return MF.make(lambda s: dispatch(OPS["empty"], s, dtype=dtype, device=device), shape, memory_format)


@public("clone")
def clone(input, *, memory_format=None):
    """A copy of ``input``. ``memory_format`` (default ``preserve_format``: the copy keeps the input's
    order of dims in memory, densely: a channels_last or transposed input's copy is channels_last or
    transposed too, as in PyTorch) asks for a layout.

    >>> plugtorch.ones(1, 2, 2, 3).contiguous(memory_format=plugtorch.channels_last).clone().stride()
    (12, 1, 6, 2)
    >>> plugtorch.ones(2, 3).t().clone().stride()
    (1, 3)
    """
    if isinstance(input, Tensor) and (memory_format is not None or not input.is_contiguous()):
        fmt = MF.target(input, MF.check("clone", memory_format))
        if fmt is not MF.contiguous_format:
            return MF.copy_as(input, fmt, ops.clone)
    return dispatch(_CLONE, input)


_CLONE = OPS["clone"]


@public("full")
def full(size, fill_value, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    if out is not None:
        return _out.call("full", full, (size, fill_value), dict(dtype=dtype, layout=layout, device=device,
                                                                requires_grad=requires_grad), out, True)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    t = dispatch(OPS["full"], size, fill_value, dtype=dtype, device=device)
    return t.requires_grad_() if requires_grad else t


def _check_input(op, input):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")


def _like_shape(op, input, memory_format, maker):
    """``maker(shape)`` for ``input``'s shape in the layout ``memory_format`` asks for (default
    ``preserve_format``: a channels_last input gives a channels_last result, as in PyTorch)."""
    fmt = (MF.contiguous_format if memory_format is None and input.is_contiguous()
           else MF.target(input, MF.check(op, memory_format)))
    return MF.make(maker, tuple(input._data.shape), fmt)


def _like(name, maker):
    def f(input, *args, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None, **kw):
        _check_input(name + "_like", input)
        if "fill_value" in kw and name == "full" and not args:   # full_like(x, fill_value=2)
            args = (kw.pop("fill_value"),)
        if kw:
            raise TypeError(f"{name}_like() got an unexpected keyword argument '{next(iter(kw))}'")
        t = _like_shape(name + "_like", input, memory_format,
                        lambda s: maker(s, *args, dtype=dtype or input.dtype, device=device or input.device))
        return t.requires_grad_() if requires_grad else t
    f.__name__ = name + "_like"
    return f


zeros_like = public("full")(_like("zeros", lambda s, **k: zeros(s, **k)))
ones_like = public("full")(_like("ones", lambda s, **k: ones(s, **k)))
empty_like = public("empty")(_like("empty", lambda s, **k: empty(s, **k)))
full_like = public("full")(_like("full", lambda s, v, **k: full(s, v, **k)))
for _n in ("zeros_like", "ones_like", "empty_like", "full_like"):
    PUBLIC_TO_OP[_n] = "empty" if _n == "empty_like" else "full"


@public("arange")
def arange(start=None, end=None, step=1, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """Values from ``start`` (default 0) up to but not including ``end``, ``step`` apart."""
    if out is not None:
        return _out.call("arange", arange, (start, end, step), dict(dtype=dtype, layout=layout, device=device,
                                                                    requires_grad=requires_grad), out, True)
    if end is None:
        if start is None:
            raise TypeError("arange(): missing the required argument 'end' (e.g. arange(5) or arange(0, 5))")
        start, end = 0, start
    elif start is None:   # arange(end=5)
        start = 0
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    t = dispatch(OPS["arange"], *vals, dtype=dtype, device=device)
    return t.requires_grad_() if requires_grad else t


@public("linspace")
def linspace(start, end, steps, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    if out is not None:
        return _out.call("linspace", linspace, (start, end, steps), dict(dtype=dtype, layout=layout, device=device,
                                                                         requires_grad=requires_grad), out, True)
    return dispatch(OPS["linspace"], start, end, steps, dtype=dtype, device=device, requires_grad=requires_grad)


@public("eye")
def eye(n, m=None, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    if out is not None:
        return _out.call("eye", eye, (n, m), dict(dtype=dtype, layout=layout, device=device,
                                                  requires_grad=requires_grad), out, True)
    return dispatch(OPS["eye"], n, m, dtype=dtype, device=device, requires_grad=requires_grad)


# ---- random -------------------------------------------------------------------------------
def _random_factory(name, fill):
    def f(*size, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False,
          **kw):
        if out is not None:
            return _out.call(name, f, size, dict(kw, generator=generator, dtype=dtype, layout=layout, device=device,
                                                  requires_grad=requires_grad), out, True)
        shape = _size_arg(name, size, _size_kw(name, kw))
        dt = _dtypes.to_dtype(dtype) if dtype is not None else _dtypes.get_default_dtype()
        if not (dt.is_floating_point or dt.is_complex):   # complex: both parts drawn, as PyTorch
            raise M.not_implemented_for(name, dt, "expected a floating-point or complex dtype")
        t = empty(shape, dtype=dt, device=device)
        dispatch(OPS[fill], t, generator=generator)
        return t.requires_grad_() if requires_grad else t
    f.__name__ = name
    f.__doc__ = _RANDOM_DOCS[name]
    PUBLIC_TO_OP[name] = fill
    return f


_RANDOM_DOCS = {
    "rand": """Uniform draws from [0, 1); for a complex dtype both parts are drawn from [0, 1).

    >>> plugtorch.rand(2, 3, dtype=plugtorch.complex64).shape
    plugtorch.Size([2, 3])
    """,
    "randn": """Standard normal draws; for a complex dtype each part has variance 1/2 (E|z|^2 = 1), as PyTorch.

    >>> plugtorch.randn(2, 3).shape
    plugtorch.Size([2, 3])
    """,
}


rand = _random_factory("rand", "uniform_")
randn = _random_factory("randn", "normal_")


@public("random_")
def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """Integers in [low, high): ``randint(10, (3,))`` or ``randint(2, 10, (3,))``."""
    if size is None:
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing its size argument: randint(high, size) or randint(low, high, size), "
                        "e.g. randint(10, (3,))")
    check_int64("randint", (low, high))
    t = empty(tuple(size), dtype=dtype or _dtypes.int64, device=device)
    t = dispatch(OPS["random_"], t, low, high, generator=generator)
    return t.requires_grad_() if requires_grad else t


def rand_like(input, *, dtype=None, device=None, requires_grad=False, generator=None, memory_format=None):
    _check_input("rand_like", input)
    t = _like_shape("rand_like", input, memory_format, lambda s: rand(
        s, dtype=dtype or input.dtype, device=device or input.device, generator=generator))
    return t.requires_grad_() if requires_grad else t


def randn_like(input, *, dtype=None, device=None, requires_grad=False, generator=None, memory_format=None):
    _check_input("randn_like", input)
    t = _like_shape("randn_like", input, memory_format, lambda s: randn(
        s, dtype=dtype or input.dtype, device=device or input.device, generator=generator))
    return t.requires_grad_() if requires_grad else t


def randint_like(input, low=0, high=None, *, dtype=None, device=None, requires_grad=False, generator=None,
                 memory_format=None):
    _check_input("randint_like", input)
    t = _like_shape("randint_like", input, memory_format, lambda s: randint(
        low, high, s, dtype=dtype or input.dtype, device=device or input.device, generator=generator))
    return t.requires_grad_() if requires_grad else t


PUBLIC_TO_OP.update(rand_like="uniform_", randn_like="normal_", randint_like="random_")


@public("normal_")
def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    if isinstance(std, Tensor):
        if std.numel() and bool(((std < 0) | std.isnan()).any()):
            raise RuntimeError("normal(): expects all elements of std >= 0.0 (found a negative or nan one)")
    elif not std >= 0:   # nan too
        raise RuntimeError(f"normal(): expects std >= 0.0, but found std {std}")
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        if size is not None:   # the tensors' broadcast shape is the result's: a size would be ignored
            raise TypeError(f"normal(): size={tuple(size)} is only taken with a float mean and a float std; "
                            "with a tensor mean or std the result has their broadcast shape")
        ref = mean if isinstance(mean, Tensor) else std
        shape = M.broadcast_shapes(tuple(getattr(mean, "shape", ())), tuple(getattr(std, "shape", ())), op="normal")
        z = randn(shape, dtype=ref.dtype, device=ref.device, generator=generator)
        # a draw, not a reparameterisation: no gradient reaches mean or std through it, as in
        # PyTorch (code that scores its own samples, REINFORCE's log_prob(normal(mu, s)), relies on
        # it; distributions' rsample is the differentiable draw)
        return z * (std.detach() if isinstance(std, Tensor) else std) + (
            mean.detach() if isinstance(mean, Tensor) else mean)
    if size is None:
        raise TypeError("normal(): with a float mean and a float std, pass the result's size "
                        "(normal(0.0, 1.0, (2, 3))) or make mean or std a tensor")
    out = randn(tuple(size), dtype=dtype, device=device, generator=generator) * std + mean
    return out.requires_grad_() if requires_grad else out


# ---- shape helpers with PyTorch names -----------------------------------------------------
@public("cat")
def cat(tensors, dim=0, *, out=None):
    """Concatenate along an existing dim.

    >>> plugtorch.cat([plugtorch.zeros(1), plugtorch.ones(2)]).tolist()
    [0.0, 1.0, 1.0]
    """
    if out is not None:
        return _out.write("cat", cat(tensors, dim), out)
    tensors = list(tensors) if isinstance(tensors, tuple) else tensors
    if dim.__class__ is int and -4 <= dim < 4 and MF.all_channels_last(tensors, dim):
        # channels_last in, channels_last out (as torch): concatenate the NHWC views, then view back
        return dispatch(OPS["cat"], [t.permute(0, 2, 3, 1) for t in tensors], _NHWC_DIM[dim]).permute(0, 3, 1, 2)
    return dispatch(OPS["cat"], tensors, dim)


_NHWC_DIM = {0: 0, 1: 3, 2: 1, 3: 2, -4: 0, -3: 3, -2: 1, -1: 2}   # an NCHW dim's place in the NHWC view
concat = cat


@public("cat")
def concatenate(tensors, axis=0, out=None):
    """``cat`` with NumPy's argument name."""
    return cat(tensors, axis) if out is None else _out.write("concatenate", cat(tensors, axis), out)


@public("permute")
def permute(input, dims):
    return dispatch(OPS["permute"], input, dims if dims.__class__ in (tuple, list) else tuple(dims))


@public("reshape")
def reshape(input, *shape, **kwargs):
    """``reshape(x, (2, 3))``, ``reshape(x, shape=(2, 3))`` (a view when the strides allow)."""
    if kwargs:
        if shape or list(kwargs) != ["shape"]:
            raise TypeError(f"reshape() got an unexpected keyword argument '{next(k for k in kwargs if k != 'shape')}'"
                            if _b.any(k != "shape" for k in kwargs) else "reshape() got 'shape' twice")
        shape = (kwargs["shape"],)
    return dispatch(OPS["reshape"], input, *shape)


@public("index")
def _index_public(input, indices):
    return dispatch(OPS["index"], input, indices)


@public("where")
def where(condition, input=None, other=None):
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    return dispatch(OPS["where"], condition, input, other)


@public("nonzero")
def nonzero(input, *, as_tuple=False):
    if as_tuple and isinstance(input, Tensor) and input.ndim == 0:
        input = input.reshape(1)   # PyTorch: a 0-d input counts as 1-d here, giving one index tensor
    r = dispatch(OPS["nonzero"], input)
    return tuple(r.unbind(1)) if as_tuple else r


argwhere = nonzero


@public("_to_dtype")
def _to_dtype(input, dtype):
    return dispatch(OPS["_to_dtype"], input, dtype)


@public("_to_device")
def _to_device(input, device):
    return dispatch(OPS["_to_device"], input, device)


def _simple(name):
    f = getattr(ops, name)
    PUBLIC_TO_OP[name] = name
    return f


_SIMPLE = [n for n in OPS if not n.startswith("_") and n not in globals() and not n.endswith("_")
           and n not in ("slice", "select", "view", "index", "index_put")]
for _n in _SIMPLE:
    globals()[_n] = _simple(_n)

# PyTorch aliases
absolute = ops.abs
negative = ops.neg
arcsin, arccos, arctan, arctan2 = ops.asin, ops.acos, ops.atan, ops.atan2
clip = ops.clamp
greater, greater_equal, less, less_equal, not_equal = ops.gt, ops.ge, ops.lt, ops.le, ops.ne
select = ops.select


def _mask_indices(input, indices):
    """``indices`` with each bool mask replaced by the index tensors of its true elements, one per
    dim it covers (x.index_put_((mask,), v) writes where the mask is true, as PyTorch)."""
    if not isinstance(indices, (list, tuple)) or not _b.any(
            isinstance(i, Tensor) and (i._dtype is _dtypes.bool or i._dtype is _dtypes.uint8) and i.ndim
            for i in indices):
        return indices
    from plugtorch._indexing import uint8_as_mask
    indices = [uint8_as_mask(i) if isinstance(i, Tensor) and i._dtype is _dtypes.uint8 else i for i in indices]
    out, dim = [], 0
    for i in indices:
        if isinstance(i, Tensor) and i._dtype is _dtypes.bool and i.ndim:
            for j, n in enumerate(i.shape):
                if dim + j >= input.ndim or input.shape[dim + j] != n:
                    raise IndexError(f"The shape of the mask {list(i.shape)} at index {j} does not match the shape "
                                     f"of the indexed tensor {list(input.shape)} at index {dim + j}")
            out.extend(i.nonzero().unbind(1))
            dim += i.ndim
        else:
            out.append(i)
            dim += 1
    return tuple(out)


def _index_put_args(input, indices, values, accumulate):
    """index_put's indices with masks as index tensors, and its values: with one mask as the only
    index tensor, a one-element value is written as masked_fill_ writes a scalar (as PyTorch)."""
    if not accumulate and isinstance(indices, (list, tuple)) and isinstance(values, Tensor):
        given = [i for i in indices if i is not None]
        if len(given) == 1 and isinstance(given[0], Tensor) and given[0].ndim and (
                given[0]._dtype is _dtypes.bool or given[0]._dtype is _dtypes.uint8):
            from plugtorch._indexing import masked_put_value
            values = masked_put_value("index_put", input, values)
    return _mask_indices(input, indices), values


@public("index_put")
def index_put(input, indices, values, accumulate=False):
    """``input`` with ``values`` written (or added, ``accumulate=True``) at ``indices``: a tuple
    of index tensors (integer, or bool masks) or None, one per leading dim.

    >>> plugtorch.index_put(plugtorch.zeros(3), (plugtorch.tensor([True, False, True]),), plugtorch.tensor(1.)).tolist()
    [1.0, 0.0, 1.0]
    """
    return ops.index_put(input, *_index_put_args(input, indices, values, accumulate), accumulate)



@public("transpose")
def swapaxes(input, axis0, axis1):
    """``transpose`` with NumPy's argument names."""
    return dispatch(OPS["transpose"], input, axis0, axis1)


@public("transpose")
def swapdims(input, dim0, dim1):
    return dispatch(OPS["transpose"], input, dim0, dim1)


moveaxis = ops.movedim
fix = ops.trunc


def index_add(input, dim, index, source, *, alpha=1):
    d = check_index_along("index_add", input, dim, index, source)
    if alpha != 1:   # alpha is taken in the input's dtype (2.5 is 2 for an integer tensor), as PyTorch
        if input.dtype is _dtypes.bool:
            source = source & bool(alpha)
        else:
            source = source * (alpha if input.dtype.is_floating_point or input.dtype.is_complex else int(alpha))
    return _index_along(input, d, index, source, True)


def index_copy(input, dim, index, source):
    d = check_index_along("index_copy", input, dim, index, source)
    return _index_along(input, d, index, source, False)


def index_fill(input, dim, index, value):
    d = check_index_along("index_fill", input, dim, index)
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.ndim} dimension(s).")
        value = value.item()
    M.check_scalar("index_fill", value)
    if isinstance(value, _b.complex) and not input.dtype.is_complex:   # (even for bool, unlike fill_)
        raise RuntimeError(f"index_fill_(): Converting complex Scalar to non-complex type is not supported "
                           f"(value {value!r}, input {input.dtype})")
    return _index_along(input, d, index, fit_scalar("index_fill", value, input.dtype), False)


def _index_along(input, d, index, values, accumulate):
    """index_put along dim ``d``: a 0-d input or source is seen as one element."""
    x = input.reshape(1) if input.ndim == 0 else input
    if isinstance(values, Tensor) and values.ndim != x.ndim:
        values = values.reshape(tuple(x.shape[:d]) + (index.numel(),) + tuple(x.shape[d + 1:]))
    out = x.index_put([None] * d + [index.reshape(-1)], values, accumulate=accumulate)
    return out.reshape(()) if input.ndim == 0 else out


PUBLIC_TO_OP.update(index_add="index_put", index_copy="index_put", index_fill="index_put",
                    absolute="abs", negative="neg", arcsin="asin", arccos="acos", arctan="atan",
                    arctan2="atan2", clip="clamp", greater="gt", greater_equal="ge", less="lt",
                    less_equal="le", not_equal="ne", select="select", index_put="index_put",
                    swapaxes="transpose", swapdims="transpose", moveaxis="movedim", fix="trunc",
                    subtract="sub", divide="div", multiply="mul", true_divide="true_divide",
                    concat="cat", concatenate="cat", argwhere="nonzero", asarray="_to_device",
                    normal="normal_", permute="permute")


from plugtorch._ops_compound import *  # noqa: E402,F401,F403  (relu, hstack, addmm, diag ...)
from plugtorch._ops_linalg import *  # noqa: E402,F401,F403  (det, inverse, slogdet, svd ...)
from plugtorch._ops_products import *  # noqa: E402,F401,F403  (vdot, inner, block_diag, combinations ...)
from plugtorch._ops_counting import *  # noqa: E402,F401,F403  (unique_consecutive, histogram, cummax ...)
from plugtorch._ops_indices import *  # noqa: E402,F401,F403  (tril_indices, isin, trapezoid, logspace ...)
from plugtorch._ops_aliases import *  # noqa: E402,F401,F403  (view_copy, unsafe_split, detach, fill_ ...)
from plugtorch._ops_special import *  # noqa: E402,F401,F403  (ldexp, frexp, mvlgamma ...)

def _accepting_numpy_names(fn):
    """Wrap a hand-written public function that has a ``dim``/``keepdim`` argument so that it
    takes ``axis=``/``keepdims=`` too (op functions and methods do it themselves)."""
    def f(*args, **kwargs):
        if kwargs and ("axis" in kwargs or "keepdims" in kwargs):
            kwargs = numpy_names(fn.__name__, kwargs)
        return fn(*args, **kwargs)
    functools.update_wrapper(f, fn)
    return f


for _n, _f in list(globals().items()):
    if (isinstance(_f, types.FunctionType) and not _n.startswith("_") and not hasattr(_f, "_op")
            and _f.__module__ in (__name__, "plugtorch._ops_compound", "plugtorch._ops_counting",
                                                    "plugtorch._ops_indices")):
        _params = inspect.signature(_f).parameters
        if "dim" in _params or "keepdim" in _params:
            globals()[_n] = _accepting_numpy_names(_f)

_out.install(globals(), "")   # out= where torch's function takes it (plugtorch/__init__ adds the later exports)

_PRIVATE = {"MF", "check_index_along", "check_int64", "check_values_fit", "fit_scalar", "annotations", "functools", "inspect", "numpy_names", "types", "np", "canonical", "Tensor", "M", "dispatch", "OPS", "refresh_ops",
            "public", "PUBLIC_TO_OP", "return_types", "ops"}
__all__ = [n for n, v in list(globals().items()) if not n.startswith("_") and n not in _PRIVATE and callable(v)]
