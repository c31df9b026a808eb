"""A compiled optimizer step captured the optimizer's state tensors (momentum buffers, Adam's
moments): resetting that state between calls (``opt.state.clear()``, a new ``opt.state``, one
buffer replaced) traces the step again instead of updating the old tensors. Values against the
known SGD-with-momentum answers."""
from collections import defaultdict

import numpy as np

import plugtorch as pt


def _compiled_step(w, opt):
    def step(x):
        opt.zero_grad()
        (w * x).sum().backward()      # gradient: x
        opt.step()
    return pt.compile(step)


def _momentum_path(resets, calls, x=(1.0, 2.0), lr=0.5, mu=0.5):
    """SGD with momentum by hand: buf = mu * buf + g (g at the first step after a reset)."""
    w, buf, out = np.zeros(2), None, []
    for k in range(calls):
        if k in resets:
            buf = None
        g = np.array(x)
        buf = g.copy() if buf is None else mu * buf + g
        w = w - lr * buf
        out.append(w.copy())
    return out


def _run(reset, resets=(3, 6), calls=8):
    w = pt.zeros(2, requires_grad=True)
    opt = pt.optim.SGD([w], lr=0.5, momentum=0.5)
    c = _compiled_step(w, opt)
    want = _momentum_path(resets, calls)
    for k in range(calls):
        if k in resets:
            reset(opt, w)
        c(pt.tensor([1.0, 2.0]))
        np.testing.assert_allclose(w.detach().numpy(), want[k], rtol=1e-6, err_msg=f"call {k}")
    assert pt.compiler.stats()["compiled_calls"] >= 2


def test_state_cleared():
    _run(lambda opt, w: opt.state.clear())


def test_state_replaced():
    def reset(opt, w):
        opt.state = defaultdict(dict)
    _run(reset)


def test_one_parameter_s_state_deleted():
    def reset(opt, w):
        del opt.state[w]
    _run(reset)


def test_a_buffer_replaced():
    # a zero buffer is not a fresh start (buf = mu * 0 + g = g): the same values as a reset
    def reset(opt, w):
        opt.state[w]["momentum_buffer"] = pt.zeros(2)
    _run(reset)


def test_adam_state_cleared_restarts_its_bias_correction():
    # Adam's first step from fresh state moves each weight by lr (times sign(g)), whatever g is
    w = pt.zeros(2, requires_grad=True)
    opt = pt.optim.Adam([w], lr=0.1)
    c = _compiled_step(w, opt)
    for k in range(4):
        c(pt.tensor([1.0, -3.0]))
    before = w.detach().numpy().copy()
    opt.state.clear()
    c(pt.tensor([1.0, -3.0]))
    np.testing.assert_allclose(w.detach().numpy() - before, [-0.1, 0.1], rtol=1e-4)
