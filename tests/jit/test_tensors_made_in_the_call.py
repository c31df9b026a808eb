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
