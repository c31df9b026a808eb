"""A compiled function's call in C (plugtorch/compiler/_fastcall.c, the base of CompiledFunction)
and its Python fallback (compiler._PythonCall) give the same results, counters and errors; where
the extension is not built, CompiledFunction calls through the Python one."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import plugtorch as pt
from plugtorch import compiler
from tests.jit.test_hot_replay import _ref, chain

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _add(a, b, scale=1.0):
    return (a + b) * scale


def _python_call(c, *args, **kwargs):
    return compiler._PythonCall.__call__(c, *args, **kwargs)


def _calls(dev, call):
    """The same sequence of calls through ``call(compiled, *args, **kwargs)``: what each returns or
    raises, and the counters after it."""
    out = []
    c, d = pt.compile(chain), pt.compile(_add)
    x3 = pt.tensor([0.5, -1.5, 0.25], device=dev)
    x4 = pt.tensor([0.5, -1.5, 0.25, 2.0], device=dev)
    steps = [(c, (x3,), {}), (c, (x3,), {}), (c, (x3,), {}), (c, (x4,), {}), (c, (x3,), {}),
             (c, (x3.requires_grad_(False).double(),), {}), (d, (x3, x3), {}), (d, (x3, x3), {"scale": 2.0}),
             (d, (x3, x4), {}), (d, (x3, x3), {})]
    for f, args, kwargs in steps:
        try:
            r = call(f, *args, **kwargs)
            got = ["ok", r.tolist(), str(r.dtype), r.device.type, r.requires_grad]
        except Exception as e:     # noqa: BLE001 (the error itself is compared)
            got = ["error", type(e).__name__, str(e)]
        st = pt.compiler.stats()
        out.append([got, {k: v for k, v in st.items() if k != "reasons"}, st["reasons"],
                    dict(c.counters), dict(d.counters)])
    return out


def test_compiled_function_calls_through_the_c_base_where_built():
    if compiler._fastcall is None:
        pytest.skip("plugtorch.compiler._fastcall is not built")
    assert compiler.CompiledFunction.__bases__ == (compiler._fastcall.FastCall,)
    assert "__call__" not in compiler.CompiledFunction.__dict__


def test_the_c_call_and_the_python_call_give_the_same_results_counters_and_errors(dev):
    c_path = _calls(dev, lambda f, *a, **k: f(*a, **k))
    pt.compiler.reset()
    py_path = _calls(dev, _python_call)
    assert c_path == py_path
    # (and the values are the chain's: 3 replays, a recompile for the new shape, an error for
    # shapes that do not broadcast)
    np.testing.assert_allclose(c_path[2][0][1], _ref([0.5, -1.5, 0.25]), rtol=1e-6)
    assert c_path[3][3]["recompiles"] == 1
    assert c_path[8][0][:2] == ["error", "RuntimeError"] and "(3,) and (4,)" in c_path[8][0][2]


def test_the_c_call_keeps_requires_grad_grad_mode_and_reset(dev):
    c = pt.compile(chain)
    x = pt.tensor([0.5, -1.5], device=dev, requires_grad=True)
    for _ in range(3):
        y = c(x)
    assert y.requires_grad
    y.sum().backward()
    x2 = x.detach().requires_grad_()
    chain(x2).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), x2.grad.cpu().numpy(), rtol=1e-6)
    with pt.no_grad():
        assert not c(x).requires_grad and not c(x).requires_grad
    pt.compiler.reset()
    assert c._hot is None
    assert c(x).requires_grad and pt.compiler.stats()["graphs"] == 1


def test_an_error_raised_by_the_hot_callable_propagates():
    c = pt.compile(chain)

    def hot(owner, args):
        assert owner is c
        raise ValueError("from the hot callable")
    c._hot = hot
    with pytest.raises(ValueError, match="from the hot callable"):
        c(pt.ones(2))
    with pytest.raises(ValueError, match="from the hot callable"):
        _python_call(c, pt.ones(2))
    c._hot = lambda owner, args: compiler._MISS     # declined: the keyed lookup runs
    assert c(pt.ones(2)).tolist() == chain(pt.ones(2)).tolist()
    assert pt.compiler.stats()["graphs"] == 1


_SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
if sys.argv[2] == "absent":
    sys.modules["plugtorch.compiler._fastcall"] = None    # (an import of it fails)
import plugtorch as pt
from plugtorch import compiler
def chain(s):
    return ((((s * 2 + 1).relu() * 3 - 1).exp() + 2) * 0.5).sqrt()
out = {"base": compiler.CompiledFunction.__bases__[0].__name__}
c = pt.compile(chain)
devs = ["cpu"] + (["opencl"] if pt.opencl.is_available() else [])
for dev in devs:
    for n in (3, 3, 3, 4, 3):
        out.setdefault(dev, []).append(c(pt.arange(n, dtype=pt.float32, device=dev)).tolist())
    try:
        c(pt.ones(2, device=dev), extra=1)
    except TypeError as e:
        out[dev].append(["error", type(e).__name__, str(e)])
st = pt.compiler.stats()
out["stats"] = {k: v for k, v in st.items() if k != "reasons"}
out["reasons"] = st["reasons"]
print(json.dumps(out))
"""


def test_without_the_extension_the_python_call_gives_the_same():
    res = {}
    for how in ("built", "absent"):
        p = subprocess.run([sys.executable, "-c", _SCRIPT, ROOT, how], capture_output=True, text=True,
                           timeout=300, cwd=ROOT)
        assert p.returncode == 0, p.stderr
        res[how] = json.loads(p.stdout.strip().splitlines()[-1])
    assert res["absent"].pop("base") == "_PythonCall"
    assert res["built"].pop("base") == ("FastCall" if compiler._fastcall is not None else "_PythonCall")
    assert res["built"] == res["absent"]
    np.testing.assert_allclose(res["built"]["cpu"][0], _ref([0, 1, 2]), rtol=1e-6)
    assert res["built"]["cpu"][-1][:2] == ["error", "TypeError"]
