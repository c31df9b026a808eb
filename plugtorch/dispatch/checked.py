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

``checking_results(name)`` is the strict form the conformance suite turns on for the backend
under test, built-ins included: while it is active, every kernel result of that device type
is checked as above and, besides, for a layout inside its memory (strides and offset within
the buffer, byte strides a multiple of the itemsize) and for the device it lives on, where
the backend can tell (``Backend.storage_size``, ``Backend.array_device``). A wrong result
raises ``KernelResultError`` (a RuntimeError) naming the op, the backend and the mismatch.

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
plugtorch.dispatch.checked.KernelResultError: neg(): the 'sloppy' backend's kernel returned a list, not a numpy.ndarray ...
>>> plugtorch.backends.unregister("sloppy")
"""
from __future__ import annotations

import threading
from contextlib import contextmanager

import numpy as np

from plugtorch import _caches, _device
from plugtorch.dispatch.meta import broadcast_shapes
from plugtorch.dispatch.registry import OPS, OUT_INPLACE, OUT_MULTI, OUT_RAW, OUT_TENSOR, OUT_VIEW

_UNKNOWN = (None, None)   # a dtype the backend cannot make: results of that dtype go unchecked


class KernelResultError(RuntimeError):
    """A kernel returned something other than what the op's meta promises (``op`` names it)."""

    def __init__(self, message, op=None, backend=None):
        super().__init__(message)
        self.op, self.backend = op, backend


class PluginKernels(dict):
    """The kernel table the dispatcher sees for a device of a non-built-in backend.

    It holds the backend's kernels whose result the dispatcher does not use (in-place ops and
    their ``<op>_`` variants, which write into their first argument, and ops whose result is
    returned as is); ``checked(op, out)`` gives every other one, wrapped in the check.
    ``strict`` (``checking_results``) adds the checks of layout and device to every result.
    """

    __slots__ = ("backend", "index", "strict", "_native", "_wrapped")

    def __init__(self, backend, device, strict=False):
        super().__init__((name, k) for name, k in backend.kernels.items() if _result_unused(name))
        self.backend = backend
        self.index = device.index
        self.strict = strict
        self._native = {}   # plugtorch dtype -> (the backend's array type, its native dtype)
        self._wrapped = _caches.Memo(1024)   # (op, out) -> the checked kernel (run() asks per call)

    def __bool__(self):   # the device is resolved, whatever the table holds
        return True

    def checked(self, op, out):
        """The backend's kernel for ``op``, checking that its result is what the meta returned
        as ``out`` (a dtype, or one per output); None if the backend has no kernel for it."""
        key = (op, out) if out.__class__ is not list else (op, tuple(out))
        wrapped = self._wrapped.get(key)
        if wrapped is None:
            wrapped = self._wrapped[key] = self._checked(op, out)
        return wrapped

    def _checked(self, op, out):
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
                if self.strict:
                    for i, r in enumerate(res):
                        if r is not None:
                            _check_placement(self, op, r, f"as output {i} (of {len(res)}) ")
                return res
            return run_multi
        if kind != OUT_TENSOR and kind != OUT_VIEW:
            return kernel   # OUT_INPLACE, OUT_RAW: the result is not used
        native = self._native.get(out) or self._native_of(out)
        if native is _UNKNOWN:
            return kernel
        array_type, native_dtype = native
        pointwise = "pointwise" in op.tags
        strict = self.strict

        def run(*kargs):
            res = kernel(*kargs)
            # the common case passes a few identity tests; _check_array says what is wrong
            if (res.__class__ is not array_type
                    or res.dtype is not native_dtype and res.dtype != native_dtype
                    or pointwise and res.shape != _broadcast_shape(kargs, array_type)):
                _check_array(self, op, res, out, native,
                             _broadcast_shape(kargs, array_type) if pointwise else None, "")
            if strict:
                _check_placement(self, op, res, "")
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


def _check_placement(table, op, res, which):
    """Strict checks: the result's strides and offset stay inside its memory, and it lives on
    the device the op runs on."""
    be = table.backend
    problem = layout_problem(be, res)
    if problem is not None:
        raise _mismatch(table, op, f"{which}{problem}")
    index = be.array_device(res)
    if index is not None and table.index is not None and index != table.index:
        raise _mismatch(table, op, f"{which}an array on device {be.name}:{index}, but the op runs on "
                                   f"{be.name}:{table.index}")


