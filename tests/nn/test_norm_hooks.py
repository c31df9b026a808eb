"""The legacy hook-based nn.utils.weight_norm / spectral_norm and their remove_* functions."""
import warnings

import numpy as np
import pytest

import plugtorch as pt
from plugtorch import nn


def quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return fn(*a, **k)


def test_weight_norm_hook():
    pt.manual_seed(0)
    m = nn.Linear(3, 2).double()
    w0 = m.weight.detach().numpy().copy()
    with pytest.warns(FutureWarning, match="deprecated in favor of `torch.nn.utils.parametrizations.weight_norm`"):
        nn.utils.weight_norm(m)
    assert [n for n, _ in m.named_parameters()] == ["bias", "weight_g", "weight_v"]
    assert list(m.state_dict()) == ["bias", "weight_g", "weight_v"]
    np.testing.assert_allclose(m.weight_g.detach().numpy(), np.linalg.norm(w0, axis=1, keepdims=True))
    with pt.no_grad():
        m.weight_g.mul_(2.0)
    x = pt.randn(4, 3, dtype=pt.float64)
    y = m(x)                                          # the hook recomputes weight = g v / ||v||
    np.testing.assert_allclose(m.weight.detach().numpy(), 2 * w0, rtol=1e-12)
    y.sum().backward()
    assert m.weight_g.grad is not None and m.weight_v.grad is not None
    nn.utils.remove_weight_norm(m)
    assert list(m.state_dict()) == ["bias", "weight"] and isinstance(m.weight, nn.Parameter)
    np.testing.assert_allclose(m(x).detach().numpy(), y.detach().numpy())
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found in Linear"):
        nn.utils.remove_weight_norm(m)
    m = quiet(nn.utils.weight_norm, nn.Conv1d(2, 3, 2), dim=None)
    assert tuple(m.weight_g.shape) == ()
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks on the same parameter weight"):
        quiet(nn.utils.weight_norm, m)


def test_spectral_norm_hook():
    pt.manual_seed(0)
    m = nn.utils.spectral_norm(nn.Conv2d(3, 4, 2).double())
    assert list(m.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    assert [n for n, _ in m.named_buffers()] == ["weight_u", "weight_v"]
    W = m.weight_orig.detach().numpy().reshape(4, -1)
    x = pt.randn(1, 3, 3, 3, dtype=pt.float64)
    for _ in range(100):
        m(x)
    np.testing.assert_allclose(m.weight.detach().numpy().reshape(4, -1), W / np.linalg.svd(W, compute_uv=False)[0],
                               rtol=1e-10)
    m.eval()
    u = m.weight_u.clone()
    m(x)
    np.testing.assert_array_equal(m.weight_u.numpy(), u.numpy())     # eval: no power iteration
    m.train()
    m(x).sum().backward()
    assert m.weight_orig.grad is not None
    expected = m.weight.detach().numpy()
    nn.utils.remove_spectral_norm(m)
    assert list(m.state_dict()) == ["bias", "weight"]
    np.testing.assert_allclose(m.weight.detach().numpy(), expected)
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found in"):
        nn.utils.remove_spectral_norm(m)
    t = nn.utils.spectral_norm(nn.ConvTranspose1d(3, 5, 2))          # dim=1: u has out_channels entries
    assert tuple(t.weight_u.shape) == (5,)
    with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks on the same parameter weight"):
        nn.utils.spectral_norm(t)
    with pytest.raises(ValueError, match="`SpectralNorm` cannot be applied as parameter `bias` is None"):
        nn.utils.spectral_norm(nn.Linear(2, 2, bias=False), "bias")
