"""``plugtorch.Tensor``: a backend's native array, its device and dtype, and autograd fields.

Methods that are ops (``x.exp()``, ``x + y``) are attached from the op registry by
``plugtorch/_methods.py``; this file holds what is not an op.
"""
from __future__ import annotations

import numpy as np

from plugtorch import _dtypes
from plugtorch._device import device as _device_cls
from plugtorch.dispatch import dispatcher as _dispatcher


class Size(tuple):
    """A tensor's shape: a tuple, as ``torch.Size`` is."""

    def __repr__(self):
        return f"plugtorch.Size({list(self)})"

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n


class Tensor:
    """A multi-dimensional array on a device, with PyTorch's semantics.

    >>> import plugtorch as pt
    >>> pt.tensor([1., 2.]) * 2
    tensor([2., 4.])
    """

    # Rarely set fields live on the class so a new tensor sets only three attributes.
    _rg = False
    _grad = None
    grad_fn = None
    _base = None
    _vc = None
    _view_fn = None
    _views = None       # WeakSet of live views (on a base), see autograd/inplace.py
    _untracked_view = False   # a view made under no_grad, absent from its base's _views
    _out_nr = 0
    _hooks = None
    _post_acc_hooks = None   # register_post_accumulate_grad_hook's
    _acc = None
    _retains_grad = False
    _is_param = False
    _fw_grad = None     # the tangent inside autograd.forward_ad.dual_level()
    __array_priority__ = 1000

    @staticmethod
    def _wrap(data, dtype, device):
        t = _new(Tensor)
        t._data = data
        t._dtype = dtype
        t._device = device
        return t

    # --- metadata -------------------------------------------------------------------------
    @property
    def dtype(self):
        return self._dtype

    @property
    def device(self):
        return self._device

    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_wrap_dim(dim, self.ndim, "size")]

    @property
    def ndim(self) -> int:
        return len(self._data.shape)

    def dim(self) -> int:
        return len(self._data.shape)

    ndimension = dim

    def numel(self) -> int:
        n = 1
        for s in self._data.shape:
            n *= s
        return n

    nelement = numel

    def element_size(self) -> int:
        return self._dtype.itemsize

    @property
    def itemsize(self) -> int:
        return self._dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self.numel() * self._dtype.itemsize

    def stride(self, dim=None):
        st = self._backend().strides(self._data)
        if dim is None:
            return st
        return st[_wrap_dim(dim, self.ndim, "stride")]

    def storage_offset(self) -> int:
        return self._backend().storage_offset(self._data)

    def is_contiguous(self, memory_format=None) -> bool:
        """Whether the tensor is laid out densely row-major, or in ``memory_format``
        (``plugtorch.channels_last``: NHWC strides)."""
        if memory_format is None:
            from plugtorch.backends.base import is_contiguous
            return is_contiguous(self._data.shape, self.stride())
        from plugtorch import _memory_format as MF
        MF.check("is_contiguous", memory_format)
        return MF.is_contiguous_as(self._data.shape, self.stride(), memory_format)

    @property
    def is_cuda(self) -> bool:
        return self._device.type == "cuda"

    @property
    def is_cpu(self) -> bool:
        return self._device.type == "cpu"

    def is_floating_point(self) -> bool:
        return self._dtype.is_floating_point

    def is_complex(self) -> bool:
        return self._dtype.category == _dtypes._COMPLEX

    def get_device(self) -> int:
        return -1 if self._device.type == "cpu" else self._device.index

    def _backend(self):
        be = self._device._backend
        if be is None:
            from plugtorch.dispatch.dispatcher import _resolve_backend
            be = _resolve_backend(self._device)
        return be

    # --- autograd fields -----------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value):
        value = bool(value)
        if value and not (self._dtype.is_floating_point or self._dtype.is_complex):
            # (a complex leaf may require grad; ops without a verified complex formula refuse it)
            raise RuntimeError(f"only Tensors of floating point and complex dtype can require gradients "
                               f"(got {self._dtype}); convert first, e.g. x.float().requires_grad_()")
        if self.grad_fn is not None and not value:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you "
                               "want to use a computed variable in a subgraph that doesn't require "
                               "differentiation use var_no_grad = var.detach().")
        self._rg = value

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        self.requires_grad = requires_grad
        return self

    @property
    def grad(self):
        if self.grad_fn is not None and not self._retains_grad and self._grad is None:
            import warnings
            warnings.warn("The .grad attribute of a Tensor that is not a leaf Tensor is being "
                          "accessed. Its .grad attribute won't be populated during "
                          "autograd.backward(); call .retain_grad() on it if you want it.",
                          UserWarning, stacklevel=2)
        if _dispatcher._modes:
            rec = _dispatcher._stack.recorder
            if rec is not None:   # plugtorch.jit: Python code branches on the .grad it reads
                rec.grad_event(self, "read")
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got {type(value).__name__}")
            if value is self:
                raise RuntimeError("can't assign Variable as its own grad")
            if value._dtype is not self._dtype:
                raise RuntimeError(f"attempting to assign a gradient with dtype {value._dtype} to a tensor with dtype "
                                   f"{self._dtype}: assigned grad has data of a different type; the gradient must "
                                   f"match the tensor's dtype (convert it with .to({self._dtype}))")
            if value.shape != self.shape:
                raise RuntimeError(f"assigned grad has data of a different size: expected "
                                   f"{list(self.shape)}, got {list(value.shape)}")
            if value._device != self._device:
                raise RuntimeError(f"assigned grad has data located on a different device: "
                                   f"expected {self._device}, got {value._device}")
        if _dispatcher._modes:
            rec = _dispatcher._stack.recorder
            if rec is not None:
                rec.grad_event(self, "set")
        self._grad = value

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def data(self) -> "Tensor":
        # PyTorch's .data: the same memory under a fresh version counter and no base, so writes
        # through it are invisible to autograd's saved-tensor checks (unlike detach())
        return Tensor._wrap(self._data, self._dtype, self._device)

    @data.setter
    def data(self, other: "Tensor"):
        self._data = other._data
        self._dtype = other._dtype
        self._device = other._device

    def detach(self) -> "Tensor":
        """A tensor sharing this one's data (and version counter) with no history."""
        t = Tensor._wrap(self._data, self._dtype, self._device)
        t._vc = self._version_counter()
        t._base = self._base
        return t

    def detach_(self) -> "Tensor":
        # any view refuses, as PyTorch's: its base keeps the history the view shares storage with
        # (a tensor from detach() keeps _base for its storage but has no _view_fn: not a view)
        if self._base is not None and self._view_fn is not None:
            raise RuntimeError(f"Can't detach views in-place (a view of shape {tuple(self.shape)} of a "
                               f"tensor of shape {tuple(self._base.shape)}). Use detach() instead.")
        self.grad_fn = None
        self._rg = False
        return self

    @property
    def _version(self) -> int:
        return self._vc[0] if self._vc is not None else 0

    def _version_counter(self):
        vc = self._vc
        if vc is None:
            vc = self._vc = [0]
        return vc

    def _bump_version(self) -> None:
        vc = self._vc
        if vc is None:
            self._vc = [1]
        else:
            vc[0] += 1

    # --- host transfer --------------------------------------------------------------------
    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The data as a NumPy array; on cpu it shares memory with the tensor."""
        if self._rg and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        on_cpu = self._device.type == "cpu"
        if not on_cpu and not force:
            raise TypeError(f"can't convert {self._device.type} device type tensor to numpy. "
                            "Use Tensor.cpu() to copy the tensor to host memory first.")
        if _dispatcher._modes:
            rec = _dispatcher._stack.recorder
            if rec is not None:   # plugtorch.jit: Python reads a traced value (a graph break), a device's too
                rec.host_read(self, "numpy")
        return self._data if on_cpu else self._backend().to_numpy(self._data)

    def _host(self, why=None) -> np.ndarray:
        if self._device.type == "meta":   # no data to read, as PyTorch's meta tensors
            if why in ("item", "bool", "float", "int", "complex"):
                raise RuntimeError("Tensor.item() cannot be called on meta tensors")
            raise NotImplementedError("Cannot copy out of meta tensor; no data!")
        if _dispatcher._modes:
            rec = _dispatcher._stack.recorder
            if rec is not None:   # plugtorch.jit: Python reads a traced value
                rec.host_read(self, why or "item")
        return self._backend().to_numpy(self._data)

    def __array__(self, dtype=None, copy=None):
        if self._rg:   # np.asarray(t) is t.numpy(), as PyTorch's: it would leave the graph in silence
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                               "instead (np.asarray(t) and np.array(t) call it).")
        a = self._host("numpy")
        return a.astype(dtype) if dtype is not None else a

    def __array_wrap__(self, array, context=None, return_scalar=False):
        """A NumPy function's result on tensors, as a cpu tensor (``np.exp(t)``, ``np.maximum(t, 1)``),
        as PyTorch's (except that a bool result stays bool, where PyTorch gives uint8); an array of a
        dtype plugtorch lacks (uint16, datetime) stays an array."""
        if array.dtype not in _dtypes._BY_NUMPY:
            return array
        # (plugtorch.as_tensor, which plugtorch/__init__ hands the dispatcher: no import upwards)
        return _dispatcher.array_operand(np.ascontiguousarray(array) if array.ndim else array.reshape(()))

    def tolist(self):
        return self._host("tolist").tolist()

    def item(self):
        if self.numel() != 1:
            raise RuntimeError(f"a Tensor with {self.numel()} elements cannot be converted to "
                               "Scalar; use .tolist() for several values")
        n = self._host("item").reshape(()).item()
        if _dispatcher._modes:
            rec = _dispatcher._stack.recorder
            if rec is not None and hasattr(rec, "read_result"):   # plugtorch.jit: a number it may read again
                n = rec.read_result(self, n)
        return n

    def __bool__(self):
        if self.numel() != 1:
            raise RuntimeError(f"Boolean value of Tensor with {'no values' if self.numel() == 0 else 'more than one value'} is ambiguous")
        return bool(self._host("bool").reshape(()).item())

    def _scalar(self, kind):
        # float(t), int(t), complex(t): ValueError for several elements, as PyTorch (item() and
        # bool(t) raise RuntimeError there; each conversion keeps PyTorch's own class)
        if self.numel() != 1:
            raise ValueError(f"only one element tensors can be converted to Python scalars: {kind}() of a "
                             f"tensor with {self.numel()} elements (shape {list(self._data.shape)}); use "
                             ".tolist() for several values")
        v = self._host(kind).reshape(()).item()
        if kind != "complex" and v.__class__ is complex:
            # PyTorch converts a complex value with no imaginary part, and refuses the others
            if v.imag != 0:
                raise RuntimeError(f"{kind}(): value {v} cannot be converted to type "
                                   f"{'double' if kind == 'float' else 'int64_t'} without overflow (its "
                                   "imaginary part is not 0); take .real or .abs() first")
            v = v.real
        return v

    def __float__(self):
        return float(self._scalar("float"))

    def __int__(self):
        return int(self._scalar("int"))

    def __index__(self):
        if (self._dtype.category != _dtypes._INT and self._dtype is not _dtypes.bool) or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __complex__(self):
        return complex(self._scalar("complex"))

    def __len__(self):
        if not self._data.shape:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if not self._data.shape:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __reversed__(self):
        # PyTorch's: the tensor flipped along its first dim (a 0-d tensor is itself)
        return self if not self._data.shape else self.flip(0)

    def __contains__(self, element):
        """``element in t``: whether some element of ``t`` equals ``element`` (a number, or a tensor
        compared by broadcasting, as PyTorch's ``(element == t).any()``)."""
        if isinstance(element, np.generic) and element.dtype.kind in "biufc":
            element = element.item()
        if not isinstance(element, (Tensor, int, float, complex)):
            raise RuntimeError(f"Tensor.__contains__ only supports Tensor or scalar, but you passed in a "
                               f"{type(element)}.")
        return bool((self == element).any().item())

    __hash__ = object.__hash__   # by identity (as PyTorch), computed in C: tensors key optimizer state

    def __reduce__(self):
        raise TypeError("plugtorch tensors are not picklable; use plugtorch.save (safe format) instead")

    def __copy__(self):
        # copy.copy(t): a new tensor object on the same memory with no history (a leaf with t's
        # requires_grad and attributes, no grad), as PyTorch's; tensors are not picklable, so the
        # copy module's __reduce_ex__ route is closed
        out = _new(type(self))
        skip = ("_data", "_vc", "_base", "_acc", "_hooks", "_post_acc_hooks", "grad_fn", "_view_fn", "_grad",
                "_retains_grad", "_views", "_untracked_view", "_out_nr")
        out.__dict__.update({k: v for k, v in self.__dict__.items() if k not in skip})
        out._data, out._dtype, out._device = self._data, self._dtype, self._device
        out._vc = self._version_counter()   # in-place writes through either are seen by both
        out._base = self._base
        out._rg = self._rg
        return out

    def __deepcopy__(self, memo):
        # copy.deepcopy(module) must work (nn.TransformerEncoder clones its layer); leaves only, as in PyTorch
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                               "protocol at the moment; call .detach() first")
        if id(self) not in memo:
            out = _new(type(self))
            skip = ("_data", "_vc", "_base", "_acc", "_hooks", "_post_acc_hooks", "grad_fn", "_view_fn", "_grad",
                    "_retains_grad", "_views", "_untracked_view")
            memo[id(self)] = out
            import copy
            # the tensor's own fields as they are; attributes a user set, deep-copied (PyTorch's too)
            out.__dict__.update({k: v if k in _OWN_FIELDS else copy.deepcopy(v, memo)
                                 for k, v in self.__dict__.items() if k not in skip})
            _deepcopy_data(self, out, memo)
            out._rg = self._rg
            out._grad = None if self._grad is None else self._grad.__deepcopy__(memo)
            memo[id(self)] = out
        return memo[id(self)]

    def __repr__(self):
        from plugtorch._printing import tensor_repr
        return tensor_repr(self)

    __str__ = __repr__

    def __format__(self, spec):
        # a 0-d tensor formats as its Python number, with or without a spec (f"{t}" is "-1.0"), as in
        # PyTorch; its error messages (the distributions' validation ones among them) read that way
        if self.ndim == 0 and self._device.type != "meta":   # (a meta tensor has no number: its repr)
            return self.item().__format__(spec)
        if spec:   # as object.__format__ (PyTorch's too): a spec is for a number
            raise TypeError("unsupported format string passed to Tensor.__format__")
        return repr(self)

    # --- the Python Array API standard and DLPack ------------------------------------------
    def __array_namespace__(self, *, api_version=None):
        """The Array API namespace of tensors: ``plugtorch.array_api``.

        >>> xp = plugtorch.ones(2).__array_namespace__()
        >>> xp.sum(xp.ones(3)).item()
        3.0
        """
        from plugtorch import array_api
        return array_api.namespace(api_version)

    def to_device(self, device, /, *, stream=None) -> "Tensor":
        """A copy of this tensor on ``device`` (itself if it is there): the Array API's ``.to(device)``."""
        if stream is not None:
            raise ValueError(f"to_device(): stream={stream!r} is not supported: plugtorch orders each "
                             "device's work itself; pass stream=None")
        return self.to(device)

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """A DLPack capsule of this tensor (the current protocol: ``max_version``, ``dl_device``,
        ``copy``). Tensors on cpu and cuda are exported as they are; ``dl_device=(1, 0)`` asks
        for a host copy from any device (opencl's buffers have no DLPack consumer)."""
        if self._rg:
            raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")
        here = self.__dlpack_device__()
        if dl_device is not None and tuple(dl_device) != tuple(here):
            if tuple(dl_device) != (_KDLCPU, 0):
                raise BufferError(f"__dlpack__(): cannot export a tensor on {self._device} to DLPack device "
                                  f"{tuple(dl_device)}: only its own device {here} or the host (1, 0) can be asked for")
            if copy is False:
                raise BufferError(f"__dlpack__(): exporting a tensor on {self._device} to the host needs a copy, "
                                  "but copy=False was given; pass copy=None or copy=True")
            return self._host("dlpack").__dlpack__(max_version=max_version)
        kwargs = {k: v for k, v in (("max_version", max_version), ("dl_device", dl_device), ("copy", copy))
                  if v is not None}
        return self._backend().to_dlpack(self._data, stream=stream, **kwargs)

    def __dlpack_device__(self) -> tuple:
        """``(DLPack device type, index)``: ``(1, 0)`` on cpu, ``(2, i)`` on cuda, ``(4, i)`` on opencl."""
        be = self._backend()
        if be.dlpack_device_type is not None:
            return (be.dlpack_device_type, self._device.index or 0)
        return be.dlpack_device(self._data)

    # --- conversions ------------------------------------------------------------------
    def cpu(self) -> "Tensor":
        return self.to("cpu")

    def cuda(self, device=None) -> "Tensor":
        return self.to("cuda" if device is None else (device if isinstance(device, (str, _device_cls)) else f"cuda:{device}"))

    def opencl(self, device=None) -> "Tensor":
        return self.to("opencl" if device is None else (device if isinstance(device, (str, _device_cls)) else f"opencl:{device}"))

    def type(self, dtype=None, non_blocking=False, **kwargs):
        """PyTorch's type string ('torch.FloatTensor'), or the tensor converted to ``dtype``."""
        from plugtorch import _legacy_types
        return _legacy_types.tensor_type(self, dtype, non_blocking, **kwargs)

    def type_as(self, other):
        return self.to(dtype=other.dtype)





