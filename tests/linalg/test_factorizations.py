"""plugtorch.linalg's factorisations and solvers on cpu against NumPy/SciPy (the same LAPACK),
known answers, batched and broadcast shapes, empty matrices."""
import numpy as np
import pytest
import scipy.linalg

import plugtorch as pt

L = pt.linalg
DTYPES = [(pt.float32, 1e-4), (pt.float64, 1e-10)]
BATCHES = [(), (3,), (2, 1)]


def rnd(*shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def spd(*shape, seed=0, dtype=np.float64):
    x = rnd(*shape, seed=seed)
    return (x @ np.swapaxes(x, -1, -2) + shape[-1] * np.eye(shape[-1])).astype(dtype)


def T(a, dtype=None):
    return pt.tensor(a, dtype=dtype)


def close(got, want, tol):
    got = got.numpy() if isinstance(got, pt.Tensor) else got
    assert got.shape == np.shape(want), (got.shape, np.shape(want))
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


# ---- known answers --------------------------------------------------------------------------
def test_known_answers():
    A = T([[4., 2.], [2., 5.]])
    assert L.cholesky(A).tolist() == [[2.0, 0.0], [1.0, 2.0]]
    assert L.cholesky(A, upper=True).tolist() == [[2.0, 1.0], [0.0, 2.0]]
    assert L.det(T([[2., 1.], [1., 3.]])).item() == pytest.approx(5.0)
    assert L.inv(T([[2., 0.], [0., 4.]])).tolist() == [[0.5, 0.0], [0.0, 0.25]]
    assert L.solve(T([[2., 0.], [0., 4.]]), T([2., 2.])).tolist() == [1.0, 0.5]
    s = L.slogdet(T([[-2., 0.], [0., 3.]]))
    assert (s.sign.item(), s.logabsdet.item()) == (-1.0, pytest.approx(np.log(6.0)))
    assert L.eigvalsh(T([[2., 1.], [1., 2.]])).tolist() == pytest.approx([1.0, 3.0])
    assert L.svdvals(T([[3., 0.], [0., -4.]])).tolist() == pytest.approx([4.0, 3.0])
    assert L.matrix_rank(T([[1., 2.], [2., 4.]])).item() == 1
    assert L.pinv(T([[2., 0.], [0., 0.]])).tolist() == [[0.5, 0.0], [0.0, 0.0]]
    assert L.cross(T([1., 0., 0.]), T([0., 1., 0.])).tolist() == [0.0, 0.0, 1.0]
    assert L.vecdot(T([1., 2.]), T([3., 4.])).item() == 11.0
    assert L.norm(T([[3., 0.], [0., 4.]])).item() == 5.0
    assert L.matrix_norm(T([[3., 0.], [0., 4.]]), "nuc").item() == pytest.approx(7.0)
    x = L.solve_triangular(T([[2., 1.], [0., 4.]]), T([[3.], [4.]]), upper=True)
    assert x.tolist() == [[1.0], [1.0]]
    assert L.det(pt.zeros(3, 3)).item() == 0.0
    s = L.slogdet(pt.zeros(2, 2))
    assert (s.sign.item(), s.logabsdet.item()) == (0.0, -np.inf)


# ---- each op against NumPy/SciPy -------------------------------------------------------------
@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("batch", BATCHES)
def test_cholesky_inv_det(dtype, tol, batch):
    a = spd(*batch, 4, 4, dtype=dtype.numpy)
    A = T(a)
    close(L.cholesky(A), np.linalg.cholesky(a), tol)
    close(L.cholesky(A, upper=True), np.swapaxes(np.linalg.cholesky(a), -1, -2), tol)
    close(L.inv(A), np.linalg.inv(a), tol)
    close(L.det(A), np.linalg.det(a), tol * 100)
    sign, logabs = L.slogdet(A)
    ws, wl = np.linalg.slogdet(a)
    close(sign, ws, tol)
    close(logabs, wl, tol)
    for t in (L.cholesky(A), L.inv(A), L.det(A)):
        assert t.dtype is dtype
    L_, info = L.cholesky_ex(A)
    assert info.dtype is pt.int32 and tuple(info.shape) == batch and not info.any()


def test_cholesky_reads_one_triangle():
    a = spd(4, 4)
    lower_only, upper_only = np.tril(a) + np.triu(np.full((4, 4), 99.0), 1), np.triu(a) + np.tril(np.full((4, 4), 99.0), -1)
    close(L.cholesky(T(lower_only)), np.linalg.cholesky(a), 1e-12)
    close(L.cholesky(T(upper_only), upper=True), np.linalg.cholesky(a).T, 1e-12)
    close(L.eigvalsh(T(lower_only)), np.linalg.eigvalsh(a), 1e-12)
    close(L.eigvalsh(T(upper_only), UPLO="U"), np.linalg.eigvalsh(a), 1e-12)


@pytest.mark.parametrize("dtype,tol", DTYPES)
def test_solve_shapes(dtype, tol):
    d = dtype.numpy
    a = spd(2, 3, 3, dtype=d)
    cases = [  # (A, B): vector, batch of vectors, matrix, broadcast batch, 1-d B beside a batch
        (a[0], rnd(3, seed=1, dtype=d)), (a, rnd(2, 3, seed=2, dtype=d)), (a, rnd(2, 3, 4, seed=3, dtype=d)),
        (a[:, None], rnd(5, 3, 2, seed=4, dtype=d)), (a, rnd(3, seed=5, dtype=d)), (a[0], rnd(4, 3, 2, seed=6, dtype=d))]
    for A, B in cases:
        vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
        want = np.linalg.solve(A, B[..., None])[..., 0] if vector else np.linalg.solve(A, B)
        close(L.solve(T(A), T(B)), want, tol)
    B = rnd(4, 3, dtype=d)
    close(L.solve(T(a[0]), T(B), left=False), B @ np.linalg.inv(a[0]), tol)
    X, info = L.solve_ex(T(a[:, None]), T(rnd(5, 3, 2, dtype=d)))
    assert tuple(X.shape) == (2, 5, 3, 2) and tuple(info.shape) == (2, 1)   # info: A's batch shape


@pytest.mark.parametrize("upper", [True, False])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("unit", [True, False])
def test_solve_triangular(upper, left, unit):
    a = rnd(2, 4, 4) + 4 * np.eye(4)
    b = rnd(2, 4, 3, seed=1) if left else rnd(2, 3, 4, seed=1)
    got = L.solve_triangular(T(a), T(b), upper=upper, left=left, unitriangular=unit)
    want = np.stack([
        scipy.linalg.solve_triangular(a[i], b[i], lower=not upper, unit_diagonal=unit) if left else
        scipy.linalg.solve_triangular(a[i], b[i].T, lower=not upper, unit_diagonal=unit, trans="T").T
        for i in range(2)])
    close(got, want, 1e-10)
    # broadcast batch dims; a zero diagonal gives inf/nan, no error (as PyTorch)
    assert tuple(L.solve_triangular(T(a), T(rnd(3, 1, 4, 2)), upper=True).shape) == (3, 2, 4, 2)
    assert not pt.isfinite(L.solve_triangular(pt.zeros(3, 3), pt.ones(3, 1), upper=True)).all()


@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 4), (3, 0), (0, 3)])
@pytest.mark.parametrize("mode", ["reduced", "complete", "r"])
def test_qr(dtype, tol, shape, mode):
    a = rnd(*shape, dtype=dtype.numpy)
    Q, R = L.qr(T(a), mode=mode)
    want = np.linalg.qr(a, mode=mode)
    if mode == "r":
        assert Q.numel() == 0
        close(R, want, tol)
        return
    close(Q, want[0], tol)
    close(R, want[1], tol)
    close(Q @ R, a, tol * 10)
    assert R.numpy().shape == want[1].shape and np.allclose(np.tril(R.numpy(), -1), 0)


