"""Linear algebra: matmul (the core op) and the factorisations and solvers of ``plugtorch.linalg``.

The factorisations take float32/float64 (as PyTorch's cpu kernels: float16 and bfloat16 raise
NotImplementedError, integers RuntimeError) and batch over every leading dim. Each has a meta
and a host round trip as its decomposition (dispatch/host.py): cpu runs NumPy's LAPACK, a
device runs its own kernel where it has one (opencl: Cholesky, triangular and LU solves, QR)
and goes through host memory for the rest. Errors that depend on the values (a singular matrix,
one that is not positive-definite) come back as an ``info`` tensor, as from PyTorch's ``*_ex``
functions; ``plugtorch.linalg`` turns a nonzero one into ``LinAlgError``.
"""
from __future__ import annotations

from plugtorch import _dtypes
from plugtorch.dispatch import meta as M
from plugtorch.dispatch.host import host_decomposition
from plugtorch.dispatch.registry import OUT_MULTI, register_op


class LinAlgError(RuntimeError):
    """A matrix the operation cannot handle: singular (``inv``, ``solve``) or not
    positive-definite (``cholesky``); ``plugtorch.linalg.LinAlgError``, as ``torch.linalg.LinAlgError``."""


def _matmul_meta(input, other):
    """Matrix product of tensors with ndim >= 2 whose batch dims broadcast (the core kernel)."""
    for name, t in (("input", input), ("other", other)):
        if not isinstance(t, M.Tensor):
            raise TypeError(f"matmul(): argument '{name}' must be Tensor, not {type(t).__name__}")
    if input.ndim < 2 or other.ndim < 2:
        raise RuntimeError("_matmul(): both arguments must be at least 2-D")
    dev = M.common_device("matmul", (input, other))
    if input.shape[-1] != other.shape[-2]:
        raise RuntimeError(f"matmul(): mat1 and mat2 shapes cannot be multiplied "
                           f"({'x'.join(map(str, input.shape[-2:]))} and {'x'.join(map(str, other.shape[-2:]))}); "
                           f"shapes {tuple(input.shape)} and {tuple(other.shape)}")
    M.broadcast_shapes(tuple(input.shape[:-2]), tuple(other.shape[:-2]), op="matmul")
    if input._dtype is not other._dtype:
        raise RuntimeError(f"matmul(): expected both arguments to have the same dtype, but got "
                           f"{input._dtype} and {other._dtype}; cast one with .to(dtype)")
    if input._dtype is _dtypes.bool:
        raise M.not_implemented_for("matmul", input._dtype, "convert bool tensors with .float() first")
    return dev, (input._data, other._data), input._dtype


register_op("_matmul", _matmul_meta, tags=("linalg",))


# ---- argument checks shared by the factorisations -----------------------------------------
_LOW = (_dtypes.float16, _dtypes.bfloat16)


def check_matrix(op, A, name="A", square=False, int_error=RuntimeError):
    """``A`` is a float32/float64 tensor of at least 2 dims (square ones when ``square``)."""
    check_matrix_shape(op, A, name, square)
    check_float(op, A._dtype, int_error)


def check_matrix_shape(op, A, name="A", square=False):
    """``A`` is a tensor of at least 2 dims (square matrices when ``square``), of any dtype."""
    if not isinstance(A, M.Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(A).__name__}")
    if A.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor {name} must have at least 2 dimensions "
                           f"(got shape {tuple(A.shape)}); add a dim with .unsqueeze(-1) for a column")
    if square and A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{op}: {name} must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")


def check_square(op, A):
    """``A`` is a tensor of square matrices (any dtype): matrix_power's check."""
    if not isinstance(A, M.Tensor):
        raise TypeError(f"{op}(): argument 'A' must be Tensor, not {type(A).__name__}")
    if A.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions (got shape {tuple(A.shape)})")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")


# the ops that take complex matrices (LAPACK's complex drivers through NumPy on cpu; no autograd:
# complex tensors cannot require grad)
COMPLEX_OPS = frozenset({"linalg.cholesky", "linalg.inv", "linalg.solve", "linalg.det", "linalg.slogdet", "linalg.qr",
                         "linalg.eigh", "linalg.eigvalsh", "linalg.svd", "linalg.pinv", "linalg.matrix_rank",
                         "linalg.matrix_norm"})


