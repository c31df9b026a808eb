"""Module.register_full_backward_hook / register_full_backward_pre_hook, PyTorch's semantics:
grad_input holds one entry per positional argument of forward (None for non-tensors, zeros for
tensors that need no gradient), grad_output one per output forward returned; what a hook
returns replaces them. References are Linear's gradients by hand: dL/dx = g @ W, dL/dW = g^T x."""
import warnings

import numpy as np
import pytest

import plugtorch as pt
from plugtorch import nn

W = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]], dtype=np.float32)
B = np.array([0.25, -0.5], dtype=np.float32)
X = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]], dtype=np.float32)


def _linear(device="cpu"):
    m = nn.Linear(3, 2).to(device)
    with pt.no_grad():
        m.weight.copy_(pt.tensor(W, device=device))
        m.bias.copy_(pt.tensor(B, device=device))
    return m


def _np(t):
    return None if t is None else t.detach().cpu().numpy()


@pytest.mark.parametrize("device", ["cpu", "opencl"])
def test_hooks_see_the_gradients_of_inputs_and_outputs_and_may_replace_them(device):
    m = _linear(device)
    log = []
    m.register_full_backward_pre_hook(lambda mod, go: log.append(("pre", mod, [_np(g) for g in go])))
    m.register_full_backward_hook(lambda mod, gi, go: log.append(("full", [_np(g) for g in gi],
                                                                   [_np(g) for g in go])))
    x = pt.tensor(X, device=device, requires_grad=True)
    y = m(x)
    (y * y).sum().backward()
    g = 2 * (X @ W.T + B)                              # dL/dy
    assert [e[0] for e in log] == ["pre", "full"] and log[0][1] is m
    np.testing.assert_allclose(log[0][2][0], g, rtol=1e-6)
    np.testing.assert_allclose(log[1][1][0], g @ W, rtol=1e-6)       # grad_input: dL/dx
    np.testing.assert_allclose(log[1][2][0], g, rtol=1e-6)
    np.testing.assert_allclose(_np(x.grad), g @ W, rtol=1e-6)
    np.testing.assert_allclose(_np(m.weight.grad), g.T @ X, rtol=1e-5)

    # a full hook's grad_input replaces the input's gradient; a pre-hook's grad_output replaces the
    # gradient every gradient inside the module is computed from
    m2 = _linear(device)
    m2.register_full_backward_hook(lambda mod, gi, go: (gi[0] * 10,))
    m2.register_full_backward_pre_hook(lambda mod, go: (pt.ones_like(go[0]),))
    x2 = pt.tensor(X, device=device, requires_grad=True)
    (m2(x2) * 5).sum().backward()
    ones = np.ones((2, 2), dtype=np.float32)
    np.testing.assert_allclose(_np(x2.grad), 10 * ones @ W, rtol=1e-6)
    np.testing.assert_allclose(_np(m2.weight.grad), ones.T @ X, rtol=1e-6)


def test_inputs_outputs_without_gradients_and_tuples():
    # no input requires grad: the hook runs with the output's gradient and grad_input all None
    m = _linear()
    log = []
    m.register_full_backward_hook(lambda mod, gi, go: log.append((gi, _np(go[0]))))
    m(pt.tensor(X)).sum().backward()
    assert log[0][0] == (None,)
    np.testing.assert_array_equal(log[0][1], np.ones((2, 2), dtype=np.float32))
    m.register_full_backward_hook(lambda mod, gi, go: (pt.ones(2, 3),))
    with pytest.raises(RuntimeError, match="no input requires gradient should always return None"):
        m(pt.tensor(X)).sum().backward()

    # two inputs, one needing no gradient: zeros for it; a non-tensor argument: None
    class Scale(nn.Module):
        def forward(self, a, b, k):
            return a * b * k
    s = Scale()
    seen = []
    s.register_full_backward_hook(lambda mod, gi, go: seen.append(gi))
    a = pt.tensor([1.0, 2.0], requires_grad=True)
    s(a, pt.tensor([3.0, 4.0]), 2.0).sum().backward()
    (ga, gb, gk), = seen
    assert ga.tolist() == [6.0, 8.0] and gb.tolist() == [0.0, 0.0] and gk is None
    assert a.grad.tolist() == [6.0, 8.0]

    # outputs: one entry per element of a returned tuple, None for what is not a tensor (LSTM)
    lstm = nn.LSTM(3, 2, batch_first=True)
    shapes = []
    lstm.register_full_backward_hook(lambda mod, gi, go: shapes.append([None if g is None else tuple(g.shape)
                                                                        for g in go]))
    out, (h, c) = lstm(pt.randn(1, 4, 3, requires_grad=True))
    out.sum().backward()
    assert shapes == [[(1, 4, 2), None]]


