"""Plug-in discovery through real distributions: each test writes a tiny installed
distribution (a ``.dist-info`` folder with METADATA and entry_points.txt, and its module) into a
folder on ``sys.path``, exactly what ``pip install`` leaves behind, and lets plugtorch find it.
"""
import builtins
import importlib
import os
import re
import subprocess
import sys
import textwrap
import threading
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
    importlib.invalidate_caches()
    pt.backends._plugins._entries = None   # as if installed before plugtorch first looked


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


BROKEN_CLASS = """
from plugtorch.backends import Backend
class Broken(Backend):
    def __init__(self):
        {}
"""

# kind: (entry points, module, its source, device type, the error every report shows)
FAILURES = {
    "missing module": ({"impdev": "ptplug_missing_module:Backend"}, None, "", "impdev",
                       "ModuleNotFoundError: entry point 'impdev = ptplug_missing_module:Backend' "
                       "names module 'ptplug_missing_module', which is not installed (No module "
                       "named 'ptplug_missing_module')"),
    "missing dependency": ({"depdev": "ptplug_dep:Backend"}, "ptplug_dep",
                           "import ptplug_no_such_dependency\n", "depdev",
                           "ModuleNotFoundError: No module named 'ptplug_no_such_dependency'"),
    "missing attribute": ({"attrdev": "ptplug_attr:Nope"}, "ptplug_attr", "x = 1\n", "attrdev",
                          "AttributeError: entry point 'attrdev = ptplug_attr:Nope' names 'Nope', "
                          "but 'ptplug_attr' has no attribute 'Nope'"),
    "missing nested attribute": ({"nestdev": "ptplug_nest:ns.Nope"}, "ptplug_nest",
                                 "import types\nns = types.SimpleNamespace()\n", "nestdev",
                                 "AttributeError: entry point 'nestdev = ptplug_nest:ns.Nope' names "
                                 "'ns.Nope', but 'ptplug_nest.ns' has no attribute 'Nope'"),
    "no attribute in value": ({"modonly": "ptplug_modonly"}, "ptplug_modonly", "x = 1\n", "modonly",
                              "ValueError: entry point 'modonly = ptplug_modonly' is malformed: "
                              "expected 'module:attribute' (e.g. 'modonly = mypkg:MyBackend')"),
    "malformed value": ({"maldev": "ptplug mal:Backend"}, None, "", "maldev",
                        "ValueError: entry point 'maldev = ptplug mal:Backend' is malformed: "
                        "expected 'module:attribute' (e.g. 'maldev = mypkg:MyBackend')"),
    "import raises": ({"raisedev": "ptplug_raise:Backend"}, "ptplug_raise",
                      "raise ImportError('this plug-in is broken on import')\n", "raisedev",
                      "ImportError: this plug-in is broken on import"),
    "import raises SystemExit": ({"exitdev": "ptplug_exit:Backend"}, "ptplug_exit",
                                 "import sys\nsys.exit('no licence for the frobnicator')\n", "exitdev",
                                 "SystemExit: no licence for the frobnicator"),
    "import raises bare SystemExit": ({"bexitdev": "ptplug_bexit:Backend"}, "ptplug_bexit",
                                      "raise SystemExit\n", "bexitdev", "SystemExit"),
    "constructor raises": ({"ctordev": "ptplug_ctor:Broken"}, "ptplug_ctor",
                           BROKEN_CLASS.format('raise OSError("no driver for the frobnicator")'), "ctordev",
                           "RuntimeError: constructing the backend (ptplug_ctor:Broken) raised OSError: "
                           "no driver for the frobnicator"),
    "constructor raises SystemExit": ({"cexitdev": "ptplug_cexit:Broken"}, "ptplug_cexit",
                                      BROKEN_CLASS.format("raise SystemExit(2)"), "cexitdev",
                                      "RuntimeError: constructing the backend (ptplug_cexit:Broken) "
                                      "raised SystemExit: 2"),
    "wrong type": ({"typedev": "ptplug_type:not_a_backend"}, "ptplug_type", "not_a_backend = 42\n",
                   "typedev", "TypeError: entry point 'typedev = ptplug_type:not_a_backend' names a int, "
                              "not a plugtorch.backends.Backend subclass or a factory returning one"),
    "factory returns wrong type": ({"facdev": "ptplug_fac:make"}, "ptplug_fac", "def make():\n    return 'x'\n",
                                   "facdev", "TypeError: entry point 'facdev = ptplug_fac:make' gave a str, "
                                             "not a plugtorch.backends.Backend (subclass "
                                             "plugtorch.backends.Backend)"),
    "clash with built-in": ({"cpu": "ptplug_clash:GoodBackend"}, "ptplug_clash", GOOD_MODULE.format(name="cpu"),
                            "cpu", "RuntimeError: device type 'cpu' clashes with plugtorch's built-in "
                                   "backend; the plug-in must pick another name"),
}


