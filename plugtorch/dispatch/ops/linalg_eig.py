"""The general (non-symmetric) eigendecomposition: ``linalg_eig`` and ``linalg_eigvals``.

Complex results for real or complex square matrices, from LAPACK's geev (NumPy's on cpu);
other devices take the host round trip, as for the other factorisations. No autograd (no
formula yet): an input that requires grad is refused rather than the graph cut silently.
"""
from __future__ import annotations

from plugtorch import _dtypes
from plugtorch.dispatch import meta as M
from plugtorch.dispatch.host import host_decomposition
from plugtorch.dispatch.ops.complex import refuse_complex_grad
from plugtorch.dispatch.ops.linalg import _LOW
from plugtorch.dispatch.registry import OUT_MULTI, register_op

_COMPLEX_OF = {_dtypes.float32: _dtypes.complex64, _dtypes.float64: _dtypes.complex128,
               _dtypes.complex64: _dtypes.complex64, _dtypes.complex128: _dtypes.complex128}


def _check(op, A):
    if not isinstance(A, M.Tensor):
        raise TypeError(f"{op}(): argument 'A' must be Tensor, not {type(A).__name__}")
    if A.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are {A.shape[-2]} by "
                           f"{A.shape[-1]} matrices")
    if A._dtype in _LOW:
        raise M.not_implemented_for(op, A._dtype, "linear algebra runs in float32 or float64: use .float()")
    if A._dtype not in _COMPLEX_OF:
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got "
                           f"{M.LEGACY_NAMES.get(A._dtype.name, A._dtype.name)}")
    return _COMPLEX_OF[A._dtype]


def _eig_meta(A):
    c = _check("linalg.eig", A)
    refuse_complex_grad("linalg.eig", A)
    return A._device, (A._data,), (c, c)


def _eigvals_meta(A):
    c = _check("linalg.eigvals", A)
    refuse_complex_grad("linalg.eigvals", A)
    return A._device, (A._data,), c


register_op("linalg_eig", _eig_meta, decomposition=host_decomposition("linalg_eig"), tags=("linalg",),
            differentiable=False, out_kind=OUT_MULTI)
register_op("linalg_eigvals", _eigvals_meta, decomposition=host_decomposition("linalg_eigvals"), tags=("linalg",),
            differentiable=False)
