"""plugtorch.gradient against numpy.gradient: spacings, coordinates, dims, edge orders, errors."""
import numpy as np
import pytest

import plugtorch as pt

RNG = np.random.default_rng(3)


@pytest.mark.parametrize("edge_order", [1, 2])
def test_against_numpy(edge_order):
    f = RNG.standard_normal((4, 5, 6))
    got = pt.gradient(pt.tensor(f), edge_order=edge_order)
    ref = np.gradient(f, edge_order=edge_order)
    assert len(got) == 3
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g.numpy(), r, rtol=1e-12, atol=1e-12)
    got = pt.gradient(pt.tensor(f), spacing=[2.0, 0.5], dim=[2, 0], edge_order=edge_order)
    np.testing.assert_allclose(got[0].numpy(), np.gradient(f, 2.0, axis=2, edge_order=edge_order), rtol=1e-12)
    np.testing.assert_allclose(got[1].numpy(), np.gradient(f, 0.5, axis=0, edge_order=edge_order), rtol=1e-12)
    x0, x1 = np.cumsum(RNG.uniform(0.1, 1.0, 4)), np.cumsum(RNG.uniform(0.1, 1.0, 6))
    got = pt.gradient(pt.tensor(f), spacing=(pt.tensor(x0), pt.tensor(x1)), dim=(0, -1), edge_order=edge_order)
    np.testing.assert_allclose(got[0].numpy(), np.gradient(f, x0, axis=0, edge_order=edge_order), rtol=1e-10)
    np.testing.assert_allclose(got[1].numpy(), np.gradient(f, x1, axis=2, edge_order=edge_order), rtol=1e-10)


def test_dtypes_and_scalars():
    (g,) = pt.gradient(pt.tensor([1, 4, 9, 16, 25]))
    assert g.dtype is pt.float32 and g.tolist() == [3.0, 4.0, 6.0, 8.0, 9.0]       # torch 2.13's answer
    (g,) = pt.gradient(pt.tensor([1.0, 2.0, 4.0], dtype=pt.float16))
    assert g.dtype is pt.float16 and g.tolist() == [1.0, 1.5, 2.0]
    z = np.array([1 + 1j, 2 + 3j, 5 + 0j])
    np.testing.assert_allclose(pt.gradient(pt.tensor(z))[0].numpy(), np.gradient(z))
    (g,) = pt.gradient(pt.tensor([1.0, 4.0, 9.0]), spacing=pt.tensor(2.0), dim=0)
    assert g.tolist() == np.gradient([1.0, 4.0, 9.0], 2.0).tolist()


def test_gradient_flows():
    x = pt.tensor(RNG.standard_normal(5), requires_grad=True)
    w = pt.tensor(RNG.standard_normal(5))
    (pt.gradient(x, edge_order=2)[0] * w).sum().backward()
    # the map is linear: its gradient is the transposed matrix applied to w
    m = np.stack([np.gradient(np.eye(5)[i], edge_order=2) for i in range(5)])
    np.testing.assert_allclose(x.grad.numpy(), m @ w.numpy(), rtol=1e-12)


def test_errors():
    with pytest.raises(RuntimeError, match="only supports edge_order=1 and edge_order=2"):
        pt.gradient(pt.ones(4), edge_order=3)
    with pytest.raises(RuntimeError, match="at least edge_order\\+1"):
        pt.gradient(pt.ones(2), edge_order=2)
    with pytest.raises(RuntimeError, match="spacing argument of length 1 and a dim argument of length 2"):
        pt.gradient(pt.ones(3, 4), spacing=[2.0], dim=(0, 1))
    with pytest.raises(IndexError, match="Dimension out of range"):
        pt.gradient(pt.ones(3, 4), dim=2)
    with pytest.raises(RuntimeError, match="one value per element"):
        pt.gradient(pt.ones(3, 4), spacing=[pt.tensor([0.0, 1.0, 2.0])], dim=1)
