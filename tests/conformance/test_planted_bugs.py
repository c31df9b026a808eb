"""The conformance suite against its planted-bug corpus (tests/conformance/planted/): every bug
must be caught at the default settings, and an honest copy of cpu must pass."""
from __future__ import annotations

import pytest

import plugtorch as pt
from plugtorch import _dtypes
from plugtorch.conformance import FAIL, opdb, run

from .planted import CLASSES, all_bugs, register

BUGS = all_bugs()


def test_corpus_is_large_and_covers_every_class():
    assert len(BUGS) >= 40, len(BUGS)
    assert {b.bug_class for b in BUGS} == set(CLASSES), set(CLASSES) - {b.bug_class for b in BUGS}
    assert len({b.name for b in BUGS}) == len(BUGS), "two bugs share a name"


@pytest.mark.parametrize("bug", BUGS, ids=[b.name for b in BUGS])
def test_planted_bug_is_caught_at_default_settings(bug):
    name = register(bug)
    try:
        dtypes = [_dtypes.to_dtype(d) for d in bug.dtypes] if bug.dtypes else None
        results = run([name], opdb.select([bug.op]), dtypes)    # the defaults: seed 0, max_examples 6
    finally:
        pt.backends.unregister(name)
    assert results, f"no conformance entry named {bug.op}"
    failed = [r for r in results if r.status == FAIL]
    assert failed, f"the suite let '{bug.name}' through on {bug.op}: " + ", ".join(f"{r.dtype} {r.status}" for r in results)
    if bug.check is not None:
        checks = {f.check for r in failed for f in r.failures}
        assert bug.check in checks, f"'{bug.name}' was caught by {checks}, expected by {bug.check!r}"
    for r in failed:
        for f in r.failures:
            assert f.index is not None and f"--sample {f.index}" in f.rerun and f"--op '{bug.op}'" in f.rerun
