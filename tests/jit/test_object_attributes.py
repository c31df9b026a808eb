"""compile guards the attributes of plain objects the compiled code reads by name (a config, a
trainer, an argparse namespace), whether the object is a global, a closure variable or an
argument: a changed value traces again instead of replaying the value baked into the graph; a
call that changes one is not replayed (the replay would not change it again)."""
import argparse

import numpy as np

import plugtorch as pt
import plugtorch.nn.functional as F


class Config:
    pass


cfg = Config()


def test_a_global_config_attribute_is_guarded():
    cfg.scale, cfg.unused = 1.0, 0

    def f(x):
        return x * cfg.scale
    c = pt.compile(f)
    for k in range(12):
        cfg.scale = float(k // 4)          # (a change every 4th call; one at every call would churn)
        cfg.unused += 1                    # (an attribute the code does not read: no retrace)
        np.testing.assert_array_equal(c(pt.ones(2)).numpy(), [float(k // 4)] * 2)
    st = pt.compiler.stats()
    assert st["graphs"] == 3 and st["compiled_calls"] == 9
    assert all("'scale'" in r for r in st["reasons"] if r.startswith("recompile"))


def test_an_argument_s_attributes_are_guarded():
    def f(x, opts):
        return F.leaky_relu(x, opts.slope) * opts.gain
    c = pt.compile(f)
    opts = argparse.Namespace(slope=0.1, gain=2.0)
    x = pt.tensor([-1.0, 3.0])
    for slope, gain in ((0.1, 2.0), (0.1, 2.0), (0.5, 2.0), (0.5, -1.0)):
        opts.slope, opts.gain = slope, gain
        np.testing.assert_allclose(c(x, opts).numpy(), [-slope * gain, 3.0 * gain], rtol=1e-6)
    st = pt.compiler.stats()
    assert st["graphs"] == 3 and st["compiled_calls"] == 1


def test_a_function_held_in_an_attribute_is_guarded_by_identity():
    holder = Config()
    holder.act = F.relu

    def f(x):
        return holder.act(x)
    c = pt.compile(f)
    x = pt.tensor([-2.0, 2.0])
    assert c(x).tolist() == [0.0, 2.0] and c(x).tolist() == [0.0, 2.0]
    holder.act = pt.tanh
    np.testing.assert_allclose(c(x).numpy(), np.tanh([-2.0, 2.0]), rtol=1e-6)


def test_a_call_that_changes_an_argument_s_attribute_is_not_replayed():
    class Trainer:
        steps = 0

    def step(x, t):
        t.steps += 1
        return x * 2
    c = pt.compile(step)
    t = Trainer()
    t.steps = 0
    for _ in range(6):
        assert c(pt.ones(2), t).tolist() == [2.0, 2.0]
    assert t.steps == 6                     # (a replay would have skipped the increments)
    assert any("'steps'" in r for r in pt.compiler.stats()["reasons"])


weights = [pt.ones(2)]
settings = {"scale": 2.0, "inner": {"shift": 0.0}}
history = []


def test_items_of_global_lists_and_dicts_are_guarded():
    def f(x):
        return x * weights[0] * settings["scale"] + settings["inner"]["shift"]
    c = pt.compile(f)
    x = pt.ones(2)
    for step in range(3):
        if step == 1:
            weights[0] = pt.full((2,), 3.0)          # an item rebound: the graph held the old tensor
        if step == 2:
            settings["scale"] = 4.0
            settings["inner"]["shift"] = 1.0          # (two levels down)
        for _ in range(2):
            w, s, b = weights[0].numpy(), settings["scale"], settings["inner"]["shift"]
            np.testing.assert_array_equal(c(x).numpy(), x.numpy() * w * s + b)
    st = pt.compiler.stats()
    assert st["graphs"] == 3 and st["compiled_calls"] == 3
    assert any("'weights[0]'" in r for r in st["reasons"])


def test_a_list_read_from_its_end_is_guarded_by_its_length():
    history[:] = [1.0]

    def f(x):
        return x * history[-1]
    c = pt.compile(f)
    for k in range(3):
        history.append(float(k + 2))
        c(pt.ones(1))
        assert c(pt.ones(1)).tolist() == [float(k + 2)]


def test_a_compiled_method_guards_its_object_s_attributes():
    class Scaler:
        def __init__(self):
            self.scale = 1.0

        def apply(self, x):
            return x * self.scale
    s = Scaler()
    c = pt.compile(s.apply)
    for k in range(6):
        s.scale = float(k // 2)
        assert c(pt.ones(2)).tolist() == [float(k // 2)] * 2
    assert pt.compiler.stats()["graphs"] == 3


# objects with no __dict__ to compare (slots, immutable values rebound): their values were baked in
from collections import OrderedDict, namedtuple   # noqa: E402
from dataclasses import dataclass   # noqa: E402
import enum   # noqa: E402


@dataclass(slots=True)
class _SlotCfg:
    scale: float = 1.0


_NT = namedtuple("_NT", "scale")


class _Mode(enum.Enum):
    ONE = 1.0
    THREE = 3.0


slot_cfg, nt_cfg, mode, np_scale = _SlotCfg(), _NT(1.0), _Mode.ONE, np.float32(1.0)
odict = OrderedDict(scale=1.0)


def _check(f, set_value):
    # x * s for s = 1, 2, 3 set between calls (each value called twice: a trace, then a replay)
    c = pt.compile(f)
    for v in (1.0, 2.0, 3.0):
        set_value(v)
        for _ in range(2):
            assert c(pt.ones(2)).tolist() == [v, v]


def test_a_slotted_dataclass_attribute_is_guarded():
    _check(lambda x: x * slot_cfg.scale, lambda v: setattr(slot_cfg, "scale", v))


def test_a_global_object_rebound_in_place_is_guarded_by_identity():
    def set_nt(v):
        global nt_cfg
        nt_cfg = nt_cfg._replace(scale=v)

    def set_np(v):
        global np_scale
        np_scale = np.float32(v)
    _check(lambda x: x * nt_cfg.scale, set_nt)
    _check(lambda x: x * np_scale, set_np)
    global mode
    c = pt.compile(lambda x: x * mode.value)
    for m in (_Mode.ONE, _Mode.THREE, _Mode.ONE):
        mode = m
        assert c(pt.ones(1)).tolist() == [m.value] and c(pt.ones(1)).tolist() == [m.value]


def test_the_items_of_an_ordered_dict_are_guarded():
    _check(lambda x: x * odict["scale"], lambda v: odict.__setitem__("scale", v))
