"""Backward formulas of plugtorch.linalg against central finite differences in float64
(gradcheck) and, through create_graph, their own derivatives (gradgradcheck).

Symmetric inputs are built inside the function (X + X^T, X X^T + nI), as the kernels read one
triangle; eigenvector and singular-vector outputs enter through sign-invariant functions
(squares, absolute values, products U Vh), as only those are well defined.
"""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch.autograd import gradcheck, gradgradcheck

L = pt.linalg
D = pt.float64


def rnd(*shape, seed=0):
    return pt.tensor(np.random.default_rng(seed).standard_normal(shape), dtype=D)


def spd(X):
    return X @ X.mT + X.shape[-1] * pt.eye(X.shape[-1], dtype=D)


def shift(X):   # well conditioned
    return X + 4 * pt.eye(X.shape[-1], dtype=D)


def sym(X):
    return X + X.mT


CASES = {
    "cholesky": (lambda X: L.cholesky(spd(X)), [(2, 4, 4)]),
    "cholesky_upper": (lambda X: L.cholesky(spd(X), upper=True), [(3, 3)]),
    "inv": (lambda X: L.inv(shift(X)), [(2, 3, 3)]),
    "det": (lambda X: L.det(X), [(2, 3, 3)]),
    "slogdet": (lambda X: L.slogdet(X).logabsdet, [(3, 3)]),
    "solve_matrix": (lambda X, B: L.solve(shift(X), B), [(2, 3, 3), (2, 3, 2)]),
    "solve_vector_broadcast": (lambda X, B: L.solve(shift(X), B), [(2, 3, 3), (3,)]),
    "solve_right": (lambda X, B: L.solve(shift(X), B, left=False), [(3, 3), (2, 3)]),
    "solve_batch_broadcast": (lambda X, B: L.solve(shift(X), B), [(2, 1, 3, 3), (4, 3, 2)]),
    "solve_triangular_upper": (lambda X, B: L.solve_triangular(shift(X), B, upper=True), [(2, 3, 3), (2, 3, 2)]),
    "solve_triangular_lower_right_unit": (
        lambda X, B: L.solve_triangular(X, B, upper=False, left=False, unitriangular=True), [(3, 3), (2, 3)]),
    "qr_tall": (lambda A: tuple(L.qr(A)), [(5, 3)]),
    "qr_square_batched": (lambda A: tuple(L.qr(A)), [(2, 3, 3)]),
    "qr_wide": (lambda A: tuple(L.qr(A)), [(3, 5)]),
    "qr_complete_wide": (lambda A: tuple(L.qr(A, mode="complete")), [(2, 4)]),
    "eigh": (lambda X: (lambda r: (r.eigenvalues, r.eigenvectors ** 2))(L.eigh(sym(X))), [(2, 4, 4)]),
    "eigh_upper": (lambda X: (lambda r: (r.eigenvalues, r.eigenvectors ** 2))(L.eigh(sym(X), UPLO="U")), [(3, 3)]),
    "eigvalsh": (lambda X: L.eigvalsh(sym(X)), [(2, 4, 4)]),
    "svd_reduced_tall": (lambda A: (lambda r: (r.S, r.U.abs(), r.Vh.abs()))(L.svd(A, full_matrices=False)), [(5, 3)]),
    "svd_reduced_wide": (lambda A: (lambda r: (r.S, r.U @ r.Vh))(L.svd(A, full_matrices=False)), [(2, 3, 5)]),
    "svd_full_wide": (lambda A: (lambda r: (r.S, r.U.abs(), r.Vh[:3].abs()))(L.svd(A)), [(3, 5)]),
    "svdvals": (lambda A: L.svdvals(A), [(2, 5, 3)]),
    "pinv_tall": (lambda A: L.pinv(A), [(5, 3)]),
    "pinv_wide": (lambda A: L.pinv(A), [(2, 3, 5)]),
    "pinv_hermitian": (lambda X: L.pinv(sym(X), hermitian=True), [(4, 4)]),
    "lstsq": (lambda A, B: L.lstsq(A, B).solution, [(2, 5, 3), (1, 5, 2)]),
    "lstsq_wide_vector": (lambda A, B: L.lstsq(A, B).solution, [(3, 5), (3,)]),
    "lstsq_gelsd_all_outputs": (lambda A, B: (lambda r: (r.solution, r.residuals, r.singular_values))(
        L.lstsq(A, B, driver="gelsd")), [(5, 3), (5, 2)]),
    "matrix_norm_nuc": (lambda A: L.matrix_norm(A, "nuc"), [(4, 3)]),
    "matrix_norm_2": (lambda A: L.matrix_norm(A, 2), [(2, 4, 3)]),
    "matrix_norm_fro": (lambda A: L.matrix_norm(A), [(4, 3)]),
    "matrix_norm_inf": (lambda A: L.matrix_norm(A, float("inf"), keepdim=True), [(4, 3)]),
    "norm": (lambda A: L.norm(A, dim=1), [(4, 3)]),
    "cross": (lambda a, b: L.cross(a, b), [(4, 3), (3,)]),
    "vecdot": (lambda a, b: L.vecdot(a, b), [(4, 3), (3,)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck(name):
    fn, shapes = CASES[name]
    args = [rnd(*s, seed=i).requires_grad_() for i, s in enumerate(shapes)]
    assert gradcheck(fn, args)
    assert gradgradcheck(fn, args)


@pytest.mark.parametrize("A", [
    [[1., 2., 3.], [2., 4., 6.], [1., 0., 1.]],                        # rank 2
    [[[1., 2.], [2., 4.]], [[1., 2.], [3., 4.]]],                      # a singular and a regular one
])
def test_det_gradient_of_singular_matrices(A):
    """The gradient of det at a singular matrix is its cofactor matrix (no inverse exists)."""
    x = pt.tensor(A, dtype=D, requires_grad=True)
    assert gradcheck(L.det, (x,))
    assert gradgradcheck(L.det, (x,))
    L.det(x[0] if x.ndim == 3 else x).backward()
    a = np.array(A[0] if x.ndim == 3 else A)
    cof = np.array([[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(a, i, 0), j, 1)) for j in range(a.shape[1])]
                    for i in range(a.shape[0])])
    np.testing.assert_allclose((x.grad[0] if x.ndim == 3 else x.grad).numpy(), cof, atol=1e-12)


def test_known_gradients():
    """d det / dA = det(A) A^-T; d tr(inv A) / dA = -(A^-2)^T; d logabsdet / dA = A^-T."""
    a = np.array([[2., 1.], [1., 3.]])
    x = pt.tensor(a, dtype=D, requires_grad=True)
    L.det(x).backward()
    np.testing.assert_allclose(x.grad.numpy(), np.linalg.det(a) * np.linalg.inv(a).T, rtol=1e-12)
    x.grad = None
    L.inv(x).diagonal().sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), -(np.linalg.inv(a) @ np.linalg.inv(a)).T, rtol=1e-12)
    x.grad = None
    L.eigvalsh(x).sum().backward()    # the sum of the eigenvalues is the trace
    np.testing.assert_allclose(x.grad.numpy(), np.eye(2), atol=1e-12)


def test_eigenvalue_gradients_stay_finite_with_repeated_eigenvalues():
    """Only the eigenvalues used: the gap terms vanish instead of 0/0 (PyTorch skips them)."""
    x = pt.eye(3, dtype=D).requires_grad_()
    w, V = L.eigh(x)
    w.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.eye(3), atol=1e-12)
    y = pt.eye(3, dtype=D).requires_grad_()
    L.svd(y).S.sum().backward()
    assert pt.isfinite(y.grad).all()


def test_qr_derivative_errors():
    x = rnd(3, 2).requires_grad_()
    with pytest.raises(RuntimeError, match="mode='r'"):
        L.qr(x, mode="r").R.sum().backward()
    with pytest.raises(RuntimeError, match="mode='complete' and nrows > ncols"):
        L.qr(x, mode="complete").Q.sum().backward()


def test_matrix_rank_is_not_differentiable():
    x = rnd(3, 3).requires_grad_()
    r = L.matrix_rank(x)
    assert r.dtype is pt.int64 and not r.requires_grad
