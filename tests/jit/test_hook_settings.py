"""The Python values a module's hooks read (a scale in a config object, a flag in a dict) are
guarded like those of the compiled function's own code: a changed value traces again instead
of replaying the hook's ops as traced."""
import numpy as np

import plugtorch as pt
import plugtorch.nn as nn


class _Cfg:
    pass


def _linear():
    lin = nn.Linear(2, 1)
    with pt.no_grad():
        lin.weight.copy_(pt.tensor([[1.0, 2.0]]))
        lin.bias.zero_()
    return lin


def test_a_forward_hook_s_setting_is_guarded():
    lin, cfg = _linear(), _Cfg()
    cfg.scale = 1.0
    lin.register_forward_hook(lambda mod, inp, out: out * cfg.scale)
    c = pt.compile(lin)
    x = pt.ones(1, 2)
    for k, scale in enumerate((1.0, 1.0, 1.0, 0.0, 0.0, 5.0)):
        cfg.scale = scale
        np.testing.assert_array_equal(c(x).detach().numpy(), [[3.0 * scale]], err_msg=f"call {k}")
    assert pt.compiler.stats()["graphs"] == 3


def test_a_forward_pre_hook_s_flag_is_guarded():
    lin, state = _linear(), {"mask": False}
    lin.register_forward_pre_hook(lambda mod, inp: (inp[0] * 0,) if state["mask"] else None)
    c = pt.compile(lin)
    x = pt.ones(1, 2)
    for k in range(6):
        state["mask"] = k >= 3
        np.testing.assert_array_equal(c(x).detach().numpy(), [[0.0 if k >= 3 else 3.0]], err_msg=f"call {k}")
