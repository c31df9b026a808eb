"""``plugtorch.utils.dlpack``: ``to_dlpack`` (a tensor's DLPack capsule) and ``from_dlpack`` (a
tensor from a capsule or any DLPack producer), as ``torch.utils.dlpack``.

>>> import plugtorch as pt
>>> t = pt.arange(3.0)
>>> u = from_dlpack(to_dlpack(t)); u[0] = 7.0   # same memory
>>> t.tolist()
[7.0, 1.0, 2.0]
"""
from __future__ import annotations

import ctypes

_INVALID = ("from_dlpack received an invalid capsule. Note that DLTensor capsules can be consumed only "
            "once, so you might have already constructed a tensor from it once.")

_api = ctypes.pythonapi
_api.PyCapsule_IsValid.restype = ctypes.c_int
_api.PyCapsule_IsValid.argtypes = [ctypes.py_object, ctypes.c_char_p]
_api.PyCapsule_GetPointer.restype = ctypes.c_void_p
_api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]


def to_dlpack(tensor):
    """The tensor's DLPack capsule (``tensor.__dlpack__()``); consumable once."""
    return tensor.__dlpack__(max_version=(1, 0))   # versioned: carries the writable flag (NumPy marks legacy imports read-only)


class _Capsule:
    """A bare capsule dressed as a DLPack producer, so plugtorch.from_dlpack (and NumPy) can take it."""

    def __init__(self, capsule, name):
        self.capsule = capsule
        # DLManagedTensor starts with DLTensor {void *data; DLDevice {int32 type, int32 id}; ...};
        # the versioned struct puts its version, manager_ctx, deleter and flags first (32 bytes)
        ptr = _api.PyCapsule_GetPointer(capsule, name)
        off = 8 + (32 if name == b"dltensor_versioned" else 0)
        dev = (ctypes.c_int32 * 2).from_address(ptr + off)
        self.device = (int(dev[0]), int(dev[1]))

    def __dlpack__(self, *args, **kwargs):
        return self.capsule

    def __dlpack_device__(self):
        return self.device


def from_dlpack(ext):
    """A tensor sharing the memory of ``ext``: an object with ``__dlpack__`` (NumPy, CuPy, a
    tensor) or a DLPack capsule (consumable once)."""
    import plugtorch as pt
    if hasattr(ext, "__dlpack__"):
        return pt.from_dlpack(ext)
    for name in (b"dltensor", b"dltensor_versioned"):
        try:
            valid = _api.PyCapsule_IsValid(ext, name)
        except Exception:
            valid = 0
        if valid:
            return pt.from_dlpack(_Capsule(ext, name))
    raise RuntimeError(_INVALID)
