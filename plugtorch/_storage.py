"""Storages: ``Tensor.untyped_storage()``, ``Tensor.storage()``, ``Tensor.set_`` and ``is_set_to``.

A storage is the memory a tensor views. ``UntypedStorage`` holds a 1-D uint8 tensor over the whole
allocation (the backend's ``storage_bytes``: NumPy's base array on cpu, the ``cl.Buffer`` on opencl),
so its byte access, ``fill_`` and ``copy_`` are ordinary ops on that memory, and ``set_`` makes a
tensor of any dtype view it (the backend's ``view_storage``). Tensors set to one storage share its
memory *and* its version counter: a tensor saved for backward and changed through an alias makes
backward raise ("modified by an inplace operation"); PyTorch misses that case. A backend whose views
are copies (the array-API plug-ins) cannot alias, so these methods refuse there with a RuntimeError.

>>> import plugtorch as pt
>>> x = pt.arange(4.)
>>> y = pt.empty(0).set_(x.untyped_storage(), 1, (2,))
>>> _ = y.fill_(7.); x.tolist()
[0.0, 7.0, 7.0, 3.0]
"""
from __future__ import annotations

import warnings

from plugtorch import _dtypes
from plugtorch._tensor import Tensor
from plugtorch.dispatch import dispatcher as _dispatcher

_MISSING = object()


def _bytes_of(t) -> Tensor:
    """A uint8 tensor over the whole memory ``t`` views (its storage)."""
    be = t._backend()
    try:
        native = be.storage_bytes(t._data)
    except NotImplementedError:
        raise RuntimeError(_no_storage(be)) from None
    return Tensor._wrap(native, _dtypes.uint8, t._device)


def _no_storage(be) -> str:
    why = ("keeps its arrays as private copies (its views need not share memory)"
           if getattr(type(be).storage_offset, "unknown", False) else
           "does not implement storages (Backend.storage_bytes and view_storage) yet")
    return (f"untyped_storage(): the '{be.name}' backend {why}, so plugtorch cannot give a storage that aliases "
            "its tensors. Move the tensor to cpu or opencl first (x.cpu()), or implement storage_bytes() and "
            "view_storage() in the backend (docs/backends.md)")