# the ops whose PyTorch check (checkFloatingOrComplex, allow_low_precision_dtypes=false) refuses
# float16/bfloat16 with a RuntimeError; the others reach a kernel with no such instance and raise
# NotImplementedError
LOW_PRECISION_REFUSED = frozenset({"linalg.inv", "linalg.slogdet", "linalg.matrix_norm"})


def check_float(op, dtype, int_error=RuntimeError):
    if dtype in _LOW:
        hint = "linear algebra runs in float32 or float64: use .float() and cast back"
        if op in LOW_PRECISION_REFUSED:
            raise RuntimeError(f"{op}: Low precision dtypes not supported. Got "
                               f"{M.LEGACY_NAMES.get(dtype.name, dtype.name)}; {hint}")
        raise M.not_implemented_for(op, dtype, hint)
    if dtype.category == _dtypes._COMPLEX:
        if op in COMPLEX_OPS:
            return
        raise M.not_implemented_for(op, dtype, "plugtorch's linear algebra of complex matrices covers "
                                    f"{', '.join(sorted(COMPLEX_OPS))} so far")
    if dtype.category != _dtypes._FLOAT:
        legacy = M.LEGACY_NAMES.get(dtype.name, dtype.name)
        if int_error is NotImplementedError:
            raise M.not_implemented_for(op, dtype, "convert with .float() or .double() first")
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got {legacy}; "
                           "convert with .float() or .double() first")


def _same_dtype(op, A, B, a="A", b="B"):
    if A._dtype is not B._dtype:
        ln = M.LEGACY_NAMES
        raise RuntimeError(f"{op}: Expected {a} and {b} to have the same dtype, but found {a} of type "
                           f"{ln[A._dtype.name]} and {b} of type {ln[B._dtype.name]} instead; cast one with .to(dtype)")


def _shape_str(shape):
    return "x".join(map(str, shape))


def _op(name, meta, tags=("linalg",), out_kind=None, differentiable=True):
    kw = {} if out_kind is None else {"out_kind": out_kind}
    register_op(name, meta, decomposition=host_decomposition(name), tags=tags,
                differentiable=differentiable, **kw)


INFO = _dtypes.int32   # the dtype of the ``info`` results, as PyTorch's


# ---- Cholesky, inverse, solve, determinants -----------------------------------------------
def _cholesky_ex_meta(A, *, upper=False):
    """``(L, info)``: the Cholesky factor of the batch of symmetric positive-definite ``A``
    (lower, or upper with ``upper=True``, reading that triangle of ``A``), and per matrix the
    order of the first leading minor that is not positive-definite (0: success)."""
    check_matrix("linalg.cholesky", A, square=True)
    M.check_bool("linalg.cholesky", "upper", upper)
    return A._device, (A._data, upper), (A._dtype, INFO)


def _inv_ex_meta(A):
    """``(inverse, info)``: info is LAPACK's getrf info per matrix (the first zero pivot, 1-based)."""
    check_matrix("linalg.inv", A, square=True)
    return A._device, (A._data,), (A._dtype, INFO)


def is_vector_rhs(A, B) -> bool:
    """PyTorch's rule for ``solve``: B is a (batch of) vector(s) if 1-d, or if its shape is A's
    without the last dim."""
    return B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))


def _solve_ex_meta(A, B, *, left=True):
    """``(X, info)`` with ``A X = B`` (``X A = B`` when ``left=False``); B a matrix or, by PyTorch's
    rule (``is_vector_rhs``), a vector; batch dims broadcast; info as ``inv``'s, with A's batch shape."""
    op = "linalg.solve"
    check_matrix(op, A, square=True)
    if not isinstance(B, M.Tensor):
        raise TypeError(f"{op}(): argument 'B' must be Tensor, not {type(B).__name__}")
    M.check_bool(op, "left", left)
    dev = M.common_device(op, (A, B))
    if B.ndim == 0:
        raise RuntimeError(f"{op}: The input tensor B must have at least 2 dimensions (got a 0-d tensor); "
                           "pass a vector or a matrix")
    _same_dtype(op, A, B)
    vector = is_vector_rhs(A, B)
    bm = tuple(B.shape) + (1,) if vector else tuple(B.shape)
    n = A.shape[-1]
    if (bm[-2] if left else bm[-1]) != n:
        eq = "AX = B" if left else "XA = B"
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation {eq} "
                           f"({_shape_str(A.shape[-2:])} and {_shape_str(bm[-2:])})")
    M.broadcast_shapes(tuple(A.shape[:-2]), bm[:-2], op=op)
    return dev, (A._data, B._data, left, vector), (A._dtype, INFO)


