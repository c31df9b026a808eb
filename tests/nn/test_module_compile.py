"""nn.Module.compile: the module's calls run through plugtorch.compile in place (as PyTorch's
``self._compiled_call_impl = torch.compile(self._call_impl)``), hooks and state_dict as before."""
import copy

import numpy as np
import pytest

import plugtorch as pt


def _mlp():
    pt.manual_seed(0)
    return pt.nn.Sequential(pt.nn.Linear(3, 4), pt.nn.ReLU(), pt.nn.Linear(4, 2))


def _numpy_mlp(m, x):
    w1, b1, w2, b2 = (p.detach().numpy() for p in m.parameters())
    return np.maximum(x @ w1.T + b1, 0) @ w2.T + b2


def test_compile_runs_the_calls_compiled():
    m = _mlp()
    x = pt.randn(5, 3)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    pt.compiler.reset()
    assert m.compile() is None
    outs = [m(x) for _ in range(3)]
    ref = _numpy_mlp(m, x.numpy())
    for out in outs:
        np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-5, atol=1e-6)
    s = pt.compiler.stats()
    assert s["graphs"] == 1 and s["traced_calls"] == 1 and s["compiled_calls"] == 2
    assert m._compiled_call_impl.counters["graphs"] == 1
    # the module itself is unchanged: same class, same parameters and state_dict
    assert type(m) is pt.nn.Sequential
    sd = m.state_dict()
    assert list(sd) == list(before) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    for k in sd:
        np.testing.assert_array_equal(sd[k].numpy(), before[k].numpy())


def test_compiled_module_gradients_and_updates():
    m = _mlp()
    x = pt.randn(5, 3)
    m.compile()
    opt = pt.optim.SGD(m.parameters(), lr=0.1)
    for _ in range(3):
        w = m[0].weight.detach().numpy().copy()
        out = m(x)
        np.testing.assert_allclose(out.detach().numpy(), _numpy_mlp(m, x.numpy()), rtol=1e-5, atol=1e-6)
        opt.zero_grad()
        out.sum().backward()
        # d(sum)/d(last bias) is the batch size, whatever the weights
        np.testing.assert_allclose(m[2].bias.grad.numpy(), [5.0, 5.0])
        g = m[0].weight.grad.numpy().copy()
        opt.step()
        np.testing.assert_allclose(m[0].weight.detach().numpy(), w - 0.1 * g, rtol=1e-6, atol=1e-7)


def test_hooks_apply_to_compiled_calls():
    m = pt.nn.Linear(3, 2)
    x = pt.randn(4, 3)
    eager = m(x).detach().numpy()
    m.compile()
    m(x)
    h = m.register_forward_hook(lambda mod, args, out: out * 2)     # added after compile
    for _ in range(2):
        np.testing.assert_allclose(m(x).detach().numpy(), 2 * eager, rtol=1e-6)
    pre = m.register_forward_pre_hook(lambda mod, args: (args[0] + 1,))
    shifted = (x.numpy() + 1) @ m.weight.detach().numpy().T + m.bias.detach().numpy()
    np.testing.assert_allclose(m(x).detach().numpy(), 2 * shifted, rtol=1e-5)
    h.remove()
    pre.remove()
    np.testing.assert_allclose(m(x).detach().numpy(), eager, rtol=1e-6)


def test_compile_passes_its_arguments_on():
    m = pt.nn.Linear(2, 2)
    with pytest.raises(NotImplementedError, match="dynamic=True"):
        m.compile(dynamic=True)
    assert m._compiled_call_impl is None
    m.compile(disable=True)                    # plugtorch.compile(disable=True) returns the call itself
    x = pt.ones(1, 2)
    np.testing.assert_allclose(m(x).detach().numpy(), m._call_impl(x).detach().numpy())


def test_deepcopy_drops_the_compiled_call():
    m = pt.nn.Linear(2, 2)
    m.compile()
    c = copy.deepcopy(m)
    assert c._compiled_call_impl is None and m._compiled_call_impl is not None
    x = pt.ones(1, 2)
    np.testing.assert_allclose(c(x).detach().numpy(), m(x).detach().numpy(), rtol=1e-6)
