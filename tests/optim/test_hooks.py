"""Optimizer hooks as torch.optim's: step pre/post hooks (per optimizer and global), state-dict
and load-state-dict hooks, handles that remove them."""
import pytest

import plugtorch as pt
from plugtorch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook


def _opt(cls=pt.optim.SGD, **kw):
    p = pt.tensor([1.0, 2.0], requires_grad=True)
    p.grad = pt.tensor([1.0, 1.0])
    return p, cls([p], lr=0.5, **kw)


def test_step_hooks_run_in_order_and_are_removable():
    p, opt = _opt()
    calls = []
    h1 = register_optimizer_step_pre_hook(lambda o, a, k: calls.append(("global pre", o is opt)))
    h2 = opt.register_step_pre_hook(lambda o, a, k: calls.append(("pre", p.tolist())))
    h3 = opt.register_step_post_hook(lambda o, a, k: calls.append(("post", p.tolist())))
    h4 = register_optimizer_step_post_hook(lambda o, a, k: calls.append(("global post", None)))
    try:
        opt.step()
    finally:
        for h in (h1, h2, h3, h4):
            h.remove()
    assert calls == [("global pre", True), ("pre", [1.0, 2.0]), ("post", [0.5, 1.5]), ("global post", None)]
    opt.step()
    assert len(calls) == 4


def test_a_pre_hook_can_replace_the_arguments_and_lbfgs_runs_the_hooks_once():
    x = pt.tensor([3.0], requires_grad=True)
    opt = pt.optim.LBFGS([x], max_iter=1)
    seen = []

    def closure():
        opt.zero_grad()
        loss = (x * x).sum()
        loss.backward()
        return loss
    opt.register_step_pre_hook(lambda o, a, k: ((closure,), {}))
    opt.register_step_post_hook(lambda o, a, k: seen.append(a[0] is closure))
    assert opt.step(None).item() == 9.0    # the hook supplied the closure
    assert seen == [True]
    opt.register_step_pre_hook(lambda o, a, k: "nope")
    with pytest.raises(RuntimeError, match="must return None or a tuple of"):
        opt.step(closure)


def test_state_dict_hooks():
    p, opt = _opt(pt.optim.Adam)
    opt.step()
    order = []
    opt.register_state_dict_pre_hook(lambda o: order.append("pre"))
    opt.register_state_dict_post_hook(lambda o, sd: {**sd, "extra": 1})
    sd = opt.state_dict()
    assert order == ["pre"] and sd["extra"] == 1
    opt.register_load_state_dict_pre_hook(lambda o, sd: {k: v for k, v in sd.items() if k != "extra"})
    opt.register_load_state_dict_post_hook(lambda o: order.append("loaded"))
    opt.load_state_dict(sd)
    assert order == ["pre", "loaded"]


def test_a_pre_hook_clipping_gradients_compiles_into_the_step():
    def run(compiled):
        pt.manual_seed(0)
        model = pt.nn.Linear(4, 2)
        opt = pt.optim.NAdam(model.parameters(), lr=0.1)

        def clip(o, args, kwargs):
            pt.nn.utils.clip_grad_norm_(model.parameters(), 0.01)
        opt.register_step_pre_hook(clip)

        def step(x):
            opt.zero_grad()
            loss = model(x).square().sum()
            loss.backward()
            opt.step()
            return loss.detach()
        f = pt.compile(step) if compiled else step
        xs = [pt.full((3, 4), float(i)) for i in range(4)]
        return [f(x) for x in xs], [p.detach().clone() for p in model.parameters()], f
    pt.compiler.reset()
    (le, pe, _), (lc, pc, f) = run(False), run(True)
    assert all(pt.equal(a, b) for a, b in zip(le + pe, lc + pc))
    assert f.counters["graph_breaks"] == 0 and f.counters["graphs"] == 1, f.counters
    pt.compiler.reset()
