"""Anomaly detection (autograd.detect_anomaly / set_detect_anomaly) and the saved-tensor hooks of
autograd.graph (saved_tensors_hooks, save_on_cpu, disable_saved_tensors_hooks), as PyTorch's."""
import math
import warnings

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.autograd.graph import disable_saved_tensors_hooks, save_on_cpu, saved_tensors_hooks


@pytest.fixture(autouse=True)
def _anomaly_off():
    yield
    pt.autograd.set_detect_anomaly(False)


def test_nan_in_backward_names_node_and_output():
    x = pt.tensor([0.0, 4.0], requires_grad=True)
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        ctx = pt.autograd.detect_anomaly()
    with ctx:
        y = pt.sqrt(x) * 0   # d sqrt at 0 = inf, times the 0 from mul: nan in SqrtBackward's output
        with pytest.warns(UserWarning) as rec:
            with pytest.raises(RuntimeError, match=r"^Function 'SqrtBackward' returned nan values in its 0th output\.$"):
                y.sum().backward()
    msg = [str(w.message) for w in rec if "Error detected" in str(w.message)]
    assert len(msg) == 1
    assert msg[0].startswith("Error detected in SqrtBackward. Traceback of forward call that caused the error:")
    assert __file__ in msg[0] and "y = pt.sqrt(x) * 0" in msg[0]     # the forward line, not plugtorch's
    assert "dispatcher.py" not in msg[0]
    assert not pt.autograd.is_anomaly_enabled()


def test_nan_in_second_output_index():
    # a * b with a = inf and an incoming gradient 0: d/da = 0 * b = 0, d/db = 0 * inf = nan
    a = pt.tensor([math.inf], requires_grad=True)
    b = pt.tensor([1.0], requires_grad=True)
    with pt.autograd.set_detect_anomaly(True):
        z = (a * b) * 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(RuntimeError, match=r"^Function 'MulBackward' returned nan values in its 1th output\.$"):
                z.sum().backward()


def test_nan_in_double_backward_names_the_inducing_node():
    # torch 2.13: DivBackward0's 1th output, "Previous calculation was induced by SqrtBackward0"
    x = pt.tensor([0.0], requires_grad=True)
    with pt.autograd.set_detect_anomaly(True):
        y = pt.sqrt(x) * 1                                     # line A
        (g,) = pt.autograd.grad(y.sum(), x, create_graph=True)  # line B: records DivBackward
        with pytest.warns(UserWarning) as rec:
            with pytest.raises(RuntimeError, match=r"^Function 'DivBackward' returned nan values in its 1th output\.$"):
                (g * 0).sum().backward()
    msgs = [str(w.message) for w in rec if "Error detected" in str(w.message) or "Previous" in str(w.message)]
    assert len(msgs) == 2
    assert msgs[0].startswith("Error detected in DivBackward.") and "# line B" in msgs[0]
    assert msgs[1].startswith("\n\nPrevious calculation was induced by SqrtBackward. Traceback of forward call "
                              "that induced the previous calculation:") and "# line A" in msgs[1]


def test_check_nan_off_and_disabled_give_nan_gradients():
    with pytest.warns(UserWarning, match="Anomaly Detection"):
        quiet = pt.autograd.detect_anomaly(check_nan=False)
    for ctx in (quiet, pt.autograd.set_detect_anomaly(False)):
        x = pt.tensor([0.0], requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with ctx:
                assert pt.autograd.is_anomaly_check_nan_enabled() == (ctx.__class__.__name__ == "set_detect_anomaly")
                (pt.sqrt(x) * 0).sum().backward()
        assert math.isnan(x.grad.item())


def test_set_detect_anomaly_state_and_toplevel():
    assert not pt.is_anomaly_enabled()
    with pt.autograd.set_detect_anomaly(True, check_nan=False):
        assert pt.autograd.is_anomaly_enabled() and not pt.is_anomaly_check_nan_enabled()
    assert not pt.autograd.is_anomaly_enabled() and pt.autograd.is_anomaly_check_nan_enabled()
    pt.set_anomaly_enabled(True)
    assert pt.is_anomaly_enabled()
    pt.set_anomaly_enabled(False)
    assert not pt.is_anomaly_enabled()


def test_detect_anomaly_decorator_and_error_in_custom_backward():
    class Boom(pt.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            raise ValueError("boom in backward")

    with pytest.warns(UserWarning):
        deco = pt.autograd.detect_anomaly()

    @deco
    def run():
        assert pt.autograd.is_anomaly_enabled()
        x = pt.ones(2, requires_grad=True)
        y = Boom.apply(x)   # the forward line the warning must show
        y.sum().backward()

    with pytest.warns(UserWarning, match=r"(?s)Error detected in BoomBackward\..*y = Boom\.apply\(x\)"):
        with pytest.raises(ValueError, match="boom in backward"):
            run()
    assert not pt.autograd.is_anomaly_enabled()


def test_gradients_unchanged_with_anomaly_on():
    x = pt.tensor([0.5, 1.5, 2.5], dtype=pt.float64, requires_grad=True)
    (pt.sin(x) * x.exp()).sum().backward()
    ref = x.grad.clone()
    x.grad = None
    with pt.autograd.set_detect_anomaly(True):
        (pt.sin(x) * x.exp()).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), ref.numpy(), rtol=0, atol=0)