def _det_meta(A):
    check_matrix("linalg.det", A, square=True)
    return A._device, (A._data,), A._dtype


def _slogdet_meta(A):
    """``(sign, logabsdet)`` of each matrix: sign 0 and logabsdet -inf for a singular one."""
    check_matrix("linalg.slogdet", A, square=True)
    return A._device, (A._data,), (A._dtype, A._dtype.to_real())   # a complex A's sign is complex


def _solve_triangular_meta(A, B, *, upper, left=True, unitriangular=False):
    """X with ``A X = B`` (``X A = B`` when ``left=False``) for triangular A: only the ``upper``
    (or lower) triangle of A is read, and its diagonal is taken as ones with ``unitriangular``.
    A singular A gives inf/nan, as PyTorch's (no error)."""
    op = "linalg.solve_triangular"
    check_matrix(op, A, square=True, int_error=NotImplementedError)
    check_matrix(op, B, "B", int_error=NotImplementedError)
    for name, v in (("upper", upper), ("left", left), ("unitriangular", unitriangular)):
        M.check_bool(op, name, v)
    dev = M.common_device(op, (A, B))
    _same_dtype(op, A, B)
    n = A.shape[-1]
    if (B.shape[-2] if left else B.shape[-1]) != n:
        eq = "AX = B" if left else "XA = B"
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation {eq} "
                           f"({_shape_str(A.shape[-2:])} and {_shape_str(B.shape[-2:])})")
    M.broadcast_shapes(tuple(A.shape[:-2]), tuple(B.shape[:-2]), op=op)
    return dev, (A._data, B._data, upper, left, unitriangular), A._dtype


_op("linalg_cholesky_ex", _cholesky_ex_meta, out_kind=OUT_MULTI)
_op("linalg_inv_ex", _inv_ex_meta, out_kind=OUT_MULTI)
_op("linalg_solve_ex", _solve_ex_meta, out_kind=OUT_MULTI)
_op("linalg_det", _det_meta)
_op("linalg_slogdet", _slogdet_meta, out_kind=OUT_MULTI)
_op("linalg_solve_triangular", _solve_triangular_meta)


# ---- QR, eigh, SVD, least squares -----------------------------------------------------------
QR_MODES = ("reduced", "complete", "r")


def _qr_meta(A, mode="reduced"):
    """``(Q, R)``: Householder QR, R's diagonal signs as LAPACK's geqrf gives them; ``mode='r'``
    returns an empty Q, as PyTorch."""
    check_matrix("linalg.qr", A)
    if mode not in QR_MODES:
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), "
                           "'r', or 'complete'")
    return A._device, (A._data, mode), (A._dtype, A._dtype)


