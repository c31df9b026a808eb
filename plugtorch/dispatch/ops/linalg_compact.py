"""LAPACK's compact factorisations: ``geqrf`` (Householder QR as reflectors and their scales) and
the Bunch-Kaufman LDL^T of symmetric/Hermitian matrices (``linalg_ldl_factor_ex``, ``linalg_ldl_solve``).

Their results are LAPACK's own layout (reflectors below R's diagonal; L and the 1x1/2x2 blocks of
D in one lower triangle, with sytrf's 1-based pivots, negative for a 2x2 block), so every backend
gets the cpu kernel's (SciPy's LAPACK) through the host round trip, as the other factorisations.
No autograd, as PyTorch (``linalg.householder_product`` on geqrf's result has one).
"""
from __future__ import annotations

from plugtorch import _dtypes
from plugtorch.dispatch import meta as M
from plugtorch.dispatch.host import host_decomposition
from plugtorch.dispatch.ops.linalg import _LOW, INFO, check_matrix_shape
from plugtorch.dispatch.registry import OUT_MULTI, register_op

_FLOATS = (_dtypes.float32, _dtypes.float64, _dtypes.complex64, _dtypes.complex128)


def _check(op, A, name="A", kernel=None, square=False):
    """``A`` a float or complex tensor of >= 2 dims; float16 etc. NotImplementedError naming the
    cpu kernel, as PyTorch's dispatch macro; integers as ``kernel`` says."""
    check_matrix_shape(op, A, name, square)
    if A._dtype not in _FLOATS:
        legacy = M.LEGACY_NAMES.get(A._dtype.name, A._dtype.name)
        if kernel is None and A._dtype not in _LOW:
            raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got {legacy}; "
                               "convert with .float() or .double() first")
        raise NotImplementedError(f'"{kernel or "ldl_factor_kernel_cpu"}" not implemented for \'{legacy}\' '
                                  f"({op}: use float32 or float64, e.g. .float())")


def _geqrf_meta(input):
    """``(a, tau)``: LAPACK's geqrf of each matrix: R on and above the diagonal, the Householder
    vectors (unit leading entry implied) below it, and their scales tau (min(m, n) per matrix)."""
    if not isinstance(input, M.Tensor):
        raise TypeError(f"geqrf(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input.ndim < 2:
        raise RuntimeError(f"torch.geqrf: input must have at least 2 dimensions (got shape {tuple(input.shape)}).")
    _check("torch.geqrf", input, "input", kernel="geqrf_cpu")
    return input._device, (input._data,), (input._dtype, input._dtype)


def _ldl_factor_ex_meta(A, *, hermitian=False):
    """``(LD, pivots, info)``: sytrf (hetrf for a Hermitian complex ``A``) on A's lower triangle;
    LD's strict upper triangle is zero, pivots int32 (1-based, negative for 2x2 blocks), info
    > 0 where D has an exact zero on its diagonal (the factorisation is complete; D is singular)."""
    op = "torch.linalg.ldl_factor_ex"
    _check(op, A, square=True)
    M.check_bool(op, "hermitian", hermitian)
    return A._device, (A._data, hermitian), (A._dtype, INFO, INFO)


def _ldl_solve_meta(LD, pivots, B, *, hermitian=False):
    """X with ``A X = B`` from ``ldl_factor``'s ``(LD, pivots)`` (sytrs / hetrs); batch dims broadcast."""
    op = "torch.linalg.ldl_solve"
    _check(op, LD, "LD", square=True)
    for name, t in (("pivots", pivots), ("B", B)):
        if not isinstance(t, M.Tensor):
            raise TypeError(f"linalg.ldl_solve(): argument '{name}' must be Tensor, not {type(t).__name__}")
    M.check_bool(op, "hermitian", hermitian)
    dev = M.common_device("linalg.ldl_solve", (LD, pivots, B))
    if B.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor B must have at least 2 dimensions (got shape {tuple(B.shape)}); "
                           "add a dim with .unsqueeze(-1) for a column")
    if tuple(pivots.shape) != tuple(LD.shape[:-1]):
        raise RuntimeError(f"{op}: Expected LD.shape[:-1] and pivots.shape to be the same, but got pivots with "
                           f"shape {list(pivots.shape)} instead")
    if pivots._dtype.category != _dtypes._INT or pivots._dtype is _dtypes.bool:
        raise RuntimeError(f"{op}: Expected pivots to be integers. Got {M.LEGACY_NAMES.get(pivots._dtype.name)}")
    if LD._dtype is not B._dtype:
        ln = M.LEGACY_NAMES
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type {ln[B._dtype.name]} and "
                           f"A of type {ln[LD._dtype.name]} instead.")
    n = LD.shape[-1]
    if B.shape[-2] != n:
        raise RuntimeError(f"Incompatible matrix sizes for torch.linalg.ldl_solve: each A matrix is {n} by {n} but "
                           f"each b matrix is {B.shape[-2]} by {B.shape[-1]}")
    M.broadcast_shapes(tuple(LD.shape[:-2]), tuple(B.shape[:-2]), op="linalg.ldl_solve")
    return dev, (LD._data, pivots._data, B._data, hermitian), LD._dtype


def _op(name, meta, **kw):
    register_op(name, meta, decomposition=host_decomposition(name), tags=("linalg",), differentiable="not_implemented", **kw)


_op("geqrf", _geqrf_meta, out_kind=OUT_MULTI)
_op("linalg_ldl_factor_ex", _ldl_factor_ex_meta, out_kind=OUT_MULTI)
_op("linalg_ldl_solve", _ldl_solve_meta)
