"""Movement ops: the view primitives, copies that change layout, and concatenation.

View kernels return a native array that shares memory with their input.
"""
from __future__ import annotations

import warnings

from plugtorch._caches import Memo
from plugtorch.dispatch import arguments as A
from plugtorch.dispatch import meta as M
from plugtorch.dispatch.registry import register_op


def _check_tensor(op, x):
    if not isinstance(x, M.Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(x).__name__}")


def infer_size(op, shape, numel):
    """Resolve one -1 in ``shape`` and check the element count."""
    shape = list(shape)
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError(f"{op}(): only one dimension can be inferred, got shape {tuple(shape)}")
    for s in shape:
        if s < -1:
            raise RuntimeError(f"{op}(): invalid shape dimension {s} in {tuple(shape)}")
    known = 1
    for i, s in enumerate(shape):
        if i not in neg:
            known *= s
    if neg:
        if known == 0 or numel % known:
            raise RuntimeError(f"{op}(): shape '{list(shape)}' is invalid for input of size {numel}")
        shape[neg[0]] = numel // known
    elif known != numel:
        raise RuntimeError(f"{op}(): shape '{list(shape)}' is invalid for input of size {numel}")
    return tuple(shape)


def view_strides(old_shape, old_strides, new_shape):
    """Strides for viewing a tensor as ``new_shape`` without copying, or None (PyTorch's rule)."""
    numel = 1
    for s in old_shape:
        numel *= s
    if numel == 0 or old_shape == tuple(new_shape):
        return True
    if not old_shape or not new_shape:   # 0-d <-> all-ones shapes
        return [1] * len(new_shape)
    new_strides = [0] * len(new_shape)
    view_d = len(new_shape) - 1
    chunk_base_stride = old_strides[-1] if old_strides else 1
    tensor_numel = 1
    view_numel = 1
    for tensor_d in range(len(old_shape) - 1, -1, -1):
        tensor_numel *= old_shape[tensor_d]
        if tensor_d == 0 or (old_shape[tensor_d - 1] != 1 and
                             old_strides[tensor_d - 1] != tensor_numel * chunk_base_stride):
            while view_d >= 0 and (view_numel < tensor_numel or new_shape[view_d] == 1):
                new_strides[view_d] = view_numel * chunk_base_stride
                view_numel *= new_shape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if tensor_d > 0:
                chunk_base_stride = old_strides[tensor_d - 1]
                tensor_numel = 1
                view_numel = 1
    if view_d != -1:
        return None
    return new_strides


def _int_args(args):
    """``args`` (f(2, 3) or f((2, 3))) as a tuple when every entry is an int, else None."""
    if len(args) == 1 and (args[0].__class__ is tuple or args[0].__class__ is list):
        args = tuple(args[0])
    for a in args:
        if a.__class__ is not int:
            return None
    return args


_VIEWS = Memo(4096)   # (input shape, requested shape) -> shape, for views that only add or drop 1s
# (input shape, input strides, requested shape) -> shape, for any other view found valid: its
# verdict depends only on these (reshape asks it too, so a reshape that is a view checks once)
_STRIDED_VIEWS = Memo(4096)


def cached_view_shape(input, req):
    """The shape a view of ``input`` as the int tuple ``req`` was found to have before, or None."""
    shape = input._data.shape
    hit = _VIEWS.get((shape, req))
    if hit is None:
        hit = _STRIDED_VIEWS.get((shape, input.stride(), req))
    return hit


def _missing_sizes(op, name):
    """PyTorch's TypeError for a call with no sizes at all (``x.view()``); ``()`` is a 0-d shape."""
    return TypeError(f'{op}() missing 1 required positional argument: "{name}" (for a 0-d result pass an empty '
                     f"tuple: {op}(x, ()))")


def _view_meta(input, *shape):
    if not shape:
        raise _missing_sizes("view", "size")
    key = None
    if isinstance(input, M.Tensor):   # (a Parameter too: module weights are viewed every forward)
        req = _int_args(shape)
        if req is not None:
            key = (input._data.shape, req)
            hit = _VIEWS.get(key)
            if hit is None:
                hit = _STRIDED_VIEWS.get((key[0], input.stride(), req))
            if hit is not None:
                return input._device, (input._data, hit), input._dtype
    _check_tensor("view", input)
    shape = infer_size("view", M.as_shape("view", shape), input.numel())
    if view_strides(tuple(input.shape), input.stride(), shape) is None:
        raise RuntimeError(
            f"view(): view size {list(shape)} is not compatible with input tensor's size "
            f"{list(input.shape)} and stride {list(input.stride())} (at least one dimension spans "
            "across two contiguous subspaces). Use .reshape(...) instead.")
    # adding or dropping size-1 dims is a view whatever the strides: its verdict can be reused
    if key is not None:
        if [n for n in key[0] if n != 1] == [n for n in shape if n != 1]:
            _VIEWS[key] = shape
        else:
            _STRIDED_VIEWS[(key[0], input.stride(), key[1])] = shape
    return input._device, (input._data, shape), input._dtype


