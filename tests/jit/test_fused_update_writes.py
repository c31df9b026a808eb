"""The fused optimizer updates (``_fused_adam_``, ``_fused_sgd_``: ops returning nothing) write
the parameters and their state, never the gradients: a trace records only the writes the
registry declares (``OpDef.writes``), as eager bumps only those tensors' versions."""
import numpy as np

import plugtorch as pt

LR, B1, B2, EPS = 0.1, 0.9, 0.999, 1e-8


def _adam_first_step(p, g):
    # Adam's first step, in float64: m = (1 - b1) g, v = (1 - b2) g^2, bias-corrected
    m, v = (1 - B1) * g, (1 - B2) * g * g
    return p - LR / (1 - B1) * m / (np.sqrt(v) / np.sqrt(1 - B2) + EPS)


def _step(p, g):
    p = p.clone()
    m, v, s = pt.zeros_like(p), pt.zeros_like(p), pt.zeros(())
    pt.ops._fused_adam_([p], [g], [m], [v], [], [s], LR, B1, B2, 0.0, EPS, False, False, False)
    return p, s.item()      # (the step counter read after the update)


def test_a_fused_adam_update_then_a_read_compiles_and_leaves_the_gradient_unwritten():
    # the trace recorded a write into every tensor argument, the gradient g (an input) too, so the
    # read of the step counter after it was "a read of tensor data follows an in-place write
    # (_fused_adam_ writes into %1)": a split, and the replays bumped g's version, where eager
    # does not (g._version 0 -> 2 over two replays). Now: one graph, and g's version stays 0
    p0 = np.array([1.0, -2.0, 0.5], np.float32)
    g0 = np.array([0.3, 0.7, -1.5], np.float32)
    ref = _adam_first_step(p0.astype(np.float64), g0.astype(np.float64))
    pt.compiler.reset()
    c = pt.compile(_step)
    for _ in range(4):
        g = pt.tensor(g0)
        p, k = c(pt.tensor(p0), g)
        np.testing.assert_allclose(p.numpy(), ref, rtol=1e-6)
        assert k == 1.0
        np.testing.assert_array_equal(g.numpy(), g0)
        assert g._version == 0
    st = pt.compiler.stats()
    assert st["graph_breaks"] == 0 and st["compiled_calls"] == 3, st["reasons"]


def test_a_traced_fused_update_records_the_declared_writes_only():
    p, g, b = pt.tensor([1.0, 2.0]), pt.tensor([0.5, -0.5]), pt.tensor([0.0, 0.0])

    def sgd(p, g, b):
        pt.ops._fused_sgd_([p], [g], [b], 0.5, 0.9, 0.0, 0.0, False, False)
        return p
    t = pt.jit.trace(sgd, (p.clone(), g, b.clone()), check_trace=False)
    (node,) = [n for n in t.graph.nodes if n.op.name == "_fused_sgd_"]
    assert [w.root.pos for w in node.writes] == [0, 2]       # p and the momentum buffer, not g
    p2, b2 = p.clone(), b.clone()
    t(p2, g, b2)
    # momentum 0.9, first buffer value g (copied in by SGD's first step: here the zeros + g):
    # b = 0.9 * 0 + g = g, p = p - 0.5 * g
    np.testing.assert_allclose(b2.numpy(), [0.5, -0.5])
    np.testing.assert_allclose(p2.numpy(), [0.75, 2.25])
    assert g._version == 0 and p2._version == 1 and b2._version == 1
