"""The one-op-per-step optimizer updates (``_fused_sgd_``, ``_fused_adam_``): the cpu kernels give
the same bits as the update tensor by tensor, for every option and dtype; they bump versions
and check their lists."""
import itertools

import numpy as np
import pytest

import plugtorch as pt

RNG = np.random.default_rng(3)
SHAPES = [(3, 4), (5,), (), (2, 0)]
OPTIONS = [dict(zip(("momentum", "dampening", "weight_decay", "nesterov", "maximize"), v))
           for v in itertools.product([0.0, 0.9], [0.0, 0.3], [0.0, 0.1], [False, True], [False, True])
           if not (v[3] and (v[0] == 0 or v[1] != 0))]


def trajectory(dtype, opts, cls=pt.optim.SGD, lr=0.1, **flags):
    """Four steps of ``cls`` from the same start and gradients; the parameters after each."""
    params = [pt.tensor(RNG_P[i], dtype=dtype, requires_grad=True) for i in range(len(SHAPES))]
    opt = cls(params, lr=lr, **opts, **flags)
    out = []
    for step in range(4):
        for i, p in enumerate(params):
            p.grad = pt.tensor(RNG_G[step][i], dtype=dtype)
        opt.step()
        out.append([p.detach().float().numpy().copy() for p in params])
    return out


RNG_P = [RNG.standard_normal(s) for s in SHAPES]
RNG_G = [[RNG.standard_normal(s) for s in SHAPES] for _ in range(4)]


@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
@pytest.mark.parametrize("dtype", [pt.float32, pt.float64, pt.bfloat16, pt.float16], ids=str)
def test_fused_step_equals_the_step_tensor_by_tensor(dtype, opts):
    assert_same_bits(trajectory(dtype, opts), trajectory(dtype, opts, foreach=False))


def assert_same_bits(fused, loop):
    for step, (a, b) in enumerate(zip(fused, loop), 1):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y, err_msg=f"after step {step}")


def test_fused_step_matches_the_documented_update():
    # two steps of momentum SGD by hand: b1 = g1, p1 = p0 - lr b1; b2 = m b1 + g2, p2 = p1 - lr b2
    p = pt.tensor([1.0, -2.0], dtype=pt.float64, requires_grad=True)
    opt = pt.optim.SGD([p], lr=0.5, momentum=0.9)
    for g in ([0.2, 0.4], [-1.0, 2.0]):
        p.grad = pt.tensor(g, dtype=pt.float64)
        opt.step()
    b2 = 0.9 * np.array([0.2, 0.4]) + np.array([-1.0, 2.0])
    np.testing.assert_allclose(p.detach().numpy(), np.array([1.0, -2.0]) - 0.5 * np.array([0.2, 0.4]) - 0.5 * b2,
                               rtol=1e-15)


def test_fused_step_bumps_versions_so_saved_parameters_are_checked():
    p = pt.ones(3, requires_grad=True)
    opt = pt.optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = pt.ones(3)
    opt.step()   # first step: creates the buffer
    loss = (p * p).sum()   # saves p
    p.grad = pt.ones(3)
    v = p._version
    opt.step()   # the fused op
    assert p._version > v
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_fused_sgd_checks_its_lists():
    p, g, b = pt.zeros(3), pt.ones(3), pt.zeros(3)
    with pytest.raises(RuntimeError, match=r"_fused_sgd_\(\): expected as many gradients and momentum buffers as "
                                           r"parameters, got 1 parameters, 2 gradients and 1 buffers"):
        pt.ops._fused_sgd_([p], [g, g], [b], 0.1, 0.9, 0.0, 0.0, False, False)
    with pytest.raises(RuntimeError, match=r"parameter 0 is plugtorch.float32 of shape \(3,\) but its gradient or "
                                           r"buffer is plugtorch.float32 of shape \(4,\)"):
        pt.ops._fused_sgd_([p], [pt.ones(4)], [b], 0.1, 0.9, 0.0, 0.0, False, False)
    with pytest.raises(RuntimeError, match="parameter 0 has dtype plugtorch.int64; SGD updates floating point"):
        pt.ops._fused_sgd_([pt.zeros(3, dtype=pt.int64)], [pt.ones(3, dtype=pt.int64)], [], 0.1, 0.0, 0.0, 0.0,
                           False, False)
    with pytest.raises(TypeError, match="expected lists of Tensors, got a float"):
        pt.ops._fused_sgd_([p], [1.0], [b], 0.1, 0.9, 0.0, 0.0, False, False)
    with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be `True` together."):
        pt.optim.SGD([pt.zeros(1, requires_grad=True)], foreach=True, fused=True)


