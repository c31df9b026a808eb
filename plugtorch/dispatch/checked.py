"""The results of plug-in kernels, checked where the dispatcher receives them.

The built-in backends (cpu, opencl, cuda) are proven by the conformance suite, and the
dispatcher runs their kernels as they are. A third-party backend's kernel that returns the
wrong thing — a Python list, a NumPy scalar, another library's array, the wrong dtype or shape,
a tuple of the wrong length — would become a Tensor that is silently wrong, so for every other
backend the dispatcher checks each result against what the op's meta function said.

For such a device the dispatcher's kernel table is a ``PluginKernels``: it holds only the
kernels whose result is not used (in-place ones), so the other ops find no kernel in it, and
the dispatcher (``run`` and its memoised fast paths alike) then asks the table for
``checked(op, out)``: the backend's kernel, wrapped to check each result against the dtype the
meta returned. The built-ins pay nothing: their table is the backend's own.

>>> import plugtorch
>>> from plugtorch.backends.cpu import CPUBackend
>>> class Sloppy(CPUBackend):
...     name = "sloppy"
...     def __init__(self):
...         super().__init__()
...         self.kernels = {**self.kernels, "neg": lambda x, dtype: (-x).tolist()}
>>> _ = plugtorch.backends.register(Sloppy())
>>> plugtorch.ones(2, device="sloppy").neg()   # doctest: +ELLIPSIS
Traceback (most recent call last):
    ...
RuntimeError: neg(): the 'sloppy' backend's kernel returned a list, not a numpy.ndarray ...
>>> plugtorch.backends.unregister("sloppy")
"""
from __future__ import annotations

import numpy as np

from plugtorch.dispatch.meta import broadcast_shapes
from plugtorch.dispatch.registry import OPS, OUT_INPLACE, OUT_MULTI, OUT_RAW, OUT_TENSOR, OUT_VIEW

_UNKNOWN = (None, None)   # a dtype the backend cannot make: results of that dtype go unchecked


class PluginKernels(dict):
    """The kernel table the dispatcher sees for a device of a non-built-in backend.

    It holds the backend's kernels whose result the dispatcher does not use (in-place ops and
    their ``<op>_`` variants, which write into their first argument, and ops whose result is
    returned as is); ``checked(op, out)`` gives every other one, wrapped in the check.
    """

    __slots__ = ("backend", "index", "_native")

    def __init__(self, backend, device):
        super().__init__((name, k) for name, k in backend.kernels.items() if _result_unused(name))
        self.backend = backend
        self.index = device.index
        self._native = {}   # plugtorch dtype -> (the backend's array type, its native dtype)

    def __bool__(self):   # the device is resolved, whatever the table holds
        return True

    def checked(self, op, out):
        """The backend's kernel for ``op``, checking that its result is what the meta returned
        as ``out`` (a dtype, or one per output); None if the backend has no kernel for it."""
        kernel = self.backend.kernels.get(op.name)
        if kernel is None:
            return None
        kind = op.out_kind
        if kind == OUT_MULTI:
            natives = [self._native.get(d) or self._native_of(d) for d in out]

            def run_multi(*kargs):
                res = kernel(*kargs)
                if res.__class__ is not tuple or len(res) != len(natives) or not all(
                        r is None or r.__class__ is t and (r.dtype is d or r.dtype == d)
                        for r, (t, d) in zip(res, natives)):
                    _check_tuple(self, op, res, out)
                return res
            return run_multi
        if kind != OUT_TENSOR and kind != OUT_VIEW:
            return kernel   # OUT_INPLACE, OUT_RAW: the result is not used
        native = self._native.get(out) or self._native_of(out)
        if native is _UNKNOWN:
            return kernel
        array_type, native_dtype = native
        pointwise = "pointwise" in op.tags

        def run(*kargs):
            res = kernel(*kargs)
            # the common case passes a few identity tests; _check_array says what is wrong
            if (res.__class__ is not array_type
                    or res.dtype is not native_dtype and res.dtype != native_dtype
                    or pointwise and res.shape != _broadcast_shape(kargs, array_type)):
                _check_array(self, op, res, out, native,
                             _broadcast_shape(kargs, array_type) if pointwise else None, "")
            return res
        return run

    def _native_of(self, dtype):
        """(array type, native dtype) of this backend for plugtorch ``dtype``, learnt from
        the one conversion every backend has: an empty array made with ``from_numpy``."""
        try:
            a = self.backend.from_numpy(np.empty(0, dtype.numpy), self.index)
            native = (type(a), a.dtype)
        except Exception:  # noqa: BLE001  (a dtype the backend lacks: nothing to compare with)
            native = _UNKNOWN
        self._native[dtype] = native
        return native


def _result_unused(name) -> bool:
    op = OPS.get(name)
    if op is None:   # "<op>_": the in-place variant of an op, writing into its first argument
        return name.endswith("_") and name[:-1] in OPS
    return op.out_kind == OUT_INPLACE or op.out_kind == OUT_RAW


def _broadcast_shape(kargs, array_type) -> tuple:
    """The shape of a pointwise op's result: its array operands' broadcast shape."""
    shape = None
    for k in kargs:
        if k.__class__ is array_type or isinstance(k, array_type):
            s = k.shape
            if shape is None:
                shape = s
            elif s != shape:
                shape = broadcast_shapes(tuple(shape), tuple(s))
    return () if shape is None else tuple(shape)


def _check_array(table, op, res, dtype, native, shape, which):
    array_type, native_dtype = native
    if res.__class__ is not array_type and not isinstance(res, array_type):
        raise _mismatch(table, op, f"{which}{_a(type(res))}, not {_a(array_type)} (the backend's "
                                   "native array type)")
    if native_dtype is not None and res.dtype != native_dtype:
        raise _mismatch(table, op, f"{which}an array of dtype {res.dtype}, but the op's result has "
                                   f"dtype {dtype.name} ({native_dtype} on this backend)")
    if shape is not None and tuple(res.shape) != shape:
        raise _mismatch(table, op, f"{which}an array of shape {tuple(res.shape)}, but the op's "
                                   f"result has shape {shape} (its inputs' broadcast shape)")


def _check_tuple(table, op, res, dtypes):
    n = len(dtypes)
    if not isinstance(res, tuple):
        raise _mismatch(table, op, f"{_a(type(res))}, not a tuple of its {n} outputs")
    if len(res) != n:
        raise _mismatch(table, op, f"a tuple of {len(res)} results, but the op has {n} outputs")
    for i, (r, dtype) in enumerate(zip(res, dtypes)):
        if r is not None:   # (None: an output the kernel was asked not to compute)
            native = table._native.get(dtype) or table._native_of(dtype)
            if native is not _UNKNOWN:
                _check_array(table, op, r, dtype, native, None, f"as output {i} (of {n}) ")


def _a(cls) -> str:
    """'a list', 'a numpy.float32', 'an array_api_strict.Array': a type, for an error message."""
    module = cls.__module__
    name = cls.__qualname__ if module == "builtins" else f"{module.split('.')[0]}.{cls.__qualname__}"
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _mismatch(table, op, what) -> RuntimeError:
    be = table.backend
    origin = getattr(be, "origin", "runtime")
    where = "registered at run time" if origin == "runtime" else f"plug-in {origin}"
    return RuntimeError(f"{op.name}(): the '{be.name}' backend's kernel returned {what}; fix the "
                        f"kernel in the backend ({where})")