def _cast_method(name, dtype):
    def cast(self, memory_format=None):
        if memory_format is None and self._dtype is dtype:
            return self        # (to()'s argument parsing costs 10 us: x.float() of a float32 tensor is common)
        return self.to(dtype=dtype, memory_format=memory_format)
    cast.__name__ = cast.__qualname__ = name
    cast.__doc__ = f"``self.to({dtype.name})`` (``memory_format`` as ``to``'s; self itself if it is one already)."
    return cast


# x.float(), x.long() ...: PyTorch's casts by name
for _name, _dt in (("float", _dtypes.float32), ("double", _dtypes.float64), ("half", _dtypes.float16),
                   ("bfloat16", _dtypes.bfloat16), ("int", _dtypes.int32), ("long", _dtypes.int64),
                   ("short", _dtypes.int16), ("char", _dtypes.int8), ("byte", _dtypes.uint8), ("bool", _dtypes.bool),
                   ("cfloat", _dtypes.complex64), ("cdouble", _dtypes.complex128)):
    setattr(Tensor, _name, _cast_method(_name, _dt))

_new = object.__new__
_KDLCPU = 1   # DLPack's device type of host memory


def parse_to_args(args, kwargs):
    """``(device, dtype, copy)`` from the arguments ``Tensor.to`` and ``Module.to`` accept:
    a device or its name, a dtype, a tensor (its device and dtype), and keywords."""
    kwargs = dict(kwargs)
    dev = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    # PyTorch's forms: (device=None, dtype=None, non_blocking=False, copy=False),
    # (dtype, non_blocking=False, copy=False), (tensor, non_blocking=False, copy=False)
    got_dev = got_dtype = False
    flags = []
    for a in args:
        if a.__class__ is bool and (got_dev or got_dtype):
            flags.append(a)
            if len(flags) <= 2:
                continue
        elif not flags:
            if isinstance(a, Tensor) and not (got_dev or got_dtype):
                dev, dtype = a.device, a.dtype
                got_dev = got_dtype = True
                continue
            if isinstance(a, _dtypes.dtype) and not got_dtype:
                dtype, got_dtype = a, True
                continue
            if isinstance(a, (str, _device_cls)) and not (got_dev or got_dtype):
                dev, got_dev = a, True
                continue
            if a is None and not got_dtype:
                got_dev = got_dev or not got_dtype
                continue
        names = ", ".join(type(x).__name__ if not isinstance(x, _dtypes.dtype) else "dtype" for x in args)
        raise TypeError(f"to() received an invalid combination of arguments - got ({names}), but expected one of "
                        "(device=None, dtype=None, non_blocking=False, copy=False), (dtype, non_blocking=False, "
                        "copy=False) or (tensor, non_blocking=False, copy=False)")
    if len(flags) == 2:
        copy = flags[1]
    return dev, dtype, copy