def _uplo(op, UPLO):
    if UPLO not in ("L", "U", "l", "u"):
        raise RuntimeError(f"{op}: Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return UPLO in ("U", "u")


def _eigh_meta(A, UPLO="L"):
    """``(eigenvalues, eigenvectors)`` of symmetric A (its lower triangle, or upper with UPLO='U'),
    eigenvalues ascending; each eigenvector's sign is LAPACK's (syevd), as on PyTorch's cpu."""
    check_matrix("linalg.eigh", A, square=True, int_error=NotImplementedError)
    return A._device, (A._data, _uplo("linalg.eigh", UPLO)), (A._dtype.to_real(), A._dtype)


def _eigvalsh_meta(A, UPLO="L"):
    check_matrix("linalg.eigvalsh", A, square=True, int_error=NotImplementedError)
    return A._device, (A._data, _uplo("linalg.eigvalsh", UPLO)), A._dtype.to_real()


def _check_driver(op, driver):
    if driver is not None:
        raise RuntimeError(f"torch.linalg.svd: keyword argument `driver=` is only supported on CUDA inputs "
                           f"with cuSOLVER backend ({op} got driver={driver!r}); leave it out")


def _svd_meta(A, full_matrices=True, *, driver=None):
    """``(U, S, Vh)`` with ``A = U diag(S) Vh``, S descending (LAPACK's gesdd, as PyTorch's cpu)."""
    check_matrix("linalg.svd", A)
    M.check_bool("linalg.svd", "full_matrices", full_matrices)
    _check_driver("linalg.svd", driver)
    return A._device, (A._data, full_matrices), (A._dtype, A._dtype.to_real(), A._dtype)


def _svdvals_meta(A, *, driver=None):
    check_matrix("linalg.svd", A)
    _check_driver("linalg.svdvals", driver)
    return A._device, (A._data,), A._dtype.to_real()


LSTSQ_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


def _lstsq_meta(A, B, rcond=None, *, driver=None):
    """``(solution, residuals, rank, singular_values)`` minimising ||A X - B|| per matrix, as
    PyTorch's cpu drivers: gelsy (default) computes the rank, gelsd/gelss also the singular
    values; residuals (squared, per column) only when m > n, every A has full rank and the
    driver is not gelsy; what a driver does not compute is an empty tensor."""
    op = "torch.linalg.lstsq"
    if not isinstance(A, M.Tensor) or not isinstance(B, M.Tensor):
        bad, name = (A, "input") if not isinstance(A, M.Tensor) else (B, "other")
        raise TypeError(f"linalg.lstsq(): argument '{name}' must be Tensor, not {type(bad).__name__}")
    if A.ndim < 2:
        raise RuntimeError(f"{op}: input must have at least 2 dimensions (got shape {tuple(A.shape)}).")
    if B.ndim < 1:
        raise RuntimeError(f"{op}: other must have at least 1 dimension (got a 0-d tensor).")
    dev = M.common_device("linalg.lstsq", (A, B))
    if A._dtype is not B._dtype:
        ln = M.LEGACY_NAMES
        raise RuntimeError(f"{op}: Expected input and other to have the same dtype, but got input's dtype "
                           f"{ln[A._dtype.name]} and other's dtype {ln[B._dtype.name]}; cast one with .to(dtype)")
    if A._dtype not in (_dtypes.float32, _dtypes.float64):
        raise RuntimeError(f"{op}: This function doesn't handle types other than float and double "
                           f"(got {A._dtype}); convert with .float() or .double() first")
    vector = is_vector_rhs(A, B)
    bm = tuple(B.shape) + (1,) if vector else tuple(B.shape)
    if bm[-2] != A.shape[-2]:
        raise RuntimeError(f"{op}: input.size(-2) should match other.size(-2) (shapes {tuple(A.shape)} and "
                           f"{tuple(B.shape)})")
    M.broadcast_shapes(tuple(A.shape[:-2]), bm[:-2], op="linalg.lstsq")
    if driver is None:
        driver = "gelsy"
    if driver not in LSTSQ_DRIVERS:
        raise RuntimeError(f"{op}: parameter `driver` should be one of (gels, gelsy, gelsd, gelss), got {driver!r}")
    if rcond is not None and not isinstance(rcond, (int, float)):
        raise TypeError(f"linalg.lstsq(): argument 'rcond' must be float, not {type(rcond).__name__}")
    if rcond is None:
        rcond = _dtypes.finfo(A._dtype).eps * max(A.shape[-2], A.shape[-1])
    return dev, (A._data, B._data, float(rcond), driver, vector), (A._dtype, A._dtype, _dtypes.int64, A._dtype)


_op("linalg_qr", _qr_meta, out_kind=OUT_MULTI)
_op("linalg_eigh", _eigh_meta, out_kind=OUT_MULTI)
_op("linalg_eigvalsh", _eigvalsh_meta)
_op("linalg_svd", _svd_meta, out_kind=OUT_MULTI)
_op("linalg_svdvals", _svdvals_meta)
_op("linalg_lstsq", _lstsq_meta, out_kind=OUT_MULTI)

# the ops above that a device may leave to the host round trip (and which declare it)
FACTORIZATIONS = ("linalg_cholesky_ex", "linalg_inv_ex", "linalg_solve_ex", "linalg_det", "linalg_slogdet",
                  "linalg_solve_triangular", "linalg_qr", "linalg_eigh", "linalg_eigvalsh", "linalg_svd",
                  "linalg_svdvals", "linalg_lstsq")