@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("batch", BATCHES)
def test_eigh(dtype, tol, batch):
    x = rnd(*batch, 5, 5)
    a = (x + np.swapaxes(x, -1, -2)).astype(dtype.numpy)
    w, V = L.eigh(T(a))
    ww, wV = np.linalg.eigh(a)
    close(w, ww, tol * 10)
    close(V, wV, tol * 100)      # the same LAPACK routine: the same signs
    close(L.eigvalsh(T(a)), np.linalg.eigvalsh(a), tol * 10)
    close(L.eigh(T(a), UPLO="U").eigenvalues, np.linalg.eigh(a, UPLO="U")[0], tol * 10)


@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 4), (2, 0, 3)])
@pytest.mark.parametrize("full", [True, False])
def test_svd(dtype, tol, shape, full):
    a = rnd(*shape, dtype=dtype.numpy)
    U, S, Vh = L.svd(T(a), full_matrices=full)
    wU, wS, wVh = np.linalg.svd(a, full_matrices=full)
    close(S, wS, tol * 10)
    close(U, wU, tol * 100)
    close(Vh, wVh, tol * 100)
    close(L.svdvals(T(a)), wS, tol * 10)


@pytest.mark.parametrize("driver", [None, "gels", "gelsy", "gelsd", "gelss"])
def test_lstsq_matches_numpy_and_pytorch_outputs(driver):
    a, b = rnd(2, 6, 3), rnd(2, 6, 2, seed=1)
    sol, res, rank, sv = L.lstsq(T(a), T(b), driver=driver)
    want = np.stack([np.linalg.lstsq(a[i], b[i], rcond=None)[0] for i in range(2)])
    close(sol, want, 1e-10)
    # what each driver computes, as torch 2.13 on cpu (empty tensors otherwise)
    d = driver or "gelsy"
    assert tuple(res.shape) == ((2, 2) if d != "gelsy" else (0,))
    assert tuple(rank.shape) == ((2,) if d != "gels" else (0,)) and rank.dtype is pt.int64
    assert tuple(sv.shape) == ((2, 3) if d in ("gelsd", "gelss") else (0,))
    if d != "gelsy":
        close(res, ((a @ want - b) ** 2).sum(-2), 1e-10)
    if d in ("gelsd", "gelss"):
        close(sv, np.linalg.svd(a, compute_uv=False), 1e-10)
        assert rank.tolist() == [3, 3]


