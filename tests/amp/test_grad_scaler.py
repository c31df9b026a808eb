"""plugtorch.amp.GradScaler: a scripted sequence of steps against PyTorch's rules worked by hand,
skipped steps, several optimizers and devices, state_dict, errors, and its two ops."""
import pickle
import warnings

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.amp import ops as amp_ops
from plugtorch.backends.cpu import CPUBackend

INF, NAN = float("inf"), float("nan")


@pytest.fixture
def accel():
    class Accel(CPUBackend):
        name = "accel"
    pt.backends.register(Accel())
    try:
        yield pt.device("accel:0")
    finally:
        pt.backends.unregister("accel")


def run_step(scaler, opt, w, c):
    """One iteration whose gradient of w is exactly c (times the scale)."""
    opt.zero_grad()
    scaler.scale((w * pt.tensor(c)).sum()).backward()
    scaler.step(opt)
    scaler.update()


def test_scripted_sequence_skips_exactly_the_non_finite_steps():
    # PyTorch's rules (torch/amp/grad_scaler.py and _amp_update_scale_), worked by hand for
    # init_scale 8, growth_interval 2: a clean step counts (the 2nd in a row doubles the scale
    # and restarts the count), a step with inf/nan is skipped, halves the scale, restarts the count
    grads = [[1.0, 2.0], [0.5, -1.0], [INF, 1.0], [2.0, 2.0], [1.0, NAN], [-1.0, 0.25], [0.5, 0.5], [1.0, -2.0]]
    scales = [8.0, 16.0, 8.0, 8.0, 4.0, 4.0, 8.0, 8.0]
    trackers = [1, 0, 0, 1, 0, 1, 0, 1]
    stepped = [True, True, False, True, False, True, True, True]

    w = pt.nn.Parameter(pt.tensor([1.0, -1.0]))
    opt = pt.optim.SGD([w], lr=0.1)
    scaler = pt.amp.GradScaler("cpu", init_scale=8.0, growth_factor=2.0, backoff_factor=0.5, growth_interval=2)
    expected = np.array([1.0, -1.0], np.float32)
    for c, s, t, took in zip(grads, scales, trackers, stepped):
        before = w.detach().clone()
        scale_used = scaler.get_scale()
        run_step(scaler, opt, w, c)
        assert (scaler.get_scale(), scaler._get_growth_tracker()) == (s, t)
        if took:
            np.testing.assert_array_equal(w.grad.numpy(), np.array(c, np.float32))   # unscaled
            expected = expected - np.float32(0.1) * np.array(c, np.float32)
        else:
            assert pt.equal(w.detach(), before)
            assert not bool(w.grad.isfinite().all()) and scale_used > 0
        np.testing.assert_allclose(w.detach().numpy(), expected, rtol=1e-6)


def test_growth_that_would_overflow_keeps_the_scale():
    w = pt.nn.Parameter(pt.tensor([1.0]))
    opt = pt.optim.SGD([w], lr=0.0)
    scaler = pt.amp.GradScaler("cpu", init_scale=3e38, growth_interval=1)
    run_step(scaler, opt, w, [1e-38])
    assert scaler.get_scale() == np.float32(3e38) and scaler._get_growth_tracker() == 0


def test_unscale_then_clip_then_step():
    w = pt.nn.Parameter(pt.tensor([3.0, 4.0]))
    opt = pt.optim.SGD([w], lr=1.0)
    scaler = pt.amp.GradScaler("cpu", init_scale=1024.0)
    scaler.scale((w * w).sum() / 2).backward()
    assert w.grad.tolist() == [3072.0, 4096.0]
    scaler.unscale_(opt)
    assert w.grad.tolist() == [3.0, 4.0]
    pt.nn.utils.clip_grad_norm_([w], 1.0)
    scaler.step(opt)                          # does not unscale again
    np.testing.assert_allclose(w.detach().numpy(), [3.0 - 0.6, 4.0 - 0.8], rtol=1e-6)
    scaler.update()


