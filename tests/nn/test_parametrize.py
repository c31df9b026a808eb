"""nn.utils.parametrize and nn.utils.parametrizations (orthogonal, weight_norm, spectral_norm)."""
import warnings

import numpy as np
import pytest

import plugtorch as pt
from plugtorch import nn
from plugtorch.nn.utils import parametrizations as P
from plugtorch.nn.utils import parametrize


class Symmetric(nn.Module):
    def forward(self, X):
        return X.triu() + X.triu(1).mT


class Double(nn.Module):
    def forward(self, X):
        return 2 * X

    def right_inverse(self, Y):
        return Y / 2


class Split(nn.Module):            # right_inverse returns two tensors: original0, original1
    def forward(self, a, b):
        return a + b

    def right_inverse(self, Y):
        return Y * 0.25, Y * 0.75


def linear(i=3, o=3):
    pt.manual_seed(0)
    return nn.Linear(i, o).double()


def test_register_and_state_dict():
    m = linear()
    w0 = m.weight.detach().numpy().copy()
    parametrize.register_parametrization(m, "weight", Symmetric())
    assert type(m).__name__ == "ParametrizedLinear"
    assert parametrize.is_parametrized(m) and parametrize.is_parametrized(m, "weight")
    assert not parametrize.is_parametrized(m, "bias")
    assert list(m.state_dict()) == ["bias", "parametrizations.weight.original"]
    np.testing.assert_array_equal(m.parametrizations.weight.original.detach().numpy(), w0)
    np.testing.assert_array_equal(m.weight.detach().numpy(), np.triu(w0) + np.triu(w0, 1).T)
    x = pt.randn(2, 3, dtype=pt.float64)
    np.testing.assert_allclose(m(x).detach().numpy(), x.numpy() @ m.weight.detach().numpy().T + m.bias.detach().numpy())
    m(x).sum().backward()                     # gradients reach the original
    assert m.parametrizations.weight.original.grad is not None
    assert parametrize.type_before_parametrizations(m) is nn.Linear


def test_right_inverse_assignment_and_chain():
    m = linear()
    parametrize.register_parametrization(m, "weight", Double())
    m.weight = pt.ones(3, 3, dtype=pt.float64)
    np.testing.assert_array_equal(m.parametrizations.weight.original.detach().numpy(), np.full((3, 3), 0.5))
    parametrize.register_parametrization(m, "weight", Double())        # a second one, applied after
    assert len(m.parametrizations.weight) == 2
    np.testing.assert_array_equal(m.weight.detach().numpy(), np.full((3, 3), 2.0))
    m.weight = pt.full((3, 3), 8.0, dtype=pt.float64)                     # both right_inverses, last first
    np.testing.assert_array_equal(m.parametrizations.weight.original.detach().numpy(), np.full((3, 3), 2.0))
    parametrize.register_parametrization(m, "weight", Symmetric())
    with pytest.raises(RuntimeError, match="parametrization Symmetric does not implement right_inverse"):
        m.weight = pt.ones(3, 3, dtype=pt.float64)


def test_sequence_right_inverse():
    m = linear()
    w0 = m.weight.detach().numpy().copy()
    parametrize.register_parametrization(m, "weight", Split())
    assert list(m.state_dict()) == ["bias", "parametrizations.weight.original0", "parametrizations.weight.original1"]
    np.testing.assert_allclose(m.parametrizations.weight.original0.detach().numpy(), 0.25 * w0)
    np.testing.assert_allclose(m.weight.detach().numpy(), w0)
    assert isinstance(m.parametrizations.weight.original1, nn.Parameter)
    with pytest.raises(ValueError, match="Cannot leave unparametrized"):
        parametrize.remove_parametrizations(m, "weight", leave_parametrized=False)
    parametrize.remove_parametrizations(m, "weight")
    np.testing.assert_allclose(m.weight.detach().numpy(), w0)
    assert type(m) is nn.Linear and not hasattr(m, "parametrizations")