register_op("view", _view_meta, tags=("view",))


_PERMS = Memo(1024)   # (ndim, dims) -> the dims made non-negative, once checked


def _permute_meta(input, *dims):
    if not dims:
        raise _missing_sizes("permute", "dims")
    if input.__class__ is M.Tensor:
        req = _int_args(dims)
        if req is not None:
            hit = _PERMS.get((len(input._data.shape), req))
            if hit is not None:
                return input._device, (input._data, hit), input._dtype
    _check_tensor("permute", input)
    dims = M.as_shape("permute", dims)
    n = input.ndim
    if len(dims) != n:
        raise RuntimeError(f"permute(): number of dims don't match in permute: input has {n} dims "
                           f"(shape {tuple(input.shape)}) but {len(dims)} were given")
    wrapped = tuple(M.wrap_dim("permute", d, n) for d in dims)
    if len(set(wrapped)) != n:
        raise RuntimeError(f"permute(): repeated dim in {tuple(dims)}")
    if all(d.__class__ is int for d in dims):
        _PERMS[(n, dims)] = wrapped
    return input._device, (input._data, wrapped), input._dtype


register_op("permute", _permute_meta, tags=("view",))


def _expand_meta(input, *sizes):
    if not sizes:
        raise _missing_sizes("expand", "size")
    _check_tensor("expand", input)
    sizes = M.as_shape("expand", sizes)
    shape = tuple(input.shape)
    if len(sizes) < len(shape):
        raise RuntimeError(f"expand(): the number of sizes provided ({len(sizes)}) must be greater "
                           f"or equal to the number of dimensions in the tensor ({len(shape)})")
    off = len(sizes) - len(shape)
    out = []
    for i, s in enumerate(sizes):
        if i < off:
            if s < 0:
                raise RuntimeError(f"expand(): the expanded size {s} is not allowed in a leading, non-existing dimension {i}")
            out.append(s)
            continue
        cur = shape[i - off]
        if s == -1:
            s = cur
        elif s < 0:   # NumPy would raise ValueError and a device kernel would write garbage
            raise RuntimeError(f"expand(): the expanded size of the tensor ({s}) is negative at dimension {i}: "
                               f"sizes must be non-negative, or -1 to keep a dimension's size. Target sizes: "
                               f"{list(sizes)}. Tensor sizes: {list(shape)}")
        if cur != s and cur != 1:
            raise RuntimeError(f"expand(): the expanded size of the tensor ({s}) must match the existing "
                               f"size ({cur}) at non-singleton dimension {i}. Target sizes: {list(sizes)}. "
                               f"Tensor sizes: {list(shape)}")
        out.append(s)
    numel = 1
    for s in out:
        numel *= s
    if numel >= 1 << 63:   # PyTorch's numel is a 64-bit integer
        raise RuntimeError(f"expand(): numel: integer multiplication overflow: the expanded shape {list(out)} has "
                           f"{numel} elements, more than a 64-bit size can count")
    return input._device, (input._data, tuple(out)), input._dtype


register_op("expand", _expand_meta, tags=("view",))


def _slice_meta(input, dim=0, start=None, end=None, step=1):
    _check_tensor("slice", input)
    d = M.wrap_dim("slice", dim, input.ndim)
    start = None if start is None else A.as_int("slice", "start", start)
    end = None if end is None else A.as_int("slice", "end", end)
    step = A.as_int("slice", "step", step)
    if step <= 0:
        raise ValueError(f"slice(): step must be greater than zero, got {step} (negative steps are not supported; use flip)")
    n = input.shape[d]
    start, end, _ = slice(start, end, step).indices(n)
    if end < start:
        end = start
    return input._device, (input._data, d, start, end, step), input._dtype


register_op("slice", _slice_meta, tags=("view",))


def _select_meta(input, dim, index):
    _check_tensor("select", input)
    if input.ndim == 0:
        raise IndexError("select(): invalid index of a 0-dim tensor. Use tensor.item() to convert a 0-dim tensor to a number")
    d = M.wrap_dim("select", dim, input.ndim)
    n = input.shape[d]
    index = A.as_int("select", "index", index)
    if index < -n or index >= n:
        raise IndexError(f"select(): index {index} out of range for tensor of size {tuple(input.shape)} at dimension {d}")
    return input._device, (input._data, d, index + n if index < 0 else index), input._dtype


register_op("select", _select_meta, tags=("view",))