def test_several_optimizers_and_devices(accel):
    a = pt.nn.Parameter(pt.tensor([1.0, 2.0]))
    b = pt.nn.Parameter(pt.tensor([1.0], device=accel))
    c = pt.nn.Parameter(pt.tensor([5.0]))
    opt1 = pt.optim.SGD([a, b], lr=1.0)
    opt2 = pt.optim.SGD([c], lr=1.0)
    scaler = pt.amp.GradScaler("cpu", init_scale=4.0, growth_interval=1)
    loss = (a * 2).sum() + (b * pt.tensor([INF], device=accel)).sum().to("cpu") + (c * 3).sum()
    scaler.scale(loss).backward()
    reads = []
    real_item = pt.Tensor.item

    def counting_item(self):
        reads.append(self.device)
        return real_item(self)
    pt.Tensor.item = counting_item
    try:
        scaler.unscale_(opt1)
        assert reads == []                    # no host read per gradient
        scaler.step(opt1)                     # inf on accel: skipped
        assert sorted(str(d) for d in reads) == ["accel:0", "cpu"]   # one flag per device
        scaler.step(opt2)                     # clean: steps
    finally:
        pt.Tensor.item = real_item
    assert a.tolist() == [1.0, 2.0] and b.tolist() == [1.0] and c.tolist() == [2.0]
    scaler.update()
    assert scaler.get_scale() == 2.0          # any optimizer's inf backs the scale off


def test_scale_of_lists_and_errors_of_outputs():
    scaler = pt.amp.GradScaler("cpu", init_scale=2.0)
    x, y = pt.tensor([1.0]), pt.tensor([3.0])
    sx, (sy,) = scaler.scale([x, (y,)])
    assert sx.tolist() == [2.0] and sy.tolist() == [6.0]
    assert [t.tolist() for t in scaler.scale(t for t in (x, y))] == [[2.0], [6.0]]
    with pytest.raises(ValueError, match="outputs must be a Tensor or an iterable of Tensors"):
        scaler.scale([x, 3.0])


def test_state_dict_round_trip_and_pickle():
    def trained(scaler, w, opt, grads):
        for c in grads:
            run_step(scaler, opt, w, c)

    w = pt.nn.Parameter(pt.tensor([1.0]))
    opt = pt.optim.SGD([w], lr=0.1)
    scaler = pt.amp.GradScaler("cpu", init_scale=16.0, growth_factor=4.0, backoff_factor=0.25, growth_interval=3)
    trained(scaler, w, opt, [[1.0], [INF], [1.0], [1.0]])
    state = scaler.state_dict()
    assert state == {"scale": 4.0, "growth_factor": 4.0, "backoff_factor": 0.25, "growth_interval": 3,
                     "_growth_tracker": 2}
    fresh = pt.amp.GradScaler("cpu")
    fresh.load_state_dict(state)
    assert fresh.state_dict() == state
    clone = pickle.loads(pickle.dumps(scaler))
    assert clone.state_dict() == state
    # all three go on alike: the next clean step is the 3rd in a row
    for s in (scaler, fresh, clone):
        w2 = pt.nn.Parameter(pt.tensor([1.0]))
        trained(s, w2, pt.optim.SGD([w2], lr=0.1), [[1.0]])
        assert (s.get_scale(), s._get_growth_tracker()) == (16.0, 0)
    loaded_later = pt.amp.GradScaler("cpu")
    trained(loaded_later, w, opt, [[1.0]])      # a scaler whose tensors exist already
    loaded_later.load_state_dict(state)
    assert loaded_later.state_dict() == state


