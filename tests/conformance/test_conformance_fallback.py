"""The conformance suite and the cpu fallback: an entry (a module, a composite op, a backward)
that needed an op through the fallback is reported "via fallback" with the ops that fell back,
never "ok"; a missing view kernel fails its entry with the dispatcher's one clear error."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.backends.cpu import CPUBackend
from plugtorch.conformance import FAIL, PASS, VIA_FALLBACK, opdb, report, run
from plugtorch.dispatch import dispatcher


class Missing(CPUBackend):
    """cpu's kernels on a private 'device', some missing."""

    def __init__(self, drop=()):
        super().__init__()
        self.kernels = {k: v for k, v in self.kernels.items() if k not in drop}

    def from_numpy(self, array, index=None):
        return np.array(array, copy=True)


@pytest.fixture
def missing():
    names = []

    def make(drop):
        names.append(f"fbdev{len(names)}")
        pt.backends.register(Missing(drop), name=names[-1])
        return names[-1]
    pt.set_cpu_fallback(True)
    yield make
    pt.set_cpu_fallback(None)
    for n in names:
        pt.backends.unregister(n)
    dispatcher.invalidate_caches()


def test_a_module_that_used_a_fallback_op_is_via_fallback(missing):
    name = missing(drop=("tanh",))
    (mod, op) = run([name], [opdb.get("nn.Tanh"), opdb.get("neg")], dtypes=[pt.float32], max_examples=1)
    assert mod.op == "nn.Tanh" and mod.status == VIA_FALLBACK and mod.fallbacks == ["tanh"]
    assert op.status == PASS and op.fallbacks == []
    table = report.table([mod, op])
    assert re.search(r"^nn\.Tanh +fallbk$", table, re.M) and re.search(r"^neg +ok$", table, re.M)
    doc = json.loads(report.to_json([mod, op]))
    assert [(r["op"], r["status"], r["fallbacks"]) for r in doc["results"]] == [
        ("nn.Tanh", "via fallback", ["tanh"]), ("neg", "pass", [])]


def test_with_the_kernel_the_module_is_ok(missing):
    name = missing(drop=())
    (mod,) = run([name], [opdb.get("nn.Tanh")], dtypes=[pt.float32], max_examples=1)
    assert mod.status == PASS and mod.fallbacks == []


def test_a_missing_view_kernel_fails_the_entry_with_the_dispatchers_error(missing):
    name = missing(drop=("permute",))
    (r,) = run([name], [opdb.get("permute")], dtypes=[pt.float32], max_examples=1)
    assert r.status == FAIL and r.fallbacks == []
    f = r.failures[0]
    assert f.check == "forward" and "NotImplementedError: The view operator 'permute' is not implemented for the " \
        f"'{name}' backend, and views cannot run through the cpu fallback" in f.message


def test_a_decomposition_keeps_its_status_and_records_the_fallbacks(missing):
    name = missing(drop=("exp",))
    (r,) = run([name], [opdb.get("softmax")], dtypes=[pt.float32], max_examples=1)
    assert r.status == "via decomposition" and r.fallbacks == ["exp"]
