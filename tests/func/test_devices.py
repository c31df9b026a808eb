"""plugtorch.func on every available backend (cpu, opencl, the 'strict' plug-in ...): per-sample
gradients, a Hessian, vmap's batched path and randomness='same' agree with cpu."""
from __future__ import annotations

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.func import grad, hessian, vmap

DEVICES = pt.backends.available()


@pytest.mark.parametrize("device", DEVICES)
def test_transforms_on_device_match_cpu(device):
    rng = np.random.default_rng(0)
    w, xs, ys = (pt.tensor(rng.standard_normal(s).astype(np.float32)) for s in ((3, 4), (5, 4), (5, 3)))

    def loss(weight, x, y):
        return ((weight @ x - y) ** 2).sum()

    def run(dev):
        d = [t.to(dev) for t in (w, xs, ys)]
        g = vmap(grad(loss), in_dims=(None, 0, 0))(*d)
        h = hessian(lambda v: (v.sin() * v).sum())(d[1][0])
        m = vmap(pt.mul, in_dims=(0, None), out_dims=1)(d[1], d[1][0])
        return [r.cpu().numpy() for r in (g, h, m)]

    for got, ref in zip(run(device), run("cpu")):
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    pt.manual_seed(0)
    same = vmap(lambda r: r + pt.rand(4, device=device), randomness="same")(pt.zeros(3, 4, device=device)).cpu()
    assert bool(pt.equal(same[0], same[2]))
