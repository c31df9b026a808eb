"""Kernel families of the opencl backend; ``kernel_table()`` maps every core op to its kernel."""
from __future__ import annotations


def kernel_table() -> dict:
    from plugtorch.backends.opencl.kernels import (copy, elementwise, factory, indexing, linalg, matmul,
                                                   reduce, scan, sort, views)
    from plugtorch.backends.opencl.runtime import locked
    K = {}
    for mod in (views, copy, elementwise, reduce, scan, sort, matmul, linalg, indexing, factory):
        K.update(mod.KERNELS)
    return {name: fn if getattr(fn, "locks_itself", False) else locked(fn) for name, fn in K.items()}