def test_output_no_gradient_reached_is_none():
    # y = 2x, z = 3x; only y is used: dL/dy = 1, dL/dz never computed (None, as PyTorch's, not
    # zeros), dL/dx = 2; a pre-hook may still give z a gradient: dL/dx = 2 + 3 * 1
    class Two(nn.Module):
        def forward(self, x):
            return x * 2, x * 3

    m = Two()
    seen = []
    m.register_full_backward_pre_hook(lambda mod, go: seen.append(("pre", go)))
    m.register_full_backward_hook(lambda mod, gi, go: seen.append(("full", gi, go)))
    x = pt.tensor([1.0, 2.0], requires_grad=True)
    y, z = m(x)
    y.sum().backward()
    (_, pre), (_, (gx,), go) = seen
    assert pre[0].tolist() == [1.0, 1.0] and pre[1] is None
    assert go[0].tolist() == [1.0, 1.0] and go[1] is None
    assert gx.tolist() == [2.0, 2.0] and x.grad.tolist() == [2.0, 2.0]
    m2 = Two()
    m2.register_full_backward_pre_hook(lambda mod, go: (go[0], pt.ones(2)))
    x2 = pt.tensor([1.0, 2.0], requires_grad=True)
    m2(x2)[0].sum().backward()
    assert x2.grad.tolist() == [5.0, 5.0]


def test_order_prepend_remove_and_errors():
    m = _linear()
    order = []
    m.register_full_backward_hook(lambda mod, gi, go: order.append("a"))
    m.register_full_backward_hook(lambda mod, gi, go: order.append("b"), prepend=True)
    h = m.register_full_backward_hook(lambda mod, gi, go: order.append("c"))
    x = pt.tensor(X, requires_grad=True)
    m(x).sum().backward()
    h.remove()
    m(x).sum().backward()
    assert order == ["b", "a", "c", "b", "a"]
    with pt.no_grad():                       # no graph, no hook
        m(x)
    assert len(order) == 5

    bad = _linear()
    bad.register_full_backward_hook(lambda mod, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match=r"Backward hook returned an invalid number of grad_input, got 2, "
                                           r"but expected 1"):
        bad(pt.tensor(X, requires_grad=True)).sum().backward()
    bad_pre = _linear()
    bad_pre.register_full_backward_pre_hook(lambda mod, go: (go[0], go[0]))
    with pytest.raises(RuntimeError, match="Backward pre hook returned an invalid number of grad_output, got 2, "
                                           "but expected 1"):
        bad_pre(pt.tensor(X, requires_grad=True)).sum().backward()


