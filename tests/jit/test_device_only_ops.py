"""Ops whose arguments used to be read back to the host (a sync in eager, a graph break under
compile) and now compute on the device: compile builds one graph with no break, and its replays
on new inputs equal eager."""
import numpy as np

import plugtorch as pt
import plugtorch.nn.functional as F

RNG = np.random.default_rng(3)


def _one_graph(fn, first, *later):
    c = pt.compile(fn, fullgraph=True)                  # fullgraph: a break would raise
    for args in (first,) + later:
        got, want = c(*args), fn(*args)
        np.testing.assert_array_equal(got.detach().cpu().numpy(), want.detach().cpu().numpy())
    assert c.counters == {"graphs": 1, "graph_breaks": 0, "recompiles": 0}
    ex = pt.compiler.explain(fn, *first)
    assert ex.graph_count == 1 and ex.graph_break_count == 0


def test_embedding_bag_with_offsets_is_one_graph(dev):
    w = pt.tensor(RNG.standard_normal((9, 4)), dtype=pt.float32, device=dev)

    def args():                                          # new bags each call, same shapes
        cuts = np.sort(RNG.integers(0, 12, 4))
        cuts[0] = 0
        return (pt.tensor(RNG.integers(0, 9, 12), device=dev), pt.tensor(cuts, device=dev))
    for mode in ("sum", "mean", "max"):
        _one_graph(lambda x, off: F.embedding_bag(x, w, off, mode=mode, padding_idx=1), args(), args(), args())


def test_histc_of_the_data_range_is_one_graph(dev):
    def args():
        return (pt.tensor(RNG.standard_normal(50) * RNG.uniform(0.1, 10), dtype=pt.float32, device=dev),)
    _one_graph(lambda x: pt.histc(x, bins=7), args(), args(), (pt.full((50,), 3.0, device=dev),))


def test_matrix_exp_is_one_graph_with_the_squarings_eager_picks(dev):
    """Traced, the number of squarings is found on the device and all 64 are recorded, each kept
    only while needed: replays of inputs of other norms (0, 4 and 16 squarings) give eager's bits."""
    import scipy.linalg

    def x(scale):
        return pt.tensor(RNG.standard_normal((2, 4, 4)) * scale, dtype=pt.float64, device=dev)
    _one_graph(pt.matrix_exp, (x(0.05),), (x(1.0),), (x(3000.0),), (pt.zeros(2, 4, 4, dtype=pt.float64, device=dev),))
    c = pt.compile(pt.matrix_exp, fullgraph=True)
    a = x(2.0)
    np.testing.assert_allclose(c(a).cpu().numpy(), scipy.linalg.expm(a.cpu().numpy()), rtol=1e-10, atol=1e-10)


def test_multinomial_checks_its_probabilities_in_the_graph(dev):
    """Its argument checks are a data_check: one graph, the same draws as eager from the same seed,
    and a replay on bad probabilities raises."""
    import pytest

    def draw(p):
        return pt.multinomial(p, 3, replacement=True)
    c = pt.compile(draw, fullgraph=True)
    for _ in range(3):
        p = pt.tensor(RNG.random((2, 5)), device=dev)
        pt.manual_seed(7)
        got = c(p)
        pt.manual_seed(7)
        assert got.tolist() == draw(p).tolist()
    assert c.counters == {"graphs": 1, "graph_breaks": 0, "recompiles": 0}
    with pytest.raises(RuntimeError, match="multinomial.*`nan`"):
        c(pt.tensor([[0.5, float("nan"), 0.1, 0.1, 0.1], [1.0] * 5], dtype=pt.float64, device=dev))
