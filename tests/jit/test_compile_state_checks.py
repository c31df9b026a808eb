"""The compiled call's checks of Python state and optimizer options between replays: their
generated fast path (every value the same object) and the loop behind it must agree on what
changed, so a changed value traces again and an equal new object does not."""
import plugtorch as pt
from plugtorch import compiler as C
from plugtorch import nn


class Holder:
    pass


def test_state_check_sees_each_kind_of_change_after_its_fast_path_was_made():
    h = Holder()
    h.scale, h.items = 1000, [1, 2]

    def make():
        k = 3

        def f():
            return h.scale * k
        return f
    f = make()
    entries = C._Snapshot([(C._DICT, h.__dict__, "scale", h.scale), (C._LEN, h.items, "items", 2),
                           (C._CELL, f.__closure__[1], "k", 3)])
    assert C.python_state_changed(entries) is None
    assert entries.same is not None          # made at the first check
    h.scale = int("1000")                    # equal, another object: unchanged
    assert C.python_state_changed(entries) is None
    h.scale = 1001
    assert "'scale' is 1001 now, traced as 1000" in C.python_state_changed(entries)
    h.scale = 1000
    h.items.append(3)
    assert "a list of 3 items" in C.python_state_changed(entries)
    h.items.pop()
    assert C.python_state_changed(entries) is None
    del h.scale                               # a missing key
    assert "'scale'" in C.python_state_changed(entries)


def test_option_check_sees_each_kind_of_change_after_its_fast_path_was_made():
    p = pt.zeros(2, requires_grad=True)
    q = pt.zeros(2, requires_grad=True)
    opt = pt.optim.SGD([p], lr=0.1, momentum=0.9)
    fp = C._optimizer_fingerprint([opt])
    assert not C._options_changed(fp) and fp.same is not None
    g = opt.param_groups[0]
    g["lr"] = float("0.1")                    # an equal new float: unchanged
    assert not C._options_changed(fp)
    g["lr"] = 0.2
    assert C._options_changed(fp)
    g["lr"] = 0.1
    assert not C._options_changed(fp)
    g["extra"] = 1                            # a new key
    assert C._options_changed(fp)
    del g["extra"]
    assert not C._options_changed(fp)
    opt.add_param_group({"params": [q]})      # a new group
    assert C._options_changed(fp)


def test_a_compiled_step_traces_again_when_a_module_attribute_or_the_lr_changes():
    pt.manual_seed(0)
    lin = nn.Linear(3, 2)
    ref = nn.Linear(3, 2)
    ref.load_state_dict(lin.state_dict())
    x = pt.randn(4, 3)
    opts = [pt.optim.SGD(m.parameters(), lr=0.1, momentum=0.9) for m in (lin, ref)]
    lin.scale = ref.scale = 2.0

    def step(m, opt, x):
        opt.zero_grad()
        loss = (m(x) * m.scale).pow(2).mean()
        loss.backward()
        opt.step()
        return loss

    c = pt.compile(lambda x: step(lin, opts[0], x))
    for k in range(8):
        if k == 3:
            lin.scale = ref.scale = 3.0   # a module's plain attribute the step reads
        if k == 5:
            for o in opts:
                o.param_groups[0]["lr"] = 0.05
        got = c(x)
        want = step(ref, opts[1], x)
        assert got.item() == want.item(), k
    assert c.counters["recompiles"] == 2 and c.counters["graph_breaks"] == 0   # the attribute, the rate
    for a, b in zip(lin.parameters(), ref.parameters()):
        assert a.detach().numpy().tobytes() == b.detach().numpy().tobytes()
