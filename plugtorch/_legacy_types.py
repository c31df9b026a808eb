"""PyTorch's legacy typed constructors (``FloatTensor``, ``LongTensor`` ...) and ``Tensor.type()``.

``plugtorch.FloatTensor(2, 3)`` makes an uninitialised 2x3 float32 cpu tensor and
``plugtorch.FloatTensor([1, 2])`` one from data; ``isinstance(t, plugtorch.FloatTensor)`` holds
exactly for float32 cpu tensors (a metaclass check, as PyTorch's: these are not subclasses).

>>> import plugtorch as pt
>>> pt.ones(2).type(), isinstance(pt.ones(2), pt.FloatTensor), pt.LongTensor([1.5, 2]).tolist()
('torch.FloatTensor', True, [1, 2])
"""
from __future__ import annotations

from plugtorch import _dtypes

# dtype name -> PyTorch's legacy type name
_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16", "int64": "Long",
          "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
          "complex64": "ComplexFloat", "complex128": "ComplexDouble"}
_CONSTRUCTORS = ("Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool")


def type_name(dtype, device_type="cpu") -> str:
    """'torch.FloatTensor', 'torch.cuda.LongTensor' ...: PyTorch's ``Tensor.type()`` strings."""
    base = _NAMES.get(dtype.name, dtype.name.capitalize()) + "Tensor"
    return f"torch.{base}" if device_type == "cpu" else f"torch.{device_type}.{base}"


def _parse_type_name(name: str):
    """(dtype, device type) for 'torch.FloatTensor', 'torch.cuda.FloatTensor' (or 'plugtorch.' ones)."""
    parts = name.split(".")
    if len(parts) in (2, 3) and parts[0] in ("torch", "plugtorch") and parts[-1].endswith("Tensor"):
        device_type = parts[1] if len(parts) == 3 else "cpu"
        for dname, legacy in _NAMES.items():
            if parts[-1] == legacy + "Tensor":
                return getattr(_dtypes, dname), device_type
    raise ValueError(f"invalid type: '{name}'")


def tensor_type(self, dtype=None, non_blocking=False, **kwargs):
    """``x.type()``: PyTorch's type string ('torch.FloatTensor'); ``x.type(t)``: ``x`` converted to
    ``t``, a dtype, a legacy class (``plugtorch.LongTensor``) or a type string."""
    if dtype is None:
        return type_name(self.dtype, self.device.type)
    if isinstance(dtype, _LegacyTensorType):
        return self.to("cpu", dtype.dtype)
    if isinstance(dtype, str):
        dt, device_type = _parse_type_name(dtype)
        if device_type != self.device.type:
            return self.to(device_type, dt)
        return self.to(dtype=dt)
    return self.to(dtype=_dtypes.to_dtype(dtype))


def set_default_tensor_type(t) -> None:
    """Deprecated in PyTorch: the default dtype (and, for 'torch.cuda.FloatTensor' style names, the
    default device) from a legacy type or its name; use ``set_default_dtype``/``set_default_device``."""
    import warnings
    from plugtorch import _device
    warnings.warn("torch.set_default_tensor_type() is deprecated as of PyTorch 2.1, please use "
                  "torch.set_default_dtype() and torch.set_default_device() as alternatives.", UserWarning,
                  stacklevel=2)
    if isinstance(t, _LegacyTensorType):
        dtype, device_type = t.dtype, "cpu"
    elif isinstance(t, str):
        dtype, device_type = _parse_type_name(t)
    else:
        raise TypeError("invalid type object: only floating-point types are supported as the default type")
    if not dtype.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    _dtypes.set_default_dtype(dtype)
    _device.set_default_device(None if device_type == "cpu" else device_type)


class _LegacyTensorType(type):
    def __instancecheck__(cls, obj):
        from plugtorch._tensor import Tensor
        return isinstance(obj, Tensor) and obj.dtype is cls.dtype and obj.device.type == "cpu"

    def __call__(cls, *args, device=None, **kwargs):
        import plugtorch as pt
        from plugtorch._tensor import Size, Tensor
        name = cls.__name__
        if kwargs:
            raise TypeError(f"{name}(): got an unexpected keyword argument '{next(iter(kwargs))}' (these legacy "
                            f"constructors take sizes or data and device=; use plugtorch.tensor(data, dtype=...))")
        if device is not None and pt.device(device).type != "cpu":
            raise RuntimeError(f"legacy constructor {name} expects device type: cpu but device type: "
                               f"{pt.device(device).type} was passed")
        if not args:
            return pt.empty(0, dtype=cls.dtype)
        if len(args) == 1 and isinstance(args[0], Tensor):
            if args[0].dtype is not cls.dtype or args[0].device.type != "cpu":
                raise TypeError(f"{name}(other): expected a cpu tensor of dtype {cls.dtype}, got one of dtype "
                                f"{args[0].dtype} on {args[0].device}; convert it with .to('cpu', {cls.dtype})")
            return args[0]
        if (len(args) == 1 and isinstance(args[0], Size)) or all(
                isinstance(a, int) and not isinstance(a, bool) for a in args):
            size = tuple(args[0]) if isinstance(args[0], Size) else args
            for s in size:
                if s < 0:
                    raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
            return pt.empty(size, dtype=cls.dtype)
        if len(args) == 1:
            if isinstance(args[0], (int, float, complex, bool)):
                raise TypeError(f"new(): data must be a sequence (got {type(args[0]).__name__})")
            return pt.tensor(args[0], dtype=cls.dtype)
        bad = next(a for a in args if not isinstance(a, int) or isinstance(a, bool))
        raise TypeError(f"{name}(): sizes must be ints, but got {type(bad).__name__} ({bad!r}); pass data as one "
                        "sequence, e.g. FloatTensor([1, 2])")

    def __repr__(cls):
        return f"<class 'plugtorch.{cls.__name__}'>"


def _make(legacy):
    dtype = next(getattr(_dtypes, d) for d, n in _NAMES.items() if n == legacy)
    cls = _LegacyTensorType(legacy + "Tensor", (), {"dtype": dtype, "is_cuda": False, "is_sparse": False,
                                                    "__module__": "plugtorch",
                                                    "__doc__": f"A {dtype.name} cpu tensor (legacy constructor)."})
    return cls


LEGACY_TYPES = {legacy + "Tensor": _make(legacy) for legacy in _CONSTRUCTORS}
__all__ = list(LEGACY_TYPES) + ["set_default_tensor_type"]
globals().update(LEGACY_TYPES)