@pytest.mark.parametrize("kind", list(FAILURES))
def test_each_failure_is_reported_and_isolated(site, kind):
    eps, module, source, name, error = FAILURES[kind]
    write_distribution(site, "ptplug-bad", "9.9", eps, module, source)
    # a good plug-in beside the broken one keeps working
    write_distribution(site, "ptplug-fine", "1.0", {"finedev": "ptplug_fine:GoodBackend"},
                       "ptplug_fine", GOOD_MODULE.format(name="finedev"))
    entry_point = next(f"{k} = {v}" for k, v in eps.items())
    messages = rescan()
    assert messages == [f"plugtorch: the backend plug-in '{name}' from distribution ptplug-bad 9.9 "
                        f"(entry point '{entry_point}') failed to load and was skipped ({error}); "
                        "other backends are unaffected"]
    for _ in range(2):   # reported the same way every time, never raised, never forgotten
        status = [e for e in pt.backends.list() if e["origin"] == "ptplug-bad 9.9"]
        assert status == [{"name": name, "origin": "ptplug-bad 9.9", "devices": [],
                           "status": f"failed to load: {error}"}]
        rows = [re.split(r"\s{2,}", line) for line in pt.backends.summary().splitlines()]
        assert [name, "ptplug-bad 9.9", "-", f"failed to load: {error}"] in rows
        assert "finedev" in pt.backends.available()
        assert name == "cpu" or name not in pt.backends.available()
        assert pt.ones(2, device="finedev").sum().item() == 2.0
        assert (pt.ones(2) + 1).tolist() == [2.0, 2.0]             # cpu untouched
        if name != "cpu":
            with pytest.raises(RuntimeError) as info:
                pt.zeros(1, device=name)
            assert str(info.value) == (f"device type '{name}': its backend plug-in from ptplug-bad 9.9 "
                                       f"(entry point '{entry_point}') failed to load: {error}")
            with pytest.raises(RuntimeError, match="failed to load"):
                pt.backends.get_backend(name)


def test_first_use_reports_a_failure_without_listing_first(site):
    write_distribution(site, "ptplug-exit", "0.2", {"exitdev": "ptplug_exit:Backend"}, "ptplug_exit",
                       "raise SystemExit(3)\n")
    importlib.invalidate_caches()
    expected = ("device type 'exitdev': its backend plug-in from ptplug-exit 0.2 (entry point "
                "'exitdev = ptplug_exit:Backend') failed to load: SystemExit: 3")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for _ in range(2):
            with pytest.raises(RuntimeError) as info:
                pt.ones(1, device="exitdev")
            assert str(info.value) == expected
    assert len([x for x in w if "exitdev" in str(x.message)]) == 1   # warned once, reported every time


INTERRUPTED = """
import os
if {always} or not os.path.exists({flag!r}):
    open({flag!r}, "w").close()
    raise {exc}
from ptplug_good_base import GoodBackend
"""


@pytest.mark.parametrize("exc", ["KeyboardInterrupt", "GeneratorExit"])
def test_interrupted_load_is_retried(site, exc):
    """KeyboardInterrupt propagates, and the next call loads the plug-in rather than forget it."""
    (site / "ptplug_good_base.py").write_text(GOOD_MODULE.format(name="intdev"))
    write_distribution(site, "ptplug-int", "1.0", {"intdev": "ptplug_int:GoodBackend"}, "ptplug_int",
                       INTERRUPTED.format(always=False, flag=str(site / "interrupted"), exc=exc))
    importlib.invalidate_caches()
    with pytest.raises(getattr(builtins, exc)):
        pt.backends.list()
    assert pt.ones(2, device="intdev").sum().item() == 2.0            # loaded on the next call
    assert next(e for e in pt.backends.list() if e["name"] == "intdev")["status"] == "ok"


