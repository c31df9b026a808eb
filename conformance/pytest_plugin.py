"""``pytest conformance --backend NAME``: the suite's checks as test items.

One item per backend x entry x dtype, named like ``test_conformance[cpu-add-float32]``;
a failing item shows the first mismatch (check, call with input shapes, max error).
"""
from __future__ import annotations

import pytest

import plugtorch as pt

from . import opdb
from .runner import FAIL, check_entry


def pytest_addoption(parser):
    group = parser.getgroup("plugtorch conformance")
    group.addoption("--backend", action="append", default=None, metavar="NAME",
                    help="backend to check against cpu (repeatable; 'all' for every available one; default cpu)")
    group.addoption("--op", action="append", default=None, metavar="PATTERN", help="only entries matching this glob")
    group.addoption("--max-examples", type=int, default=6, metavar="N", help="drawn samples per entry and dtype")
    group.addoption("--conformance-seed", type=int, default=0, metavar="N", help="seed of the drawn samples")


def _backends(config):
    names = config.getoption("--backend") or ["cpu"]
    return pt.backends.available() if "all" in names else names


def pytest_generate_tests(metafunc):
    if "conformance_case" not in metafunc.fixturenames:
        return
    cfg = metafunc.config
    cases, ids = [], []
    for b in _backends(cfg):
        for e in opdb.select(cfg.getoption("--op")):
            for d in e.dtypes:
                cases.append((b, e, d))
                ids.append(f"{b}-{e.name}-{d.name}")
    metafunc.parametrize("conformance_case", cases, ids=ids)


def test_conformance(conformance_case, request):
    backend, entry, dtype = conformance_case
    cfg = request.config
    res = check_entry(entry, dtype, backend, seed=cfg.getoption("--conformance-seed"),
                      max_examples=cfg.getoption("--max-examples"))
    if res.status == FAIL:
        pytest.fail(f"{backend} {entry.name} {dtype.name}: " + "\n".join(str(f) for f in res.failures),
                    pytrace=False)
