"""The always-present samples of reductions, sorting and the softmax family (conformance/opdb/
hard.py): present at every seed, full of ties where ties matter, hard where numerics are, and
enough on their own to catch the bugs they are for."""
from __future__ import annotations

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.conformance import FAIL, opdb, run
from plugtorch.conformance.entry import FLOAT_DTYPES, Entry
from plugtorch.conformance.opdb import reductions
from plugtorch.conformance.opdb.hard import hard_rows
from plugtorch.conformance.samples import SampleContext

from .planted import Bug, register

HARD = ["sum", "mean", "var", "std", "vector_norm", "norm", "cumsum", "cumprod", "amax", "amin", "logsumexp",
        "softmax", "log_softmax"]
TIES = ["sort", "argsort", "topk", "kthvalue", "mode"]


def _samples(op, dtype, seed, max_examples=6):
    return list(opdb.get(op).samples(SampleContext(dtype, seed=seed, max_examples=max_examples, key=op)))


@pytest.mark.parametrize("op", HARD)
def test_hard_rows_are_there_at_every_seed_and_budget(op):
    for seed, n in ((0, 6), (1, 0), (12345, 2)):
        for dtype in (pt.float16, pt.bfloat16, pt.float32, pt.float64):
            names = {s.name for s in _samples(op, dtype, seed, n)}
            assert {"hard: large", "hard: infinities", "hard: tiny"} <= {m.split(",")[0] for m in names}, names
            if dtype is pt.float16 or op in ("amax", "amin", "logsumexp", "softmax", "log_softmax"):
                assert any(m.startswith("hard: near overflow") for m in names), names


def test_hard_rows_are_hard():
    for dtype in (pt.float16, pt.bfloat16, pt.float32, pt.float64):
        rows = {k: v.astype(np.float64) for k, v in hard_rows(dtype).items()}
        big = float(np.finfo(np.float16).max) if dtype is pt.float16 else 1e38
        assert np.abs(rows["near overflow"]).max() >= 0.75 * big
        assert (rows["near overflow"][1] == rows["near overflow"][1][0]).all()           # an equal row
        with np.errstate(over="ignore"):
            # exp of every row's largest magnitude overflows (a row of -100 underflows to a zero sum)
            e = np.exp(np.abs(rows["large"]).max(axis=1)).astype(np.float32 if dtype is not pt.float64 else np.float64)
            assert np.isinf(e).all()
        tiny = rows["tiny"][np.isfinite(rows["tiny"]) & (rows["tiny"] != 0)]
        normal = {pt.float16: 6.1e-5, pt.bfloat16: 1.17e-38, pt.float32: 1.17e-38, pt.float64: 2.2e-308}[dtype]
        assert (np.abs(tiny) < normal).any()                                           # subnormals
        inf = rows["infinities"]
        assert np.isneginf(inf).all(axis=1).any() and np.isposinf(inf).all(axis=1).any() and np.isnan(inf).any()


@pytest.mark.parametrize("op", TIES)
@pytest.mark.parametrize("dtype", [pt.uint8, pt.int64, pt.float16, pt.float32])
def test_tie_rows_are_there_at_every_seed_and_full_of_ties(op, dtype):
    for seed, n in ((0, 6), (7, 0)):
        ties = [s for s in _samples(op, dtype, seed, n) if s.name.startswith("ties") and "unstable" not in s.name]
        assert len(ties) >= 7, [s.name for s in _samples(op, dtype, seed, n)]
        dims = set()
        for s in ties:
            x = s.args[0]
            dim = s.args[2 if op in ("topk", "kthvalue") else 1] % len(x.shape)
            dims.add((len(x.shape), dim))
            rows = np.moveaxis(x.logical(), dim, -1).reshape(-1, x.shape[dim]).astype(np.float64)
            assert all(len(np.unique(r)) < len(r) for r in rows if len(r) > 3), "a row without ties"
        assert {(2, 0), (2, 1), (3, 0), (3, 1), (3, 2), (1, 0)} <= dims
        if dtype.is_floating_point and op != "mode":   # nan, both infinities and both zeros among the ties
            allv = np.concatenate([s.args[0].values.astype(np.float64).ravel() for s in ties])
            assert np.isnan(allv).any() and np.isposinf(allv).any() and np.isneginf(allv).any()
            assert (np.signbit(allv) & (allv == 0)).any() and (~np.signbit(allv) & (allv == 0)).any()
    if op in ("sort", "argsort"):
        kinds = {(s.args[2], s.kwargs.get("stable")) for s in _samples(op, dtype, 0) if s.name.startswith("ties, stable")}
        assert kinds == {(False, True), (True, True)}


def _log_softmax_without_max(cpu):
    def log_softmax(x, dim, dtype):
        s = x.astype(np.float32 if x.dtype.itemsize < 4 else x.dtype)
        with np.errstate(over="ignore", invalid="ignore"):
            return np.asarray((s - np.log(np.exp(s).sum(axis=dim, keepdims=True))).astype(dtype.numpy))
    return log_softmax


def test_a_log_softmax_that_overflows_fails_at_seed_0_on_the_hard_rows_alone():
    """The issue's requirement, whatever the draws: the hard rows catch it in every dtype."""
    name = register(Bug("no max", "hard numerics", "log_softmax", {"log_softmax": _log_softmax_without_max}))
    try:
        only_hard = Entry("log_softmax", samples=reductions.hard(themes=("large",)), dtypes=FLOAT_DTYPES)
        results = run([name], [only_hard])
        everything = run([name], opdb.select(["log_softmax"]))
    finally:
        pt.backends.unregister(name)
    assert [r.status for r in results] == [FAIL] * 4
    assert [r.status for r in everything] == [FAIL] * 4
    for r in results:
        assert "hard: large" in r.failures[0].sample


def test_stable_sort_compares_indices_exactly_and_unstable_sort_any_order():
    """A sort that reverses equal values passes the unstable samples and fails the stable ones."""
    def sort(cpu):
        def k(x, dim, descending):
            v, i = cpu(x, dim, descending)
            if x.ndim == 0 or x.size == 0:
                return v, i
            n = x.shape[dim]
            # equal values in reverse input order: sort by (value, -index), still a valid sort
            keys = np.moveaxis(x.astype(np.float64), dim, -1)
            idx = np.lexsort((-np.arange(n) * np.ones_like(keys), -keys if descending else keys), axis=-1)
            if keys.dtype.kind == "f" and np.isnan(keys).any():
                return v, i
            idx = np.moveaxis(idx, -1, dim).astype(np.int64)
            return np.take_along_axis(x, idx, axis=dim), idx
        return k
    name = register(Bug("reverse ties", "ties", "sort", {"sort": sort}))
    try:
        results = run([name], opdb.select(["sort"]), [pt.int64])
    finally:
        pt.backends.unregister(name)
    failures = results[0].failures
    assert results[0].status == FAIL
    assert {f.sample.split("[")[-1].split(",")[0] for f in failures} == {"ties"}, [f.sample for f in failures]
    assert all("stable" in f.sample and "unstable" not in f.sample for f in failures)
    assert "a stable sort keeps equal values in their input order" in failures[0].message
