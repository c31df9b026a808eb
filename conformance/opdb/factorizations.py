"""plugtorch.linalg: factorisations, solvers, norms, cross and vecdot (float32/float64).

Inputs are built for the op: well-conditioned matrices (random plus n times the identity) for
solves and inverses, symmetric positive-definite ones for Cholesky, symmetric ones for eigh.
Results are compared with cpu's after removing what a factorisation leaves free: eigenvectors
and singular vectors enter squared (their signs are arbitrary), QR as its product Q R with Q and
R squared (a device's Householder signs may differ from LAPACK's), so a backend with its own
kernels passes when it computes a valid factorisation, as PyTorch's tests compare them.
Tolerances grow with the matrix size (``reduction_length``): a device's LU or Cholesky rounds in
a different order than LAPACK's blocked one.
"""
from __future__ import annotations

import numpy as np

import plugtorch as pt

from ..entry import FLOAT_DTYPES, INT_DTYPES, Entry, ErrorInput, Input, Sample

F = (pt.float32, pt.float64)
TOL = {pt.float32: (1e-4, 1e-4), pt.float64: (1e-9, 1e-9)}
SHAPES = (((4, 4), "contiguous"), ((4, 4), "transposed"), ((2, 3, 3), "stepped"), ((1, 1), "contiguous"),
          ((0, 0), "contiguous"), ((2, 0, 0), "contiguous"), ((3, 12, 12), "contiguous"))


def mat(ctx, values, layout="contiguous", requires_grad=True):
    """An Input whose logical values are ``values`` (cast to the sample dtype), laid out as ``layout``."""
    v = np.asarray(values).astype(ctx.dtype.numpy)
    if layout == "transposed" and v.ndim >= 2:
        return Input(np.ascontiguousarray(np.swapaxes(v, -1, -2)), ctx.dtype, "transposed", v.shape, requires_grad)
    if layout == "stepped" and v.ndim >= 1:
        base = np.zeros(v.shape[:-1] + (2 * v.shape[-1],), v.dtype)
        base[..., ::2] = v
        return Input(base, ctx.dtype, "stepped", v.shape, requires_grad)
    return Input(v, ctx.dtype, "contiguous", v.shape, requires_grad)


def _raw(ctx, shape):
    return ctx.values(shape, dtype=pt.float64, low=-1, high=1)


def general(ctx, shape):
    return _raw(ctx, shape)


def conditioned(ctx, shape):
    return _raw(ctx, shape) + shape[-1] * np.eye(shape[-1])


def symmetric(ctx, shape):
    x = _raw(ctx, shape)
    return x + np.swapaxes(x, -1, -2)


def spd(ctx, shape):
    x = _raw(ctx, shape)
    return x @ np.swapaxes(x, -1, -2) + shape[-1] * np.eye(shape[-1])


def square_samples(make, **kwargs):
    def samples(ctx):
        return [Sample(mat(ctx, make(ctx, s), lay), reduction_length=max(s[-1], 1), **kwargs) for s, lay in SHAPES]
    return samples


def _errors(op, square=True, int_error=RuntimeError, extra=(), half_error=NotImplementedError):
    # (half_error: inv and slogdet refuse float16 with PyTorch's RuntimeError "Low precision
    # dtypes not supported. Got Half", b890832; the others with NotImplementedError)
    def errors(ctx):
        out = [ErrorInput(Sample(ctx.input((3,))), RuntimeError, "at least 2 dimensions"),
               ErrorInput(Sample(ctx.input((3, 3), dtype=pt.int64)), int_error, "Long"),
               ErrorInput(Sample(ctx.input((3, 3), dtype=pt.float16)), half_error, "Half")]
        if square:
            out.append(ErrorInput(Sample(ctx.input((2, 3))), RuntimeError, "square matrices"))
        return out + [e(ctx) for e in extra]
    return errors


def _not_pd(ctx):
    return ErrorInput(Sample(mat(ctx, [[[1., 0.], [0., 1.]], [[1., 2.], [2., 1.]]])), pt.linalg.LinAlgError,
                      r"\(Batch element 1\).*minor of order 2")


def _singular(ctx):
    return ErrorInput(Sample(mat(ctx, [[1., 2.], [2., 4.]])), pt.linalg.LinAlgError, "singular")