def test_remove_leave_parametrized():
    m = linear()
    w0 = m.weight.detach().numpy().copy()
    parametrize.register_parametrization(m, "weight", Double())
    orig = m.parametrizations.weight.original
    parametrize.remove_parametrizations(m, "weight", leave_parametrized=False)
    assert m.weight is orig and isinstance(m.weight, nn.Parameter)
    np.testing.assert_array_equal(m.weight.detach().numpy(), w0 / 2)     # right_inverse stored w0 / 2
    parametrize.register_parametrization(m, "weight", Double())
    parametrize.register_parametrization(m, "bias", Double())
    parametrize.remove_parametrizations(m, "weight")                  # keeps the parametrized value
    assert m.weight is not None and isinstance(m.weight, nn.Parameter)
    np.testing.assert_array_equal(m.weight.detach().numpy(), w0 / 2)
    assert type(m).__name__ == "ParametrizedLinear"                  # bias still parametrized
    assert list(m.state_dict()) == ["weight", "parametrizations.bias.original"]
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        parametrize.remove_parametrizations(m, "weight")


def test_cached():
    m = linear()
    calls = []

    class Count(nn.Module):
        def forward(self, X):
            calls.append(1)
            return X * 1
    parametrize.register_parametrization(m, "weight", Count())
    calls.clear()
    with parametrize.cached():
        a, b = m.weight, m.weight
    assert a is b and len(calls) == 1
    m.weight
    assert len(calls) == 2


def test_errors():
    m = linear()
    with pytest.raises(ValueError, match="does not have a parameter, a buffer, or a parametrized element "
                                         "with name 'nope'"):
        parametrize.register_parametrization(m, "nope", Double())

    class Shrink(nn.Module):
        def forward(self, X):
            return X[:2]
    with pytest.raises(ValueError, match="may not change the shape of the tensor"):
        parametrize.register_parametrization(m, "weight", Shrink())
    parametrize.register_parametrization(m, "weight", Shrink(), unsafe=True)
    assert tuple(m.weight.shape) == (2, 3)


def test_orthogonal_maps():
    for shape in [(3, 3), (4, 2), (2, 4)]:
        for name in ["matrix_exp", "cayley", "householder"]:
            for triv in [True, False]:
                m = linear(shape[1], shape[0])
                P.orthogonal(m, orthogonal_map=name, use_trivialization=triv)
                W = m.weight.detach().numpy()
                G = W.T @ W if shape[0] >= shape[1] else W @ W.T
                np.testing.assert_allclose(G, np.eye(len(G)), atol=1e-12)
                keys = ["bias", "parametrizations.weight.original"]
                keys += ["parametrizations.weight.0.base"] if triv else []
                assert list(m.state_dict()) == keys
    m = linear(3, 3)
    P.orthogonal(m)                                 # assignment is exact with the trivialization
    Q = np.linalg.qr(np.random.RandomState(1).randn(3, 3))[0]
    m.weight = pt.tensor(Q)
    np.testing.assert_allclose(m.weight.detach().numpy(), Q, atol=1e-12)
    m = linear(2, 4)
    P.orthogonal(m, orthogonal_map="householder", use_trivialization=False)    # Householder vectors as torch's geqrf
    Q = np.linalg.qr(np.random.RandomState(2).randn(4, 2))[0]
    m.weight = pt.tensor(Q)
    np.testing.assert_allclose(m.weight.detach().numpy(), Q, atol=1e-12)


def test_orthogonal_known_values_and_errors():
    # the values PyTorch 2.x gives for this weight with use_trivialization=False
    W0 = np.random.RandomState(0).randn(4, 3)
    first_rows = {"householder": [0.581441, -0.47916, 0.259295], "matrix_exp": [-0.68697, -0.554445, -0.204579],
                  "cayley": [-0.155906, -0.907622, -0.358563]}
    for name, row in first_rows.items():
        m = nn.Linear(3, 4).double()
        m.weight = nn.Parameter(pt.tensor(W0))
        P.orthogonal(m, orthogonal_map=name, use_trivialization=False)
        np.testing.assert_allclose(m.weight.detach().numpy()[0], row, atol=1e-6)
    with pytest.raises(ValueError, match="Expected a matrix or batch of matrices. Got a tensor of 1 dimensions."):
        P.orthogonal(linear(), "bias")
    with pytest.raises(ValueError, match='orthogonal_map has to be one of "matrix_exp", "cayley", '
                                         '"householder". Got: qr'):
        P.orthogonal(linear(), orthogonal_map="qr")
    m = P.orthogonal(linear(), orthogonal_map="cayley", use_trivialization=False)
    with pytest.raises(NotImplementedError, match="not possible to assign to the matrix exponential or the Cayley"):
        m.weight = pt.eye(3, dtype=pt.float64)