# ---- saved tensors hooks -------------------------------------------------------------------
def test_saved_tensors_hooks_see_saved_tensors_and_keep_gradients():
    packed, unpacked = [], []

    def pack(t):
        packed.append(t)
        return t.detach().numpy().copy()

    def unpack(a):
        unpacked.append(a)
        return pt.tensor(a, dtype=pt.float64)

    xv = np.array([0.3, -1.2, 2.0])
    x = pt.tensor(xv, requires_grad=True)
    with saved_tensors_hooks(pack, unpack):
        y = (x * x.exp()).sum()   # exp saves its result, mul saves both inputs: 3 packs, as torch
    assert len(packed) == 3 and not unpacked
    assert any(p is x for p in packed)
    np.testing.assert_allclose(sorted(float(p.sum()) for p in packed), sorted([xv.sum(), np.exp(xv).sum(), np.exp(xv).sum()]))
    y.backward()
    assert len(unpacked) == 3
    np.testing.assert_allclose(x.grad.numpy(), np.exp(xv) * (1 + xv), rtol=1e-12)


def test_save_on_cpu_double_backward_and_retain():
    xv = np.array([1.0, 0.5])
    x = pt.tensor(xv, requires_grad=True)
    with save_on_cpu(pin_memory=False):
        y = (pt.sin(x) * x).sum()
    (g,) = pt.autograd.grad(y, x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), np.sin(xv) + xv * np.cos(xv), rtol=1e-12)
    (h,) = pt.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 2 * np.cos(xv) - xv * np.sin(xv), rtol=1e-12)


def test_hooks_on_custom_function_and_errors():
    from .test_function import Exp      # (saves its result with ctx.save_for_backward)
    seen = []
    x = pt.tensor([0.0, 1.0], dtype=pt.float64, requires_grad=True)
    with saved_tensors_hooks(lambda t: seen.append(t.tolist()) or t, lambda t: t):
        Exp.apply(x).sum().backward()
    np.testing.assert_allclose(seen[0], np.exp([0.0, 1.0]))
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.0, 1.0]))

    with saved_tensors_hooks(lambda t: t, lambda t: 5):
        y = (x * x).sum()
    with pytest.raises(TypeError, match="Output of saved tensor unpack_hook expected to be a Tensor but got result of type int"):
        y.backward()

    with disable_saved_tensors_hooks("no hooks here"):
        with pytest.raises(RuntimeError, match="^no hooks here$"):
            with saved_tensors_hooks(lambda t: t, lambda t: t):
                pass
    with saved_tensors_hooks(lambda t: t, lambda t: t):
        with pytest.raises(RuntimeError, match="^nor here$"):
            with disable_saved_tensors_hooks("nor here"):
                pass
    assert pt.autograd.engine.extras is None   # every context exited: the record path is plain again


def test_hooked_saved_tensor_is_what_unpack_returns():
    # as PyTorch: with hooks there is no version check; the gradient uses the unpacked values
    for pack, expected in ((lambda t: t, 4.0), (lambda t: t.clone(), 2.0)):
        x = pt.ones(2, requires_grad=True)
        with saved_tensors_hooks(pack, lambda t: t):
            a = x * 1
            y = (a * a).sum()
        a.add_(1)
        y.backward()
        assert x.grad.tolist() == [expected, expected]


