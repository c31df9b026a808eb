"""``__array_namespace_info__()``: what the namespace supports, on which devices.

Devices are every device of every available plugtorch backend, built-in (cpu, opencl, cuda)
or plug-in; the dtypes of a device leave out those its backend declares unsupported (float64
on an OpenCL device without cl_khr_fp64).

>>> import plugtorch.array_api as xp
>>> info = xp.__array_namespace_info__()
>>> info.default_dtypes(device="cpu")["indexing"]
plugtorch.int64
"""
from __future__ import annotations

import plugtorch as pt
from plugtorch import _dtypes as D
from plugtorch._device import canonical
from plugtorch.array_api import _dtypes as X

_KIND_DTYPES = {
    "bool": (X.bool,),
    "signed integer": (X.int8, X.int16, X.int32, X.int64),
    "unsigned integer": (X.uint8,),
    "integral": (X.int8, X.int16, X.int32, X.int64, X.uint8),
    "real floating": (X.float32, X.float64),
    "complex floating": (X.complex64, X.complex128),
    "numeric": (X.int8, X.int16, X.int32, X.int64, X.uint8, X.float32, X.float64, X.complex64, X.complex128),
}


class Info:
    """The object ``__array_namespace_info__()`` returns."""

    __module__ = "plugtorch.array_api"

    def capabilities(self) -> dict:
        return {"boolean indexing": True, "data-dependent shapes": True, "max dimensions": 64}

    def default_device(self):
        return pt.get_default_device()

    def devices(self) -> list:
        """Every device of every backend with at least one (plugtorch.backends.list())."""
        out = []
        for entry in pt.backends.list():
            if entry["status"] == "ok":
                out.extend(pt.device(d) for d in entry["devices"])
        return out

    def default_dtypes(self, *, device=None) -> dict:
        """The dtypes Python floats, complex numbers and ints become, and that of indices (the
        standard asks for all four keys: on a device without complex dtypes, dtypes() leaves them
        out and creating one there raises TypeError)."""
        _supported(device)
        return {"real floating": D.get_default_dtype(), "complex floating": D.default_complex_dtype(),
                "integral": X.int64, "indexing": X.int64}

    def dtypes(self, *, device=None, kind=None) -> dict:
        """The standard's dtypes ``device`` supports, by name, of ``kind`` (a kind name, a tuple
        of them, or None for all)."""
        ok = _supported(device)
        if kind is None:
            chosen = X.DTYPES
        else:
            kinds = kind if isinstance(kind, tuple) else (kind,)
            chosen = []
            for k in kinds:
                if k not in _KIND_DTYPES:
                    raise ValueError(f"dtypes(): unknown kind {k!r}; expected one of {sorted(_KIND_DTYPES)}")
                chosen.extend(d for d in _KIND_DTYPES[k] if d not in chosen)
        return {d.name: d for d in X.DTYPES if d in chosen and ok(d)}


def _supported(device):
    """A test of which dtypes ``device`` (the default one when None) supports."""
    dev = canonical(device)
    be = pt.backends.get_backend(dev.type)
    return lambda d: be.unsupported_dtype(d, dev.index) is None


def __array_namespace_info__() -> Info:
    """The inspection object of the namespace: ``capabilities()``, ``devices()``, ``dtypes()`` ..."""
    return Info()