def test_update_with_new_scale():
    w = pt.nn.Parameter(pt.tensor([1.0]))
    opt = pt.optim.SGD([w], lr=0.1)
    scaler = pt.amp.GradScaler("cpu", init_scale=8.0)
    scaler.scale(w.sum()).backward()
    scaler.step(opt)
    scaler.update(3.0)
    assert scaler.get_scale() == 3.0
    scaler.update(pt.tensor([5.0]))
    assert scaler.get_scale() == 5.0
    with pytest.raises(AssertionError, match="new_scale should be a float or a 1-element"):
        scaler.update(pt.tensor([5.0, 6.0]))
    with pytest.raises(AssertionError, match="new_scale should be a float or a 1-element"):
        scaler.update(pt.tensor([5.0], requires_grad=True))


def test_order_errors():
    w = pt.nn.Parameter(pt.tensor([1.0]))
    opt = pt.optim.SGD([w], lr=0.1)
    scaler = pt.amp.GradScaler("cpu")
    with pytest.raises(AssertionError, match="Attempted update but _scale is None.*scaler.scale"):
        scaler.update()
    with pytest.raises(AssertionError, match="Attempted step but _scale is None"):
        scaler.step(opt)
    scaler.scale(w.sum()).backward()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match=r"unscale_\(\) has already been called on this optimizer since the last "
                                           r"update\(\)"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match=r"step\(\) has already been called since the last update\(\)"):
        scaler.step(opt)
    with pytest.raises(RuntimeError, match=r"unscale_\(\) is being called after step\(\)"):
        scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="Closure use is not currently supported"):
        scaler.step(opt, closure=lambda: 0.0)
    scaler.update()
    with pytest.raises(AssertionError, match="No inf checks were recorded prior to update"):
        scaler.update()
    opt.zero_grad()
    with pytest.raises(AssertionError, match="No inf checks were recorded for this optimizer"):
        scaler.step(opt)


def test_argument_and_dtype_errors():
    with pytest.raises(AssertionError, match="growth factor must be > 1.0"):
        pt.amp.GradScaler("cpu", growth_factor=1.0)
    with pytest.raises(AssertionError, match="backoff factor must be < 1.0"):
        pt.amp.GradScaler("cpu", backoff_factor=1.0)
    w = pt.nn.Parameter(pt.tensor([1.0], dtype=pt.float16))
    opt = pt.optim.SGD([w], lr=0.1)
    scaler = pt.amp.GradScaler("cpu")
    scaler.scale(w.float().sum()).backward()
    with pytest.raises(ValueError, match="Attempting to unscale FP16 gradients"):
        scaler.step(opt)
    with pytest.raises(RuntimeError, match="source state dict is empty"):
        scaler.load_state_dict({})


def test_disabled_scaler_is_a_pass_through():
    w = pt.nn.Parameter(pt.tensor([1.0]))
    opt = pt.optim.SGD([w], lr=0.5)
    scaler = pt.amp.GradScaler("cpu", enabled=False)
    loss = (w * 2).sum()
    assert scaler.scale(loss) is loss and not scaler.is_enabled()
    loss.backward()
    scaler.unscale_(opt)
    scaler.step(opt)
    scaler.update()
    assert w.tolist() == [0.0] and scaler.get_scale() == 1.0 and scaler.state_dict() == {}
    scaler.load_state_dict({})


def test_an_unavailable_device_type_disables_it():
    be = pt.backends.get_backend("cuda")
    if be.is_available():
        pytest.skip("a cuda device is available here")
    with pytest.warns(UserWarning, match="GradScaler is enabled, but device type 'cuda' is not available.*Disabling"):
        scaler = pt.amp.GradScaler()
    assert not scaler.is_enabled()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pt.amp.GradScaler("cpu").is_enabled()


