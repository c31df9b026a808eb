"""linalg.lu_factor(_ex), lu, lu_solve, lu_unpack (and the old torch.lu/lu_solve), cond,
vander, tensorinv, tensorsolve and matrix_exp: against SciPy/NumPy, float64 gradchecks and
PyTorch's errors; cpu and opencl."""
import numpy as np
import pytest
import scipy.linalg

import plugtorch as pt
from plugtorch.autograd import gradcheck

DEVICES = ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))]
RNG = np.random.default_rng(3)
L = pt.linalg


def _t(a, dev="cpu"):
    return pt.tensor(np.asarray(a), device=dev)


def _np(x):
    return x.cpu().numpy()


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 5), (5, 3)])
def test_lu_matches_scipy(dev, shape):
    a = RNG.standard_normal(shape)
    P_, L_, U = L.lu(_t(a, dev))
    for i in np.ndindex(shape[:-2]):
        p, l, u = scipy.linalg.lu(a[i])
        np.testing.assert_allclose(_np(P_)[i], p)
        np.testing.assert_allclose(_np(L_)[i], l, atol=1e-12)
        np.testing.assert_allclose(_np(U)[i], u, atol=1e-12)
    if shape[-1] == shape[-2]:
        LU, piv = L.lu_factor(_t(a, dev))
        lu, p = scipy.linalg.lu_factor(a)
        np.testing.assert_allclose(_np(LU), lu, atol=1e-12)
        np.testing.assert_array_equal(_np(piv), p + 1)            # LAPACK's 1-based pivots, int32
        assert piv.dtype is pt.int32


@pytest.mark.parametrize("dev", DEVICES)
def test_lu_solve_every_side(dev):
    a = RNG.standard_normal((2, 4, 4))
    b = RNG.standard_normal((2, 4, 3))
    c = RNG.standard_normal((2, 3, 4))
    LU, piv = L.lu_factor(_t(a, dev))
    np.testing.assert_allclose(_np(L.lu_solve(LU, piv, _t(b, dev))), np.linalg.solve(a, b), rtol=1e-10)
    np.testing.assert_allclose(_np(L.lu_solve(LU, piv, _t(b, dev), adjoint=True)),
                               np.linalg.solve(a.transpose(0, 2, 1), b), rtol=1e-10)
    np.testing.assert_allclose(_np(L.lu_solve(LU, piv, _t(c, dev), left=False)),
                               np.linalg.solve(a.transpose(0, 2, 1), c.transpose(0, 2, 1)).transpose(0, 2, 1), rtol=1e-10)
    np.testing.assert_allclose(_np(pt.lu_solve(_t(b, dev), LU, piv)), np.linalg.solve(a, b), rtol=1e-10)
    Pm, Lm, Um = pt.lu_unpack(LU, piv)
    np.testing.assert_allclose(_np(Pm @ Lm @ Um), a, atol=1e-12)


def test_lu_gradients_and_errors():
    a = pt.tensor(RNG.standard_normal((2, 3, 3)), requires_grad=True)
    b = pt.tensor(RNG.standard_normal((2, 3, 2)), requires_grad=True)
    assert gradcheck(lambda x: L.lu_factor(x).LU, (a,))
    assert gradcheck(lambda x, y: L.lu_solve(*L.lu_factor(x), y), (a, b))
    LU, piv, info = L.lu_factor_ex(pt.tensor([[0.0, 0.0], [0.0, 0.0]]))
    assert info.item() == 1 and piv.tolist() == [1, 2]
    with pytest.raises(pt.linalg.LinAlgError, match=r"U\[2,2\] is zero"):  # 1-based, as PyTorch
        L.lu_factor(pt.tensor([[1.0, 2.0], [2.0, 4.0]]))
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        L.lu_factor(pt.ones(3))
    with pytest.raises(RuntimeError, match="floating point"):
        L.lu(pt.ones(2, 2, dtype=pt.int64))