def test_pack_hook_runs_without_grad_and_detached_copies_keep_double_backward():
    # torch 2.13: the pack hook runs under no_grad (it saw grad mode off, t.requires_grad True and
    # (t * 1).requires_grad False); its ops used to be recorded and packed in turn (RecursionError)
    seen = []

    def pack(t):
        seen.append((pt.is_grad_enabled(), t.requires_grad, (t * 1).requires_grad))
        return t * 1
    x = pt.tensor([0.5, 1.5], requires_grad=True)
    with saved_tensors_hooks(pack, lambda t: t):
        y = (x.sin() * x).sum()
    y.backward()
    assert seen and all(s == (False, True, False) for s in seen)
    np.testing.assert_allclose(x.grad.numpy(), np.cos([0.5, 1.5]) * [0.5, 1.5] + np.sin([0.5, 1.5]), rtol=1e-6)
    # a detached copy of a saved leaf still reaches it in double backward: d(x^3) = 3x^2, d2 = 6x
    x = pt.tensor([0.5, 1.5, -2.0], dtype=pt.float64, requires_grad=True)
    for pack in (lambda t: t.clone(), lambda t: t.detach(), lambda t: t):
        with saved_tensors_hooks(pack, lambda t: t):
            g, = pt.autograd.grad((x ** 3).sum(), x, create_graph=True)
            g2, = pt.autograd.grad(g.sum(), x)
        assert g.tolist() == [0.75, 6.75, 12.0] and g2.tolist() == [3.0, 9.0, -12.0]


def test_variable_is_a_tensor():
    t = pt.ones(2)
    v = pt.autograd.Variable(t, requires_grad=True)
    assert isinstance(v, pt.Tensor) and v.requires_grad and v.is_leaf and v is not t
    assert isinstance(t, pt.autograd.Variable)
    assert not pt.autograd.Variable(t).requires_grad
    with pytest.raises(TypeError, match="Variable data has to be a tensor, but got list"):
        pt.autograd.Variable([1.0])


DEVICES = ["cpu"] + (["opencl"] if pt.opencl.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_save_on_cpu_and_nan_check_on_each_device(device):
    packed_devices = []
    inner = save_on_cpu()

    def pack(t):
        packed_devices.append(str(t.device))
        p = inner.pack_hook(t)
        assert str(p[1].device) == "cpu"        # what the node keeps lives on the host
        return p

    xv = np.array([1.0, 0.5])
    x = pt.tensor(xv, dtype=pt.float32, device=device, requires_grad=True)
    with saved_tensors_hooks(pack, inner.unpack_hook):
        y = (pt.sin(x) * x).sum()
    assert len(packed_devices) == 3 and all(d.startswith(device) for d in packed_devices)
    y.backward()
    assert str(x.grad.device).startswith(device)
    np.testing.assert_allclose(x.grad.cpu().numpy(), np.sin(xv) + xv * np.cos(xv), rtol=1e-6)
    z = pt.zeros(1, device=device, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pt.autograd.set_detect_anomaly(True):
            with pytest.raises(RuntimeError, match="Function 'SqrtBackward' returned nan values in its 0th output"):
                (pt.sqrt(z) * 0).sum().backward()


def test_node_hooks_as_torch():
    x = pt.tensor([1.0, 2.0], requires_grad=True)
    w = pt.tensor([3.0, 4.0], requires_grad=True)
    y = x * w
    calls = []

    def pre(go):
        calls.append(("pre", [g.tolist() for g in go]))
        return (go[0] * 10,)

    def post(gi, go):
        calls.append(("post", [g.tolist() for g in gi], [g.tolist() for g in go]))
        return (gi[0] + 1, gi[1])

    y.register_hook(lambda g: g * 1)            # a tensor hook runs before the node's prehook
    y.grad_fn.register_prehook(pre)
    h = y.grad_fn.register_hook(post)
    y.sum().backward(retain_graph=True)
    # torch 2.13: [('pre', [[1, 1]]), ('post', [[30, 40], [10, 20]], [[10, 10]])], x.grad [31, 41], w.grad [10, 20]
    assert calls == [("pre", [[1.0, 1.0]]), ("post", [[30.0, 40.0], [10.0, 20.0]], [[10.0, 10.0]])]
    assert x.grad.tolist() == [31.0, 41.0] and w.grad.tolist() == [10.0, 20.0]
    h.remove()
    y.grad_fn.register_prehook(lambda go: (go[0], go[0]))
    with pytest.raises(RuntimeError, match=r"has returned an incorrect number of values \(got 2, but expected 1\)"):
        y.sum().backward()


def test_gradient_edge_and_increment_version():
    from plugtorch.autograd.graph import GradientEdge, get_gradient_edge, increment_version
    x = pt.ones(2, requires_grad=True)
    y = x * 2
    e = get_gradient_edge(y)
    assert isinstance(e, GradientEdge) and e.node is y.grad_fn and e.output_nr == 0
    assert get_gradient_edge(x).node.name() == "AccumulateGrad"
    with pytest.raises(RuntimeError, match="^It is not possible to get the gradient edge for a Tensor that does not "
                                           "require gradients$"):
        get_gradient_edge(pt.ones(1))
    t = pt.ones(1)
    increment_version(t)
    increment_version([t, t])
    assert t._version == 3        # torch 2.13: 0 -> 1 -> 3
    b = x * 1
    c = b * b
    increment_version(b)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        c.sum().backward()