def test_orthogonal_gradient_finite_differences():
    x = pt.randn(4, 2, dtype=pt.float64)
    X = pt.randn(3, 2, dtype=pt.float64)
    X[0, 0], X[1, 1] = 1.5, -1.5          # householder reads the diagonal's int() signs: keep off the steps
    for name in ["householder", "cayley", "matrix_exp"]:
        orth = P.orthogonal(linear(2, 3), orthogonal_map=name).parametrizations.weight[0]
        assert pt.autograd.gradcheck(lambda o: orth(o) @ x.T, (X.clone().requires_grad_(),))


def test_weight_norm_parametrization():
    m = P.weight_norm(linear(3, 2))
    assert list(m.state_dict()) == ["bias", "parametrizations.weight.original0", "parametrizations.weight.original1"]
    g = m.parametrizations.weight.original0.detach().numpy()
    v = m.parametrizations.weight.original1.detach().numpy()
    assert g.shape == (2, 1)
    np.testing.assert_allclose(m.weight.detach().numpy(), g * v / np.linalg.norm(v, axis=1, keepdims=True))
    m = P.weight_norm(linear(3, 2), dim=None)
    g = m.parametrizations.weight.original0.detach().numpy()
    assert g.shape == () and abs(g - np.linalg.norm(m.parametrizations.weight.original1.detach().numpy())) < 1e-12
    m = P.weight_norm(linear(3, 2), dim=1)
    assert tuple(m.parametrizations.weight.original0.shape) == (1, 3)


def test_spectral_norm_parametrization():
    pt.manual_seed(0)
    m = P.spectral_norm(nn.Linear(5, 4).double())
    assert list(m.state_dict()) == ["bias", "parametrizations.weight.original",
                                    "parametrizations.weight.0._u", "parametrizations.weight.0._v"]
    W = m.parametrizations.weight.original.detach().numpy()
    sn = m.parametrizations.weight[0]
    u_buf = sn._u
    for _ in range(20):
        m.weight
    assert sn._u is u_buf                           # updated in place
    np.testing.assert_allclose(m.weight.detach().numpy(), W / np.linalg.svd(W, compute_uv=False)[0], rtol=1e-10)
    m.eval()
    u = sn._u.clone()
    m.weight
    np.testing.assert_array_equal(sn._u.numpy(), u.numpy())   # eval: no power iteration
    c = P.spectral_norm(nn.ConvTranspose2d(3, 4, 2))           # dim=1 for transposed convolutions
    assert tuple(c.parametrizations.weight[0]._u.shape) == (4,)
    with pytest.raises(ValueError, match="Expected n_power_iterations to be positive, but got n_power_iterations=0"):
        P.spectral_norm(linear(), n_power_iterations=0)
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-2, 1\] but got 2\)"):
        P.spectral_norm(linear(), dim=2)


def test_spectral_norm_reproducible_with_seed():
    pt.manual_seed(3)
    a = P.spectral_norm(nn.Linear(3, 3, dtype=pt.float64)).parametrizations.weight[0]._u.numpy()
    pt.manual_seed(3)
    b = P.spectral_norm(nn.Linear(3, 3, dtype=pt.float64)).parametrizations.weight[0]._u.numpy()
    np.testing.assert_array_equal(a, b)


def test_weight_norm_loads_legacy_state_dict():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        legacy = nn.utils.weight_norm(linear(3, 2))
    with pt.no_grad():
        legacy.weight_g.mul_(3.0)
    sd = legacy.state_dict()
    m = P.weight_norm(nn.Linear(3, 2).double())
    result = m.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == [] and "weight_g" in sd     # caller's dict kept
    x = pt.randn(4, 3, dtype=pt.float64)
    np.testing.assert_allclose(m(x).detach().numpy(), legacy(x).detach().numpy(), rtol=1e-12)