def _clone_meta(input, *, memory_format=None):
    _check_tensor("clone", input)
    return input._device, (input._data,), input._dtype


register_op("clone", _clone_meta)


def _flip_meta(input, dims):
    _check_tensor("flip", input)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    wrapped = tuple(sorted(M.wrap_dim("flip", d, input.ndim) for d in dims))
    if len(set(wrapped)) != len(wrapped):
        raise RuntimeError(f"flip(): dims has duplicates: {dims}")
    if input.ndim == 0:
        wrapped = ()   # dim 0 / -1 name the single element of a 0-d tensor
    return input._device, (input._data, wrapped), input._dtype


register_op("flip", _flip_meta, tags=("shape",))


def check_tensor_list(op, tensors):
    for i, t in enumerate(tensors):
        if not isinstance(t, M.Tensor):
            raise TypeError(f"{op}(): expected a list of Tensors, but element {i} is a {type(t).__name__} "
                            "(convert numbers with plugtorch.tensor first)")


def _cat_meta(tensors, dim=0):
    if not isinstance(tensors, (list, tuple)):
        raise TypeError(f"cat(): argument 'tensors' must be a tuple or list of Tensors, not {type(tensors).__name__}")
    if len(tensors) == 0:   # ValueError, as PyTorch (2.x) raises for an empty list
        raise ValueError("cat(): expected a non-empty list of Tensors")
    check_tensor_list("cat", tensors)
    # legacy rule: 1-d empty tensors are skipped
    parts = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)] or [tensors[0]]
    ref = parts[0]
    if ref.ndim == 0:
        raise RuntimeError("cat(): zero-dimensional tensor (at position 0) cannot be concatenated; use stack or unsqueeze first")
    d = M.wrap_dim("cat", dim, ref.ndim)
    dev = parts[0]._device
    for i, t in enumerate(parts):
        if t._device is not dev:
            raise M.device_mismatch("cat", dev, t._device)
        if t.ndim != ref.ndim:
            raise RuntimeError(f"cat(): Tensors must have same number of dimensions: got {ref.ndim} and {t.ndim}")
        for j in range(ref.ndim):
            if j != d and t.shape[j] != ref.shape[j]:
                raise RuntimeError(f"cat(): Sizes of tensors must match except in dimension {d}. Expected "
                                   f"size {ref.shape[j]} but got size {t.shape[j]} for tensor number {i} in the list.")
    from plugtorch import _dtypes
    dt = _dtypes.result_type(*[t._dtype for t in tensors])   # (the skipped empty tensors promote too, as in PyTorch)
    return dev, ([t._data for t in parts], d, dt), dt


register_op("cat", _cat_meta, tags=("shape",))


def _copy_meta(input, src, non_blocking=False):
    _check_tensor("copy_", input)
    if not isinstance(src, M.Tensor):
        raise TypeError(f"copy_(): argument 'src' must be Tensor, not {type(src).__name__}")
    shape = M.broadcast_shapes(tuple(src.shape), tuple(input.shape), op="copy_")
    if shape != tuple(input.shape):
        raise RuntimeError(f"copy_(): source of shape {tuple(src.shape)} can't be broadcast to the "
                           f"destination's shape {tuple(input.shape)}")
    st = input.stride()
    if 0 in st and 0 not in input.shape and any(s == 0 and n > 1 for s, n in zip(st, input.shape)):
        raise RuntimeError("unsupported operation: more than one element of the written-to tensor "
                           "refers to a single memory location. Please clone() the tensor before "
                           "performing the operation.")
    M.check_no_partial_overlap("copy_", input, src)
    if src._dtype.is_complex and not input._dtype.is_complex:
        _warn_complex_to_real()
    if src._device is not input._device:
        src = src.to(input._device)
    return input._device, (input._data, src._data), None


register_op("copy_", _copy_meta, tags=("inplace",))


def _warn_complex_to_real():
    # PyTorch's warning (once per process: the default filter shows a warning once per location)
    warnings.warn("Casting complex values to real discards the imaginary part; take .real (or .abs()) "
                  "first to say which part you want", UserWarning, stacklevel=2)


def _to_dtype_meta(input, dtype):
    from plugtorch import _dtypes
    dtype = _dtypes.to_dtype(dtype)
    if input._dtype.is_complex and not dtype.is_complex:
        _warn_complex_to_real()
    dev = input._device
    if dev.type != "cpu":  # a cast must not create a dtype the device cannot hold
        from plugtorch.dispatch.dispatcher import _resolve_backend
        M.check_dtype("to", dtype, dev, dev._backend or _resolve_backend(dev))
    return dev, (input._data, dtype), dtype


register_op("_to_dtype", _to_dtype_meta)
