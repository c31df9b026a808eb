"""Tensor methods about a tensor's storage, size and sign: ``resize_``, ``resize_as_``,
``data_ptr``, ``new_empty_strided``, ``sum_to_size``, ``is_signed``, ``is_nonzero``,
``is_same_size``, ``retains_grad``, ``dim_order``, ``pin_memory`` (a no-op), ``share_memory_``, the
``is_sparse``-style flags (all False); and ``fill_diagonal_``, ``apply_``/``map_``/``map2_``.
``_methods`` installs them.
"""
from __future__ import annotations

import math

from plugtorch import _dtypes
from plugtorch import _ops_public as P
from plugtorch._tensor import Tensor
from plugtorch.dispatch.arguments import as_ints


def _share_memory_(self):
    """Move the data to shared memory, where processes it is passed to see it (plugtorch.multiprocessing)."""
    from plugtorch.multiprocessing.reductions import share_memory_
    return share_memory_(self)


def _is_shared(self) -> bool:
    from plugtorch.multiprocessing.reductions import is_shared
    return is_shared(self)


def _sizes(op, sizes):
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) or len(sizes) == 1 and type(sizes[0]).__name__ == "Size":
        sizes = tuple(sizes[0])
    return as_ints(op, "size", sizes)


def resize_(self, *sizes, memory_format=None):
    """Give the tensor the shape ``sizes`` in place: the first elements (in memory order) are
    kept, new ones are uninitialised. Where the new size fits in the tensor's storage it stays
    there (tensors ``set_`` to it still alias it); only a tensor owning its memory, with no views,
    may grow past it (plugtorch cannot grow memory that views share).

    >>> x = plugtorch.arange(6.)
    >>> x.resize_(2, 2).tolist()
    [[0.0, 1.0], [2.0, 3.0]]
    """
    shape = _sizes("resize_", sizes)
    if any(s < 0 for s in shape):
        raise RuntimeError(f"Trying to create tensor with negative dimension: {list(shape)}")
    if self.requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    n = math.prod(shape)
    if tuple(self.shape) == shape:
        return self
    views = self._views
    if self._base is not None or (views is not None and len(views)):
        raise RuntimeError(f"resize_(): this tensor shares its memory with views (shape {tuple(self.shape)} -> "
                           f"{shape}); plugtorch resizes only tensors that own their memory alone: resize a "
                           ".clone() instead")
    from plugtorch import _storage
    if _storage.resize_within_storage(self, shape):   # as PyTorch: the storage stays, and its aliases with it
        self._bump_version()
        return self
    if _storage.shares_storage(self):
        raise RuntimeError(f"resize_(): shape {tuple(self.shape)} -> {shape} needs more memory than this tensor's "
                           "storage holds, and tensors set_ to that storage would not see a new allocation "
                           "(PyTorch grows the shared storage); resize a .clone() instead")
    flat = self.reshape(-1)
    new = P.cat([flat, P.empty(max(0, n - flat.numel()), dtype=self.dtype, device=self.device)])[:n]
    self._data = new.reshape(shape)._data
    self._bump_version()
    return self


def resize_as_(self, the_template, memory_format=None):
    """``resize_`` to the shape of ``the_template``."""
    return resize_(self, tuple(the_template.shape))


def data_ptr(self) -> int:
    """The address of the tensor's first element (on a device: the backend's handle plus the
    byte offset), equal for tensors that start at the same element of the same memory."""
    return self._backend().data_ptr(self._data)


def new_empty_strided(self, size, stride, *, dtype=None, device=None, requires_grad=False, **kw):
    """An uninitialised tensor of ``size`` with this tensor's dtype and device (see ``empty_strided``)."""
    from plugtorch._ops_indices import empty_strided
    return empty_strided(size, stride, dtype=dtype or self.dtype, device=device or self.device,
                         requires_grad=requires_grad)


def sum_to_size(self, *size):
    """The sum of the tensor down to ``size``, to which it must be expandable.

    >>> plugtorch.ones(2, 3).sum_to_size(1, 3).tolist()
    [[2.0, 2.0, 2.0]]
    """
    shape = _sizes("sum_to_size", size)
    mine = tuple(self.shape)
    lead = len(mine) - len(shape)
    if lead < 0 or any(s != 1 and s != m for s, m in zip(shape, mine[lead:])):
        raise RuntimeError(f"size {{{list(shape)}}} is not expandable to size {{{list(mine)}}}.")
    dims = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and mine[lead + i] != 1)
    out = self.sum(dims, keepdim=True) if dims else self
    return out.reshape(shape) if lead else out


def is_signed(self) -> bool:
    """Whether the dtype holds negative values (False for bool and uint8)."""
    return self.dtype not in (_dtypes.bool, _dtypes.uint8)


def is_nonzero(self) -> bool:
    """The truth of a one-element tensor (RuntimeError for any other number of elements)."""
    n = self.numel()
    if n == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if n > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(self.reshape(()).item() != 0)