# ---- the two ops: cpu kernel == decomposition ----------------------------------------------
@pytest.mark.parametrize("dtype", [pt.float16, pt.bfloat16, pt.float32, pt.float64])
@pytest.mark.parametrize("inv", [2.0 ** -10, 0.1])
@pytest.mark.parametrize("values", [[1.5, -2.25, 3e-3], [1.0, INF, 2.0], [NAN, 1.0, -1.0]])
def test_check_and_unscale_kernel_equals_the_decomposition(dtype, inv, values):
    def inputs():
        base = pt.tensor(values + [0.75, -0.5, 8.0], dtype=dtype)
        return [base.reshape(2, 3).t(), pt.tensor(4.0, dtype=dtype), pt.zeros(0, dtype=dtype),
                pt.tensor([100.0, -7.0], dtype=dtype)]
    g1, g2 = inputs(), inputs()
    f1, f2 = pt.zeros(()), pt.zeros(())
    pt.ops._amp_foreach_non_finite_check_and_unscale_(g1, f1, pt.tensor(inv))   # the cpu kernel
    amp_ops.foreach_non_finite_check_and_unscale_(g2, f2, pt.tensor(inv))       # the decomposition
    assert f1.item() == f2.item() == (0.0 if all(np.isfinite(values)) else 1.0)
    for a, b in zip(g1, g2):
        assert a.dtype is b.dtype is dtype
        np.testing.assert_array_equal(a.float().numpy(), b.float().numpy())
    expected = (np.array(values + [0.75, -0.5, 8.0], np.float64).reshape(2, 3).T * inv)
    np.testing.assert_allclose(g1[0].double().numpy(), expected, rtol=1e-2 if dtype.itemsize == 2 else 1e-6)


def test_update_scale_kernel_equals_the_decomposition():
    for found_seq, gf, bf, interval in (([0, 0, 1, 0, 0, 0], 2.0, 0.5, 2), ([0, 1, 0, 0, 0, 1], 4.0, 0.25, 3)):
        s1, t1 = pt.tensor(3.0), pt.tensor(0, dtype=pt.int32)
        s2, t2 = pt.tensor(3.0), pt.tensor(0, dtype=pt.int32)
        for f in found_seq:
            pt.ops._amp_update_scale_(s1, t1, pt.tensor(float(f)), gf, bf, interval)
            amp_ops.update_scale_(s2, t2, pt.tensor(float(f)), gf, bf, interval)
            assert (s1.item(), t1.item()) == (s2.item(), t2.item())


def test_op_errors():
    g = [pt.ones(3)]
    with pytest.raises(RuntimeError, match="found_inf must be a 1-element tensor, got shape \\(2,\\)"):
        pt.ops._amp_foreach_non_finite_check_and_unscale_(g, pt.zeros(2), pt.tensor(1.0))
    with pytest.raises(RuntimeError, match="inv_scale must be a float tensor .*got plugtorch.float64"):
        pt.ops._amp_foreach_non_finite_check_and_unscale_(g, pt.zeros(()), pt.tensor(1.0, dtype=pt.float64))
    with pytest.raises(RuntimeError, match="gradient 0 has dtype plugtorch.int64"):
        pt.ops._amp_foreach_non_finite_check_and_unscale_([pt.ones(3).long()], pt.zeros(()), pt.tensor(1.0))
    with pytest.raises(TypeError, match="expected a list of Tensors, got a float at index 1"):
        pt.ops._amp_foreach_non_finite_check_and_unscale_([pt.ones(3), 2.0], pt.zeros(()), pt.tensor(1.0))
    with pytest.raises(RuntimeError, match="growth_tracker must be an int tensor \\(int32\\), got plugtorch.int64"):
        pt.ops._amp_update_scale_(pt.tensor(1.0), pt.tensor(0), pt.tensor(0.0), 2.0, 0.5, 2)
    with pytest.raises(RuntimeError, match="current_scale must be a float tensor"):
        pt.ops._amp_update_scale_(pt.tensor(1.0, dtype=pt.float64), pt.tensor(0, dtype=pt.int32), pt.tensor(0.0),
                                  2.0, 0.5, 2)


def test_op_device_mismatch(accel):
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device.*cpu and accel:0"):
        pt.ops._amp_foreach_non_finite_check_and_unscale_([pt.ones(3, device=accel)], pt.zeros(()), pt.tensor(1.0))
