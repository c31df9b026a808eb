"""ArrayAPIBackend: any Array API–compatible library as a plugtorch backend.

Through array-api-compat, NumPy, CuPy, array-api-strict, PyTorch, JAX or Dask become a
device: the core ops are written once with the standard's functions. What the standard lacks
(``erf``, scatters, assignment through integer arrays) is listed in ``fallback_ops`` and runs
on cpu; composite ops decompose as on every backend.

>>> import array_api_strict, plugtorch
>>> plugtorch.backends.register(plugtorch.backends.ArrayAPIBackend(array_api_strict), name="strict")  # doctest: +SKIP
>>> (plugtorch.ones(3, device="strict") * 2).tolist()                                              # doctest: +SKIP
[2.0, 2.0, 2.0]
"""
from __future__ import annotations


import re
import warnings

import numpy as np

from plugtorch import _dtypes
from plugtorch.backends.array_api_kernels import make_array_api_kernels
from plugtorch.backends.base import Backend, contiguous_strides, host_generator

# ops with no counterpart in the Array API standard: run on cpu and copy back
FALLBACK_OPS = frozenset({"erf", "index_put", "scatter", "scatter_add"})
# ops whose kernels need functions only recent revisions of the standard have (cumulative_sum,
# take_along_axis ...): on older namespaces they fall back too
RECENT_OPS = frozenset({"cumsum", "cumprod", "sort", "gather"})


class ArrayAPIBackend(Backend):
    """A backend whose native arrays are those of an Array API namespace ``xp``.

    ``namespace`` is the library module (``numpy``, ``cupy``, ``array_api_strict``) or its
    array-api-compat wrapper. ``name`` defaults to the library's name; the entry point's name
    (or ``register(name=)``) overrides it.
    """

    def __init__(self, namespace, name: str | None = None):
        import array_api_compat
        self.xp = array_api_compat.array_namespace(namespace.asarray(0))
        self.library = getattr(namespace, "__name__", type(namespace).__name__)
        self.name = name or self.library.rsplit(".", 1)[-1].replace("-", "_")
        # inf/nan results (log(0), 0/0) are silent in PyTorch; NumPy-based libraries warn (the
        # warnings of NumPy's own ufuncs point at their caller: this package or array_api_compat)
        modules = {self.library, "array_api_compat", "plugtorch.backends.array_api_kernels"} - {"numpy"}
        for mod in sorted(modules):
            warnings.filterwarnings("ignore", category=RuntimeWarning, module=re.escape(mod) + r"(\.|$)")
        self._dtypes = {d: getattr(self.xp, d.name) for d in _dtypes.all_dtypes
                        if hasattr(self.xp, d.name)}
        self._array_type = type(self.xp.asarray(0))
        self.kernels = make_array_api_kernels(self.xp, self._dtypes, self._array_type)
        self.fallback_ops = FALLBACK_OPS | (RECENT_OPS - set(self.kernels))

    # --- devices -------------------------------------------------------------------------
    def device_name(self, index=0) -> str:
        return f"{self.library} (Array API {getattr(self.xp, '__array_api_version__', '?')})"

    def unsupported_dtype(self, dtype, index):
        if dtype in self._dtypes:
            return None
        return f"{self.library} has no {dtype.name} (the Array API standard does not require it)"

    # --- data ----------------------------------------------------------------------------
    def from_numpy(self, array, index=None):
        d = self._dtypes.get(_dtypes.from_numpy_dtype(array.dtype))
        return self.xp.asarray(np.asarray(array, order="C"), dtype=d, copy=True)

    def to_numpy(self, native):
        host = self._host_view(native)
        if host is None:
            import array_api_compat
            host = np.asarray(array_api_compat.to_device(native, "cpu"))
        return np.array(host, copy=True)

    def _host_view(self, native):
        """A NumPy view of ``native``'s memory when it lives in host memory, else None."""
        try:
            return np.from_dlpack(native)
        except (BufferError, TypeError, RuntimeError, AttributeError, ValueError):
            return None

    def strides(self, native):
        host = self._host_view(native)
        if host is not None and host.itemsize:
            return tuple(s // host.itemsize for s in host.strides)
        st, size = getattr(native, "strides", None), getattr(native, "itemsize", None)
        if isinstance(st, tuple) and isinstance(size, int) and size:   # CuPy and NumPy-likes
            return tuple(s // size for s in st)
        return contiguous_strides(native.shape)   # unknown layout: reshape may copy instead

    def new_generator(self, index, seed):
        # the standard has no random numbers: draw on the host (the cpu stream) and copy in
        return host_generator(seed)


__all__ = ["ArrayAPIBackend", "FALLBACK_OPS"]
