"""The cuda kernel table: the shared array kernels run on CuPy, plus the few places CuPy differs.

CuPy mirrors NumPy, so ``array_kernels.make_kernels(cupy)`` does the maths for every core op.
What is overridden here, and why:

* scatter accumulation: NumPy's ``np.add.at`` is ``cupyx.scatter_add`` on CuPy, which uses
  CUDA's atomicAdd and so takes only float16/32/64, int32, uint32 and uint64. int64 adds as
  uint64 (two's complement addition is the same bits); int8/int16/uint8/bool add in int32 and
  wrap back, as PyTorch's small ints do. ``np.multiply.at`` has no atomic counterpart on the
  GPU, so ``scatter(reduce='multiply')`` runs on the host (rare, and exact).
* ``sigmoid``: one fused ElementwiseKernel instead of four ufunc launches (the shared version
  also builds its constant 1 with ``asarray``, a host-to-device copy per call on CuPy).
* with several GPUs, each kernel runs with its inputs' device current (CuPy launches on the
  current device); factories use the device index they are given.
* plugtorch.linalg's factorisations and plugtorch.fft's transforms: ``linalg_kernels.py``
  (cupy.linalg and cupy.fft, with LAPACK's per-matrix info taken from the host on a failure).

Everything else (``argsort(kind='stable')``, ``take_along_axis``, reductions with ``dtype=``,
0-d results, views through ``reshape``/``broadcast_to``) behaves the same on CuPy as on NumPy.
CuPy never warns about inf/nan results, so there is no errstate to manage; it has no
bfloat16, which the backend declares unsupported before any kernel runs.
"""
from __future__ import annotations

import numpy as np

from plugtorch.backends.cpu.array_kernels import make_kernels

# dtypes CUDA's atomicAdd handles directly (what cupyx.scatter_add accepts)
_ATOMIC_ADD = frozenset(np.dtype(t) for t in (np.float16, np.float32, np.float64,
                                              np.int32, np.uint32, np.uint64))
_FACTORIES = ("full", "empty", "arange")


def make_cuda_kernels(cp, *, multi_device: bool = False) -> dict:
    """The kernel table for CuPy module ``cp``."""
    import cupyx
    import cupyx.scipy.special

    def host_at(ufunc):
        def at(r, key, values):
            host = cp.asnumpy(r)
            host_key = tuple(cp.asnumpy(k) if isinstance(k, cp.ndarray) else k for k in key)
            ufunc.at(host, host_key, cp.asnumpy(values) if isinstance(values, cp.ndarray) else values)
            r[...] = cp.asarray(host)
        return at

    K = make_kernels(cp, erf=cupyx.scipy.special.erf, add_at=widened_add_at(cupyx.scatter_add, cp),
                     multiply_at=host_at(np.multiply), maximum_at=host_at(np.maximum),
                     minimum_at=host_at(np.minimum))

    sigmoid_f32 = cp.ElementwiseKernel("float32 x", "float32 y", "y = 1.0f / (1.0f + expf(-x))",
                                       "plugtorch_sigmoid_f32")
    sigmoid_f64 = cp.ElementwiseKernel("float64 x", "float64 y", "y = 1.0 / (1.0 + exp(-x))",
                                       "plugtorch_sigmoid_f64")
    shared_sigmoid = K["sigmoid"]

    def sigmoid(x, dtype):
        d = dtype.numpy
        if d == np.float32 or d == np.float64:
            if x.dtype != d:
                x = x.astype(d)
            return sigmoid_f32(x) if d == np.float32 else sigmoid_f64(x)
        return shared_sigmoid(x, dtype)   # float16: computed through float32 by the ufuncs
    K["sigmoid"] = sigmoid

    from plugtorch.backends.cuda.linalg_kernels import make_cuda_linalg_kernels
    K.update(make_cuda_linalg_kernels(cp))     # (lstsq keeps the host round trip)

    if multi_device:
        K = {name: _on_device(cp, name, k) for name, k in K.items()}
    return K


def widened_add_at(scatter_add, xp):
    """``add_at(r, key, values)`` for every dtype, from a ``scatter_add`` that takes only the
    dtypes atomicAdd handles (``_ATOMIC_ADD``)."""
    def add_at(r, key, values):
        d = r.dtype
        if d in _ATOMIC_ADD:
            scatter_add(r, key, xp.asarray(values, dtype=d))
        elif d == np.int64:   # two's complement: adding as uint64 gives the same bits
            scatter_add(r.view(np.uint64), key, xp.asarray(values, dtype=np.int64).view(np.uint64))
        else:                 # int8, int16, uint8, bool: add in int32, then wrap (or test != 0)
            acc = r.astype(np.int32)
            scatter_add(acc, key, xp.asarray(values).astype(np.int32))
            r[...] = (acc != 0) if d == np.bool_ else acc.astype(d)
    return add_at


def _on_device(cp, name, kernel):
    """Run ``kernel`` with the device of its first array argument (or its index) current."""
    Device = cp.cuda.Device
    ndarray = cp.ndarray
    if name in _FACTORIES:   # (..., dtype, device index)
        def factory(*args):
            with Device(args[-1] or 0):
                return kernel(*args)
        return factory

    def guarded(*args):
        for a in args:
            if a.__class__ is list and a and a[0].__class__ is ndarray:
                a = a[0]
            if a.__class__ is ndarray:
                with a.device:
                    return kernel(*args)
        return kernel(*args)
    return guarded