def layout_problem(backend, native) -> str | None:
    """What is wrong with the layout of ``native`` (a result of ``backend``), or None.

    A NumPy array's byte strides must be multiples of its itemsize and reach no byte outside
    the array it views; other backends' element strides and storage offset must stay inside
    ``backend.storage_size(native)`` elements (unchecked where that is None).

    >>> x = np.zeros(4, np.float32)
    >>> print(layout_problem(None, np.lib.stride_tricks.as_strided(x, (2, 2), (8, 8))))
    an array of shape (2, 2) with strides (2, 2) (elements) and storage offset 0 that reaches past the end of its buffer of 4 elements: strides and offset must stay inside the memory the result owns or views
    """
    shape = tuple(native.shape)
    if 0 in shape:
        return None                       # an empty array reads nothing
    if isinstance(native, np.ndarray):
        base = native.base
        if base is None:
            return None                   # NumPy laid it out: its strides fit its memory
        isz = native.itemsize
        if any(st % isz for st in native.strides):
            return (f"an array with strides {native.strides} (bytes) that are not multiples of its "
                    f"itemsize {isz}: strides must count whole elements")
        while isinstance(base, np.ndarray):
            base = base.base
        if base is None:
            return None                   # views NumPy made of arrays it made
        root = _root_array(native)
        if root is native:
            return None                   # a view of memory NumPy checked (np.frombuffer ...)
        from numpy.lib.array_utils import byte_bounds
        (lo, hi), (rlo, rhi) = byte_bounds(native), byte_bounds(root)
        if rlo <= lo and hi <= rhi:
            return None
        offset = (native.__array_interface__["data"][0] - rlo) // isz
        return _outside(shape, tuple(st // isz for st in native.strides), offset, (rhi - rlo) // isz, lo < rlo)
    size = backend.storage_size(native) if backend is not None else None
    if size is None:
        return None
    strides, offset = tuple(backend.strides(native)), backend.storage_offset(native)
    lo = offset + sum(st * (n - 1) for st, n in zip(strides, shape) if st < 0)
    hi = offset + sum(st * (n - 1) for st, n in zip(strides, shape) if st > 0)
    if lo >= 0 and hi < size:
        return None
    return _outside(shape, strides, offset, size, lo < 0)


def _outside(shape, strides, offset, size, before):
    return (f"an array of shape {shape} with strides {strides} (elements) and storage offset {offset} "
            f"that reaches {'before the start' if before else 'past the end'} of its buffer of {size} "
            "elements: strides and offset must stay inside the memory the result owns or views")


def _root_array(a):
    """The outermost NumPy array whose memory ``a`` views (through views and as_strided)."""
    root, b = a, a.base
    while b is not None:
        if isinstance(b, np.ndarray):
            root = b
        b = getattr(b, "base", None)
    return root


# ---- the strict mode ----------------------------------------------------------------------
_strict_lock = threading.Lock()
_strict_depth: dict = {}     # device type -> how many checking_results blocks are open


@contextmanager
def checking_results(device_type: str):
    """Check every kernel result of ``device_type``'s devices while the block runs (built-in
    backends included): the conformance suite's strict mode for the backend under test.

    It holds for every thread (the devices' kernel tables are swapped, and the dispatcher's
    memoised decisions forgotten on entry and exit); blocks nest.

    >>> import plugtorch
    >>> with checking_results("cpu"):
    ...     plugtorch.ones(2).neg().tolist()
    [-1.0, -1.0]
    """
    with _strict_lock:
        depth = _strict_depth.get(device_type, 0)
        _strict_depth[device_type] = depth + 1
        swapped = [] if depth else _swap_in(device_type)
    try:
        yield
    finally:
        with _strict_lock:
            _strict_depth[device_type] -= 1
            if not _strict_depth[device_type]:
                del _strict_depth[device_type]
            for d, old, table in swapped:
                if d._kernels is table:     # (unless the backend was replaced meanwhile)
                    d._kernels = old
            if swapped:
                _caches.invalidate()


def _swap_in(device_type):
    """Give every usable device of ``device_type`` a strict kernel table; returns what to undo."""
    be = _device.backend_for(device_type)
    _device.canonical(device_type)        # (the device under test exists, interned, from now on)
    swapped = []
    for d in set(_device._INTERNED.values()):
        if d.type != device_type or (d.index is None and device_type != "cpu"):
            continue                      # (tensors live on indexed devices, but cpu's)
        try:
            be.check_device(d)
        except RuntimeError:
            continue
        table = PluginKernels(be, d, strict=True)
        swapped.append((d, d._kernels, table))
        d._backend, d._kernels = be, table
    _caches.invalidate()
    return swapped


def _a(cls) -> str:
    """'a list', 'a numpy.float32', 'an array_api_strict.Array': a type, for an error message."""
    module = cls.__module__
    name = cls.__qualname__ if module == "builtins" else f"{module.split('.')[0]}.{cls.__qualname__}"
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _mismatch(table, op, what) -> KernelResultError:
    be = table.backend
    origin = getattr(be, "origin", "runtime")
    where = {"runtime": "registered at run time", "built-in": "built-in"}.get(origin, f"plug-in {origin}")
    return KernelResultError(f"{op.name}(): the '{be.name}' backend's kernel returned {what}; fix the "
                             f"kernel in the backend ({where})", op.name, be.name)
