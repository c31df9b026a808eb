"""Memo caches are bounded: ever new shapes do not grow memory without limit."""
from __future__ import annotations

import gc
import itertools
import tracemalloc

import pytest

import plugtorch as pt
from plugtorch import _caches
from plugtorch._caches import Memo, put
from plugtorch.dispatch.registry import FAST_MAX, OPS

DEVICES = [d for d in ("cpu", "opencl") if d in pt.backends.available()]


def test_memo_drops_its_older_half_when_full():
    m = Memo(8, invalidate=False)
    for i in range(8):
        m[i] = i
    m[3] = 30                     # replacing a key evicts nothing
    assert len(m) == 8
    m[8] = 8
    assert sorted(m) == [4, 5, 6, 7, 8]
    assert m.setdefault(9, 90) == 90 and m.setdefault(9, 0) == 90
    m.update({10: 1, 11: 2, 12: 3})
    assert len(m) <= 8 and m[12] == 3


def test_put_bounds_a_plain_dict_like_a_memo():
    d = {}
    for i in range(9):
        put(d, i, i, 8)
    assert sorted(d) == [4, 5, 6, 7, 8]


def test_invalidate_forgets_the_dispatchers_memo():
    pt.ones(2) + pt.ones(2)
    assert OPS["add"].fast
    _caches.invalidate()
    assert not OPS["add"].fast


def test_invalidate_clears_the_registered_memos_only():
    kept, cleared = Memo(4, invalidate=False), Memo(4)
    kept[1] = cleared[1] = 1
    calls = []
    _caches.on_invalidate(lambda: calls.append(1))
    try:
        _caches.invalidate()
    finally:
        _caches._CALLBACKS.pop()
    assert kept == {1: 1} and cleared == {} and calls == [1]


def test_set_default_dtype_forgets_memoised_promotions():
    x = pt.arange(3)
    assert (x * 0.5).dtype is pt.float32       # memoised: int tensor * float -> default dtype
    pt.set_default_dtype(pt.float64)
    try:
        assert (x * 0.5).dtype is pt.float64
    finally:
        pt.set_default_dtype(pt.float32)
    assert (x * 0.5).dtype is pt.float32


def _calls_with_shape(i, device):
    # a 0-row or 0-column operand: distinct shapes at the price of empty kernels. The calls
    # reach the dispatcher's memo (op.fast), the broadcast, reduction and view memos, and,
    # every tenth shape, autograd's
    a = pt.empty((i, 0) if i % 2 else (0, i), device=device)
    (a + 1).sum(0)
    a.t()
    if i % 10 == 0:
        w = a.requires_grad_()
        (w * 3).sum().backward()


def _memo_entries():
    return sum(len(m) for m in _caches.memos()) + sum(len(op.fast) for op in OPS.values())


@pytest.mark.parametrize("device", DEVICES)
def test_memos_stay_bounded_over_25000_distinct_shapes(device):
    # (6x the largest memo's 4,096 entries: every memo fills and turns over several times)
    for i in range(1, 25_001):
        _calls_with_shape(i, device)
        if i == 12_500:
            at_half = _memo_entries()
    assert all(len(m) <= m.maxsize for m in _caches.memos())
    assert all(len(op.fast) <= FAST_MAX for op in OPS.values())
    # full memos only churn (each drops its older half when full): no more entries at the end
    # than half-way, where unbounded ones held one more entry per shape and per op
    assert _memo_entries() <= at_half + 4096


def test_memory_stays_flat_over_distinct_shapes():
    shapes = iter(range(1, 60_001))
    for i in itertools.islice(shapes, 20_000):      # fills every memo these calls use
        _calls_with_shape(i, "cpu")
    # tracemalloc sees only what is allocated while it traces: the next 20,000 shapes turn
    # every memo over (none holds more than 4,096 entries), so from then on it sees them whole
    tracemalloc.start()
    try:
        for i in itertools.islice(shapes, 20_000):
            _calls_with_shape(i, "cpu")
        gc.collect()
        at_40k = tracemalloc.get_traced_memory()[0]
        for i in shapes:
            _calls_with_shape(i, "cpu")
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - at_40k
    finally:
        tracemalloc.stop()
    # unbounded, the memos kept about 600 bytes per new shape (12 MB for these 20,000); full
    # ones only churn, by a few hundred kilobytes
    assert grown < 1_000_000, f"{grown} bytes retained over 20,000 more distinct shapes"