class UntypedStorage:
    """Bytes of memory on a device, as ``torch.UntypedStorage``.

    ``UntypedStorage(n, device=...)`` allocates ``n`` uninitialised bytes, ``UntypedStorage([1, 2])``
    holds those bytes; ``tensor.untyped_storage()`` is the memory a tensor views.

    >>> s = plugtorch.tensor([1, 2], dtype=plugtorch.int16).untyped_storage()
    >>> s.nbytes(), s.tolist()
    (4, [1, 0, 2, 0])
    """

    def __init__(self, *args, device=None):
        import plugtorch as pt
        if len(args) > 1:
            raise TypeError(f"UntypedStorage(): takes a size or a sequence of bytes, got {len(args)} arguments")
        arg = args[0] if args else 0
        if isinstance(arg, int) and not isinstance(arg, bool):
            if arg < 0:
                raise RuntimeError(f"UntypedStorage(): size must be non-negative, got {arg}")
            data = pt.empty(arg, dtype=_dtypes.uint8, device=device)
        else:
            data = pt.tensor([int(v) % 256 for v in arg], dtype=_dtypes.uint8, device=device)
        self._init(data, [0], shared=False)

    def _init(self, data, vc, shared):
        data._vc = vc
        self._bytes = data      # 1-D uint8 over the memory (its writes bump the shared counter)
        self._vc = vc           # the version counter of the tensors viewing this memory
        self._shared = shared   # a tensor views this memory: it cannot be reallocated

    @classmethod
    def _of(cls, data, vc, shared=True):
        s = object.__new__(cls)
        s._init(data, vc, shared)
        return s

    # --- what it is -----------------------------------------------------------------------
    @property
    def device(self):
        return self._bytes._device

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def nbytes(self) -> int:
        return self._bytes.numel()

    def size(self) -> int:
        return self._bytes.numel()

    def __len__(self) -> int:
        return self._bytes.numel()

    def element_size(self) -> int:
        return 1

    def data_ptr(self) -> int:
        """The address of the first byte (on opencl: the buffer's handle plus the byte offset)."""
        return self._bytes._backend().data_ptr(self._bytes._data)

    def untyped(self) -> "UntypedStorage":
        return self

    def is_shared(self) -> bool:
        """Whether this memory is in shared memory (a tensor on it was moved there by ``share_memory_``)."""
        from plugtorch.multiprocessing.reductions import is_shared
        return is_shared(self._bytes)

    def is_pinned(self, device=None) -> bool:
        return False

    def type(self) -> str:
        return "torch.UntypedStorage"

    def __eq__(self, other):   # the same memory (PyTorch gives one object per storage)
        if not isinstance(other, UntypedStorage):
            return NotImplemented
        return (self.device == other.device and self.nbytes() == other.nbytes()
                and self.data_ptr() == other.data_ptr())

    def __hash__(self):
        return hash((str(self.device), self.data_ptr(), self.nbytes()))

    # --- bytes ------------------------------------------------------------------------------
    def _index(self, i):
        return _element_index(i, self.nbytes())

    def __getitem__(self, i):
        if isinstance(i, slice):
            start, stop, step = i.indices(self.nbytes())
            if step != 1:
                raise RuntimeError(f"UntypedStorage.__getitem__: only slices of step 1 are supported, got {step}")
            return UntypedStorage._of(self._bytes[start:max(start, stop)], self._vc)
        return int(self._bytes[self._index(i)].item())

    def __setitem__(self, i, value):
        if not isinstance(i, slice):
            i = self._index(i)
        self._bytes[i] = int(value) % 256   # as PyTorch: a byte wraps around

    def tolist(self) -> list:
        return self._bytes.tolist()

    def __iter__(self):
        return iter(self.tolist())

    def fill_(self, value) -> "UntypedStorage":
        self._bytes.fill_(int(value) % 256)
        return self

    def copy_(self, src, non_blocking=None) -> "UntypedStorage":
        """Copy the bytes of ``src`` (a storage of as many bytes, on any device) into this one."""
        src = _untyped(src, "copy_")
        if src.nbytes() != self.nbytes():
            raise RuntimeError(f"size does not match, self was {self.nbytes()} bytes but src was {src.nbytes()} "
                               "bytes")
        self._bytes.copy_(src._bytes)
        return self

    def clone(self) -> "UntypedStorage":
        return UntypedStorage._of(self._bytes.clone(), [0], shared=False)

    def to(self, device=None, non_blocking=False) -> "UntypedStorage":
        from plugtorch._device import device as _device
        if device is None or _device(device) == self.device:
            return self
        return UntypedStorage._of(self._bytes.to(device), [0], shared=False)

    def cpu(self) -> "UntypedStorage":
        return self.to("cpu")

    def resize_(self, size) -> "UntypedStorage":
        """Grow or shrink a storage no tensor views (the first bytes are kept); a tensor's
        storage cannot be reallocated here, since its arrays hold the old memory."""
        import plugtorch as pt
        if size < 0:
            raise RuntimeError(f"resize_(): size must be non-negative, got {size}")
        if self._shared:
            raise RuntimeError(f"resize_(): this storage ({self.nbytes()} bytes on {self.device}) is viewed by "
                               "tensors, and plugtorch cannot reallocate memory that their arrays hold; resize a "
                               "storage of your own (UntypedStorage(n)) or the tensor (Tensor.resize_)")
        old = self._bytes
        new = pt.empty(size, dtype=_dtypes.uint8, device=old.device)
        k = min(size, old.numel())
        new[:k] = old[:k]
        new._vc = self._vc
        self._bytes = new
        return self

    def __repr__(self):
        body = "".join(f" {v}\n" for v in self.tolist())
        return f"{body}[plugtorch.UntypedStorage(device={self.device}) of size {self.nbytes()}]"


# --- TypedStorage (deprecated in PyTorch, kept for old code) ------------------------------------
_TYPED_WARNED = False
_TYPED_MESSAGE = ("TypedStorage is deprecated. It will be removed in the future and UntypedStorage will be the only "
                  "storage class. This should only matter to you if you are using storages directly.  To access "
                  "UntypedStorage directly, use tensor.untyped_storage() instead of tensor.storage()")


def _warn_typed_storage(stacklevel=3):
    global _TYPED_WARNED   # once per process, as PyTorch (every time under set_warn_always(True))
    from plugtorch import _settings
    if _settings.warn_always or not _TYPED_WARNED:
        _TYPED_WARNED = True
        warnings.warn(_TYPED_MESSAGE, UserWarning, stacklevel=stacklevel)


