"""Plug-in discovery through real distributions: each test writes a tiny installed
distribution (a ``.dist-info`` folder with METADATA and entry_points.txt, and its module) into a
folder on ``sys.path``, exactly what ``pip install`` leaves behind, and lets plugtorch find it.
"""
import importlib
import os
import subprocess
import sys
import textwrap
import warnings

import pytest

import plugtorch as pt

GOOD_MODULE = """
import numpy
from plugtorch.backends import ArrayAPIBackend

class GoodBackend(ArrayAPIBackend):
    def __init__(self):
        super().__init__(numpy, name="{name}")

def make_backend():
    return GoodBackend()
"""


def write_distribution(root, dist, version, entry_points, module=None, source=""):
    """Write an installed distribution ``dist`` into ``root``: dist-info metadata, entry points
    ``{device_type: "module:object"}`` in group plugtorch.backends, and ``module.py``."""
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = "".join(f"{k} = {v}\n" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[plugtorch.backends]\n{lines}")
    (info / "RECORD").write_text("")
    if module:
        (root / f"{module}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A fresh site-packages folder on sys.path; plug-ins from it are forgotten afterwards."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    before = set(pt.backends._BACKENDS)
    yield root
    for name in set(pt.backends._BACKENDS) - before:
        pt.backends.unregister(name)
    sys.path.remove(str(root))
    for mod in [m for m in sys.modules if m.startswith("ptplug_")]:
        del sys.modules[mod]
    importlib.invalidate_caches()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pt.backends.load_plugins(rescan=True)


def rescan():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        pt.backends.load_plugins(rescan=True)
    return [str(x.message) for x in w if issubclass(x.category, RuntimeWarning)]


def test_installed_distribution_is_discovered_lazily(site):
    write_distribution(site, "ptplug-good", "1.2.3", {"gooddev": "ptplug_good:GoodBackend"},
                       "ptplug_good", GOOD_MODULE.format(name="gooddev"))
    importlib.invalidate_caches()
    assert "gooddev" not in pt.backends._BACKENDS           # nothing loaded until first use
    assert "ptplug_good" not in sys.modules
    x = pt.arange(4.0, device="gooddev")                    # first use loads it
    assert x.device == pt.device("gooddev:0")
    assert (x * 2).cpu().tolist() == [0.0, 2.0, 4.0, 6.0]
    entry = next(e for e in pt.backends.list() if e["name"] == "gooddev")
    assert entry == {"name": "gooddev", "origin": "ptplug-good 1.2.3", "devices": ["gooddev:0"],
                     "status": "ok"}


def test_factory_entry_point(site):
    write_distribution(site, "ptplug-factory", "0.1", {"factdev": "ptplug_factory:make_backend"},
                       "ptplug_factory", GOOD_MODULE.format(name="ignored"))
    assert rescan() == []
    assert pt.backends.get_backend("factdev").name == "factdev"   # the entry point's name wins
    assert pt.ones(2, device="factdev").sum().item() == 2.0


FAILURES = {
    "import error": ({"impdev": "ptplug_missing_module:Backend"}, None, "",
                     "impdev", "ModuleNotFoundError: No module named 'ptplug_missing_module'"),
    "constructor raises": ({"ctordev": "ptplug_ctor:Broken"}, "ptplug_ctor", """
        from plugtorch.backends import Backend
        class Broken(Backend):
            def __init__(self):
                raise OSError("no driver for the frobnicator")
        """, "ctordev", "constructing the backend (ptplug_ctor:Broken) raised OSError: no driver for the frobnicator"),
    "wrong type": ({"typedev": "ptplug_type:not_a_backend"}, "ptplug_type", "not_a_backend = 42\n",
                   "typedev", "TypeError: entry point 'typedev = ptplug_type:not_a_backend' names a int, "
                              "not a plugtorch.backends.Backend subclass"),
    "factory returns wrong type": ({"facdev": "ptplug_fac:make"}, "ptplug_fac", "def make():\n    return 'x'\n",
                                   "facdev", "gave a str, not a plugtorch.backends.Backend"),
    "clash with built-in": ({"cpu": "ptplug_clash:GoodBackend"}, "ptplug_clash", GOOD_MODULE.format(name="cpu"),
                            "cpu", "device type 'cpu' clashes with plugtorch's built-in backend"),
}


@pytest.mark.parametrize("kind", list(FAILURES))
def test_each_failure_is_reported_and_isolated(site, kind):
    eps, module, source, name, error = FAILURES[kind]
    write_distribution(site, "ptplug-bad", "9.9", eps, module, source)
    # a good plug-in beside the broken one keeps working
    write_distribution(site, "ptplug-fine", "1.0", {"finedev": "ptplug_fine:GoodBackend"},
                       "ptplug_fine", GOOD_MODULE.format(name="finedev"))
    messages = rescan()
    assert len(messages) == 1, messages
    assert f"the backend plug-in '{name}' from distribution ptplug-bad 9.9 failed to load" in messages[0]
    assert error in messages[0]
    status = [e for e in pt.backends.list() if e["origin"] == "ptplug-bad 9.9"]
    assert len(status) == 1 and status[0]["name"] == name
    assert status[0]["status"].startswith("failed to load: ") and error in status[0]["status"]
    assert pt.ones(2, device="finedev").sum().item() == 2.0
    assert (pt.ones(2) + 1).tolist() == [2.0, 2.0]             # cpu untouched
    if name != "cpu":
        with pytest.raises(RuntimeError, match=f"device type '{name}': its backend plug-in from "
                                               "ptplug-bad 9.9 failed to load"):
            pt.zeros(1, device=name)


def test_clash_between_two_plugins(site):
    write_distribution(site, "ptplug-first", "1.0", {"twindev": "ptplug_first:GoodBackend"},
                       "ptplug_first", GOOD_MODULE.format(name="twindev"))
    write_distribution(site, "ptplug-second", "2.0", {"twindev": "ptplug_second:GoodBackend"},
                       "ptplug_second", GOOD_MODULE.format(name="twindev"))
    messages = rescan()
    assert len(messages) == 1
    origins = {pt.backends._ORIGINS["twindev"]}
    loser = ({"ptplug-first 1.0", "ptplug-second 2.0"} - origins).pop()
    assert f"'twindev' from distribution {loser} failed to load" in messages[0]
    assert f"device type 'twindev' clashes with the backend already registered from {origins.pop()}" in messages[0]
    assert pt.ones(1, device="twindev").item() == 1.0


def _run(code, env_extra, site):
    env = dict(os.environ, PYTHONPATH=str(site), **env_extra)
    return subprocess.run([sys.executable, "-W", "always::RuntimeWarning", "-c", code], env=env,
                          capture_output=True, text=True, timeout=120)


def test_broken_plugin_never_breaks_import(site):
    write_distribution(site, "ptplug-boom", "0.0.1", {"boomdev": "ptplug_boom:Backend"}, "ptplug_boom",
                       "raise ImportError('this plug-in is broken on import')\n")
    r = _run("import plugtorch as pt, sys; assert 'ptplug_boom' not in sys.modules; "
             "print(pt.ones(2).sum().item()); print([e['status'] for e in pt.backends.list() "
             "if e['name'] == 'boomdev'])", {}, site)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["2.0", "['failed to load: ImportError: this plug-in is broken on import']"]
    assert "the backend plug-in 'boomdev' from distribution ptplug-boom 0.0.1 failed to load" in r.stderr


def test_autoload_off(site):
    write_distribution(site, "ptplug-off", "1.0", {"offdev": "ptplug_off:GoodBackend"},
                       "ptplug_off", GOOD_MODULE.format(name="offdev"))
    code = ("import plugtorch as pt\n"
            "print([e['name'] for e in pt.backends.list() if e['name'] == 'offdev'])\n"
            "try:\n    pt.ones(1, device='offdev')\nexcept RuntimeError as e:\n    print(e)\n")
    r = _run(code, {"PLUGTORCH_BACKEND_AUTOLOAD": "0"}, site)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "[]"
    assert lines[1].endswith("'offdev' has no registered backend (plug-in loading is off: PLUGTORCH_BACKEND_AUTOLOAD=0)")
    r = _run(code, {"PLUGTORCH_BACKEND_AUTOLOAD": "1"}, site)
    assert r.stdout.splitlines()[0] == "['offdev']"


def test_example_package_is_installed_for_real():
    """examples/plugtorch-strict, pip-installed by `make test`, provides device type strict."""
    from importlib.metadata import PackageNotFoundError, entry_points, version
    try:
        version("plugtorch-strict")
    except PackageNotFoundError:
        pytest.skip("examples/plugtorch-strict is not installed (make test installs it)")
    ep = [e for e in entry_points(group="plugtorch.backends") if e.name == "strict"]
    assert [e.value for e in ep] == ["plugtorch_strict:StrictBackend"]
    x = pt.tensor([1.0, -2.0], device="strict")
    assert x.abs().cpu().tolist() == [1.0, 2.0]
    entry = next(e for e in pt.backends.list() if e["name"] == "strict")
    assert entry["origin"].startswith("plugtorch-strict ") and entry["status"] == "ok"


def test_backend_registered_at_run_time_passes_a_small_conformance_run():
    """A backend registered from a notebook is checked like any other."""
    import numpy as np
    from plugtorch.backends import ArrayAPIBackend
    from plugtorch.conformance import FAIL, opdb, run
    pt.backends.register(ArrayAPIBackend(np), name="rtdev")
    try:
        entries = opdb.select(["add", "mul", "exp", "sum", "amax", "matmul", "softmax", "cat", "view",
                               "index", "where", "sort"])
        assert len(entries) >= 10
        results = run(["rtdev"], entries, dtypes=[pt.float32, pt.int64], max_examples=2)
    finally:
        pt.backends.unregister("rtdev")
    assert results and all(r.backend == "rtdev" for r in results)
    failed = [f"{r.op}[{r.dtype}]: {r.failures[0]}" for r in results if r.status == FAIL]
    assert not failed, "\n".join(failed)
    assert {r.op for r in results if r.status == "via decomposition"} >= {"softmax"}