def test_lstsq_vector_wide_and_rank_deficient():
    a, b = rnd(6, 3), rnd(6, seed=1)
    sol, res, _, _ = L.lstsq(T(a), T(b), driver="gelsd")
    close(sol, np.linalg.lstsq(a, b, rcond=None)[0], 1e-10)
    assert tuple(res.shape) == (1,)   # the vector case keeps k = 1 there (as PyTorch)
    w = rnd(3, 6, seed=2)
    close(L.lstsq(T(w), T(rnd(3, 2, seed=3)), driver="gelsd").solution, np.linalg.lstsq(w, rnd(3, 2, seed=3), rcond=None)[0], 1e-10)
    r1 = np.outer(rnd(5), rnd(3, seed=4))
    out = L.lstsq(T(r1), T(rnd(5, 2, seed=5)), driver="gelsd")
    assert out.rank.item() == 1 and out.residuals.numel() == 0
    close(out.solution, np.linalg.lstsq(r1, rnd(5, 2, seed=5), rcond=None)[0], 1e-10)


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 4)])
def test_pinv_and_matrix_rank(shape):
    a = rnd(*shape)
    close(L.pinv(T(a)), np.linalg.pinv(a), 1e-10)
    s = rnd(*shape[:-2], shape[-1], shape[-1]) if shape[-1] == shape[-2] else None
    if s is not None:
        h = s + np.swapaxes(s, -1, -2)
        close(L.pinv(T(h), hermitian=True), np.linalg.pinv(h, hermitian=True), 1e-10)
    low = np.outer(rnd(6), rnd(4, seed=1)) + np.outer(rnd(6, seed=2), rnd(4, seed=3))
    assert L.matrix_rank(T(low)).item() == 2 == np.linalg.matrix_rank(low)
    assert L.matrix_rank(T(low), hermitian=False, atol=1e3).item() == 0
    assert L.matrix_rank(T(np.diag([1.0, 1e-3, 1e-17]))).item() == 2
    assert L.matrix_rank(T(np.diag([1.0, 1e-3, 1e-17])), rtol=1e-2).item() == 1
    close(L.pinv(T(np.diag([1.0, 1e-3, 0.0])), rtol=1e-2), np.diag([1.0, 0.0, 0.0]), 1e-12)
    close(L.pinv(T(np.diag([1.0, 1e-3, 0.0])), atol=1e-4), np.diag([1.0, 1e3, 0.0]), 1e-9)