def _solve_samples(ctx):
    a, b = ((2, 3, 3), "contiguous"), ((4, 4), "transposed")
    A3 = conditioned(ctx, a[0])
    A4 = conditioned(ctx, b[0])
    return [Sample(mat(ctx, A3, "stepped"), mat(ctx, general(ctx, (2, 3))), reduction_length=3),      # batch of vectors
            Sample(mat(ctx, A4, "transposed"), mat(ctx, general(ctx, (4,))), reduction_length=4),     # one vector
            Sample(mat(ctx, A3), mat(ctx, general(ctx, (3, 2)), "transposed"), reduction_length=3),   # broadcast B
            Sample(mat(ctx, A3[:, None]), mat(ctx, general(ctx, (4, 3, 2))), reduction_length=3),     # broadcast both
            Sample(mat(ctx, A4), mat(ctx, general(ctx, (2, 4))), left=False, reduction_length=4),
            Sample(mat(ctx, conditioned(ctx, (12, 12))), mat(ctx, general(ctx, (12, 5))), reduction_length=12),
            Sample(mat(ctx, np.zeros((0, 0))), mat(ctx, np.zeros((0, 2)))),
            Sample(mat(ctx, np.zeros((2, 0, 0))), mat(ctx, np.zeros((2, 0))))]


def _solve_errors(ctx):
    return [ErrorInput(Sample(ctx.input((3, 3)), ctx.input((4,))), RuntimeError, "Incompatible shapes"),
            ErrorInput(Sample(ctx.input((3, 3)), ctx.input((3,), dtype=pt.float64 if ctx.dtype is pt.float32
                                                          else pt.float32)), RuntimeError, "same dtype"),
            ErrorInput(Sample(ctx.input((2, 3, 3)), ctx.input((3, 3, 1))), RuntimeError, "broadcast")]


def _triangular_samples(ctx):
    A3, A4 = conditioned(ctx, (2, 3, 3)), conditioned(ctx, (4, 4))
    out = []
    for upper, left, unit in ((True, True, False), (False, True, True), (True, False, True), (False, False, False)):
        b = general(ctx, (2, 3, 2) if left else (2, 2, 3))
        out.append(Sample(mat(ctx, A3, "transposed"), mat(ctx, b), upper=upper, left=left, unitriangular=unit,
                          reduction_length=3))
    out += [Sample(mat(ctx, A4), mat(ctx, general(ctx, (3, 1, 4, 2)), "stepped"), upper=False, reduction_length=4),
            Sample(mat(ctx, conditioned(ctx, (12, 12))), mat(ctx, general(ctx, (12, 12))), upper=True, reduction_length=12),
            Sample(mat(ctx, np.zeros((0, 0))), mat(ctx, np.zeros((0, 3))), upper=True)]
    return out


def _det_samples(ctx):
    out = square_samples(general)(ctx)
    z = general(ctx, (3, 3))
    z[1] = 0.0    # exactly singular: det 0, and its gradient is the cofactor matrix
    out.append(Sample(mat(ctx, z), reduction_length=3))
    return out


def _qr_samples(ctx, modes=("reduced", "complete")):
    out = []
    for shape, lay in (((5, 3), "contiguous"), ((3, 5), "transposed"), ((2, 4, 4), "stepped"), ((3, 0), "contiguous"),
                       ((12, 7), "contiguous")):
        for mode in modes:
            if mode == "complete" and shape[-2] > shape[-1]:
                continue     # not differentiable there (PyTorch raises)
            out.append(Sample(mat(ctx, general(ctx, shape), lay), mode, reduction_length=max(shape[-2], 1)))
    return out


def _qr_invariants(A, mode="reduced"):
    Q, R = pt.ops.linalg_qr(A, mode)
    if mode == "r":
        return Q, R * R
    return Q @ R, Q * Q, R * R


def _eigh_invariants(A, UPLO="L"):
    w, V = pt.ops.linalg_eigh(A, UPLO)
    return w, V * V


def _svd_invariants(A, full_matrices=True):
    U, S, Vh = pt.ops.linalg_svd(A, full_matrices)
    k = min(A.shape[-2], A.shape[-1])
    U, Vh = U.narrow(-1, 0, k), Vh.narrow(-2, 0, k)   # (a full basis's other vectors are arbitrary)
    return U * U, S, Vh * Vh


def _rect_samples(ctx, **kwargs):
    return [Sample(mat(ctx, general(ctx, s), lay), reduction_length=max(s[-1], s[-2], 1), **kwargs)
            for s, lay in (((5, 3), "contiguous"), ((3, 5), "transposed"), ((2, 4, 4), "stepped"), ((2, 0, 3), "contiguous"),
                           ((10, 7), "contiguous"))]