def is_same_size(self, other) -> bool:
    return tuple(self.shape) == tuple(other.shape)


def fill_diagonal_(self, fill_value, wrap=False):
    """Write ``fill_value`` on the main diagonal in place (every dim of equal length, or a matrix;
    ``wrap``: a tall matrix's diagonal starts again after each block of ``cols + 1`` rows).

    >>> plugtorch.zeros(2, 3).fill_diagonal_(1.0).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    if self.ndim < 2:
        raise RuntimeError(f"fill_diagonal_(): dimensions must larger than 1 (got {self.ndim})")
    shape = tuple(self.shape)
    if self.ndim > 2 and len(set(shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    step = sum(math.prod(shape[i + 1:]) for i in range(len(shape)))    # the contiguous strides, summed
    n = min(shape)
    count = n
    if wrap and self.ndim == 2 and shape[0] > shape[1] + 1:
        count = (self.numel() + step - 1) // step
    flat_index = P.arange(count, device=self.device) * step
    flat_index = flat_index[flat_index < self.numel()]
    filled = self.reshape(-1).index_put([flat_index], P.full((), fill_value, dtype=self.dtype, device=self.device))
    return self.copy_(filled.reshape(shape))


def dim_order(self):
    """The dims from the outermost (largest stride) to the innermost in memory.

    >>> plugtorch.ones(2, 3).t().dim_order()
    (1, 0)
    """
    st = self.stride()
    return tuple(sorted(range(self.ndim), key=lambda d: -st[d]))


def _host_elementwise(self, name, fn, *others):
    """``self[i] = fn(self[i], others[i] ...)`` in Python, on a cpu tensor (as PyTorch's apply_/map_)."""
    if self.device.type != "cpu":
        raise TypeError(f"{name}() only works on cpu tensors (got a tensor on {self.device}); move it with .cpu()")
    import numpy as np
    arrays = [self.numpy()] + [P.broadcast_to(o, tuple(self.shape)).numpy() for o in others]
    out = np.array([fn(*vals) for vals in zip(*(a.reshape(-1).tolist() for a in arrays))],
                   dtype=arrays[0].dtype).reshape(arrays[0].shape)
    return self.copy_(P.tensor(out, dtype=self.dtype))


def new(self, *args, **kwargs):
    """The legacy constructor: ``x.new(2, 3)`` an uninitialised tensor of that size, ``x.new(data)``
    a tensor of ``data``, ``x.new()`` an empty one; with ``x``'s dtype and device."""
    kw = {"dtype": kwargs.pop("dtype", None) or self.dtype, "device": kwargs.pop("device", None) or self.device}
    if len(args) == 1 and not isinstance(args[0], int) and type(args[0]).__name__ != "Size":
        return P.tensor(args[0], **kw)
    sizes = _sizes("new", args) if args else (0,)
    return P.empty(sizes, **kw)


def install():
    Tensor.resize_ = resize_
    Tensor.resize_as_ = resize_as_
    Tensor.data_ptr = data_ptr
    Tensor.new_empty_strided = new_empty_strided
    Tensor.sum_to_size = sum_to_size
    Tensor.is_signed = is_signed
    Tensor.is_nonzero = is_nonzero
    Tensor.is_same_size = is_same_size
    Tensor.fill_diagonal_ = fill_diagonal_
    Tensor.dim_order = dim_order
    Tensor.new = new
    Tensor.const_data_ptr = data_ptr
    Tensor.output_nr = property(lambda self: self._out_nr, doc="Which output of its grad_fn this tensor is.")
    Tensor.is_inference = lambda self: False     # no inference tensors: inference_mode is no_grad here
    Tensor.apply_ = lambda self, callable: _host_elementwise(self, "apply_", callable)
    Tensor.map_ = lambda self, tensor, callable: _host_elementwise(self, "map_", callable, tensor)
    Tensor.map2_ = lambda self, x, y, callable: _host_elementwise(self, "map2_", callable, x, y)
    # memory that plugtorch never pins or shares between processes: the tensor stays as it is
    Tensor.pin_memory = lambda self, device=None: self
    Tensor.is_pinned = lambda self, device=None: False
    Tensor.share_memory_ = _share_memory_
    Tensor.is_shared = _is_shared
    Tensor.is_meta = property(lambda self: self._device.type == "meta",
                              doc="Whether the tensor is on the meta device (a shape and dtype, no data).")
    for flag in ("is_sparse", "is_sparse_csr", "is_quantized", "is_nested", "is_mkldnn", "is_mps",
                 "is_xla", "is_xpu", "is_ipu", "is_maia", "is_mtia", "is_vulkan"):
        setattr(Tensor, flag, property(lambda self: False, doc="False: plugtorch tensors are dense and strided."))
    Tensor.retains_grad = property(lambda self: bool(self._retains_grad),
                                   doc="Whether .grad of this non-leaf tensor is kept (see retain_grad()).")
