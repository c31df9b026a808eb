"""geqrf, householder_product (orgqr), ormqr and the LDL^T factorisation (ldl_factor(_ex),
ldl_solve) against NumPy's QR, LAPACK's documented compact formats unpacked in NumPy, and
finite differences (float64)."""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch.autograd import gradcheck

L = pt.linalg
D = pt.float64


def rnd(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ---- geqrf / householder_product / ormqr ----------------------------------------------------
@pytest.mark.parametrize("shape", [(5, 3), (3, 3), (2, 4, 2), (3, 5)])
def test_geqrf_is_lapacks_compact_qr(shape):
    A = rnd(*shape)
    a, tau = pt.geqrf(pt.tensor(A))
    assert type(pt.geqrf(pt.tensor(A))).__name__ == "geqrf" and a.shape == shape and tau.dtype == D
    for i in np.ndindex(*shape[:-2]):
        h, t = np.linalg.qr(A[i], mode="raw")          # NumPy's geqrf result, transposed
        np.testing.assert_allclose(a.numpy()[i], h.T, atol=1e-12)
        np.testing.assert_allclose(tau.numpy()[i], t, atol=1e-12)


@pytest.mark.parametrize("shape", [(5, 3), (4, 4), (3, 6, 2)])
def test_householder_product_is_qrs_q(shape):
    A = rnd(*shape, seed=1)
    a, tau = pt.geqrf(pt.tensor(A))
    Q = L.householder_product(a, tau).numpy()
    Qn, Rn = np.linalg.qr(A)
    np.testing.assert_allclose(np.abs(Q), np.abs(Qn), atol=1e-12)
    np.testing.assert_allclose(Q @ np.triu(a.numpy()[..., :shape[-1], :]), A, atol=1e-12)
    assert pt.orgqr(a, tau).allclose(pt.tensor(Q)) and a.orgqr(tau).allclose(pt.tensor(Q))


def test_householder_product_fewer_reflectors_and_float32():
    A = rnd(4, 3, seed=2)
    a, tau = pt.geqrf(pt.tensor(A))
    Q2 = L.householder_product(a, tau[:2]).numpy()           # H_1 H_2 only: its first two columns are Q's
    np.testing.assert_allclose(Q2[:, :2], np.linalg.qr(A)[0][:, :2], atol=1e-12)
    Qf = L.householder_product(a.float(), tau.float())
    assert Qf.dtype == pt.float32 and np.allclose(Qf.numpy(), np.linalg.qr(A)[0], atol=1e-5)
    assert L.householder_product(pt.zeros(4, 0), pt.zeros(0)).shape == (4, 0)


@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("transpose", [False, True])
def test_ormqr_multiplies_by_the_full_q(left, transpose):
    A = rnd(2, 5, 3, seed=3)
    a, tau = pt.geqrf(pt.tensor(A))
    C = rnd(2, 5, 2, seed=4) if left else rnd(2, 2, 5, seed=4)
    Qc = np.linalg.qr(A, mode="complete")[0]                  # geqrf + orgqr: the same reflectors
    Qc = np.swapaxes(Qc, -1, -2) if transpose else Qc
    want = Qc @ C if left else C @ Qc
    got = pt.ormqr(a, tau, pt.tensor(C), left=left, transpose=transpose)
    np.testing.assert_allclose(got.numpy(), want, atol=1e-12)
    np.testing.assert_allclose(a.ormqr(tau, pt.tensor(C), left, transpose).numpy(), want, atol=1e-12)


def test_complex_reflectors():
    rng = np.random.default_rng(15)
    A = rng.standard_normal((2, 5, 3)) + 1j * rng.standard_normal((2, 5, 3))
    C = rng.standard_normal((2, 5, 2)) + 1j * rng.standard_normal((2, 5, 2))
    a, tau = pt.geqrf(pt.tensor(A))
    assert a.dtype == tau.dtype == pt.complex128
    Q = L.householder_product(a, tau).numpy()
    np.testing.assert_allclose(Q, np.linalg.qr(A)[0], atol=1e-12)
    Qc = np.linalg.qr(A, mode="complete")[0]
    got = pt.ormqr(a, tau, pt.tensor(C), transpose=True).numpy()             # Q^H C, as PyTorch's
    np.testing.assert_allclose(got, np.conj(np.swapaxes(Qc, -1, -2)) @ C, atol=1e-12)


def test_householder_product_and_ormqr_gradients():
    A = pt.tensor(rnd(5, 3, seed=5), requires_grad=True)
    tau = pt.tensor(np.random.default_rng(6).uniform(0.5, 1.5, 3), requires_grad=True)
    assert gradcheck(L.householder_product, (A, tau))
    Ab = pt.tensor(rnd(2, 4, 2, seed=7), requires_grad=True)
    taub = pt.tensor(np.random.default_rng(8).uniform(0.5, 1.5, (2, 2)), requires_grad=True)
    assert gradcheck(L.householder_product, (Ab, taub))
    C = pt.tensor(rnd(2, 3, 4, seed=9), requires_grad=True)
    assert gradcheck(lambda a, t, c: pt.ormqr(a, t, c, left=False, transpose=True), (Ab, taub, C))
    # the entries on and above the diagonal are not part of the reflectors: zero gradient
    L.householder_product(A, tau).sum().backward()
    assert np.all(np.triu(A.grad.numpy()) == 0)


@pytest.mark.parametrize("args, kw, err, msg", [
    ((pt.randn(3), pt.randn(1)), {}, RuntimeError, "householder_product: input must have at least 2 dimensions"),
    ((pt.randn(2, 3), pt.randn(2)), {}, RuntimeError, r"input.shape\[-2\] must be greater than or equal to input.shape\[-1\]"),
    ((pt.randn(3, 2), pt.randn(3)), {}, RuntimeError, r"input.shape\[-1\] must be greater than or equal to tau.shape\[-1\]"),
    ((pt.randn(3, 2), pt.randn(1, 2)), {}, RuntimeError, "Expected tau to have one dimension less than input"),
    ((pt.randn(2, 3, 2), pt.randn(3, 2)), {}, RuntimeError, r"batch dimensions of tau .* but got \[3\]"),
    ((pt.randn(3, 2), pt.randn(2, dtype=D)), {}, RuntimeError, "tau dtype Double does not match input dtype Float"),
    ((pt.ones(3, 2, dtype=pt.int32), pt.ones(2, dtype=pt.int32)), {}, NotImplementedError, "\"orgqr_cpu\" not implemented for 'Int'"),
])
def test_householder_product_errors(args, kw, err, msg):
    with pytest.raises(err, match=msg):
        L.householder_product(*args, **kw)


@pytest.mark.parametrize("args, kw, msg", [
    ((pt.randn(4, 3), pt.randn(3), pt.randn(3, 2)), {}, r"ormqr: other.shape\[-2\] must be equal to input.shape\[-2\]"),
    ((pt.randn(4, 3), pt.randn(3), pt.randn(2, 3)), {"left": False}, r"other.shape\[-1\] must be equal to input.shape\[-2\]"),
    ((pt.randn(4, 3), pt.randn(2), pt.randn(4, 2)), {}, r"tau.shape\[-1\] must be equal to min\(other.shape\[-2\], input.shape\[-1\]\)"),
    ((pt.randn(4, 3), pt.randn(3), pt.randn(4)), {}, "ormqr: other must have at least 2 dimensions"),
    ((pt.randn(4, 3, dtype=D), pt.randn(3, dtype=D), pt.randn(4, 2)), {}, "same dtype, but input has dtype Double and other has dtype Float"),
    ((pt.randn(2, 4, 3), pt.randn(3, 3), pt.randn(2, 4, 2)), {}, r"batch dimensions of tau .* but got \[3\]"),
    ((pt.randn(2, 4, 3), pt.randn(2, 3), pt.randn(3, 4, 2)), {}, r"batch dimensions of other .* but got \[3\]"),
])
def test_ormqr_errors(args, kw, msg):
    with pytest.raises(RuntimeError, match=msg):
        pt.ormqr(*args, **kw)


def test_geqrf_errors_and_no_gradient():
    with pytest.raises(RuntimeError, match="geqrf: input must have at least 2 dimensions"):
        pt.geqrf(pt.randn(3))
    with pytest.raises(NotImplementedError, match="\"geqrf_cpu\" not implemented for 'Half'"):
        pt.geqrf(pt.randn(3, 3).half())
    a, tau = pt.geqrf(pt.randn(0, 3))
    assert a.shape == (0, 3) and tau.shape == (0,)
    r = pt.geqrf(pt.randn(3, 3, requires_grad=True))     # as torch 2.13: GeqrfBackward0 raises
    assert r.a.requires_grad and r.tau.requires_grad
    with pytest.raises(NotImplementedError, match="the derivative for 'geqrf' is not implemented"):
        r.a.sum().backward()


# ---- LDL^T ------------------------------------------------------------------------------------
def unpack_ldl(LD, piv):
    """L (= P1 L1 P2 L2 ... as LAPACK's sytrf documents for UPLO='L') and block-diagonal D."""
    n = LD.shape[-1]
    Lt, Dm = np.eye(n), np.zeros((n, n))
    k = 0
    while k < n:
        s = 1 if piv[k] > 0 else 2
        p = piv[k] - 1 if s == 1 else -piv[k] - 1
        Pk = np.eye(n)
        Pk[[k + s - 1, p]] = Pk[[p, k + s - 1]]
        Lk = np.eye(n)
        Lk[k + s:, k:k + s] = LD[k + s:, k:k + s]
        Dm[k:k + s, k:k + s] = np.tril(LD[k:k + s, k:k + s]) + np.tril(LD[k:k + s, k:k + s], -1).T
        Lt = Lt @ Pk @ Lk
        k += s
    return Lt, Dm


@pytest.mark.parametrize("hermitian", [False, True])
def test_ldl_factor_reconstructs_a(hermitian):
    X = rnd(3, 5, 5, seed=10)
    A = X + np.swapaxes(X, -1, -2)
    LD, piv, info = L.ldl_factor_ex(pt.tensor(A), hermitian=hermitian)
    assert type(L.ldl_factor_ex(pt.tensor(A))).__name__ == "linalg_ldl_factor_ex"
    assert piv.dtype == pt.int32 and info.dtype == pt.int32 and info.tolist() == [0, 0, 0]
    assert np.all(np.triu(LD.numpy(), 1) == 0)
    assert (piv < 0).any()                          # (these matrices take some 2x2 pivots)
    for i in range(3):
        Lt, Dm = unpack_ldl(LD.numpy()[i], piv.numpy()[i])
        np.testing.assert_allclose(Lt @ Dm @ Lt.T, A[i], atol=1e-12)


def test_ldl_factor_known_answer_and_solve():
    # torch 2.13 on this matrix: LD [[0,0,0],[2,1,0],[1.25,.5,-2.75]], pivots [-3,-3,3]
    A = pt.tensor([[0., 1., 2.], [1., 0., 3.], [2., 3., 1.]], dtype=D)
    LD, piv = L.ldl_factor(A)
    assert LD.tolist() == [[0., 0., 0.], [2., 1., 0.], [1.25, 0.5, -2.75]] and piv.tolist() == [-3, -3, 3]
    B = pt.tensor(rnd(3, 2, seed=11))
    np.testing.assert_allclose((A @ L.ldl_solve(LD, piv, B)).numpy(), B.numpy(), atol=1e-12)
    np.testing.assert_allclose(L.ldl_solve(LD, piv.long(), B, hermitian=True).numpy(),
                               np.linalg.solve(A.numpy(), B.numpy()), atol=1e-12)


def test_ldl_solve_broadcasts_and_float32():
    X = rnd(2, 4, 4, seed=12)
    A = (X + np.swapaxes(X, -1, -2)).astype(np.float32)
    LD, piv = L.ldl_factor(pt.tensor(A))
    B = rnd(3, 1, 4, 2, seed=13).astype(np.float32)
    out = L.ldl_solve(LD, piv, pt.tensor(B))
    assert out.shape == (3, 2, 4, 2) and out.dtype == pt.float32
    np.testing.assert_allclose(out.numpy(), np.linalg.solve(A, B), rtol=1e-3, atol=1e-3)
    assert L.ldl_factor(pt.zeros(2, 0, 0)).LD.shape == (2, 0, 0)


def test_ldl_singular_d():
    LD, piv, info = L.ldl_factor_ex(pt.zeros(3, 3, dtype=D))
    assert info.item() == 1 and piv.tolist() == [1, 2, 3] and LD.abs().sum().item() == 0
    with pytest.raises(L.LinAlgError, match=r"ldl_factor: The factorization was completed but D is singular \(D\[0,0\]"):
        L.ldl_factor(pt.zeros(3, 3))
    with pytest.raises(L.LinAlgError, match=r"ldl_factor_ex: \(Batch element 1\)"):
        L.ldl_factor_ex(pt.stack([pt.eye(2), pt.zeros(2, 2)]), check_errors=True)


@pytest.mark.parametrize("call, err, msg", [
    (lambda: L.ldl_factor(pt.randn(3)), RuntimeError, "ldl_factor_ex: The input tensor A must have at least 2 dimensions"),
    (lambda: L.ldl_factor(pt.randn(2, 3)), RuntimeError, "A must be batches of square matrices, but they are 2 by 3"),
    (lambda: L.ldl_factor(pt.ones(3, 3, dtype=pt.int32)), RuntimeError, "Expected a floating point or complex tensor as input. Got Int"),
    (lambda: L.ldl_factor(pt.randn(3, 3).half()), NotImplementedError, "\"ldl_factor_kernel_cpu\" not implemented for 'Half'"),
    (lambda: L.ldl_factor(pt.eye(3), hermitian=1), TypeError, "argument 'hermitian' must be bool"),
    (lambda: L.ldl_solve(pt.eye(4), pt.ones(4, dtype=pt.int32), pt.randn(3, 2)), RuntimeError,
     "Incompatible matrix sizes for torch.linalg.ldl_solve: each A matrix is 4 by 4 but each b matrix is 3 by 2"),
    (lambda: L.ldl_solve(pt.eye(4, dtype=D), pt.ones(4, dtype=pt.int32), pt.randn(4, 2)), RuntimeError,
     "Expected b and A to have the same dtype, but found b of type Float and A of type Double"),
    (lambda: L.ldl_solve(pt.eye(4), pt.ones(3, dtype=pt.int32), pt.randn(4, 2)), RuntimeError,
     r"Expected LD.shape\[:-1\] and pivots.shape to be the same, but got pivots with shape \[3\]"),
    (lambda: L.ldl_solve(pt.eye(4), pt.ones(4), pt.randn(4, 2)), RuntimeError, "Expected pivots to be integers"),
])
def test_ldl_errors(call, err, msg):
    with pytest.raises(err, match=msg):
        call()


@pytest.mark.parametrize("hermitian", [False, True])
def test_ldl_complex(hermitian):
    rng = np.random.default_rng(0)          # (the matrices whose factors were checked against torch 2.13)
    X = rng.standard_normal((4, 4)) + 1j * rng.standard_normal((4, 4))
    A = X + (X.conj().T if hermitian else X.T)
    LD, piv = L.ldl_factor(pt.tensor(A), hermitian=hermitian)
    assert LD.dtype == pt.complex128 and piv.tolist() == [-4, -4, 3, 4]          # torch 2.13's pivots
    B = rng.standard_normal((4, 2)) + 1j * rng.standard_normal((4, 2))
    X_ = L.ldl_solve(LD, piv, pt.tensor(B), hermitian=hermitian).numpy()
    np.testing.assert_allclose(A @ X_, B, atol=1e-12)
