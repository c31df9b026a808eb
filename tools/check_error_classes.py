"""Re-run the exception-class tables of the tests on PyTorch and report where torch disagrees.

Usage (in an environment that has torch; plugtorch need not be installed there)::

    python tools/check_error_classes.py tests/ops/test_error_classes.py tests/nn/test_window_arguments.py

Each table row's call runs with ``plugtorch`` replaced by ``torch`` on cpu; the row passes when
torch raises exactly the class the row expects (messages are plugtorch's own and not compared).
"""
from __future__ import annotations

import sys
import types


def _shim():
    import torch

    class Shim(types.ModuleType):
        def __getattr__(self, name):
            return getattr(torch, name)
    pt = Shim("plugtorch")
    pt.opencl = types.SimpleNamespace(is_available=lambda: False)
    return pt


def _fake_pytest():
    mod = types.ModuleType("pytest")
    mod.param = lambda *a, **k: a[0]
    mod.mark = types.SimpleNamespace(skipif=lambda *a, **k: None,
                                     parametrize=lambda *a, **k: (lambda f: f))
    return mod


def check(path):
    pt = _shim()
    sys.modules["plugtorch"] = pt
    sys.modules.setdefault("pytest", _fake_pytest())
    ns = {"__name__": "table"}
    exec(compile(open(path).read(), path, "exec"), ns)
    bad = 0
    for row in ns["TABLE"]:
        desc, call, exc = row[0], row[1], row[2]
        try:
            call("cpu")
        except Exception as e:   # noqa: BLE001 - the class is what is checked
            got = type(e)
        else:
            got = None
        if got is not exc:
            bad += 1
            print(f"{path}: {desc}: torch raises {getattr(got, '__name__', 'nothing')}, the table says {exc.__name__}")
    print(f"{path}: {len(ns['TABLE']) - bad} of {len(ns['TABLE'])} rows agree with torch {pt.__version__}")
    return bad


if __name__ == "__main__":
    sys.exit(1 if sum(check(p) for p in sys.argv[1:]) else 0)
