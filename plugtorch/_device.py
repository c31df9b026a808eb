"""``plugtorch.device``: a device type and index, interned so ``is`` compares them.

>>> import plugtorch as pt
>>> pt.device("opencl:1")
device(type='opencl', index=1)
"""
from __future__ import annotations

import os
import threading

from plugtorch import _caches

_INTERNED: dict = {}


class device:
    __slots__ = ("type", "index", "_backend", "_kernels", "__weakref__")

    def __new__(cls, type_or_str, index=None):
        if isinstance(type_or_str, device):
            if index is None:
                return type_or_str
            type_or_str = type_or_str.type
        if not isinstance(type_or_str, str):
            if isinstance(type_or_str, int) and index is None:
                raise RuntimeError("a bare integer device is ambiguous in plugtorch; "
                                   "write 'cuda:0' or 'opencl:0'")
            raise TypeError(f"device(): expected a str or device, got {type(type_or_str).__name__}")
        key = (type_or_str, index)
        d = _INTERNED.get(key)
        if d is not None:
            return d
        typ, idx = _parse(type_or_str, index)
        key2 = (typ, idx)
        d = _INTERNED.get(key2)
        if d is None:
            d = object.__new__(cls)
            d.type = typ
            d.index = idx
            d._backend = None
            d._kernels = None
            _INTERNED[key2] = d
        _INTERNED[key] = d
        return d

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and self.type == other.type and self.index == other.index

    # devices are interned (one object per type and index), so identity hashing agrees with
    # __eq__ between devices, and is much cheaper for the dispatcher's memo keys
    __hash__ = object.__hash__

    def __reduce__(self):
        return (device, (self.type, self.index))

    # ``with pt.device("opencl"):`` makes this device the default of factories (and so of module
    # parameters) in this thread until the block ends, as PyTorch's. Devices are interned and
    # shared, so the device to restore lives on a per-thread stack, not on the device.
    def __enter__(self):
        canonical(self)           # the device must exist: fail at the ``with``, not inside it
        stack = _default.__dict__.setdefault("stack", [])
        stack.append(_default.device)
        _set_default(self)
        return self

    def __exit__(self, *exc_info):
        _set_default(_default.stack.pop())


def _parse(s: str, index):
    typ, sep, rest = s.partition(":")
    if sep:
        if index is not None:
            raise RuntimeError(f"device(): type {s!r} already has an index; do not pass index={index}")
        if not rest.isdigit():
            raise RuntimeError(f"Invalid device string: '{s}' (expected 'type' or 'type:index', e.g. 'opencl:0')")
        index = int(rest)
    if not typ or not typ.replace("_", "").isalnum():
        raise RuntimeError(f"Invalid device string: '{s}'")
    if index is not None and (not isinstance(index, int) or index < 0):
        raise RuntimeError(f"Device index must be a non-negative integer, got {index!r}")
    return typ, index


_CPU = device("cpu")


def canonical(d) -> device:
    """The concrete device ("opencl" -> opencl:<current>, "cpu" -> cpu) a tensor lives on;
    None is the default device (``set_default_device``)."""
    if d is None:
        d = _default.device
        if d is None:
            d = _process_default()
        if d is _CPU:
            return d
    d = device(d)
    if d.index is None:
        if d.type == "cpu" or d.type == "meta":
            return d
        return device(d.type, backend_for(d.type).current_device())
    if d.type == "meta":   # one meta device: "meta:0" makes tensors on device('meta'), as in PyTorch
        return device("meta")
    return d


# ---- the default device: where factories put tensors when no device= is given ------------
# Per thread, as PyTorch's set_default_device; a thread that never set one starts from the
# PLUGTORCH_DEFAULT_DEVICE environment variable (read once), else cpu. The device is kept as
# given ("opencl", not "opencl:0"), so it follows the backend's current device, as PyTorch's.
ENV_VAR = "PLUGTORCH_DEFAULT_DEVICE"
class _DefaultDevice(threading.local):
    device = None      # (a class attribute: reading it where no thread set one costs no AttributeError)


_default = _DefaultDevice()
_env_device = []     # [device] once the environment variable was read


def _process_default() -> device:
    if not _env_device:
        value = os.environ.get(ENV_VAR, "").strip()
        try:
            d = device(value) if value else _CPU
            canonical(d)          # an unknown device type fails here, not at the first factory
        except Exception as e:
            raise RuntimeError(f"{ENV_VAR}={value!r} is not a usable device ({type(e).__name__}: {e}); "
                               "set it to a device such as 'cpu', 'opencl' or 'opencl:1', or unset it") from None
        _env_device.append(d)
    return _env_device[0]


def set_default_device(d) -> None:
    """Make ``d`` the device that factories (``zeros``, ``tensor``, ``arange`` ...) use when no
    ``device=`` is given, in this thread; ``None`` restores cpu. ``with pt.device(d):`` does the
    same for the length of a block.

    >>> import plugtorch as pt
    >>> pt.set_default_device("cpu")
    >>> pt.zeros(2).device
    device(type='cpu')
    """
    new = _CPU if d is None else device(d)
    canonical(new)            # the device must exist: fail now, not at the next factory
    _set_default(new)


def _set_default(new) -> None:
    old = _default.device
    _default.device = new
    if old is not new:
        _caches.invalidate()


def get_default_device() -> device:
    """The device factories use when no ``device=`` is given (with its index).

    >>> import plugtorch as pt
    >>> pt.get_default_device()
    device(type='cpu')
    """
    return canonical(None)


# ---- the device type table: device type -> its backend ------------------------------------
# It lives here, below the dispatcher and the backends, so that both read it without importing
# each other. plugtorch.backends fills it (register / unregister) and, when imported, installs
# its loader for device types not loaded yet (lazy built-ins, entry-point plug-ins): the one
# place where this layer calls up, by late binding.
BACKENDS: dict = {}
_loader = None


def backend_for(type_name: str):
    """The backend of device type ``type_name``, loaded on first use."""
    be = BACKENDS.get(type_name)
    return be if be is not None else _loader(type_name)


def set_backend_loader(loader) -> None:
    global _loader
    _loader = loader


def forget_backend(type_name: str) -> None:
    """Devices of ``type_name`` drop their cached backend and kernels, and memoised dispatch
    decisions are forgotten (its backend was registered, replaced or removed)."""
    for d in list(_INTERNED.values()):
        if d.type == type_name:
            d._backend = None
            d._kernels = None
    _caches.invalidate()
