"""Changes to a compiled model after its graphs were traced: freezing or unfreezing parameters,
adding hooks, replacing parameters or submodules. Each must take effect as in eager (a graph
traced before it captured the old state)."""
import math

import numpy as np

import plugtorch as pt
from plugtorch import nn


def _mlp():
    pt.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


def _train(compiled, change, m=None):
    """Six SGD steps on one batch, ``change(m)`` before the fourth: (losses, parameters, which
    parameters have no .grad)."""
    m = _mlp() if m is None else m
    opt = pt.optim.SGD(m.parameters(), lr=0.1)

    def step(x, y):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        return loss
    f = pt.compile(step) if compiled else step
    pt.manual_seed(1)
    x, y = pt.randn(5, 4), pt.randint(0, 2, (5,))
    losses = []
    for i in range(6):
        if i == 3:
            change(m)
        losses.append(f(x, y).item())
    return losses, [p.detach().numpy().copy() for p in m.parameters()], [p.grad is None for p in m.parameters()]


def test_freezing_a_parameter_after_compiling_the_step():
    def freeze(m):
        m[0].weight.requires_grad_(False)
    (lc, pc, gc), (le, pe, ge) = _train(True, freeze), _train(False, freeze)
    assert lc == le and gc == ge == [True, False, False, False]
    assert all(np.array_equal(a, b) for a, b in zip(pc, pe))
    assert any("requires_grad=False now, traced with requires_grad=True" in r
               for r in pt.compiler.stats()["reasons"])


def test_unfreezing_a_parameter_after_compiling_the_step():
    def unfreeze(m):
        m[2].bias.requires_grad_(True)

    def run(compiled):
        m = _mlp()
        m[2].bias.requires_grad_(False)
        return _train(compiled, unfreeze, m)
    (lc, pc, gc), (le, pe, ge) = run(True), run(False)
    assert lc == le and gc == ge and all(np.array_equal(a, b) for a, b in zip(pc, pe))


def test_a_traced_forward_follows_a_parameter_unfrozen_after_tracing():
    m = _mlp()
    for p in m.parameters():
        p.requires_grad_(False)
    x = pt.randn(3, 4)
    t = pt.jit.trace(m, (x,))
    m[0].weight.requires_grad_(True)
    t(x).sum().backward()
    m2 = _mlp()
    for p in m2.parameters():
        p.requires_grad_(False)
    m2[0].weight.requires_grad_(True)
    m2(x).sum().backward()
    assert m[0].weight.grad is not None and np.array_equal(m[0].weight.grad.numpy(), m2[0].weight.grad.numpy())


def test_a_hook_added_after_compiling_runs_and_its_removal_counts():
    m = nn.Linear(2, 2)
    c = pt.compile(m)
    x = pt.ones(1, 2)
    c(x)
    c(x)
    seen = []
    h = m.register_forward_hook(lambda mod, inp, out: seen.append(out.sum().item()) or out * 2)
    plain = m.forward(x).detach().numpy()        # (forward itself: no hooks)
    out = c(x)
    assert len(seen) == 1 and np.array_equal(out.detach().numpy(), 2 * plain)
    h.remove()
    assert np.array_equal(c(x).detach().numpy(), plain) and len(seen) == 1


def test_replacing_a_parameter_or_a_submodule_after_compiling():
    m = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    c = pt.compile(m)
    x = pt.ones(1, 2)
    c(x)
    c(x)
    with pt.no_grad():
        m[0].weight = nn.Parameter(pt.ones(2, 2))
        m[0].bias = nn.Parameter(pt.zeros(2))
    assert c(x).tolist() == [[2.0, 2.0]]
    m[1] = nn.Identity()
    m[0].bias = nn.Parameter(-pt.full((2,), 5.0))
    assert c(x).tolist() == [[-3.0, -3.0]]
    del m[0].bias
    m[0].bias = None
    assert c(x).tolist() == [[2.0, 2.0]]


def test_resuming_optimizer_state_after_compiling_the_step():
    """load_state_dict replaces the optimizer's state tensors (momentum, Adam's moments), which
    the compiled step captured: it traces again and continues from the loaded state."""
    import copy

    def run(compiled, cls, **kw):
        pt.manual_seed(0)
        m = nn.Linear(4, 2)
        opt = cls(m.parameters(), lr=0.1, **kw)

        def step(x):
            opt.zero_grad()
            (m(x) ** 2).sum().backward()
            opt.step()
        f = pt.compile(step) if compiled else step
        x = pt.randn(3, 4)
        for _ in range(3):
            f(x)
        saved, wsaved = copy.deepcopy(opt.state_dict()), copy.deepcopy(m.state_dict())
        for _ in range(3):
            f(x)
        opt.load_state_dict(saved)
        m.load_state_dict(wsaved)
        for _ in range(3):
            f(x)
        return [p.detach().numpy().copy() for p in m.parameters()]
    for cls, kw in ((pt.optim.SGD, {"momentum": 0.9}), (pt.optim.Adam, {})):
        a, b = run(True, cls, **kw), run(False, cls, **kw)
        assert all(np.array_equal(u, v) for u, v in zip(a, b)), cls.__name__
    assert any("options or state changed" in r for r in pt.compiler.stats()["reasons"])


