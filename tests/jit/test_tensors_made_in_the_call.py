"""A tensor a compiled call makes from host data (``plugtorch.tensor(...)``: no op makes it, so
the graph captures it) and then writes in place is made afresh by each eager call; a replay would
write into the one captured tensor again and again. Such a trace is not replayed: the call is
traced again (state the first call made is there at the next trace), and runs eagerly once it
still makes one after three traces."""
import numpy as np
import pytest

import plugtorch as pt


def _counts_from_zero(x):
    s = pt.tensor(0.0)
    s.add_(1.0)
    return x + s


def _updates_a_fresh_buffer(g):
    s = pt.tensor([0.0, 0.0])
    pt.ops._fused_sgd_([s], [g], [], 1.0, 0.0, 0.0, 0.0, False, False)
    return s


@pytest.mark.parametrize("fn, expected", [(_counts_from_zero, [2.0, 2.0]), (_updates_a_fresh_buffer, [-1.0, -1.0])])
def test_a_tensor_made_in_the_call_and_written_is_made_afresh_each_call(fn, expected):
    # x + (0 + 1) = [2, 2] and 0 - 1 * g = [-1, -1] at every call, as eager; the replays gave
    # [3, 3], [4, 4], [5, 5] and [-2, -2], [-3, -3], [-4, -4] (the captured tensor kept the writes)
    pt.compiler.reset()
    c = pt.compile(fn)
    for _ in range(4):
        np.testing.assert_array_equal(c(pt.ones(2)).numpy(), expected)
    st = pt.compiler.stats()
    assert st["compiled_calls"] == 0 and st["eager_calls"] == 1, st
    assert any(r.startswith("eager") and "made from host data" in r for r in st["reasons"]), st["reasons"]
    with pytest.warns(pt.jit.TracerWarning, match="made from host data.*factory op"):
        pt.jit.trace(fn, (pt.ones(2),), check_trace=False)


def test_a_counter_kept_outside_the_call_still_compiles_and_counts():
    # the same write into a tensor the caller keeps (a closure's): state the replays carry on,
    # as eager does: x + 1, x + 2, ...
    count = pt.tensor(0.0)

    def step(x):
        count.add_(1.0)
        return x + count
    pt.compiler.reset()
    c = pt.compile(step)
    for k in range(1, 5):
        np.testing.assert_array_equal(c(pt.ones(2)).numpy(), [1.0 + k] * 2)
    st = pt.compiler.stats()
    assert st["graph_breaks"] == 0 and st["compiled_calls"] == 3


def test_state_made_from_host_data_on_the_first_call_compiles_from_the_next():
    # a counter the first call makes and keeps, then increments: the second call traces again
    # (the counter is there now, captured as state) and the replays carry on counting, as eager
    class Counter:
        count = None

        def __call__(self, x):
            if self.count is None:
                self.count = pt.tensor(0.0)
            self.count.add_(1.0)
            return x + self.count
    pt.compiler.reset()
    c = pt.compile(Counter())
    for k in range(1, 6):
        np.testing.assert_array_equal(c(pt.ones(2)).numpy(), [1.0 + k] * 2)
    st = pt.compiler.stats()
    assert st["traced_calls"] == 2 and st["compiled_calls"] == 3, st


def test_a_tensor_made_in_the_call_and_only_read_still_compiles():
    def scale(x):
        return x * pt.tensor([2.0, 3.0])
    pt.compiler.reset()
    c = pt.compile(scale)
    for _ in range(3):
        np.testing.assert_array_equal(c(pt.ones(2)).numpy(), [2.0, 3.0])
    assert pt.compiler.stats()["graph_breaks"] == 0 and pt.compiler.stats()["compiled_calls"] == 2


def _counts_from_a_fresh_array(x):
    t = pt.from_numpy(np.zeros(2, np.float32))
    t.add_(1.0)
    return x + t


def _counts_from_as_tensor(x):
    t = pt.as_tensor(np.zeros(2, np.float32))
    t.add_(1.0)
    return x + t


@pytest.mark.parametrize("fn", [_counts_from_a_fresh_array, _counts_from_as_tensor])
def test_a_tensor_made_by_from_numpy_in_the_call_and_written_is_made_afresh(fn):
    # x + (0 + 1) = [2, 2] at every call; from_numpy (and as_tensor of an array, through it) did
    # not tell the tracer, and the replays gave [3, 3], [4, 4], [5, 5]
    pt.compiler.reset()
    c = pt.compile(fn)
    for _ in range(4):
        np.testing.assert_array_equal(c(pt.ones(2)).numpy(), [2.0, 2.0])
    assert pt.compiler.stats()["compiled_calls"] == 0


def _returns_a_fresh_tensor(x):
    return x + 0.0, pt.tensor([1.0, 2.0])


def _returns_a_fresh_array(x):
    return x + 0.0, pt.from_numpy(np.array([1.0, 2.0], np.float32))


@pytest.mark.parametrize("fn", [_returns_a_fresh_tensor, _returns_a_fresh_array])
def test_a_tensor_made_in_the_call_and_returned_is_new_at_each_call(fn):
    # the caller adds 10 into the returned tensor; eager returns [1, 2] again at each call, the
    # replays returned the one captured tensor: [11, 12], [21, 22], [31, 32]
    pt.compiler.reset()
    c = pt.compile(fn)
    for _ in range(4):
        _, t = c(pt.ones(2))
        np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])
        t.add_(10.0)
    st = pt.compiler.stats()
    assert st["compiled_calls"] == 0 and any("returns a tensor it made from host data" in r for r in st["reasons"])
    with pytest.warns(pt.jit.TracerWarning, match="returns a tensor it made from host data"):
        pt.jit.trace(fn, (pt.ones(2),), check_trace=False)


_ARR = np.ones(2, np.float32)
_CFG = {"mask": np.ones(2, np.float32)}


def _scales_by_a_copy(x):
    return x * pt.tensor(_ARR)


def _scales_by_a_computed_copy(x):
    return x * pt.tensor(_ARR * 2)


def _scales_by_an_item(x):
    return x * pt.from_numpy(_CFG["mask"])


@pytest.mark.parametrize("fn, change, factor", [
    (_scales_by_a_copy, lambda k: _ARR.__setitem__(slice(None), [k, 3 * k]), 1),
    (_scales_by_a_computed_copy, lambda k: _ARR.__setitem__(slice(None), [k, 3 * k]), 2),
    (_scales_by_an_item, lambda k: _CFG.__setitem__("mask", np.array([k, 3 * k], np.float32)), 1)])
def test_a_tensor_made_from_a_numpy_array_the_program_changes_follows_it(fn, change, factor):
    # the array changed in place (or a dict's array rebound) between calls: eager gives x * [k, 3k]
    # (times 2); the replays gave the traced [1, 1] (times 2) at every call
    pt.compiler.reset()
    c = pt.compile(fn)
    try:
        for k in range(1, 6):
            change(float(k))
            np.testing.assert_array_equal(c(pt.ones(2)).numpy(), [factor * k, factor * 3 * k])
    finally:
        _ARR[:] = 1.0
        _CFG["mask"] = np.ones(2, np.float32)
    # the same values again: the call compiles
    pt.compiler.reset()
    c = pt.compile(fn)
    for _ in range(3):
        np.testing.assert_array_equal(c(pt.ones(2)).numpy(), [factor, factor])
    assert pt.compiler.stats()["compiled_calls"] == 2