def test_always_interrupted_load_keeps_propagating(site):
    write_distribution(site, "ptplug-int", "1.0", {"intdev": "ptplug_int:GoodBackend"}, "ptplug_int",
                       INTERRUPTED.format(always=True, flag=str(site / "interrupted"),
                                          exc="KeyboardInterrupt"))
    importlib.invalidate_caches()
    for call in (pt.backends.list, pt.backends.summary, pt.backends.available,
                 lambda: pt.backends.get_backend("intdev"), lambda: pt.ones(1, device="intdev")):
        with pytest.raises(KeyboardInterrupt):
            call()


SLOW_MODULE = """
import threading, time
import numpy
from plugtorch.backends import ArrayAPIBackend

CONSTRUCTED = []

class SlowBackend(ArrayAPIBackend):
    def __init__(self):
        time.sleep(0.2)            # a driver that takes a while to start
        CONSTRUCTED.append(threading.get_ident())
        super().__init__(numpy, name="slowdev")
"""


def test_threads_load_a_plugin_once(site):
    write_distribution(site, "ptplug-slow", "1.0", {"slowdev": "ptplug_slow:SlowBackend"},
                       "ptplug_slow", SLOW_MODULE)
    importlib.invalidate_caches()
    start = threading.Barrier(8)
    got, errors = [None] * 8, []

    def worker(i):
        try:
            start.wait()
            if i % 2:
                got[i] = next(e for e in pt.backends.list() if e["name"] == "slowdev")
            else:
                got[i] = pt.backends.get_backend("slowdev")
        except BaseException as e:   # noqa: BLE001  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(sys.modules["ptplug_slow"].CONSTRUCTED) == 1
    be = pt.backends.get_backend("slowdev")
    assert all(g is be for g in got[0::2])
    assert all(g == {"name": "slowdev", "origin": "ptplug-slow 1.0", "devices": ["slowdev:0"],
                     "status": "ok"} for g in got[1::2])
    assert (pt.arange(3.0, device="slowdev") * 2).tolist() == [0.0, 2.0, 4.0]


def test_clash_between_two_plugins(site):
    write_distribution(site, "ptplug-first", "1.0", {"twindev": "ptplug_first:GoodBackend"},
                       "ptplug_first", GOOD_MODULE.format(name="twindev"))
    write_distribution(site, "ptplug-second", "2.0", {"twindev": "ptplug_second:GoodBackend"},
                       "ptplug_second", GOOD_MODULE.format(name="twindev"))
    messages = rescan()
    assert len(messages) == 1
    origins = {pt.backends._ORIGINS["twindev"]}
    loser = ({"ptplug-first 1.0", "ptplug-second 2.0"} - origins).pop()
    assert f"'twindev' from distribution {loser} (entry point 'twindev = " in messages[0]
    assert "failed to load and was skipped" in messages[0]
    assert f"device type 'twindev' clashes with the backend already registered from {origins.pop()}" in messages[0]
    assert pt.ones(1, device="twindev").item() == 1.0


def _run(code, env_extra, site):
    env = dict(os.environ, PYTHONPATH=str(site), **env_extra)
    return subprocess.run([sys.executable, "-W", "always::RuntimeWarning", "-c", code], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("source, error", [
    ("raise ImportError('this plug-in is broken on import')\n", "ImportError: this plug-in is broken on import"),
    ("import sys\nsys.exit(4)\n", "SystemExit: 4"),
], ids=["ImportError", "SystemExit"])
def test_broken_plugin_never_breaks_import(site, source, error):
    write_distribution(site, "ptplug-boom", "0.0.1", {"boomdev": "ptplug_boom:Backend"}, "ptplug_boom", source)
    # import plugtorch scans no entry points and imports no plug-in
    r = _run("import plugtorch as pt, sys; assert 'ptplug_boom' not in sys.modules; "
             "assert pt.backends._plugins._entries is None; "
             "print(pt.ones(2).sum().item()); print([e['status'] for e in pt.backends.list() "
             "if e['name'] == 'boomdev']); print('boomdev' in pt.backends.available()); "
             "print([r for r in pt.backends.summary().splitlines() if r.startswith('boomdev')][0]"
             ".split('  ')[-1].strip())", {}, site)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["2.0", f"['failed to load: {error}']", "False", f"failed to load: {error}"]
    assert ("the backend plug-in 'boomdev' from distribution ptplug-boom 0.0.1 (entry point 'boomdev "
            "= ptplug_boom:Backend') failed to load" in r.stderr)


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
