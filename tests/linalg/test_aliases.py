"""PyTorch's top-level linear-algebra functions and Tensor methods (torch.det, Tensor.inverse(),
torch.svd with V ...) over the linalg ops, against NumPy."""
import warnings

import numpy as np
import pytest

import plugtorch as pt


def rnd(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def test_det_inverse_slogdet_logdet():
    a = rnd(2, 3, 3) + 3 * np.eye(3)
    t = pt.tensor(a)
    np.testing.assert_allclose(pt.det(t).numpy(), np.linalg.det(a), rtol=1e-12)
    np.testing.assert_allclose(t.det().numpy(), np.linalg.det(a), rtol=1e-12)
    np.testing.assert_allclose(t.inverse().numpy(), np.linalg.inv(a), rtol=1e-12)
    s = t.slogdet()
    assert type(s) is pt.return_types.slogdet
    np.testing.assert_allclose(s.logabsdet.numpy(), np.linalg.slogdet(a)[1], rtol=1e-12)
    assert pt.logdet(pt.tensor([[2., 1.], [1., -3.]])).isnan().item()          # negative det: nan
    assert pt.logdet(pt.zeros(2, 2)).item() == -np.inf
    assert pt.logdet(2 * pt.eye(2)).item() == pytest.approx(np.log(4.0))
    with pytest.raises(pt.linalg.LinAlgError):
        pt.inverse(pt.zeros(2, 2))


def test_svd_qr_pinverse_cholesky():
    a = rnd(4, 3)
    U, S, V = pt.svd(pt.tensor(a))
    assert tuple(U.shape) == (4, 3) and tuple(V.shape) == (3, 3)
    np.testing.assert_allclose((U * S.unsqueeze(-2) @ V.mT).numpy(), a, atol=1e-12)
    assert tuple(pt.tensor(a).svd(some=False).U.shape) == (4, 4)
    r = pt.svd(pt.tensor(a), compute_uv=False)
    assert type(r) is pt.return_types.svd and not r.U.any() and tuple(r.V.shape) == (3, 3)
    Q, R = pt.qr(pt.tensor(a))
    np.testing.assert_allclose((Q @ R).numpy(), a, atol=1e-12)
    assert tuple(pt.tensor(a).qr(some=False).Q.shape) == (4, 4)
    np.testing.assert_allclose(pt.tensor(a).pinverse().numpy(), np.linalg.pinv(a), atol=1e-12)
    s = a.T @ a + np.eye(3)
    L = pt.tensor(s).cholesky()
    np.testing.assert_allclose(L.numpy(), np.linalg.cholesky(s), atol=1e-12)
    b = rnd(3, 2, seed=1)
    np.testing.assert_allclose(pt.cholesky_solve(pt.tensor(b), L).numpy(), np.linalg.solve(s, b), atol=1e-12)
    np.testing.assert_allclose(pt.cholesky_solve(pt.tensor(b), L.mT, upper=True).numpy(), np.linalg.solve(s, b),
                               atol=1e-12)
    np.testing.assert_allclose(L.cholesky_inverse().numpy(), np.linalg.inv(s), atol=1e-12)


def test_cross_default_dim():
    a, b = rnd(3, 2), rnd(3, 2, seed=1)
    with pytest.warns(UserWarning, match="without specifying the dim arg is deprecated") as rec:
        got = pt.cross(pt.tensor(a), pt.tensor(b))
    assert rec[0].filename == __file__      # the warning names the caller's line, not plugtorch's
    np.testing.assert_allclose(got.numpy(), np.cross(a, b, axis=0), atol=1e-12)
    with pytest.warns(UserWarning, match="without specifying the dim arg") as rec:
        pt.tensor(a).cross(pt.tensor(b))
    assert rec[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(pt.tensor(a.T.copy()).cross(pt.tensor(b.T.copy()), dim=1).numpy(), np.cross(a.T, b.T))
    with pytest.raises(RuntimeError, match="no dimension of size 3 in input"):
        pt.cross(pt.ones(2, 2), pt.ones(2, 2))
