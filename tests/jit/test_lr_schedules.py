"""A compiled training step with a learning-rate scheduler: a new learning rate traces the step
again (the rate is part of the graph), so a scheduler stepped at every call would trace at every
call (a 5x slowdown on the digits MLP). After CHURN_LIMIT changes in a row, each fewer than
CHURN_REPLAYS calls apart, the signature runs eagerly; once the options stay the same for
CHURN_SETTLE calls it compiles again. Results equal eager's throughout."""
import numpy as np
import pytest

import plugtorch as pt
import plugtorch.nn.functional as F
from plugtorch import compiler


def _setup(opt_cls, schedule, **kw):
    pt.manual_seed(0)
    m = pt.nn.Sequential(pt.nn.Linear(6, 8), pt.nn.ReLU(), pt.nn.Linear(8, 3))
    opt = opt_cls(m.parameters(), lr=0.05, **kw)
    sched = pt.optim.lr_scheduler.LambdaLR(opt, schedule)
    return m, opt, sched


def _batches(n):
    g = np.random.default_rng(1)
    return [(pt.tensor(g.standard_normal((5, 6)).astype(np.float32)), pt.tensor(g.integers(0, 3, 5)))
            for _ in range(n)]


def _step_fn(m, opt, compiled):
    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        return loss
    return pt.compile(step) if compiled else step


def _train(compiled, opt_cls, schedule, every, n, **kw):
    m, opt, sched = _setup(opt_cls, schedule, **kw)
    f = _step_fn(m, opt, compiled)
    losses = []
    for i, (x, y) in enumerate(_batches(n)):
        losses.append(f(x, y).item())
        if (i + 1) % every == 0:
            sched.step()
    return losses, [p.detach().numpy().copy() for p in m.parameters()]


def _warmup_then_flat(s):     # a new rate at each of the first 12 steps, then constant
    return min(1.0, (s + 1) / 12)


@pytest.mark.parametrize("opt_cls,kw", [(pt.optim.SGD, {"momentum": 0.9}), (pt.optim.Adam, {}),
                                        (pt.optim.AdamW, {"weight_decay": 0.1})], ids=["sgd", "adam", "adamw"])
def test_a_scheduler_stepped_every_call_runs_eagerly_then_compiles_again(opt_cls, kw):
    n = 12 + compiler.CHURN_SETTLE + 10
    want, wparams = _train(False, opt_cls, _warmup_then_flat, 1, n, **kw)
    compiler.reset()
    got, gparams = _train(True, opt_cls, _warmup_then_flat, 1, n, **kw)
    assert got == want
    for a, b in zip(gparams, wparams):
        np.testing.assert_array_equal(a, b)
    st = compiler.stats()
    # traced: the first calls (optimizer state made by the first step), one per rate until churn
    # was seen, then once more after the rates settled; the last calls replay
    assert st["traced_calls"] <= compiler.CHURN_LIMIT + 3
    assert st["eager_calls"] >= 12 + compiler.CHURN_SETTLE - compiler.CHURN_LIMIT - 3
    assert st["compiled_calls"] >= 9
    assert any("options changed (a learning-rate scheduler stepped at every call?); 3 such changes in a row, "
               "fewer than 8 calls apart" in r for r in st["reasons"])
    assert any("stayed the same for 32 calls" in r for r in st["reasons"])


def test_a_scheduler_stepped_every_few_calls_keeps_compiling():
    """A new rate every 10 calls (an epoch, say): each change traces once, and the calls between
    replay; the signature never turns eager."""
    want, wparams = _train(False, pt.optim.SGD, lambda s: 0.5 ** s, 10, 40, momentum=0.9)
    compiler.reset()
    got, gparams = _train(True, pt.optim.SGD, lambda s: 0.5 ** s, 10, 40, momentum=0.9)
    assert got == want
    for a, b in zip(gparams, wparams):
        np.testing.assert_array_equal(a, b)
    st = compiler.stats()
    assert st["eager_calls"] == 0 and st["traced_calls"] == 5 and st["compiled_calls"] == 35