def opencl_ok():
    try:
        return pt.opencl.is_available()
    except Exception:
        return False


@pytest.mark.skipif(not opencl_ok(), reason="plugtorch.opencl is unavailable (no OpenCL device or pyopencl)")
def test_parameters_on_two_devices_are_updated_per_device():
    cpu = [pt.tensor(RNG_P[i], dtype=pt.float32, requires_grad=True) for i in (0, 1)]
    mixed = [cpu[0].detach().clone().requires_grad_(), cpu[1].detach().to("opencl").requires_grad_()]
    opts = [pt.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True) for ps in (cpu, mixed)]
    for step in range(3):
        for ps, opt in zip((cpu, mixed), opts):
            for i, p in enumerate(ps):
                p.grad = pt.tensor(RNG_G[step][i], dtype=pt.float32, device=p.device)
            opt.step()
    for a, b in zip(cpu, mixed):
        np.testing.assert_allclose(b.detach().cpu().numpy(), a.detach().numpy(), rtol=1e-6, atol=1e-7)


# ---- Adam / AdamW: _fused_adam_ ------------------------------------------------------------------
ADAM_OPTIONS = [dict(zip(("amsgrad", "weight_decay", "maximize"), v))
                for v in itertools.product([False, True], [0.0, 0.1, 1.0], [False, True])]


