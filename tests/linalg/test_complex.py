"""plugtorch.linalg on complex64/complex128 matrices (cpu: LAPACK's complex drivers through NumPy)
against NumPy; the factorisations without complex support refuse with the op and dtype named."""
import numpy as np
import pytest

import plugtorch as pt

L = pt.linalg


def crnd(*shape, dtype, seed=0):
    g = np.random.default_rng(seed)
    return (g.standard_normal(shape) + 1j * g.standard_normal(shape)).astype(dtype)


@pytest.fixture(params=[np.complex64, np.complex128], ids=["complex64", "complex128"])
def case(request):
    dt = request.param
    a = crnd(2, 4, 4, dtype=dt)
    h = (a @ np.conj(np.swapaxes(a, -1, -2)) + 4 * np.eye(4)).astype(dt)   # Hermitian positive-definite
    b = crnd(2, 4, 3, dtype=dt, seed=1)
    tol = 1e-4 if dt == np.complex64 else 1e-10
    return a, h, b, tol


def close(t, want, tol, real=False):
    assert (t.dtype.is_complex, t.dtype.is_floating_point) == ((False, True) if real else (True, False)), t.dtype
    np.testing.assert_allclose(t.numpy(), want, rtol=tol, atol=tol)


def test_solvers_and_determinants(case):
    a, h, b, tol = case
    A, H, B = pt.tensor(a), pt.tensor(h), pt.tensor(b)
    close(L.det(A), np.linalg.det(a), tol)
    sign, logabs = L.slogdet(A)
    want_sign, want_logabs = np.linalg.slogdet(a)
    close(sign, want_sign, tol)
    close(logabs, want_logabs, tol, real=True)
    close(L.inv(A), np.linalg.inv(a), tol)
    close(L.solve(A, B), np.linalg.solve(a, b), tol)
    close(L.cholesky(H), np.linalg.cholesky(h), tol)
    close(L.cholesky(H, upper=True), np.conj(np.swapaxes(np.linalg.cholesky(h), -1, -2)), tol)   # U = L^H


def test_factorisations(case):
    a, h, b, tol = case
    A, H = pt.tensor(a), pt.tensor(h)
    q, r = L.qr(A)
    close(q @ r, a, tol)
    w, v = L.eigh(H)
    close(w, np.linalg.eigvalsh(h), tol, real=True)
    close((v * w.to(v.dtype).unsqueeze(-2)) @ pt.conj(v.mT), h, tol * 10)
    close(L.eigvalsh(H), np.linalg.eigvalsh(h), tol, real=True)
    u, s, vh = L.svd(A, full_matrices=False)
    close(s, np.linalg.svd(a, compute_uv=False), tol, real=True)
    close((u * s.to(u.dtype).unsqueeze(-2)) @ vh, a, tol * 10)
    close(L.svdvals(A), np.linalg.svd(a, compute_uv=False), tol, real=True)
    close(L.pinv(A[..., :3]), np.linalg.pinv(a[..., :3]), tol * 10)               # the conjugate transposes
    close(L.pinv(H, hermitian=True), np.linalg.pinv(h, hermitian=True), tol * 10)
    assert L.matrix_rank(A).tolist() == np.linalg.matrix_rank(a).tolist()


@pytest.mark.parametrize("ord", ["fro", "nuc", 1, -1, 2, -2, float("inf"), -float("inf")])
def test_matrix_norms_are_real(case, ord):
    a, h, b, tol = case
    close(L.matrix_norm(pt.tensor(a), ord=ord), np.linalg.norm(a, ord=ord, axis=(-2, -1)), tol, real=True)


def test_unsupported_complex_factorisations_refuse():
    A = pt.tensor(crnd(3, 3, dtype=np.complex64))
    with pytest.raises(NotImplementedError, match=r"linalg.solve_triangular\(\): not implemented for dtype "
                                                   r"plugtorch.complex64 .*covers"):
        L.solve_triangular(A, A, upper=True)
    with pytest.raises(RuntimeError, match="lstsq.*complex64"):
        L.lstsq(A, A)