def _lstsq_samples(ctx):
    out = []
    for driver in (None, "gels", "gelsd", "gelss"):
        out.append(Sample(mat(ctx, general(ctx, (2, 6, 3))), mat(ctx, general(ctx, (1, 6, 2))), driver=driver,
                          reduction_length=6))
    out += [Sample(mat(ctx, general(ctx, (6, 3)), "transposed"), mat(ctx, general(ctx, (6,))), reduction_length=6),
            Sample(mat(ctx, general(ctx, (3, 6))), mat(ctx, general(ctx, (3, 2))), driver="gelsd", reduction_length=6)]
    return out


def _lstsq_fn(A, B, driver=None):
    return tuple(pt.ops.linalg_lstsq(A, B, driver=driver))


def _pinv_samples(ctx):
    return [Sample(mat(ctx, general(ctx, (5, 3))), reduction_length=5),
            Sample(mat(ctx, general(ctx, (2, 3, 5)), "transposed"), reduction_length=5),
            Sample(mat(ctx, symmetric(ctx, (4, 4))), hermitian=True, reduction_length=4),
            Sample(mat(ctx, general(ctx, (4, 4))), atol=0.05, reduction_length=4),
            Sample(mat(ctx, np.zeros((0, 3)))),
            Sample(mat(ctx, general(ctx, (10, 10))), reduction_length=10)]


def _rank_samples(ctx):
    low = general(ctx, (6, 2)) @ general(ctx, (2, 4))
    return [Sample(mat(ctx, low)), Sample(mat(ctx, general(ctx, (2, 4, 4)), "transposed")),
            Sample(mat(ctx, symmetric(ctx, (3, 3))), hermitian=True), Sample(mat(ctx, low), atol=1.0),
            Sample(mat(ctx, np.zeros((2, 0, 3))))]


def _matrix_norm_samples(ctx):
    out = []
    for ord in ("fro", "nuc", 1, -1, 2, -2, float("inf"), -float("inf")):
        out.append(Sample(mat(ctx, general(ctx, (2, 3, 4)), "transposed"), ord, (1, 2), reduction_length=4))
        out.append(Sample(mat(ctx, general(ctx, (4, 3))), ord, (1, 0), True, reduction_length=4))
    return out


def _norm_samples(ctx):
    x = general(ctx, (3, 4, 5))
    return [Sample(mat(ctx, x), reduction_length=60), Sample(mat(ctx, x[0], "transposed"), 2, reduction_length=5),
            Sample(mat(ctx, x), 3, 1, reduction_length=4), Sample(mat(ctx, x), "fro", (0, 2), True, reduction_length=15),
            Sample(mat(ctx, x[0, 0]), float("inf"))]


def _cross_samples(ctx):
    return [Sample(ctx.input((4, 3)), ctx.input((1, 3), layout="stepped")),
            Sample(ctx.input((3, 2), layout="transposed"), ctx.input((3, 2)), dim=0),
            Sample(ctx.input((3,)), ctx.input((2, 5, 3), layout="expanded")),
            Sample(ctx.input((0, 3)), ctx.input((3,)))]


def _vecdot_samples(ctx):
    return [Sample(ctx.input((4, 3)), ctx.input((3,), layout="stepped"), reduction_length=3),
            Sample(ctx.input((3, 2), layout="transposed"), ctx.input((3, 2)), dim=0, reduction_length=3),
            Sample(ctx.input((2, 0)), ctx.input((0,)))]


def _entry(name, samples, dtypes=F, **kw):
    kw.setdefault("tol", TOL)
    return Entry(name, samples=samples, dtypes=dtypes, **kw)