def _wrap_dim(dim, ndim, opname="op"):
    n = max(ndim, 1)
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"{opname}(): dim must be an int, got {type(dim).__name__}")
    if dim < -n or dim >= n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim + n if dim < 0 else dim

def _deepcopy_data(t, out, memo) -> None:
    """Give ``out`` a copy of ``t``'s data, for ``copy.deepcopy``. Tensors of one dtype viewing one
    storage (a tensor and its slices) keep sharing memory in the copy, as PyTorch's: per storage,
    the span of it that the tensors copied so far cover is copied once, and each copy is a strided
    view of that span; a tensor reaching beyond it copies the wider span and re-points the
    earlier copies (made by this deepcopy, not yet returned). Where the storage cannot be told (a
    backend without storage offsets, negative strides), a copy of ``t`` alone."""
    src = t.detach()
    ext = None
    try:
        stride = src.stride()
        if src.numel() and not getattr(type(src._backend()).storage_offset, "unknown", False) \
                and all(s >= 0 for s in stride):
            key = ("plugtorch.deepcopy.storage", str(src.device), src.dtype, src.untyped_storage().data_ptr())
            lo = src.storage_offset()
            ext = key, lo, lo + sum((n - 1) * s for n, s in zip(src.shape, stride))
    except (RuntimeError, NotImplementedError):
        pass
    if ext is None:
        c = src.clone()
        out._data, out._dtype, out._device = c._data, c._dtype, c._device
        return
    key, lo, hi = ext
    span = memo.get(key)
    mine = (out, tuple(src.shape), stride, lo)
    if span is not None and span["lo"] <= lo and hi <= span["hi"]:
        span["outs"].append(mine)
        todo = [mine]
    else:
        if span is not None:
            lo, hi = min(lo, span["lo"]), max(hi, span["hi"])
        outs = ([] if span is None else span["outs"]) + [mine]
        span = memo[key] = {"lo": lo, "hi": hi, "outs": outs,
                            "copy": src.as_strided((hi - lo + 1,), (1,), lo).clone()}
        todo = outs
    for o, shape, strides, offset in todo:
        v = span["copy"].as_strided(shape, strides, offset - span["lo"])
        o._data, o._dtype, o._device = v._data, v._dtype, v._device


# a tensor's own fields, which deepcopy takes as they are (dtype and device objects are singletons)
_OWN_FIELDS = frozenset(("_dtype", "_device", "_rg", "_is_param", "_out_nr"))