@pytest.mark.parametrize("opts", ADAM_OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
@pytest.mark.parametrize("dtype", [pt.float32, pt.float64, pt.bfloat16, pt.float16], ids=str)
@pytest.mark.parametrize("cls", [pt.optim.Adam, pt.optim.AdamW], ids=lambda c: c.__name__)
def test_fused_adam_step_equals_the_step_tensor_by_tensor(cls, dtype, opts):
    assert_same_bits(trajectory(dtype, opts, cls, 0.01), trajectory(dtype, opts, cls, 0.01, foreach=False))


def test_fused_adam_matches_the_documented_update_and_counts_steps():
    p = pt.tensor([1.0, -2.0], dtype=pt.float64, requires_grad=True)
    opt = pt.optim.Adam([p], lr=0.1, betas=(0.8, 0.9), eps=1e-8)
    m = v = np.zeros(2)
    want = np.array([1.0, -2.0])
    for t, g in enumerate(([0.2, 0.4], [-1.0, 2.0]), 1):
        p.grad = pt.tensor(g, dtype=pt.float64)
        opt.step()
        g = np.array(g)
        m = 0.8 * m + 0.2 * g
        v = 0.9 * v + 0.1 * g * g
        want = want - 0.1 / (1 - 0.8 ** t) * m / (np.sqrt(v) / np.sqrt(1 - 0.9 ** t) + 1e-8)
    np.testing.assert_allclose(p.detach().numpy(), want, rtol=1e-12)
    assert opt.state[p]["step"].item() == 2.0 and opt.state[p]["step"].device.type == "cpu"


def test_fused_adam_bumps_versions_and_checks_its_lists():
    p = pt.ones(3, requires_grad=True)
    opt = pt.optim.Adam([p], lr=0.1)
    loss = (p * p).sum()
    p.grad = pt.ones(3)
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
    z, s = pt.zeros(3), pt.zeros(())
    with pytest.raises(RuntimeError, match=r"_fused_adam_\(\): parameter 0 is plugtorch.float32 of shape \(3,\) "
                                           r"but its gradient or buffer is plugtorch.float32 of shape \(4,\)"):
        pt.ops._fused_adam_([z], [pt.ones(4)], [z], [z], [], [s], 0.1, 0.9, 0.999, 0.0, 1e-8, False, False, False)
    with pytest.raises(RuntimeError, match=r"_fused_adam_\(\): step 0 must be a 0-d floating point tensor"):
        pt.ops._fused_adam_([z], [z], [z], [z], [], [pt.zeros(1)], 0.1, 0.9, 0.999, 0.0, 1e-8, False, False, False)
    with pytest.raises(RuntimeError, match="expected one gradient, state tensor and step per parameter"):
        pt.ops._fused_adam_([z], [z], [z], [], [], [s], 0.1, 0.9, 0.999, 0.0, 1e-8, False, False, False)
    with pytest.raises(NotImplementedError, match="capturable=True"):
        pt.optim.Adam([pt.zeros(1, requires_grad=True)], capturable=True)
    with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be `True` together."):
        pt.optim.AdamW([pt.zeros(1, requires_grad=True)], foreach=True, fused=True)


@pytest.mark.parametrize("cls,kw", [(pt.optim.SGD, dict(momentum=0.9)), (pt.optim.Adam, {}), (pt.optim.AdamW, {})])
def test_a_tensor_learning_rate_works_like_a_number(cls, kw):
    runs = []
    for lr in (0.1, pt.tensor(0.1)):
        p = pt.tensor([1.0, 2.0], requires_grad=True)
        opt = cls([p], lr=lr, **kw)
        for g in ([0.5, -1.0], [0.25, 2.0]):
            p.grad = pt.tensor(g)
            opt.step()
        runs.append(p.detach().numpy())
    np.testing.assert_array_equal(runs[0], runs[1])


def test_fused_updates_reject_non_tensors_other_devices_and_differentiable():
    z = pt.zeros(2)
    with pytest.raises(TypeError, match=r"_fused_adam_\(\): expected lists of Tensors, got a float"):
        pt.ops._fused_adam_([z], [1.0], [z], [z], [], [pt.zeros(())], 0.1, 0.9, 0.999, 0.0, 1e-8, False, False, False)
    with pytest.raises(NotImplementedError, match="differentiable=True is not supported"):
        pt.optim.SGD([pt.zeros(1, requires_grad=True)], differentiable=True)
    if opencl_ok():
        with pytest.raises(RuntimeError, match=r"_fused_sgd_\(\): Expected all tensors to be on the same device"):
            pt.ops._fused_sgd_([z], [pt.zeros(2, device="opencl")], [], 0.1, 0.0, 0.0, 0.0, False, False)


def test_fused_sgd_updates_a_group_mixing_float_and_bfloat16_parameters():
    # the kernel updates float parameters with NumPy's ufuncs in one loop and the rest (bfloat16)
    # with the table's kernels after it: each must end as the tensor-by-tensor update leaves it
    def run(foreach):
        ps = [pt.tensor(RNG_P[0], dtype=pt.float32, requires_grad=True),
              pt.tensor(RNG_P[0], dtype=pt.bfloat16, requires_grad=True),
              pt.tensor(RNG_P[1], dtype=pt.float64, requires_grad=True)]
        opt = pt.optim.SGD(ps, lr=0.1, momentum=0.9, foreach=foreach)
        for step in range(3):
            for p, g in zip(ps, (RNG_G[step][0], RNG_G[step][0], RNG_G[step][1])):
                p.grad = pt.tensor(g, dtype=p.dtype)
            opt.step()
        return [p.detach().float().numpy() for p in ps]
    fused, loop = run(None), run(False)
    for a, b in zip(fused, loop):
        np.testing.assert_array_equal(a, b)
    # and the float32 one by hand: b1 = g1, b_k = 0.9 b_(k-1) + g_k, p_k = p_(k-1) - 0.1 b_k
    p, b = RNG_P[0].astype(np.float32), None
    for step in range(3):
        g = RNG_G[step][0].astype(np.float32)
        b = g.copy() if b is None else b * np.float32(0.9) + g
        p = p - np.float32(0.1) * b
    np.testing.assert_allclose(fused[0], p, rtol=1e-6)


def _sgd_reference(p, g, b, lr, momentum, dampening, weight_decay, nesterov, maximize, dtype):
    """PyTorch's fused SGD for a 16-bit float parameter: the formula in float64, the buffer and the
    parameter each rounded once (the step taken with the unrounded buffer)."""
    p, g, b = (x.astype(np.float64) for x in (p, g, b))
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    if momentum != 0:
        b = momentum * b + (1 - dampening) * g
        g = g + momentum * b if nesterov else b
    return (p - lr * g).astype(dtype), b.astype(dtype)


@pytest.mark.parametrize("device", ["cpu", "opencl"])
@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
@pytest.mark.parametrize("dtype", [pt.float16, pt.bfloat16], ids=str)
def test_fused_sgd_rounds_16_bit_floats_once_per_stored_value(dtype, opts, device):
    # rounding after every op (buf * m, then + g, ...) left the buffer and the parameter up to 2
    # ulps from the exact update (float16 momentum 0.9, lr 0.1: buffer -2.6914 on cpu, -2.6953 on
    # opencl, exact -2.6934); every backend must give the float64 update rounded once, bit for bit
    if device == "opencl" and not opencl_ok():
        pytest.skip("plugtorch.opencl is unavailable")
    rng = np.random.default_rng(11)
    nd = dtype.numpy
    shapes = [(40, 50), (7,), ()]
    ps, gs, bs = ([(rng.standard_normal(s) * 3).astype(nd) for s in shapes] for _ in range(3))
    t = [[pt.tensor(x.astype(np.float32)).to(dtype).to(device) for x in xs] for xs in (ps, gs, bs)]
    o = opts
    pt.ops._fused_sgd_(t[0], t[1], t[2] if o["momentum"] else [], 0.1, o["momentum"], o["dampening"],
                       o["weight_decay"], o["nesterov"], o["maximize"])
    for i in range(len(shapes)):
        want_p, want_b = _sgd_reference(ps[i], gs[i], bs[i], 0.1, *o.values(), nd)
        got_p = t[0][i].cpu().float().numpy()
        np.testing.assert_array_equal(got_p, want_p.astype(np.float32), err_msg=f"parameter {i}")
        if o["momentum"]:
            np.testing.assert_array_equal(t[2][i].cpu().float().numpy(), want_b.astype(np.float32),
                                          err_msg=f"buffer {i}")


def _adam_reference(p, g, m, v, vmax, step, lr, beta1, beta2, eps, amsgrad, weight_decay, maximize, decoupled,
                    dtype):
    """PyTorch's fused Adam for a 16-bit float parameter: the update in float64, each stored value
    (moments, vmax, parameter) rounded once, the step taken with the unrounded moments."""
    p, g, m, v, vmax = (x.astype(np.float64) for x in (p, g, m, v, vmax))
    if maximize:
        g = -g
    if weight_decay != 0:
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    vmax = np.maximum(vmax, v)
    vv = vmax if amsgrad else v
    p = p - lr / (1 - beta1 ** step) * m / (np.sqrt(vv) / np.sqrt(1 - beta2 ** step) + eps)
    return [x.astype(dtype) for x in (p, m, v, vmax)]


@pytest.mark.parametrize("device", ["cpu", "opencl"])
@pytest.mark.parametrize("decoupled", [False, True], ids=["Adam", "AdamW"])
@pytest.mark.parametrize("opts", ADAM_OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
@pytest.mark.parametrize("dtype", [pt.float16, pt.bfloat16], ids=str)
def test_fused_adam_rounds_16_bit_floats_once_per_stored_value(dtype, opts, decoupled, device):
    # rounding after every op (v * beta2, g * g, sqrt(v), m / denom ...) left a quarter of a
    # float16 second moment and some parameters an ulp from the exact update
    if device == "opencl" and not opencl_ok():
        pytest.skip("plugtorch.opencl is unavailable")
    rng = np.random.default_rng(12)
    nd = dtype.numpy
    shapes = [(40, 50), (7,), ()]
    ps, gs, ms = ([rng.standard_normal(s).astype(nd) for s in shapes] for _ in range(3))
    vs, vmaxs = ([(rng.random(s) * 0.1).astype(nd) for s in shapes] for _ in range(2))
    t = [[pt.tensor(x.astype(np.float32)).to(dtype).to(device) for x in xs] for xs in (ps, gs, ms, vs, vmaxs)]
    steps = [pt.tensor(4.0) for _ in shapes]
    o = opts
    pt.ops._fused_adam_(t[0], t[1], t[2], t[3], t[4] if o["amsgrad"] else [], steps, 1e-3, 0.9, 0.999,
                        o["weight_decay"], 1e-8, o["amsgrad"], o["maximize"], decoupled)
    for i in range(len(shapes)):
        want = _adam_reference(ps[i], gs[i], ms[i], vs[i], vmaxs[i], 5, 1e-3, 0.9, 0.999, 1e-8, o["amsgrad"],
                               o["weight_decay"], o["maximize"], decoupled, nd)
        for k, j, name in ((0, 0, "parameter"), (1, 2, "exp_avg"), (2, 3, "exp_avg_sq"), (3, 4, "max_exp_avg_sq")):
            if k < 3 or o["amsgrad"]:
                np.testing.assert_array_equal(t[j][i].cpu().float().numpy(), want[k].astype(np.float32),
                                              err_msg=f"{name} {i}")
        assert steps[i].item() == 5
