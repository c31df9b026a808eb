"""fork_rng inside a compiled function: the block's draws and seeds are undone at its end, to the
generators' state at each call; a replay restoring the state of the traced call would repeat
the same numbers after it at every call. Compared with the eager sequence (same seed)."""
import numpy as np

import plugtorch as pt


def _f(x):
    with pt.random.fork_rng():
        pt.manual_seed(1)
        a = pt.rand(2)
    return x + a + pt.rand(2)


def _calls(fn, n=4):
    pt.manual_seed(0)
    out = [fn(pt.zeros(2)).numpy().copy() for _ in range(n)]
    return out, pt.rand(2).numpy().copy()


def test_fork_rng_with_draws_runs_as_eager():
    want, after = _calls(_f)
    assert not np.array_equal(want[1], want[2])     # (the draw after the block moves on each call)
    got, got_after = _calls(pt.compile(_f))
    for k, (w, g) in enumerate(zip(want, got)):
        np.testing.assert_array_equal(g, w, err_msg=f"call {k}")   # (the replay repeated call 1's)
    np.testing.assert_array_equal(got_after, after)
    assert any("set_state" in r for r in pt.compiler.stats()["reasons"])


def test_fork_rng_around_deterministic_ops_still_compiles():
    def f(x):
        with pt.random.fork_rng():
            y = x * 2
        return y + pt.rand(2)
    want, after = _calls(f)
    got, got_after = _calls(pt.compile(f))
    for w, g in zip(want, got):
        np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(got_after, after)
    assert pt.compiler.stats()["compiled_calls"] == 3