@pytest.mark.parametrize("ord", ["fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf])
@pytest.mark.parametrize("keepdim", [False, True])
def test_matrix_norm(ord, keepdim):
    a = rnd(2, 3, 4)
    want = np.linalg.norm(a, ord=ord, axis=(1, 2), keepdims=keepdim)
    close(L.matrix_norm(T(a), ord, dim=(1, 2), keepdim=keepdim), want, 1e-10)
    want = np.linalg.norm(a, ord=ord, axis=(2, 0), keepdims=keepdim)
    close(L.matrix_norm(T(a), ord, dim=(2, 0), keepdim=keepdim), want, 1e-10)
    close(L.norm(T(a[0]), ord), np.linalg.norm(a[0], ord), 1e-10)


def test_norm_dispatches_like_pytorch():
    a = rnd(3, 4, 5)
    close(L.norm(T(a)), np.linalg.norm(a.reshape(-1)), 1e-10)
    close(L.norm(T(a), dim=1), np.linalg.norm(a, axis=1), 1e-10)
    close(L.norm(T(a), 3, dim=(2,)), np.linalg.norm(a, 3, axis=2), 1e-10)
    close(L.norm(T(a), dim=(0, 2)), np.linalg.norm(a, axis=(0, 2)), 1e-10)
    close(L.norm(T(a[0, 0]), 1), np.linalg.norm(a[0, 0], 1), 1e-10)
    close(L.norm(T(a[0]), np.inf), np.linalg.norm(a[0], np.inf), 1e-10)


def test_cross_vecdot_matmul_diagonal():
    a, b = rnd(4, 3), rnd(1, 3, seed=1)
    close(L.cross(T(a), T(b)), np.cross(a, b), 1e-12)
    close(L.cross(T(a.T.copy()), T(b.T.copy()), dim=0), np.cross(a, b).T, 1e-12)
    ai = np.arange(6).reshape(2, 3)
    assert L.cross(T(ai), T(ai[::-1].copy())).tolist() == np.cross(ai, ai[::-1]).tolist()
    close(L.vecdot(T(a), T(b)), (a * b).sum(-1), 1e-12)
    close(L.vecdot(T(a), T(b[0]), dim=0) if False else L.vecdot(T(a.T.copy()), T(b.T.copy()), dim=0), (a * b).sum(-1), 1e-12)
    m = rnd(2, 3, 4)
    close(L.matmul(T(m), T(rnd(4, seed=2))), m @ rnd(4, seed=2), 1e-12)
    close(L.diagonal(T(m)), np.diagonal(m, axis1=-2, axis2=-1), 0)
    close(L.diagonal(T(m), offset=1, dim1=0, dim2=2), np.diagonal(m, 1, 0, 2), 0)


@pytest.mark.parametrize("n", [0, 1])
def test_empty_and_one_by_one(n):
    a = np.full((2, n, n), 4.0)
    close(L.cholesky(T(a)), np.linalg.cholesky(a), 0)
    close(L.inv(T(a)), np.linalg.inv(a), 0)
    close(L.det(T(a)), np.linalg.det(a), 0)     # det of a 0x0 matrix is 1
    close(L.eigvalsh(T(a)), np.linalg.eigvalsh(a), 0)
    close(L.solve(T(a), T(np.ones((2, n)))), np.linalg.solve(a, np.ones((2, n, 1)))[..., 0], 0)
    assert tuple(L.svd(T(a)).U.shape) == (2, n, n)
    assert L.matrix_rank(T(a)).tolist() == [n, n]
    assert tuple(L.pinv(T(np.ones((0, 3)))).shape) == (3, 0)


def test_torch_norm_nuc_is_the_matrix_norm():
    a = rnd(2, 3, 4)
    close(pt.norm(T(a[0]), "nuc"), np.linalg.norm(a[0], "nuc"), 1e-12)
    close(T(a).norm("nuc", dim=(1, 2)), np.linalg.norm(a, "nuc", axis=(1, 2)), 1e-12)
    with pytest.raises(RuntimeError, match="dim must be a 2-tuple"):
        pt.norm(T(a), "nuc")


@pytest.mark.parametrize("n", [0, 1, 2, 5, -1, -3])
def test_matrix_power(n):
    a = rnd(2, 3, 3) + 2 * np.eye(3)
    close(L.matrix_power(T(a), n), np.linalg.matrix_power(a, n), 1e-10)
    assert L.matrix_power(pt.ones(2, 2, dtype=pt.int64), 3).tolist() == [[4, 4], [4, 4]]
    x = T(a).requires_grad_()
    assert pt.autograd.gradcheck(lambda t: L.matrix_power(t, n), (x,))


def test_multi_dot_matches_numpy():
    ms = [rnd(*s, seed=i) for i, s in enumerate([(3,), (3, 10), (10, 2), (2, 5), (5,)])]
    close(L.multi_dot([T(m) for m in ms]), np.linalg.multi_dot(ms), 1e-12)
    ms = [rnd(*s, seed=i) for i, s in enumerate([(4, 3), (3, 6), (6, 2)])]
    close(L.multi_dot([T(m) for m in ms]), np.linalg.multi_dot(ms), 1e-12)
    with pytest.raises(RuntimeError, match="expected at least 2 tensors but got 1"):
        L.multi_dot([pt.ones(2, 3)])
    with pytest.raises(RuntimeError, match=r"tensors 0 and 1 with shapes \[2, 3\] and \[4, 3\] cannot be multiplied"):
        L.multi_dot([pt.ones(2, 3), pt.ones(4, 3)])
    with pytest.raises(RuntimeError, match="A must be batches of square matrices"):
        L.matrix_power(pt.ones(2, 3), 2)
    with pytest.raises(TypeError, match="argument 'n' must be int"):
        L.matrix_power(pt.eye(2), 2.0)


def test_pinv_with_a_tolerance_per_matrix_of_the_batch():
    import numpy as np
    import plugtorch as pt
    pt.manual_seed(0)
    A = pt.randn(3, 4, 4, dtype=pt.float64)
    rtol = pt.tensor([0.0, 0.5, 2.0], dtype=pt.float64)
    got = pt.linalg.pinv(A, rtol=rtol).numpy()
    for k in range(3):
        want = np.linalg.pinv(A[k].numpy(), rcond=float(rtol[k]))
        np.testing.assert_allclose(got[k], want, rtol=1e-10, atol=1e-12)
    flat = pt.linalg.pinv(pt.randn(2, 1, 2, dtype=pt.float64), rtol=pt.zeros(2, dtype=pt.float64))
    assert tuple(flat.shape) == (2, 2, 1)