@pytest.mark.parametrize("dev", DEVICES)
def test_cond_vander_tensor_solvers(dev):
    a = RNG.standard_normal((3, 4, 4))
    for p in (None, 2, -2, 1, -1, np.inf, -np.inf, "fro", "nuc"):
        want = np.linalg.cond(a, p)
        np.testing.assert_allclose(_np(L.cond(_t(a, dev), p)), want, rtol=1e-9, err_msg=str(p))
    with pytest.raises(RuntimeError, match="must be batches of square matrices"):
        L.cond(pt.ones(2, 3), "fro")
    np.testing.assert_array_equal(_np(L.vander(_t([1, 2, 3], dev))), np.vander([1, 2, 3], increasing=True))
    np.testing.assert_allclose(_np(L.vander(_t([[1.5, 2.0]], dev), N=4)), np.vander([1.5, 2.0], 4, increasing=True)[None])
    t = RNG.standard_normal((6, 6)).reshape(2, 3, 6)
    np.testing.assert_allclose(_np(L.tensorinv(_t(t, dev), 2)), np.linalg.tensorinv(t, 2), rtol=1e-10)
    s, r = RNG.standard_normal((2, 3, 6)), RNG.standard_normal((2, 3))
    np.testing.assert_allclose(_np(L.tensorsolve(_t(s, dev), _t(r, dev))), np.linalg.tensorsolve(s, r), rtol=1e-10)
    s2 = RNG.standard_normal((6, 2, 3))
    np.testing.assert_allclose(_np(L.tensorsolve(_t(s2, dev), _t(r, dev), dims=(0,))),
                               np.linalg.tensorsolve(s2, r, axes=(0,)), rtol=1e-10)
    m = RNG.standard_normal((4, 4))
    np.testing.assert_allclose(_np(L.matrix_exp(_t(m, dev))), scipy.linalg.expm(m), rtol=1e-10)


@pytest.mark.parametrize("dev", DEVICES)
def test_eig_and_eigvals(dev):
    a = RNG.standard_normal((2, 4, 4))
    w, V = L.eig(_t(a, dev))
    assert w.dtype is pt.complex128 and V.dtype is pt.complex128 and w.device.type == dev
    w, V = _np(w), _np(V)
    np.testing.assert_allclose(a @ V, V * w[..., None, :], atol=1e-10)            # A V = V diag(w)
    np.testing.assert_allclose(np.linalg.norm(V, axis=-2), 1.0, rtol=1e-12)      # unit eigenvectors
    want = np.linalg.eigvals(a)
    got = _np(L.eigvals(_t(a, dev)))
    for g, ww in zip(got, want):
        np.testing.assert_allclose(np.sort_complex(g), np.sort_complex(ww), rtol=1e-10)
    assert L.eigvals(pt.ones(2, 2)).dtype is pt.complex64
    with pytest.raises(RuntimeError, match="must be batches of square matrices"):
        L.eig(pt.ones(2, 3))
    with pytest.raises(RuntimeError, match="Expected a floating point or complex tensor"):
        L.eig(pt.ones(2, 2, dtype=pt.int64))


def test_old_triangular_solve_and_removed_names():
    a = np.triu(RNG.standard_normal((3, 3))) + 3 * np.eye(3)
    b = RNG.standard_normal((3, 2))
    with pytest.warns(UserWarning, match="triangular_solve is deprecated"):
        x, coefficient = pt.triangular_solve(_t(b), _t(a))
    np.testing.assert_allclose(_np(x), scipy.linalg.solve_triangular(a, b), rtol=1e-12)
    assert _np(coefficient).tolist() == a.tolist()
    with pytest.warns(UserWarning):
        x = _t(b).triangular_solve(_t(a.T), upper=False, transpose=True).solution
    np.testing.assert_allclose(_np(x), scipy.linalg.solve_triangular(a, b), rtol=1e-12)
    for name in ("solve", "lstsq", "symeig", "eig", "matrix_rank"):
        with pytest.raises(RuntimeError, match="deprecated since version 1.9 and is now removed"):
            getattr(pt, name)(pt.eye(2))
