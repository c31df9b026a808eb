"""svd_lowrank, pca_lowrank and lobpcg against NumPy's SVD and eigh (SciPy's generalized eigh),
finite differences through the seeded randomized SVD, and PyTorch's errors."""
import numpy as np
import pytest
import scipy.linalg

import plugtorch as pt
from plugtorch.autograd import gradcheck

D = pt.float64


def low_rank(*batch, m=30, n=12, r=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(batch + (m, r)) @ rng.standard_normal(batch + (r, n))


@pytest.mark.parametrize("shape", [(30, 12), (12, 30)])
def test_svd_lowrank_recovers_a_low_rank_matrix(shape):
    A = low_rank(m=shape[0], n=shape[1])
    pt.manual_seed(0)
    out = pt.svd_lowrank(pt.tensor(A), q=5)
    assert type(out) is tuple
    U, S, V = (t.numpy() for t in out)
    assert U.shape == (shape[0], 5) and S.shape == (5,) and V.shape == (shape[1], 5)
    np.testing.assert_allclose(S[:3], np.linalg.svd(A, compute_uv=False)[:3], rtol=1e-10)
    np.testing.assert_allclose(U[:, :3] * S[:3] @ V[:, :3].T, A, atol=1e-10)
    np.testing.assert_allclose(U.T @ U, np.eye(5), atol=1e-10)


def test_svd_lowrank_batched_with_m_and_repeatable():
    A = low_rank(2, m=20, n=8, r=2, seed=1)
    Mrow = np.random.default_rng(2).standard_normal(8)
    pt.manual_seed(3)
    U, S, V = pt.svd_lowrank(pt.tensor(A), q=4, M=pt.tensor(Mrow))
    want = np.linalg.svd(A - Mrow, compute_uv=False)[..., :3]          # rank 3 after the shift
    np.testing.assert_allclose(S.numpy()[..., :3], want, rtol=1e-8)
    pt.manual_seed(3)
    assert pt.svd_lowrank(pt.tensor(A), q=4, M=pt.tensor(Mrow))[1].tolist() == S.tolist()
    Sf = pt.svd_lowrank(pt.tensor(A, dtype=pt.float32), q=2)[1]
    assert Sf.dtype == pt.float32 and np.allclose(Sf.numpy(), np.linalg.svd(A, compute_uv=False)[..., :2], rtol=1e-4)


def test_pca_lowrank_gives_the_covariances_eigenpairs():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((200, 5)) @ np.diag([5., 3., 1., .5, .1]) + 7.0
    pt.manual_seed(0)
    U, S, V = pt.pca_lowrank(pt.tensor(X), q=5, niter=4)
    w, Vn = np.linalg.eigh(np.cov(X.T))
    np.testing.assert_allclose(S.numpy() ** 2 / 199, w[::-1], rtol=1e-8)
    np.testing.assert_allclose(np.abs(V.numpy()), np.abs(Vn[:, ::-1]), atol=1e-8)
    # center=False: the SVD of X itself (its large mean shows in the first singular value)
    S0 = pt.pca_lowrank(pt.tensor(X), q=5, center=False)[1]
    np.testing.assert_allclose(S0.numpy(), np.linalg.svd(X, compute_uv=False), rtol=1e-8)
    assert pt.pca_lowrank(pt.tensor(X))[1].shape == (5,)                # q = min(6, m, n)


def test_svd_lowrank_gradient():
    A = pt.tensor(np.random.default_rng(5).standard_normal((6, 4)), requires_grad=True)

    def top_values(A):
        pt.manual_seed(0)                                      # the same test matrix every call
        return pt.svd_lowrank(A, q=4)[1]
    assert gradcheck(top_values, (A,))


@pytest.mark.parametrize("call, err, msg", [
    (lambda: pt.pca_lowrank(pt.randn(5, 3), q=4), ValueError,
     r"q\(=4\) must be non-negative integer and not greater than min\(m, n\)=3"),
    (lambda: pt.pca_lowrank(pt.randn(5, 3), niter=-1), ValueError, r"niter\(=-1\) must be non-negative integer"),
    (lambda: pt.svd_lowrank(pt.ones(5, 3, dtype=pt.int64)), RuntimeError, "expected a float32 or float64 tensor"),
    (lambda: pt.svd_lowrank(pt.randn(3)), ValueError, "at least 2 dimensions"),
    (lambda: pt.lobpcg(pt.eye(20, dtype=D), k=7), ValueError,
     r"not applicable when the number of A rows \(=20\) is smaller than 3 x the number of requested eigenpairs \(=7\)"),
    (lambda: pt.lobpcg(pt.randn(20, 19), k=2), ValueError, r"A must be square, got shape \(20, 19\)"),
])
def test_errors(call, err, msg):
    with pytest.raises(err, match=msg):
        call()


@pytest.mark.parametrize("largest", [True, False])
def test_lobpcg_extreme_eigenpairs(largest):
    rng = np.random.default_rng(6)
    X = rng.standard_normal((40, 40))
    A = X @ X.T
    pt.manual_seed(0)
    E, V = pt.lobpcg(pt.tensor(A), k=3, largest=largest)
    w = np.linalg.eigh(A)[0]
    want = w[::-1][:3] if largest else w[:3]
    np.testing.assert_allclose(E.numpy(), want, rtol=1e-6)
    np.testing.assert_allclose(A @ V.numpy(), V.numpy() * E.numpy(), atol=1e-4 * w.max())


def test_lobpcg_generalized_and_initial_block():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((36, 36))
    A, B = X + X.T, np.diag(rng.uniform(1, 2, 36))
    X0 = pt.tensor(rng.standard_normal((36, 2)))
    E, V = pt.lobpcg(pt.tensor(A), B=pt.tensor(B), X=X0)
    np.testing.assert_allclose(E.numpy(), scipy.linalg.eigh(A, B, eigvals_only=True)[::-1][:2], rtol=1e-6)
    assert V.shape == (36, 2)
    E32 = pt.lobpcg(pt.tensor(A, dtype=pt.float32), k=1)[0]
    assert E32.dtype == pt.float32 and np.isclose(E32.item(), np.linalg.eigvalsh(A)[-1], rtol=1e-3)


@pytest.mark.skipif("opencl" not in pt.backends.available(), reason="no opencl backend")
def test_on_opencl():
    A = low_rank(m=20, n=10, r=2, seed=8)
    U, S, V = pt.svd_lowrank(pt.tensor(A, dtype=pt.float32, device="opencl"), q=3)
    assert U.device.type == S.device.type == "opencl"
    np.testing.assert_allclose(S.cpu().numpy()[:2], np.linalg.svd(A, compute_uv=False)[:2], rtol=1e-4)
    X = np.random.default_rng(9).standard_normal((30, 30))
    E = pt.lobpcg(pt.tensor(X @ X.T, dtype=pt.float32, device="opencl"), k=2)[0]
    np.testing.assert_allclose(E.cpu().numpy(), np.linalg.eigvalsh(X @ X.T)[::-1][:2], rtol=1e-3)