class TypedStorage:
    """A storage seen as elements of ``dtype``: PyTorch's deprecated ``tensor.storage()``.

    >>> s = plugtorch.tensor([1., 2.]).storage()   # (warns once: TypedStorage is deprecated)
    >>> s.dtype, s.size(), s[1]
    (plugtorch.float32, 2, 2.0)
    """

    is_sparse = False

    def __init__(self, *args, dtype=None, device=None, wrap_storage=None, _internal=False):
        if not _internal:
            _warn_typed_storage()
        dtype = getattr(type(self), "_legacy_dtype", None) or dtype or _dtypes.get_default_dtype()
        if wrap_storage is not None:
            if args:
                raise TypeError("TypedStorage(): pass either wrap_storage or a size/sequence, not both")
            if not isinstance(wrap_storage, UntypedStorage):
                raise TypeError(f"TypedStorage(): wrap_storage must be an UntypedStorage, got "
                                f"{type(wrap_storage).__name__}")
            self._untyped_storage, self.dtype = wrap_storage, dtype
            return
        import plugtorch as pt
        arg = args[0] if args else 0
        if len(args) > 1:
            raise TypeError(f"TypedStorage(): takes a size or a sequence, got {len(args)} arguments")
        if isinstance(arg, int) and not isinstance(arg, bool):
            t = pt.empty(arg, dtype=dtype, device=device)
        else:
            t = pt.tensor(list(arg), dtype=dtype, device=device)
        self._untyped_storage, self.dtype = t.untyped_storage(), dtype
        self._untyped_storage._shared = False

    @classmethod
    def _of(cls, untyped, dtype):
        s = object.__new__(TypedStorage)
        s._untyped_storage, s.dtype = untyped, dtype
        return s

    def _elements(self) -> Tensor:
        """The storage as a 1-D tensor of ``dtype`` sharing its memory."""
        u = self._untyped_storage
        n = u.nbytes() // self.dtype.itemsize
        native = u._bytes._backend().view_storage(u._bytes._data, self.dtype, (n,), (1,), 0)
        t = Tensor._wrap(native, self.dtype, u.device)
        t._vc = u._vc
        return t

    @property
    def device(self):
        return self._untyped_storage.device

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def untyped(self) -> UntypedStorage:
        return self._untyped_storage

    def size(self) -> int:
        return self._untyped_storage.nbytes() // self.dtype.itemsize

    def __len__(self) -> int:
        return self.size()

    def nbytes(self) -> int:
        return self._untyped_storage.nbytes()

    def element_size(self) -> int:
        return self.dtype.itemsize

    def data_ptr(self) -> int:
        return self._untyped_storage.data_ptr()

    def is_shared(self) -> bool:
        return self._untyped_storage.is_shared()

    def type(self) -> str:
        from plugtorch._legacy_types import _NAMES
        name = _NAMES.get(self.dtype.name, self.dtype.name.capitalize()) + "Storage"
        return f"torch.{name}" if self.device.type == "cpu" else f"torch.{self.device.type}.{name}"

    def _index(self, i):
        if isinstance(i, slice):
            raise RuntimeError("slices are only supported in UntypedStorage.__getitem__")
        return _element_index(i, self.size())

    def __getitem__(self, i):
        return self._elements()[self._index(i)].item()

    def __setitem__(self, i, value):
        self._elements()[self._index(i)] = value

    def tolist(self) -> list:
        return self._elements().tolist()

    def __iter__(self):
        return iter(self.tolist())

    def fill_(self, value) -> "TypedStorage":
        self._elements().fill_(value)
        return self

    def copy_(self, src, non_blocking=None) -> "TypedStorage":
        if isinstance(src, TypedStorage) and src.dtype is not self.dtype:
            self._elements().copy_(src._elements())   # a value copy with a cast, when the sizes agree
            return self
        self._untyped_storage.copy_(src)
        return self

    def clone(self) -> "TypedStorage":
        return TypedStorage._of(self._untyped_storage.clone(), self.dtype)

    def to(self, device=None, non_blocking=False) -> "TypedStorage":
        u = self._untyped_storage.to(device)
        return self if u is self._untyped_storage else TypedStorage._of(u, self.dtype)

    def cpu(self) -> "TypedStorage":
        return self.to("cpu")

    def resize_(self, size) -> "TypedStorage":
        self._untyped_storage.resize_(size * self.dtype.itemsize)
        return self

    def __eq__(self, other):
        if not isinstance(other, TypedStorage):
            return NotImplemented
        return self.dtype is other.dtype and self._untyped_storage == other._untyped_storage

    def __hash__(self):
        return hash((self.dtype, self._untyped_storage))

    def __repr__(self):
        body = "".join(f" {v}\n" for v in self.tolist())
        return (f"{body}[plugtorch.TypedStorage(dtype={self.dtype}, device={self.device}) of size "
                f"{self.size()}]")