ENTRIES = [
    _entry("linalg_cholesky_ex", lambda ctx: square_samples(spd)(ctx) + square_samples(spd, upper=True)(ctx)[:3],
           fn=lambda A, upper=False: pt.ops.linalg_cholesky_ex(A, upper=upper), error_inputs=_errors("linalg.cholesky")),
    _entry("linalg_cholesky", square_samples(spd), error_inputs=_errors("linalg.cholesky", extra=(_not_pd,))),
    _entry("linalg_inv_ex", square_samples(conditioned), error_inputs=_errors("linalg.inv", half_error=RuntimeError)),
    _entry("linalg_inv", square_samples(conditioned), error_inputs=_errors("linalg.inv", extra=(_singular,), half_error=RuntimeError)),
    _entry("linalg_solve_ex", _solve_samples, error_inputs=_solve_errors),
    _entry("linalg_solve", _solve_samples, error_inputs=lambda ctx: _solve_errors(ctx) + [
        ErrorInput(Sample(mat(ctx, [[1., 2.], [2., 4.]]), mat(ctx, [1., 1.])), pt.linalg.LinAlgError, "singular")]),
    _entry("linalg_det", _det_samples, error_inputs=_errors("linalg.det")),
    _entry("linalg_slogdet", square_samples(general), error_inputs=_errors("linalg.slogdet", half_error=RuntimeError)),
    _entry("linalg_solve_triangular", _triangular_samples, error_inputs=lambda ctx: [
        ErrorInput(Sample(ctx.input((3, 3)), ctx.input((4, 2)), upper=True), RuntimeError, "Incompatible shapes"),
        ErrorInput(Sample(ctx.input((3, 3)), ctx.input((3,)), upper=True), RuntimeError, "at least 2 dimensions")]),
    _entry("linalg_qr", _qr_samples, fn=_qr_invariants, error_inputs=lambda ctx: _errors("linalg.qr", square=False)(ctx) + [
        ErrorInput(Sample(ctx.input((3, 3)), "x"), RuntimeError, "unrecognized mode")]),
    _entry("linalg_qr (mode r)", lambda ctx: _qr_samples(ctx, ("r",)), op="linalg_qr", fn=_qr_invariants,
           differentiable=False),
    _entry("linalg_eigh", lambda ctx: square_samples(symmetric)(ctx) + square_samples(symmetric, UPLO="U")(ctx)[:2],
           fn=_eigh_invariants, error_inputs=_errors("linalg.eigh", int_error=NotImplementedError)),
    _entry("linalg_eigvalsh", square_samples(symmetric), error_inputs=_errors("linalg.eigvalsh", int_error=NotImplementedError)),
    _entry("linalg_svd", lambda ctx: _rect_samples(ctx) + _rect_samples(ctx, full_matrices=False)[:3], fn=_svd_invariants,
           error_inputs=_errors("linalg.svd", square=False)),
    _entry("linalg_svdvals", _rect_samples, error_inputs=_errors("linalg.svd", square=False)),
    _entry("linalg_lstsq", _lstsq_samples, fn=_lstsq_fn, error_inputs=lambda ctx: [
        ErrorInput(Sample(ctx.input((3, 2)), ctx.input((4, 1))), RuntimeError, "should match"),
        ErrorInput(Sample(ctx.input((3, 2)), ctx.input((3, 1)), driver="x"), RuntimeError, "driver")]),
    _entry("linalg_pinv", _pinv_samples, error_inputs=lambda ctx: [
        ErrorInput(Sample(ctx.input((3, 2), dtype=pt.int64)), RuntimeError, "expected a tensor with 2 or more")]),
    _entry("linalg_matrix_rank", _rank_samples, error_inputs=lambda ctx: [
        ErrorInput(Sample(ctx.input((3, 2), dtype=pt.int64)), RuntimeError, "float and double")]),
    _entry("linalg_matrix_norm", _matrix_norm_samples, error_inputs=lambda ctx: [
        ErrorInput(Sample(ctx.input((3, 3)), 3), RuntimeError, "Order 3 not supported"),
        ErrorInput(Sample(ctx.input((3,))), RuntimeError, "at least 2 dimensions")]),
    _entry("linalg_norm", _norm_samples, error_inputs=lambda ctx: [
        ErrorInput(Sample(ctx.input((2, 2, 2)), 2), RuntimeError, "must be 1D or 2D")]),
    _entry("linalg_cross", _cross_samples, dtypes=INT_DTYPES + FLOAT_DTYPES, tol={}, error_inputs=lambda ctx: [
        ErrorInput(Sample(ctx.input((3, 2)), ctx.input((3, 2))), RuntimeError, "must have length 3")]),
    _entry("linalg_vecdot", _vecdot_samples, dtypes=FLOAT_DTYPES, tol={}, error_inputs=lambda ctx: [
        ErrorInput(Sample(ctx.input((3,), dtype=pt.int64), ctx.input((3,), dtype=pt.int64)), RuntimeError, "Long")]),
]