K = 0


def test_a_python_number_changed_at_every_call_runs_eagerly_then_compiles_again():
    """The same for a global the function reads (a step counter): guarded, so each new value
    traces again, until it changes too often."""
    global K
    w = pt.tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
    f = pt.compile(lambda x: (x @ w) * K)
    x = pt.ones(2, 3)
    base = np.ones((2, 3), np.float32) @ w.numpy()
    for i in range(60):
        K = min(i, 20)          # changes at each of the first 21 calls, then stays
        np.testing.assert_array_equal(f(x).numpy(), base * K)
    st = compiler.stats()
    assert any("the Python value 'K' is 3 now, traced as 2; 3 such changes in a row" in r for r in st["reasons"])
    assert st["traced_calls"] <= compiler.CHURN_LIMIT + 2 and st["compiled_calls"] >= 60 - 21 - compiler.CHURN_SETTLE - 1


def _train_tensor_lr(compiled, opt_cls, dev="cpu", n=20, **kw):
    """A tensor learning rate (PyTorch's advice for compiled steps): the scheduler fills it in
    place, and the fused optimizer kernel reads it at each replay."""
    pt.manual_seed(0)
    m = pt.nn.Sequential(pt.nn.Linear(6, 8), pt.nn.ReLU(), pt.nn.Linear(8, 3)).to(dev)
    opt = opt_cls(m.parameters(), lr=pt.tensor(0.05), **kw)
    sched = pt.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 / (1 + s))
    f = _step_fn(m, opt, compiled)
    losses, lrs = [], []
    for x, y in _batches(n):
        losses.append(f(x.to(dev), y.to(dev)).item())
        sched.step()
        lrs.append(opt.param_groups[0]["lr"].item())
    return losses, lrs, [p.detach().cpu().numpy().copy() for p in m.parameters()], sched


@pytest.mark.parametrize("opt_cls,kw", [(pt.optim.SGD, {"momentum": 0.9}), (pt.optim.Adam, {}),
                                        (pt.optim.AdamW, {"weight_decay": 0.1})], ids=["sgd", "adam", "adamw"])
def test_a_tensor_learning_rate_stepped_every_call_stays_compiled(opt_cls, kw):
    want, wlrs, wparams, _ = _train_tensor_lr(False, opt_cls, **kw)
    compiler.reset()
    got, glrs, gparams, sched = _train_tensor_lr(True, opt_cls, **kw)
    assert got == want and glrs == wlrs
    assert wlrs[:3] == [np.float32(0.05 / 2).item(), np.float32(0.05 / 3).item(), np.float32(0.05 / 4).item()]
    for a, b in zip(gparams, wparams):
        np.testing.assert_array_equal(a, b)
    st = compiler.stats()
    # (the first call traces, the optimizer makes its state, the second traces again; then replays)
    assert (st["graphs"], st["traced_calls"], st["compiled_calls"], st["eager_calls"]) == (1, 2, 18, 0)
    assert sched.base_lrs[0].item() == np.float32(0.05).item()    # (a clone: not filled with the rate)


def test_a_tensor_learning_rate_on_a_backend_without_the_fused_kernel_is_still_right():
    """opencl runs the update's decomposition, which reads the rate as a number: a guard, so the
    step ends eager after DATA_VARIANT_LIMIT rates; results equal eager's."""
    if not pt.opencl.is_available():
        pytest.skip("no OpenCL device")
    want, wlrs, wparams, _ = _train_tensor_lr(False, pt.optim.SGD, "opencl", 8, momentum=0.9)
    compiler.reset()
    got, glrs, gparams, _ = _train_tensor_lr(True, pt.optim.SGD, "opencl", 8, momentum=0.9)
    assert got == want and glrs == wlrs
    for a, b in zip(gparams, wparams):
        np.testing.assert_array_equal(a, b)
