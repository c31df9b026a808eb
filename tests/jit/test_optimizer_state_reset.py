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


def test_a_buffer_popped_updated_or_set_by_setdefault():
    def popped(opt, w):
        opt.state[w].pop("momentum_buffer")

    def updated(opt, w):
        opt.state[w].update(momentum_buffer=pt.zeros(2))

    def set_again(opt, w):
        del opt.state[w]["momentum_buffer"]
        opt.state[w].setdefault("momentum_buffer", pt.zeros(2))
    for reset in (popped, updated, set_again):
        pt.compiler.reset()
        _run(reset)


def test_a_plain_dict_for_a_parameter_s_state():
    # a dict the program made (not the optimizer's own ParamState, whose changes it counts) is
    # checked value by value: replacing its buffer later traces again too
    def plain(opt, w):
        opt.state[w] = {}

    def replaced_in_the_plain_dict(opt, w):
        opt.state[w]["momentum_buffer"] = pt.zeros(2)
    w = pt.zeros(2, requires_grad=True)
    opt = pt.optim.SGD([w], lr=0.5, momentum=0.5)
    c = _compiled_step(w, opt)
    want = _momentum_path((2, 5), 8)
    for k in range(8):
        if k == 2:
            plain(opt, w)
        if k == 5:
            replaced_in_the_plain_dict(opt, w)
        c(pt.tensor([1.0, 2.0]))
        np.testing.assert_allclose(w.detach().numpy(), want[k], rtol=1e-6, err_msg=f"call {k}")
    assert type(opt.state[w]) is dict


def test_a_new_param_group_is_stepped_too():
    # q joins at call 3 with its own lr: q -= 0.25 * buf, buf = 0.5 * buf + g, g = 3
    w = pt.zeros(2, requires_grad=True)
    q = pt.zeros(1, requires_grad=True)
    opt = pt.optim.SGD([w], lr=0.5, momentum=0.5)

    def step(x):
        opt.zero_grad()
        ((w * x).sum() + 3.0 * q.sum()).backward()
        opt.step()
    c = pt.compile(step)
    want_w = _momentum_path((), 7)
    want_q = [np.zeros(1)] * 3 + [-0.25 * np.array([3.0]) * k for k in (1.0, 2.5, 4.25, 6.125)]
    for k in range(7):
        if k == 3:
            opt.add_param_group({"params": [q], "lr": 0.25})
        c(pt.tensor([1.0, 2.0]))
        np.testing.assert_allclose(w.detach().numpy(), want_w[k], rtol=1e-6, err_msg=f"call {k}")
        np.testing.assert_allclose(q.detach().numpy(), want_q[k], rtol=1e-6, err_msg=f"call {k}")
    assert any("optimizer's options or state changed" in r for r in pt.compiler.stats()["reasons"])


def test_the_state_check_counts_changes_of_the_optimizer_s_own_state():
    import copy
    from plugtorch import compiler as C
    from plugtorch.optim.optimizer import OptimizerState, ParamState
    w = pt.zeros(2, requires_grad=True)
    for opt in (pt.optim.SGD([w], lr=0.5, momentum=0.5), pt.optim.Adam([w], lr=0.1)):
        (w * 2).sum().backward()
        opt.step()
        for o in (opt, copy.deepcopy(opt)):
            assert type(o.state) is OptimizerState and all(type(d) is ParamState for d in o.state.values())
            assert C._state_snapshot(o)[5] is not None       # (the count: one comparison per call)
        opt.load_state_dict(opt.state_dict())
        fp = C._optimizer_fingerprint([opt])
        assert C._state_snapshot(opt)[5] is not None and not C._options_changed(fp)
        st = opt.state[w]
        name = next(k for k in st if k != "step")
        st[name] = st[name]             # (the same tensor: no change counted)
        assert fp.same() and not C._options_changed(fp)
        st[name] = st[name].clone()     # (another tensor)
        assert not fp.same() and C._options_changed(fp)
        w.grad = None


def test_parameter_appended_to_a_group_is_updated():
    # `opt.param_groups[0]["params"].append(w2)` (the group and its list the same objects): the
    # compiled step traces again and updates w2 too, as the eager step does (SGD by hand)
    w, w2 = pt.zeros(2, requires_grad=True), pt.zeros(2, requires_grad=True)
    opt = pt.optim.SGD([w], lr=0.5)

    def step(x):
        opt.zero_grad()
        ((w * x).sum() + (w2 * x).sum()).backward()   # each gradient: x
        opt.step()
    c = pt.compile(step)
    x = pt.tensor([1.0, 2.0])
    c(x)
    c(x)
    opt.param_groups[0]["params"].append(w2)
    c(x)
    c(x)
    np.testing.assert_allclose(w.detach().numpy(), [-2.0, -4.0])     # 4 steps of -0.5 * x
    np.testing.assert_allclose(w2.detach().numpy(), [-1.0, -2.0])    # the 2 steps after the append
    opt.param_groups[0]["params"][1] = w3 = pt.zeros(2, requires_grad=True)   # one replaced
    c(x)
    np.testing.assert_allclose(w2.detach().numpy(), [-1.0, -2.0])
    np.testing.assert_allclose(w3.detach().numpy(), [0.0, 0.0])      # not in step's loss: no grad
    np.testing.assert_allclose(w.detach().numpy(), [-2.5, -5.0])