def test_replacing_a_buffer_after_compiling():
    m = nn.BatchNorm1d(2).eval()
    c = pt.compile(m)
    x = pt.ones(3, 2)
    c(x)
    c(x)
    m.running_mean = pt.full((2,), 1.0)
    assert c(x).tolist() == m(x).tolist() == [[0.0, 0.0]] * 3


SCALE = 2.0


def _scaled(x):
    return x * SCALE


def test_python_values_the_function_and_its_modules_read_are_guarded():
    global SCALE
    c = pt.compile(_scaled)
    assert c(pt.ones(2)).tolist() == [2.0, 2.0] and c(pt.ones(2)).tolist() == [2.0, 2.0]
    try:
        SCALE = 3.0                                  # a global the function reads
        assert c(pt.ones(2)).tolist() == [3.0, 3.0]
    finally:
        SCALE = 2.0

    def make(k):
        return lambda x: x + k
    k_fn = make(1.0)
    ck = pt.compile(k_fn)
    assert ck(pt.ones(1)).tolist() == [2.0]

    drop = nn.Dropout(0.5)
    cd = pt.compile(drop)
    x = pt.ones(1000)
    pt.manual_seed(0)
    assert 0.4 < (cd(x) == 0).float().mean().item() < 0.6
    cd(x)
    drop.p = 0.0                                     # a module attribute
    assert (cd(x) == 0).sum().item() == 0

    act = nn.LeakyReLU(0.1)
    net = nn.Sequential(nn.Linear(2, 2), act)
    step = pt.compile(lambda x: net(x))              # a module reached through the closure
    xx = -100 * pt.ones(1, 2)
    step(xx)
    step(xx)
    act.negative_slope = 0.5
    assert step(xx).tolist() == net(xx).tolist()
    reasons = pt.compiler.stats()["reasons"]
    assert any("'SCALE' is 3.0 now, traced as 2.0" in r for r in reasons)
    assert any("'p' is 0.0 now, traced as 0.5" in r for r in reasons)
    assert any("'negative_slope' is 0.5 now, traced as 0.1" in r for r in reasons)


def _sched_run(compiled, inside, step_size=2, calls=7):
    pt.manual_seed(0)
    m = nn.Linear(4, 2)
    opt = pt.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    sched = pt.optim.lr_scheduler.StepLR(opt, step_size=step_size, gamma=0.5)

    def step(x):
        opt.zero_grad()
        (m(x) ** 2).sum().backward()
        opt.step()
        if inside:
            sched.step()
    f = pt.compile(step) if compiled else step
    x = pt.randn(3, 4)
    lrs = []
    for _ in range(calls):
        f(x)
        if not inside:
            sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    return lrs, m.weight.detach().numpy().copy()


def test_a_scheduler_stepped_inside_the_compiled_step_is_not_frozen():
    """The call changes Python state (the scheduler's last_epoch, then the learning rate) that a
    replay, which runs no Python, would not: it is traced again, then runs eagerly."""
    (lc, wc), (le, we) = _sched_run(True, True), _sched_run(False, True)
    assert lc == le == [0.1, 0.05, 0.05, 0.025, 0.025, 0.0125, 0.0125]
    assert np.array_equal(wc, we)
    reasons = pt.compiler.stats()["reasons"]
    assert any("the call changes the Python value 'last_epoch' (1 before, 2 after)" in r for r in reasons)


def test_a_scheduler_stepped_outside_keeps_the_step_compiled():
    """A new rate every 10 calls traces once per rate; the calls between replay. (A rate changed
    every 2 calls turns eager after 3 changes: test_lr_schedules.py.)"""
    (lc, wc), (le, we) = _sched_run(True, False, 10, 35), _sched_run(False, False, 10, 35)
    assert lc == le and np.array_equal(wc, we)
    st = pt.compiler.stats()
    assert st["compiled_calls"] == 35 - 5 and st["traced_calls"] == 5 and st["eager_calls"] == 0


SCALE = 2.0


def _scaled(x):
    return x * SCALE


class _ScaledModule(nn.Module):
    def forward(self, x):
        return self._shift(_scaled(x))

    def _shift(self, x):
        return x + SHIFT


SHIFT = 1.0


