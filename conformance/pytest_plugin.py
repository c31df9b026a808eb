"""The conformance checks as pytest items, with the options of ``plugtorch-conformance``.

From an installed plugtorch, anywhere (the plugin must be loaded before pytest parses its
options, hence ``-p``)::

    pytest -p plugtorch.conformance.pytest_plugin --pyargs plugtorch.conformance --backend mydev
    pytest -p plugtorch.conformance.pytest_plugin --pyargs plugtorch.conformance \\
        --plugin mypkg.backend:MyBackend --op 'log*' --dtype float32 --max-examples 2

From a plugtorch checkout, ``pytest conformance --backend mydev`` (the folder's conftest.py loads
this plugin). One item per backend x entry x dtype, named like ``test_conformance[cpu-add-float32]``;
a failing item shows the first mismatch and the command that reruns that sample. ``--jit`` adds
an item ``test_conformance[cpu-jit-add-float32]`` beside each (jit_mode.py: traced and compiled
replays against eager on the backend); a graph break skips it, naming the reason.
"""
from __future__ import annotations

import pytest

import plugtorch as pt
from plugtorch import _dtypes

from . import opdb, plugin_spec, suspects
from .runner import FAIL, GRAPH_BREAK, check_entry

_CASES = pytest.StashKey[list]()         # (backend, entry, dtype) of every item
_RESULTS = pytest.StashKey[list]()       # every item's Result, for the suspect kernels at the end


def pytest_addoption(parser):
    group = parser.getgroup("plugtorch conformance")
    group.addoption("--backend", action="append", default=None, metavar="NAME",
                    help="backend to check against cpu (repeatable, or commas; 'all' for every available one; "
                         "default: the --plugin backends if any, else cpu)")
    group.addoption("--plugin", action="append", default=None, metavar="[NAME=]MODULE:ATTR",
                    help="register a backend no entry point installs (a Backend subclass, instance or factory)")
    group.addoption("--op", action="append", default=None, metavar="PATTERN",
                    help="only entries matching this glob (repeatable, or commas)")
    group.addoption("--dtype", action="append", default=None, metavar="NAME",
                    help="only this dtype (repeatable, or commas)")
    group.addoption("--max-examples", type=int, default=6, metavar="N", help="drawn samples per entry and dtype")
    group.addoption("--conformance-seed", type=int, default=0, metavar="N",
                    help="seed of the drawn samples (plugtorch-conformance's --seed)")
    group.addoption("--sample", type=int, default=None, metavar="N",
                    help="only the N-th sample of each entry and dtype (the number a failure prints)")
    group.addoption("--jit", action="store_true", default=False,
                    help="also trace and compile every sample and compare the replays with eager on the backend")


def _split(values):
    return [v for arg in values or () for v in arg.split(",") if v]


def _option(config, name, default=None):
    # (the options are missing when this plugin was registered after pytest parsed the command
    # line: `pytest --pyargs plugtorch.conformance` without -p runs the defaults)
    return config.getoption(name, default)


def pytest_configure(config):
    """Check the options (a bad one is a usage error, exit status 4) and pick the cases."""
    try:
        plugins = [plugin_spec.load(s) for s in _split(_option(config, "--plugin"))]
    except plugin_spec.PluginSpecError as e:
        raise pytest.UsageError(str(e)) from None
    patterns = _split(_option(config, "--op"))
    entries = opdb.select(patterns)
    if patterns and not entries:
        raise pytest.UsageError(f"--op {','.join(patterns)}: no entry matches (plugtorch-conformance --list "
                                "lists them)")
    dtypes = []
    for name in _split(_option(config, "--dtype")):
        try:
            dtypes.append(_dtypes.to_dtype(name))
        except Exception:
            raise pytest.UsageError(f"--dtype {name}: unknown dtype (choose from "
                                    f"{', '.join(d.name for d in _dtypes.all_dtypes)})") from None
    if (_option(config, "--sample") or 0) < 0 or _option(config, "--max-examples", 6) < 0:
        raise pytest.UsageError("--sample and --max-examples must be >= 0")
    config.stash[_RESULTS] = []
    modes = ("eager", "jit") if _option(config, "--jit", False) else ("eager",)
    config.stash[_CASES] = [(b, e, d, m) for b in _backends(_split(_option(config, "--backend")) or plugins or ["cpu"])
                            for e in entries for d in e.dtypes if not dtypes or d in dtypes for m in modes]


def _backends(names):
    if "all" in names:
        return pt.backends.available()
    for n in names:
        if not pt.backends.is_registered(n):
            raise pytest.UsageError(f"--backend {n}: no such backend (known: "
                                    f"{', '.join(b['name'] for b in pt.backends.list())}; "
                                    "a backend no entry point installs needs --plugin module:attribute)")
    return names


def pytest_generate_tests(metafunc):
    if "conformance_case" in metafunc.fixturenames:
        cases = metafunc.config.stash[_CASES]
        metafunc.parametrize("conformance_case", cases, ids=[f"{b}-{'' if m == 'eager' else m + '-'}{e.name}-{d.name}"
                                                             for b, e, d, m in cases])


def test_conformance(conformance_case, request):
    backend, entry, dtype, mode = conformance_case
    cfg = request.config
    check = check_entry
    if mode == "jit":
        from .jit_mode import check_entry_jit as check
    res = check(entry, dtype, backend, seed=_option(cfg, "--conformance-seed", 0),
                max_examples=_option(cfg, "--max-examples", 6), sample=_option(cfg, "--sample"))
    cfg.stash[_RESULTS].append(res)
    if res.status == FAIL:
        for f in res.failures:
            f.rerun = plugin_spec.rerun_command(f.rerun, backend) if f.rerun else f.rerun
        pytest.fail(f"{backend} {entry.name} {dtype.name}: " + "\n".join(str(f) for f in res.failures),
                    pytrace=False)
    if res.status == GRAPH_BREAK:
        pytest.skip(f"graph break in {len(res.breaks)} samples: {res.breaks[0][1]} (sample {res.breaks[0][0]})")


def pytest_terminal_summary(terminalreporter, config):
    """After the items: the kernels to suspect, the one taking down most failing entries first."""
    brief = suspects.brief(config.stash.get(_RESULTS, []))
    if brief:
        terminalreporter.write_sep("=", "plugtorch conformance: suspect kernels")
        terminalreporter.write_line(brief)
