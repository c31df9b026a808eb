"""``Tensor.__getitem__`` / ``__setitem__`` in terms of the view ops and ``index``/``index_put``.

Ints select, slices slice, None unsqueezes (all views); integer tensors, lists and bool masks
become one ``index`` call laid out by NumPy's advanced-indexing rules, as PyTorch does.
"""
from __future__ import annotations

import warnings

import numpy as np

from plugtorch import _dtypes
from plugtorch._tensor import Tensor


def uint8_as_mask(k):
    """A uint8 index tensor is a mask in PyTorch (deprecated there, with this warning), not indices."""
    warnings.warn("indexing with dtype plugtorch.uint8 is now deprecated, please use a dtype plugtorch.bool "
                  "instead.", UserWarning, stacklevel=3)
    return k.bool() if isinstance(k, Tensor) else np.asarray(k).astype(np.bool_)


def masked_put_value(op, x, value):
    """The value that ``x[mask] = value`` or ``x.index_put_((mask,), value)`` (one bool mask, no
    other index tensor, no accumulate) writes. PyTorch writes a one-element cpu value with
    ``masked_fill_(mask, value.item())``: any dtype converts, checked against ``x``'s dtype as
    masked_fill checks a scalar, and any shape of one element fits."""
    if not isinstance(value, Tensor) or value._device.type != "cpu" or value.numel() != 1:
        return value
    if value.ndim:
        value = value.reshape(())
    if value._dtype is not x._dtype:
        if not value.requires_grad:
            from plugtorch.dispatch.arguments import fit_scalar
            fit_scalar(op, value.item(), x._dtype)
        value = value.to(x._dtype)
    return value


INDEX_DTYPES = (_dtypes.int64, _dtypes.int32, _dtypes.uint8, _dtypes.bool)


def _as_index_tensor(k, device):
    import plugtorch as pt
    if isinstance(k, Tensor):
        t = k
    else:
        arr = np.asarray(k)
        if arr.dtype == np.float64 and arr.size == 0:
            arr = arr.astype(np.int64)
        if arr.dtype.kind not in "iub":
            raise IndexError(f"tensors used as indices must be long, int, byte or bool tensors; got {arr.dtype}")
        t = pt.tensor(arr.astype(np.int64) if arr.dtype.kind in "iu" else arr)   # any NumPy ints index, as in PyTorch
    if t._device is not device:
        t = t.to(device)
    if t._dtype not in INDEX_DTYPES:   # (PyTorch refuses int8, int16 and the wider unsigned tensors too)
        raise IndexError(f"tensors used as indices must be long, int, byte or bool tensors, got {t._dtype}; "
                         f"convert the index with .long()")
    return t


def _bool_index(k, device):
    import plugtorch as pt
    return pt.zeros((1 if k else 0,), dtype=_dtypes.int64, device=device)


def _consumed(k):
    if k is None or k is Ellipsis or k is True or k is False:
        return 0
    if isinstance(k, Tensor) and (k._dtype is _dtypes.bool or k._dtype is _dtypes.uint8):
        return max(k.ndim, 1) if k.ndim else 0
    if isinstance(k, (list, np.ndarray)):
        a = np.asarray(k)
        return a.ndim if a.dtype == np.bool_ or (isinstance(k, np.ndarray) and a.dtype == np.uint8) else 1
    return 1