def test_a_global_read_by_a_called_function_or_a_forward_is_guarded():
    """SCALE is read by a helper the compiled function calls, and by a helper a module's forward
    calls, SHIFT by a method forward calls on self: changing one traces again (before, the graph
    kept the traced value silently)."""
    global SCALE
    f = pt.compile(lambda x: _scaled(x) - 1)
    m = pt.compile(_ScaledModule())
    x = pt.ones(2)
    SCALE = 2.0
    assert f(x).tolist() == [1.0, 1.0] and m(x).tolist() == [3.0, 3.0]
    assert f(x).tolist() == [1.0, 1.0] and m(x).tolist() == [3.0, 3.0]
    SCALE = 5.0
    try:
        assert f(x).tolist() == [4.0, 4.0] and m(x).tolist() == [6.0, 6.0]
    finally:
        SCALE = 2.0
    st = pt.compiler.stats()
    assert st["compiled_calls"] == 2 and st["traced_calls"] == 4
    assert sum("the Python value 'SCALE' is 5.0 now, traced as 2.0" in r for r in st["reasons"]) == 2
    global SHIFT             # read by a method forward calls on self
    SHIFT = -1.0
    try:
        assert m(x).tolist() == [1.0, 1.0]
    finally:
        SHIFT = 1.0


W = pt.ones(3)
ACT = pt.nn.functional.relu
NET = None


def test_rebinding_a_tensor_module_or_function_the_code_reads_traces_again():
    """A graph captured the tensor, module or function a name held when traced; rebinding the name
    (a global, a closure variable, a module's plain tensor attribute) traces again (before, the
    replay kept using the old object silently)."""
    global W, ACT, NET
    x = pt.tensor([-1.0, 2.0, 3.0])
    f = pt.compile(lambda t: ACT(t * W))
    assert f(x).tolist() == [0.0, 2.0, 3.0] and f(x).tolist() == [0.0, 2.0, 3.0]
    W = pt.full((3,), 2.0)
    assert f(x).tolist() == [0.0, 4.0, 6.0]
    ACT = pt.nn.functional.silu
    assert pt.allclose(f(x), pt.nn.functional.silu(x * 2))

    bias = pt.zeros(3)

    def g(t):
        return t + bias
    cg = pt.compile(g)
    assert cg(x).tolist() == [-1.0, 2.0, 3.0] and cg(x).tolist() == [-1.0, 2.0, 3.0]
    bias = pt.ones(3)
    assert cg(x).tolist() == [0.0, 3.0, 4.0]

    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = pt.ones(3)       # a plain tensor attribute (not a buffer)

        def forward(self, t):
            return t * self.scale
    m = Scale()
    cm = pt.compile(m)
    assert cm(x).tolist() == [-1.0, 2.0, 3.0] and cm(x).tolist() == [-1.0, 2.0, 3.0]
    m.scale = pt.full((3,), 3.0)
    assert cm(x).tolist() == [-3.0, 6.0, 9.0]

    NET, other = nn.Linear(3, 1), nn.Linear(3, 1)
    h = pt.compile(lambda t: NET(t))
    with pt.no_grad():
        h(x)
        h(x)
        NET = other                         # (made before: no module changed since the trace)
        assert pt.equal(h(x), other(x))
    st = pt.compiler.stats()
    assert any("the Python value 'W' is another Tensor object now, traced as the traced Tensor object" in r
               for r in st["reasons"])
    assert any("'bias' (a closure variable) is another Tensor object" in r for r in st["reasons"])
    assert any("'NET' is another Linear object" in r for r in st["reasons"])
    W, ACT, NET = pt.ones(3), pt.nn.functional.relu, None



ZERO = 0.0
NAN = float("nan")


def test_a_global_changed_from_zero_to_minus_zero_traces_again():
    """-0.0 == 0.0 in Python, but x * -0.0 gives -0.0 where x * 0.0 gives 0.0: the guard tells them
    apart (before, the replay kept giving 0.0)."""
    global ZERO
    g = pt.compile(lambda x: x * ZERO)
    x = pt.ones(2)
    try:
        for want in (1.0, 1.0, -1.0, -1.0, 1.0):
            ZERO = math.copysign(0.0, want)
            assert [math.copysign(1.0, v) for v in g(x).tolist()] == [want, want]
    finally:
        ZERO = 0.0


def test_a_global_nan_rebound_to_another_nan_is_the_same_value():
    """nan != nan, but a graph traced with nan is the graph for any nan: no new trace."""
    global NAN
    f = pt.compile(lambda x: x + NAN)
    x = pt.ones(2)
    f(x)
    f(x)
    before = pt.compiler.stats()["traced_calls"]
    try:
        NAN = float("nan")          # a new float object
        assert all(math.isnan(v) for v in f(x).tolist())
        assert pt.compiler.stats()["traced_calls"] == before
    finally:
        NAN = float("nan")