def _element_index(i, n) -> int:
    i = int(i)
    if not -n <= i < n:
        raise IndexError(f"index {i} out of range for storage of size {n}")
    return i + n if i < 0 else i


def _untyped(s, op) -> UntypedStorage:
    if isinstance(s, TypedStorage):
        return s._untyped_storage
    if isinstance(s, UntypedStorage):
        return s
    raise TypeError(f"{op}(): expected an UntypedStorage or TypedStorage, got {type(s).__name__}")


class _LegacyStorageType(type):
    # isinstance(x.storage(), plugtorch.FloatStorage) holds for a float32 cpu storage, as in PyTorch
    def __instancecheck__(cls, obj):
        if type.__instancecheck__(cls, obj):
            return True
        return isinstance(obj, TypedStorage) and obj.dtype is cls._legacy_dtype and obj.device.type == "cpu"


def _legacy_storages() -> dict:
    """``FloatStorage``, ``LongStorage`` ...: TypedStorage of a fixed dtype on cpu."""
    from plugtorch._legacy_types import _NAMES
    out = {}
    for dname, legacy in _NAMES.items():
        dt = getattr(_dtypes, dname)
        out[legacy + "Storage"] = _LegacyStorageType(legacy + "Storage", (TypedStorage,),
                                                     {"_legacy_dtype": dt, "__module__": "plugtorch"})
    return out


# --- Tensor methods -----------------------------------------------------------------------------
def untyped_storage(self) -> UntypedStorage:
    """The memory this tensor views, as bytes: shared with it, its views and tensors ``set_`` to it.

    >>> x = plugtorch.arange(3.)
    >>> x.untyped_storage().nbytes(), x[1:].untyped_storage().data_ptr() == x.data_ptr()
    (12, True)
    """
    if _dispatcher._modes:
        rec = _dispatcher._stack.recorder
        if rec is not None:   # plugtorch.jit: Python reads (or writes) the memory outside the ops: a graph break
            rec.host_read(self, "storage")
    return UntypedStorage._of(_bytes_of(self), self._version_counter())


def storage(self) -> TypedStorage:
    """The memory this tensor views as elements of its dtype (PyTorch's deprecated TypedStorage)."""
    _warn_typed_storage()
    return TypedStorage._of(untyped_storage(self), self._dtype)


