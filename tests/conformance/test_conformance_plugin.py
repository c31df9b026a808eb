"""``--plugin module:attribute`` (the command, ``python -m plugtorch.conformance`` and the pytest
plugin from an installed plugtorch, outside the checkout), and ``--sample N`` reproducing a failure."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap

import pytest

import plugtorch as pt
from plugtorch.conformance import cli, plugin_spec
from plugtorch.conformance.plugin_spec import PluginSpecError

# a backend written as an author would: cpu's kernels on a private device, neg wrong for more
# than 3 elements (so the failing sample is not the first one)
PLUGIN = textwrap.dedent('''
    import numpy as np
    from plugtorch.backends.cpu import CPUBackend

    class TinyBackend(CPUBackend):
        name = "{name}"

        def __init__(self):
            super().__init__()
            neg = self.kernels["neg"]
            self.kernels = dict(self.kernels, neg=lambda x, dtype: neg(x, dtype) if x.size <= 3 else
                                np.abs(neg(x, dtype)))

        def from_numpy(self, array, index=None):
            return np.array(array, copy=True)

    def make():
        return TinyBackend()

    INSTANCE = TinyBackend()
    NOT_A_BACKEND = 3
    def gives_a_string():
        return "mydev"
''')


@pytest.fixture
def plugin_module(tmp_path, monkeypatch):
    """Writes a plug-in module to tmp_path (importable); unregisters what the test registered."""
    made = []

    def write(module, name, text=None):
        (tmp_path / f"{module}.py").write_text(PLUGIN.format(name=name) if text is None else text)
        made.append(name)
        return module
    monkeypatch.syspath_prepend(str(tmp_path))
    yield write
    for name in set(made) | set(plugin_spec.LOADED):
        if name in pt.backends._BACKENDS and name != "cpu":
            pt.backends.unregister(name)
    plugin_spec.LOADED.clear()


@pytest.mark.parametrize("attr", ["TinyBackend", "make", "INSTANCE"])
def test_plugin_names_a_class_a_factory_or_an_instance(plugin_module, attr):
    mod = plugin_module(f"plug_{attr.lower()}", f"plug{attr.lower()}")
    assert plugin_spec.load(f"{mod}:{attr}") == f"plug{attr.lower()}"
    assert plugin_spec.load(f"{mod}:{attr}") == f"plug{attr.lower()}"     # once per process
    x = pt.tensor([1.0, -2.0], device=f"plug{attr.lower()}")
    assert (-x).tolist() == [-1.0, 2.0]


def test_plugin_device_type_from_the_spec_or_the_module(plugin_module):
    mod = plugin_module("plug_named", "cpu")            # keeps the built-in's name: not usable as is
    assert plugin_spec.load(f"{mod}:TinyBackend") == "plug_named"
    assert plugin_spec.load(f"other={mod}:make") == "other"
    pt.backends.unregister("other")


@pytest.mark.parametrize("spec, match", [
    ("plug_x.TinyBackend", r"--plugin plug_x\.TinyBackend: no colon; expected module:attribute"),
    ("plug_x:", r"--plugin plug_x:: not a dotted module path and attribute"),
    ("no_such_module_zz:B", r"--plugin no_such_module_zz:B: module 'no_such_module_zz' cannot be imported: "
                            r"ModuleNotFoundError: No module named 'no_such_module_zz'"),
    ("plug_broken:B", r"--plugin plug_broken:B: module 'plug_broken' cannot be imported: ModuleNotFoundError: "
                      r"No module named 'a_dependency_zz'\n  File .*plug_broken\.py\", line 2"),
    ("plug_x:Missing", r"--plugin plug_x:Missing: 'plug_x' has no attribute 'Missing'"),
    ("plug_x:NOT_A_BACKEND", r"'plug_x\.NOT_A_BACKEND' is a int, not a plugtorch Backend subclass, instance or factory"),
    ("plug_x:gives_a_string", r"'plug_x\.gives_a_string\(\)' gave a str, not a plugtorch Backend"),
    ("cpu=plug_x:make", r"cannot register it as device type 'cpu': .*reserved for plugtorch's built-in backend"),
])
def test_bad_plugin_specs_say_what_is_wrong(plugin_module, spec, match):
    plugin_module("plug_x", "plugx")
    plugin_module("plug_broken", "-", text="# a plug-in whose own import fails\nimport a_dependency_zz\n")
    with pytest.raises(PluginSpecError, match=match):
        plugin_spec.load(spec)


def test_bad_plugin_spec_is_a_usage_error_of_the_command(plugin_module, capsys):
    for spec, msg in (("nocolon", "--plugin nocolon: no colon"),
                      ("no_such_module_zz:B", "No module named 'no_such_module_zz'")):
        with pytest.raises(SystemExit) as e:
            cli.main(["--plugin", spec, "--op", "neg"])
        assert e.value.code == 2
        assert msg in capsys.readouterr().err


def _env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "PLUGTORCH", "PYTHON"))}
    return dict(env, PYTHONPATH=str(tmp_path))


def test_plugin_from_an_installed_plugtorch_pytest_command_and_sample_rerun(tmp_path):
    """Outside the checkout (cwd tmp_path, where no ``conformance`` folder is importable): the pytest
    plugin with --plugin finds the failure and prints a rerun command; ``python -m
    plugtorch.conformance`` with that --sample N reproduces exactly that failure."""
    (tmp_path / "tinyplug.py").write_text(PLUGIN.format(name="tinydev"))
    env = _env(tmp_path)
    probe = subprocess.run([sys.executable, "-c", "import conformance"], cwd=tmp_path, env=env, capture_output=True)
    assert probe.returncode != 0                         # only plugtorch.conformance is installed
    p = subprocess.run([sys.executable, "-m", "pytest", "-p", "plugtorch.conformance.pytest_plugin", "--pyargs",
                        "plugtorch.conformance", "--plugin", "tinyplug:TinyBackend", "--op", "neg,exp",
                        "--dtype", "float32", "--max-examples", "1", "-p", "no:cacheprovider", "-q"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    out = p.stdout + p.stderr
    assert p.returncode == 1, out
    assert "1 failed, 1 passed" in out and "test_conformance[tinydev-neg-float32]" in out
    rerun = re.search(r"rerun: (plugtorch-conformance --plugin tinyplug:TinyBackend --backend tinydev --op 'neg' "
                      r"--dtype float32 --sample (\d+) --max-examples 1)", out)
    assert rerun, out
    assert re.search(r"suspect kernels on tinydev .*\n  neg +its own entry FAILS +takes down 1: neg", out), out
    index = int(rerun[2])
    assert index > 0                                      # the bug needs more than 3 elements
    first = re.search(rf"sample {index}, (\w+)", out)[1]
    q = subprocess.run([sys.executable, "-m", "plugtorch.conformance", *shlex.split(rerun[1])[1:]],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert q.returncode == 1, q.stdout + q.stderr
    assert f"sample {index}, {first}" in q.stdout and "1 FAILED" in q.stdout
    assert "rerun: " + rerun[1] in q.stdout


def test_pytest_plugin_usage_errors(tmp_path):
    env = _env(tmp_path)
    for args, msg in ((["--plugin", "nocolon"], "--plugin nocolon: no colon"),
                      (["--backend", "nosuchdev"], "--backend nosuchdev: no such backend"),
                      (["--dtype", "float8"], "--dtype float8: unknown dtype")):
        p = subprocess.run([sys.executable, "-m", "pytest", "-p", "plugtorch.conformance.pytest_plugin", "--pyargs",
                            "plugtorch.conformance", "--op", "neg", *args, "-p", "no:cacheprovider", "-q"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert p.returncode == 4 and msg in p.stdout + p.stderr, p.stdout + p.stderr