def test_nested_modules_and_a_compiled_training_step_equal_eager():
    def model():
        pt.manual_seed(3)
        net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
        net[2].register_full_backward_hook(lambda mod, gi, go: (gi[0] * 0.5,))   # damp what reaches layer 0
        return net
    seen = []
    net = model()
    net[0].register_full_backward_hook(lambda mod, gi, go: seen.append("0"))
    net.register_full_backward_hook(lambda mod, gi, go: seen.append("net"))
    x = pt.randn(5, 3, requires_grad=True)
    net(x).sum().backward()
    assert seen == ["0", "net"]     # the inner module's inputs' gradients come first

    eager, comp = model(), model()
    opt_e, opt_c = pt.optim.SGD(eager.parameters(), lr=0.1), pt.optim.SGD(comp.parameters(), lr=0.1)

    def step(net, opt, x):
        opt.zero_grad()
        loss = net(x).pow(2).mean()
        loss.backward()
        opt.step()
        return loss
    compiled = pt.compile(lambda x: step(comp, opt_c, x))
    for k in range(3):
        x = pt.randn(6, 3)
        assert compiled(x).item() == step(eager, opt_e, x).item()
    for a, b in zip(eager.parameters(), comp.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    # the damping hook took part: without it the first layer moves otherwise
    pt.manual_seed(3)
    plain = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    x = pt.randn(6, 3)
    damped = model()
    for net in (plain, damped):
        net(x).pow(2).mean().backward()
    np.testing.assert_allclose(damped[0].weight.grad.numpy(), 0.5 * plain[0].weight.grad.numpy(), rtol=1e-6)


# ---- register_backward_hook: PyTorch's deprecated (non-full) hook on the output's node -----------

def test_non_full_hook_sees_the_last_ops_gradients():
    m = nn.Linear(3, 2)
    x = pt.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]], requires_grad=True)
    seen = []
    m.register_backward_hook(lambda mod, gi, go: seen.append((mod, gi, go)))
    with pytest.warns(FutureWarning, match="non-full backward hook when the forward contains multiple"):
        y = m(x)
    g = pt.tensor([[1.0, -2.0], [3.0, 0.5]])
    y.backward(g)
    (mod, gi, go), = seen
    assert mod is m and len(go) == 1 and go[0].tolist() == g.tolist()
    # linear's inputs in plugtorch's order: input, weight, bias (d input = g W, d W = g^T x, d b = sum g)
    w = m.weight.detach().numpy()
    np.testing.assert_allclose(gi[0].numpy(), g.numpy() @ w, rtol=1e-6)
    np.testing.assert_allclose(gi[1].numpy(), g.numpy().T @ x.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(gi[2].numpy(), g.numpy().sum(0), rtol=1e-6)


def test_non_full_hook_may_replace_the_gradients_and_can_be_removed():
    m = nn.Linear(3, 1)
    h = m.register_backward_hook(lambda mod, gi, go: tuple(None if t is None else t * 2 for t in gi))
    x = pt.ones(1, 3, requires_grad=True)
    with pytest.warns(FutureWarning):
        m(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * m.weight.detach().numpy(), rtol=1e-6)
    assert m.weight.grad.tolist() == [[2.0, 2.0, 2.0]]
    h.remove()
    x.grad = None
    m.weight.grad = None
    m(x).sum().backward()
    assert m.weight.grad.tolist() == [[1.0, 1.0, 1.0]]


def test_non_full_and_full_hooks_do_not_mix():
    msg = "Cannot use both regular backward hooks and full backward hooks on a single Module"
    m = nn.Linear(2, 2)
    m.register_backward_hook(lambda *a: None)
    with pytest.raises(RuntimeError, match=msg):
        m.register_full_backward_hook(lambda *a: None)
    m2 = nn.Linear(2, 2)
    m2.register_full_backward_pre_hook(lambda *a: None)
    with pytest.raises(RuntimeError, match=msg):
        m2.register_backward_hook(lambda *a: None)


def test_non_full_hook_on_a_single_op_module_after_another_op_does_not_warn():
    # the forward's input came from an op and the module ran one op on it: grad_input is complete
    m = nn.ReLU()
    seen = []
    m.register_backward_hook(lambda mod, gi, go: seen.append(gi))
    x = pt.tensor([-1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = m(x * 1.0)
    y.sum().backward()
    assert [t.tolist() for t in seen[0]] == [[0.0, 1.0]]