def set_(self, source=_MISSING, storage_offset=_MISSING, size=_MISSING, stride=None):
    """Make this tensor view other memory: ``set_()`` an empty storage, ``set_(tensor)`` the memory,
    sizes and strides of ``tensor``, ``set_(storage)`` a whole storage as 1-D, and
    ``set_(source, storage_offset, size, stride=None)`` a strided part of a storage or tensor's
    storage (in elements of this tensor's dtype). Writes through either tensor show in the other.

    >>> x = plugtorch.zeros(4)
    >>> y = plugtorch.empty(0).set_(x, 2, (2,))
    >>> _ = y.fill_(1.); x.tolist()
    [0.0, 0.0, 1.0, 1.0]
    """
    import plugtorch as pt
    from plugtorch.autograd.inplace import check_inplace
    if (storage_offset is _MISSING) != (size is _MISSING) or (stride is not None and size is _MISSING):
        raise TypeError("set_() received an invalid combination of arguments: pass (), (source), or "
                        "(source, storage_offset, size, stride=None) with source a Tensor or a storage")
    _check_settable(self, source)
    check_inplace(self, "set_")
    dtype = self._dtype
    if source is _MISSING:   # a fresh empty storage
        native = _bytes_of(pt.empty(0, dtype=dtype, device=self._device))._data
        storage = UntypedStorage._of(Tensor._wrap(native, _dtypes.uint8, self._device), [self._version + 1])
        return _set_storage(self, storage, 0, (0,), (1,))
    if isinstance(source, Tensor):
        if source._device != self._device:
            raise RuntimeError(f"set_(): the source tensor is on {source._device} but this tensor is on "
                               f"{self._device}; move one of them first (source.to({str(self._device)!r}))")
        if source._dtype is not dtype:
            raise RuntimeError(f"set_(): could not set a tensor of dtype {dtype} to a tensor of dtype {source._dtype}; "
                               f"convert one of them first (source.to({dtype}))")
        if size is _MISSING:
            _bytes_of(source)   # (refuses on a backend without storages, as the other forms do)
            _rebind(self, source._data, source._version_counter())
            return self
        storage = untyped_storage(source)
    elif isinstance(source, TypedStorage):
        if source.dtype is not dtype:
            raise RuntimeError(f"set_(): expected a storage of dtype {dtype} or an UntypedStorage, but got a "
                               f"TypedStorage of dtype {source.dtype}; pass source.untyped() to reinterpret its bytes")
        storage = source._untyped_storage
    elif isinstance(source, UntypedStorage):
        storage = source
    else:
        raise TypeError(f"set_(): source must be a Tensor, UntypedStorage or TypedStorage, got {type(source).__name__}")
    if storage.device != self._device:
        raise RuntimeError(f"set_(): the storage is on {storage.device} but this tensor is on {self._device}; move "
                           f"one of them first (storage.to({str(self._device)!r}))")
    if size is _MISSING:
        return _set_storage(self, storage, 0, (storage.nbytes() // dtype.itemsize,), (1,))
    return _set_storage(self, storage, storage_offset, size, stride)


def _refuse_in_trace(op):
    if _dispatcher._modes and _dispatcher._stack.recorder is not None:
        raise RuntimeError(f"{op}: plugtorch.jit cannot trace it, as it aliases a tensor's memory outside the op "
                           "registry; call it outside the traced function")


def _check_settable(self, source):
    _refuse_in_trace("set_()")
    if _dispatcher.grad_state.enabled:
        if isinstance(source, Tensor) and source._rg:
            raise RuntimeError("set_(): the source requires grad, and autograd does not record set_; call it under "
                               "plugtorch.no_grad() or pass source.detach()")
        if self.grad_fn is not None:
            raise RuntimeError(f"set_(): this tensor has autograd history ({self.grad_fn.name()}), which set_ would "
                               "leave pointing at other memory; call it under plugtorch.no_grad() or on .detach()")


def _set_storage(self, storage, offset, size, stride):
    from plugtorch.backends.base import contiguous_strides
    from plugtorch.dispatch.arguments import as_ints
    from plugtorch.dispatch.ops.arrangements import storage_needed
    offset = as_ints("set_", "storage_offset", (offset,))[0]
    size = as_ints("set_", "size", tuple(size) if isinstance(size, (tuple, list)) else (size,))
    stride = contiguous_strides(size) if stride is None else as_ints(
        "set_", "stride", tuple(stride) if isinstance(stride, (tuple, list)) else (stride,))
    if offset < 0:
        raise RuntimeError(f"Tensor: invalid storage offset {offset}")
    if len(size) != len(stride):
        raise RuntimeError(f"unequal size length ({len(size)}) and stride length ({len(stride)})")
    if any(n < 0 for n in size):
        raise RuntimeError(f"Trying to create tensor with negative dimension: {list(size)}")
    if any(s < 0 for s in stride):
        raise RuntimeError(f"set_(): negative strides are not supported, got strides {list(stride)}")
    isz = self._dtype.itemsize
    need = storage_needed(size, stride, offset) * isz
    if need > storage.nbytes():
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset {offset}, and "
                           f"itemsize {isz} requiring a storage size of {need} are out of bounds for storage of size "
                           f"{storage.nbytes()}; plugtorch does not grow a storage that tensors share (PyTorch "
                           "reallocates it): pass a large enough storage")
    data = storage._bytes
    native = data._backend().view_storage(data._data, self._dtype, size, stride, offset)
    storage._shared = True
    _rebind(self, native, storage._vc)
    return self


def _rebind(self, native, vc):
    # the tensor now views other memory: it is no longer a view of its old base, and its old views
    # no longer view it (autograd must not replay them when it is written)
    base = self._base
    if base is not None:
        if base._views is not None:   # (by identity: a WeakSet's discard would compare tensors with ==)
            refs = base._views.data
            for r in [r for r in refs if r() is self]:
                refs.discard(r)
        self._base = None
        self._view_fn = None
        self._untracked_view = False
    self._views = None
    self._data = native
    self._vc = vc
    if len(vc) == 1:
        vc.append(True)   # marks the counter as one of memory that set_ shares (Tensor.resize_ reads it)


def shares_storage(t) -> bool:
    """Whether other tensors were ``set_`` to ``t``'s memory (or ``t`` to theirs)."""
    return t._vc is not None and len(t._vc) > 1


def resize_within_storage(t, shape) -> bool:
    """``t`` made contiguous of ``shape`` from its storage offset, on the same storage, where that fits
    (``Tensor.resize_``: PyTorch keeps the storage then); False where it does not or there is none."""
    from plugtorch.backends.base import contiguous_strides
    be = t._backend()
    try:
        data = be.storage_bytes(t._data)
    except (NotImplementedError, RuntimeError):
        return False
    isz, offset, n = t._dtype.itemsize, t.storage_offset(), 1
    for s in shape:
        n *= s
    if (offset + n) * isz > data.shape[0]:
        return False
    t._data = be.view_storage(data, t._dtype, shape, contiguous_strides(shape), offset)
    return True


def view_dtype(self, dtype):
    """``x.view(dtype)``: the same memory read as ``dtype``, as PyTorch's: with a different element
    size the last dim (stride 1) shrinks or grows by the ratio. The result shares the tensor's
    memory and version counter, and is outside autograd (no grad, no ``_base``), as PyTorch's.

    >>> plugtorch.tensor([1.0]).view(plugtorch.int32).tolist()
    [1065353216]
    """
    _refuse_in_trace("view(dtype)")
    old, new = self._dtype.itemsize, dtype.itemsize
    be = self._backend()
    try:
        data = be.storage_bytes(self._data)
    except NotImplementedError:   # a backend whose views are copies: a copy is all it could give
        if new != old:
            raise RuntimeError(f"view(dtype): viewing {self._dtype} as {dtype} (different element sizes) needs "
                               f"the tensor's storage, and {_no_storage(be)}") from None
        from plugtorch._ops_public import tensor
        return tensor(self._host().view(dtype.numpy), device=self._device)
    size, stride, offset = list(self.shape), list(self.stride()), self.storage_offset()
    if new != old:
        what = f"to view {self._dtype} as {dtype} (different element sizes)"
        if not size:
            raise RuntimeError(f"view(dtype): self.dim() cannot be 0 {what}")
        if stride[-1] != 1:
            raise RuntimeError(f"view(dtype): self.stride(-1) must be 1 {what}, but got {stride[-1]}")
        if new > old:
            k = new // old
            if size[-1] % k:
                raise RuntimeError(f"view(dtype): self.size(-1) must be divisible by {k} {what}, but got {size[-1]}")
            for i, st in enumerate(stride[:-1]):
                if st % k:
                    raise RuntimeError(f"view(dtype): self.stride({i}) must be divisible by {k} {what}, but got {st}")
            if offset % k:
                raise RuntimeError(f"view(dtype): self.storage_offset() must be divisible by {k} {what}, but got "
                                   f"{offset}")
            size[-1] //= k
            stride = [st // k for st in stride[:-1]] + [1]
            offset //= k
        else:
            k = old // new
            size[-1] *= k
            stride = [st * k for st in stride[:-1]] + [1]
            offset *= k
    t = Tensor._wrap(be.view_storage(data, dtype, tuple(size), tuple(stride), offset), dtype, self._device)
    t._vc = vc = self._version_counter()
    if len(vc) == 1:
        vc.append(True)   # (another tensor on this memory: see _rebind)
    return t


def is_set_to(self, tensor) -> bool:
    """Whether both tensors view the same memory from the same element with the same sizes and strides.

    >>> x = plugtorch.ones(3)
    >>> plugtorch.empty(0).set_(x).is_set_to(x), x.is_set_to(x.clone())
    (True, False)
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"is_set_to(): argument 'tensor' (position 1) must be Tensor, not {type(tensor).__name__}")
    if self._device != tensor._device or tuple(self.shape) != tuple(tensor.shape) or \
            self.stride() != tensor.stride():
        return False
    if self._data is tensor._data:
        return True
    try:
        a, b = _bytes_of(self), _bytes_of(tensor)
    except RuntimeError:   # a backend without storages: only the same array is the same memory
        return False
    return (a.data_ptr() == b.data_ptr() and a.numel() == b.numel()
            and self.data_ptr() == tensor.data_ptr())


def is_storage(obj) -> bool:
    """Whether ``obj`` is a storage (``UntypedStorage`` or ``TypedStorage``)."""
    return isinstance(obj, (UntypedStorage, TypedStorage))


def install():
    Tensor.untyped_storage = untyped_storage
    Tensor.storage = storage
    Tensor.set_ = set_
    Tensor.is_set_to = is_set_to


