"""Second derivatives that were wrong: each checked against finite differences
(gradgradcheck, float64) and a known value of a Hessian entry."""
from __future__ import annotations

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.autograd import gradcheck, gradgradcheck


def _t(a):
    return pt.tensor(np.asarray(a, dtype=np.float64), dtype=pt.float64, requires_grad=True)


_X = [[1.5, -0.7], [0.9, 1.2], [-1.1, 0.6]]
_S = [[0.8, -1.3], [1.7, 0.5]]
_INDEX = pt.tensor([[0, 2], [0, 0]])   # out[0, 0] = x[0, 0] * s[0, 0] * s[1, 0]


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("zeros", ["none", "self", "src", "self and src"])
def test_scatter_reduce_prod_double_backward_matches_finite_differences(include_self, zeros):
    x, s = np.array(_X), np.array(_S)
    if "self" in zeros:
        x[0, 0] = 0.0
    if "src" in zeros:
        s[0, 0] = 0.0

    def f(a, b):
        return a.scatter_reduce(0, _INDEX, b, "prod", include_self=include_self)
    assert gradgradcheck(f, (_t(x), _t(s)))


def test_scatter_reduce_prod_cross_second_derivative_value():
    # d2 out[0,0] / dx[0,0] ds[0,0] = s[1,0]; the backward was built from detached values and gave 0
    x, s = _t(_X), _t(_S)
    out = x.scatter_reduce(0, _INDEX, s, "prod")
    (gx,) = pt.autograd.grad(out[0, 0], (x,), create_graph=True)
    (gs,) = pt.autograd.grad(gx[0, 0], (s,))
    np.testing.assert_allclose(gs.numpy(), [[1.7, 0.0], [0.8, 0.0]], rtol=1e-12)


def test_scatter_reduce_prod_two_zeros_in_one_position_refuses_double_backward():
    x, s = _t(_X), _t([[0.0, -1.3], [0.0, 0.5]])
    f = lambda a, b: a.scatter_reduce(0, _INDEX, b, "prod")   # noqa: E731
    assert gradcheck(f, (x, s))   # the first derivative is fine (every factor's gradient 0 there)
    _, gs = pt.autograd.grad(f(x, s).sum(), (x, s), create_graph=True)
    with pytest.raises(RuntimeError, match="scatter_reduce.*more than one zero in src"):
        pt.autograd.grad(gs.sum(), (x, s))
