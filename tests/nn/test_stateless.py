"""nn.utils.stateless.functional_call: substitution for one call, tied weights, strict, buffers."""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch import nn
from plugtorch.nn.utils.stateless import functional_call


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(2, 2).double()
        self.b = nn.Linear(2, 2).double()
        self.b.weight = self.a.weight

    def forward(self, x):
        return self.b(self.a(x))


def test_substitutes_for_one_call_and_gradients():
    pt.manual_seed(0)
    m = nn.Linear(3, 2).double()
    w_before = m.weight
    W = pt.randn(2, 3, dtype=pt.float64, requires_grad=True)
    x = pt.randn(4, 3, dtype=pt.float64)
    y = functional_call(m, {"weight": W}, (x,))
    np.testing.assert_allclose(y.detach().numpy(), x.numpy() @ W.detach().numpy().T + m.bias.detach().numpy())
    assert m.weight is w_before and isinstance(m.weight, nn.Parameter)       # restored
    y.sum().backward()
    np.testing.assert_allclose(W.grad.numpy(), np.tile(x.numpy().sum(0), (2, 1)))
    assert m.weight.grad is None and m.bias.grad is not None
    y2 = functional_call(m, ({"weight": W}, {"bias": pt.zeros(2, dtype=pt.float64)}), x)    # tuple of dicts, bare arg
    np.testing.assert_allclose(y2.detach().numpy(), x.numpy() @ W.detach().numpy().T)
    z = functional_call(nn.Identity(), {}, args=None, kwargs={"input": x})
    assert z is x


def test_buffers_and_restore_on_error():
    bn = nn.BatchNorm1d(2).double()
    mean = pt.zeros(2, dtype=pt.float64)
    x = pt.tensor([[1.0, 2.0], [3.0, 6.0]], dtype=pt.float64)
    functional_call(bn, {"running_mean": mean}, (x,))
    np.testing.assert_allclose(mean.numpy(), 0.1 * np.array([2.0, 4.0]))       # updated the given buffer
    np.testing.assert_array_equal(bn.running_mean.numpy(), [0.0, 0.0])
    lin = nn.Linear(2, 2)
    w = lin.weight
    with pytest.raises(RuntimeError):
        functional_call(lin, {"weight": pt.ones(3, 3)}, (pt.ones(1, 2),))
    assert lin.weight is w


def test_tied_weights():
    t = Tied()
    x = pt.ones(1, 2, dtype=pt.float64)
    eye = pt.eye(2, dtype=pt.float64)
    y = functional_call(t, {"a.weight": eye}, (x,))                             # b.weight is a.weight: both eye
    np.testing.assert_allclose(y.detach().numpy(), (x + t.a.bias + t.b.bias).detach().numpy())
    y = functional_call(t, {"a.weight": eye}, (x,), tie_weights=False)          # b keeps the module's weight
    expected = (x + t.a.bias) @ t.a.weight.T + t.b.bias
    np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy())
    with pytest.raises(ValueError, match=r"functional_call got multiple values for keys \['a.weight', 'b.weight'\], "
                                         "which are tied. Consider using tie_weights=False"):
        functional_call(t, {"a.weight": eye, "b.weight": pt.ones(2, 2, dtype=pt.float64)}, (x,))
    functional_call(t, {"a.weight": eye, "b.weight": eye}, (x,))                # the same tensor twice is fine


def test_strict_and_errors():
    m = nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match="Error\\(s\\) in reparametrizing for Linear:\n\t"
                                           "Missing key\\(s\\): 'bias'."):
        functional_call(m, {"weight": pt.ones(2, 2)}, (pt.ones(1, 2),), strict=True)
    with pytest.raises(RuntimeError, match="Unexpected key\\(s\\): 'foo'."):
        functional_call(m, {"weight": pt.ones(2, 2), "bias": pt.ones(2), "foo": pt.ones(1)}, (pt.ones(1, 2),),
                        strict=True)
    functional_call(m, {"foo": pt.ones(1)}, (pt.ones(1, 2),))                  # non-strict: set, then removed
    assert not hasattr(m, "foo")
    with pytest.raises(ValueError, match=r"\['weight'\] appeared in multiple dictionaries"):
        functional_call(m, ({"weight": pt.ones(2, 2)}, {"weight": pt.ones(2, 2)}), (pt.ones(1, 2),))
    with pytest.raises(TypeError, match="is not an instance of plugtorch.Tensor"):
        functional_call(m, {"weight": 3.0}, (pt.ones(1, 2),))
