"""Kernel families of the opencl backend; ``kernel_table()`` maps every core op to its kernel."""
from __future__ import annotations

# kernels that take complex64/complex128 (or refuse the ops they lack themselves, as the
# elementwise and reduction families do); every other kernel refuses complex arrays (complex_guard)
COMPLEX_AWARE = frozenset({
    "view", "permute", "expand", "slice", "select", "unfold", "as_strided", "view_as_real", "view_as_complex", "conj_physical", "clone", "_to_dtype", "copy_", "flip", "cat",
    "sum", "prod", "amax", "amin", "all", "any", "cumsum", "cumprod", "gather", "scatter",
    "scatter_add", "index", "index_put", "nonzero", "_matmul", "full", "empty", "where"})


def kernel_table() -> dict:
    from plugtorch.backends.opencl.kernels import (copy, elementwise, factory, indexing, linalg, matmul,
                                                   reduce, scan, search, sort, views)
    from plugtorch.backends.opencl.runtime import locked
    K = {}
    for mod in (views, copy, elementwise, reduce, scan, search, sort, matmul, linalg, indexing, factory):
        K.update(mod.KERNELS)
    from plugtorch.backends.opencl.kernels import special   # (the special functions OpenCL C gives)
    K.update(special.KERNELS)
    aware = COMPLEX_AWARE | set(elementwise.UNARY) | set(elementwise.BINARY)
    K = {name: fn if name in aware else complex_guard(name, fn) for name, fn in K.items()}
    return {name: fn if getattr(fn, "locks_itself", False) else locked(fn) for name, fn in K.items()}


def _complex_arg(args):
    from plugtorch.backends.opencl.buffer import CLArray
    for a in args:
        c = a.__class__
        if c is CLArray:
            if a.dtype.kind == "c":
                return a.dtype, a.dev
        elif c is list or c is tuple:
            r = _complex_arg(a)
            if r is not None:
                return r
        elif getattr(a, "is_complex", False) is True:   # a plugtorch dtype argument
            return a, None
    return None


def complex_guard(name, fn):
    """``fn`` refusing complex arguments with a MissingCapabilityError naming op, dtype and device."""
    def k(*args):
        bad = _complex_arg(args)
        if bad is not None:
            from plugtorch import _dtypes
            from plugtorch.backends.opencl.kernels.complex import unsupported
            dt, dev = bad
            dt = dt if isinstance(dt, _dtypes.dtype) else _dtypes.from_numpy_dtype(dt)
            raise unsupported(name, dt, dev)
        return fn(*args)
    k.__name__ = getattr(fn, "__name__", name)
    k.locks_itself = getattr(fn, "locks_itself", False)
    return k


def without_complex(kernels) -> list:
    """The ops of ``kernels`` that refuse complex arrays (their whole kernel, or every complex
    form of an elementwise family: floor, lt, pow, ...)."""
    from plugtorch.backends.opencl.kernels import complex as C
    from plugtorch.backends.opencl.kernels import elementwise as E
    done = set(C.UNARY) | set(C.BINARY) | set(C.COMPARE) | (COMPLEX_AWARE - set(E.UNARY) - set(E.BINARY))
    return sorted(n for n in kernels if n not in done)