def _basic(x, key, masks=None):
    """Apply ints, slices, None and Ellipsis; return the view and the advanced indices (the dims
    of each bool mask go to ``masks``, when given, as (first dim, mask))."""
    if not isinstance(key, tuple):
        key = (key,)
    used = sum(_consumed(k) for k in key)
    if used > x.ndim:
        if x.ndim == 0 and len(key) == 1 and isinstance(key[0], (int, np.integer, slice)):
            if not isinstance(key[0], slice):
                raise IndexError("invalid index of a 0-dim tensor. Use tensor.item() to convert a 0-dim tensor to a number")
            raise IndexError("slice() cannot be applied to a 0-dim tensor: it has no dimension to slice. Use "
                             "tensor.item() to read its value, or x[None] / x.unsqueeze(0) to make it 1-d")
        raise IndexError(f"too many indices for tensor of dimension {x.ndim} (got {used})")
    out = x
    dim = 0
    real = 0   # the index's position counted in dims, as PyTorch's messages name it
    adv = {}
    for k in key:
        if (isinstance(k, Tensor) and k._dtype is _dtypes.uint8) or (k.__class__ is np.ndarray and k.dtype == np.uint8):
            k = uint8_as_mask(k)
        if isinstance(k, Tensor) and k._dtype is _dtypes.bool and k.ndim == 0:
            k = bool(k.item())   # a 0-d bool tensor indexes as a Python bool does
        if k is None:
            out = out.unsqueeze(dim)
            dim += 1
            real += 1   # (PyTorch counts a new dim too: x[None, 0, -5] names dimension 2)
        elif k is Ellipsis:   # (PyTorch takes several, each as many dims as the first: x[..., 0, ...])
            dim += x.ndim - used
            real += x.ndim - used
        elif isinstance(k, bool):
            # PyTorch: a new dim indexed by [0] (True) or by nothing (False), an advanced index that
            # broadcasts with the others (x[True, True] is x[None, None][[0], [0]]); the result is a copy
            out = out.unsqueeze(dim)
            adv[dim] = _bool_index(k, x.device)
            dim += 1
            real += 1
        elif isinstance(k, (int, np.integer)) or (isinstance(k, Tensor) and k.ndim == 0
                                                  and k._dtype.category == _dtypes._INT):
            i = int(k)
            n = out.shape[dim] if dim < out.ndim else 0   # (past the end after two ellipses: as PyTorch)
            if i < -n or i >= n:
                raise IndexError(f"index {i} is out of bounds for dimension {real} with size {n}")
            out = out.select(dim, i)
            real += 1
        elif isinstance(k, slice):
            step = 1 if k.step is None else int(k.step)
            if step == 0:   # (PyTorch's words for each)
                raise ValueError("slice step cannot be zero")
            if step < 0:
                raise ValueError("step must be greater than zero (negative slice steps are not supported; use flip)")
            out = out.slice(dim, k.start, k.stop, step)
            dim += 1
            real += 1
        elif isinstance(k, (Tensor, list, tuple, np.ndarray, range)):   # (a range is a list of indices)
            t = _as_index_tensor(k, x.device)
            if t._dtype is _dtypes.bool:
                if t.ndim == 0:
                    out = out.unsqueeze(dim)
                    t = t.reshape(1)
                for j in range(t.ndim):
                    if t.shape[j] != out.shape[dim + j]:
                        raise IndexError(f"The shape of the mask {list(t.shape)} at index {j} does not match "
                                         f"the shape of the indexed tensor {list(out.shape)} at index {dim + j}")
                if masks is not None:
                    masks.append((dim, t))
                cols = t.nonzero().unbind(1)
                for j, c in enumerate(cols):
                    adv[dim + j] = c
                dim += t.ndim
                real += t.ndim
            else:
                adv[dim] = t
                dim += 1
                real += 1
        elif isinstance(k, (str, bytes)):   # PyTorch tries a sequence as a tensor of indices: TypeError
            raise TypeError(f"invalid index {k!r}: a {type(k).__name__} is not a valid index (use integers, "
                            "slices, ellipsis, None or integer/bool tensors)")
        else:
            raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                             f"Variables are valid indices (got {type(k).__name__})")
    return out, adv


def _sequence_as_tuple(key):
    """PyTorch's rule (NumPy's before 1.23): a list shorter than 32 holding a tensor, a sequence, a
    slice, None or Ellipsis is a tuple of indices (x[[0, [1, 2]]] is x[0, [1, 2]]); other lists
    are one index."""
    if key.__class__ is list and len(key) < 32 and any(
            isinstance(k, (Tensor, list, tuple, np.ndarray, slice, range)) or k is None or k is Ellipsis for k in key):
        return tuple(key)
    return key


def getitem(x, key):
    import plugtorch as pt
    key = _sequence_as_tuple(key)
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        n = x.shape[0] if x.ndim else None
        if n is None:
            raise IndexError("invalid index of a 0-dim tensor. Use tensor.item() to convert a 0-dim tensor to a number")
        i = int(key)
        if i < -n or i >= n:
            raise IndexError(f"index {i} is out of bounds for dimension 0 with size {n}")
        return x.select(0, i)
    out, adv = _basic(x, key)
    if not adv:
        return out if out is not x else pt.ops.slice(x, 0, None, None, 1) if x.ndim else x.view(())
    last = max(adv)
    return pt.ops.index(out, [adv.get(d) for d in range(last + 1)])


def setitem(x, key, value):
    import plugtorch as pt
    key = _sequence_as_tuple(key)
    if not isinstance(value, Tensor):
        if isinstance(value, (list, tuple, np.ndarray)):
            value = pt.tensor(value, dtype=x.dtype, device=x.device)
        else:   # PyTorch: ints beyond 64 bits are a ValueError; an integer dtype must hold the value
            if isinstance(value, (int, float)):
                from plugtorch.dispatch.arguments import check_int64, check_values_fit
                check_int64("__setitem__", (value,))
                check_values_fit("__setitem__", np.asarray(value), x.dtype)
            elif isinstance(value, complex):   # a real dtype cannot hold it: RuntimeError, as PyTorch
                from plugtorch.dispatch.arguments import fit_scalar
                fit_scalar("__setitem__", value, x.dtype)
                if x.dtype is _dtypes.bool:   # PyTorch: any nonzero complex is True
                    value = bool(value)
            value = pt.tensor(value, dtype=x.dtype, device=x.device)
    elif value._device is not x._device:
        if value.ndim and not (value.numel() == 1 and value._device.type == "cpu"):
            raise RuntimeError(f"__setitem__(): value is on {value.device} but the tensor is on {x.device}; move it first")
    masks = []
    out, adv = _basic(x, key, masks)
    if len(masks) == 1 and len(adv) == masks[0][1].ndim:
        value = masked_put_value("__setitem__", x, value)
    if value.ndim and value.shape[0] == 1:   # PyTorch drops a value's leading 1s (x[:2] = ones(1, 1, 2))
        n = next((i for i, m in enumerate(value.shape) if m != 1), value.ndim)
        value = value.reshape(tuple(value.shape[n:]))
    if value._device is not x._device and value.ndim == 0:
        value = value.to(x.device)
    if not adv:
        out.copy_(value)
        return
    last = max(adv)
    out.index_put_([adv.get(d) for d in range(last + 1)], value)
