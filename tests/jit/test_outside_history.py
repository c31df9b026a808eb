"""A traced call that runs backward through autograd history made before it (the loss passed in,
a global non-leaf tensor) would replay the gradients of the traced call: the nodes saved their
values then. compile makes it a graph break (eager, right gradients); jit.trace refuses it."""
import numpy as np
import pytest

import plugtorch as pt


def test_compiled_backward_of_an_input_s_history_runs_eagerly():
    w = pt.tensor([0.5, -1.0, 2.0], requires_grad=True)

    def bw(loss):
        loss.backward()
        return w.grad * 1

    c = pt.compile(bw)
    for k in range(4):
        x = pt.full((3,), float(k + 1))
        w.grad = None
        g = c((w * x).sum())                 # d/dw sum(w * x) = x
        np.testing.assert_array_equal(g.numpy(), x.numpy())
    st = pt.compiler.stats()
    assert st["graph_breaks"] == 1 and st["compiled_calls"] == 0
    assert "runs backward through autograd history made before the call (SumBackward, MulBackward)" \
        in st["reasons"][0]


def test_autograd_grad_of_a_global_non_leaf_is_not_replayed():
    w = pt.tensor([1.0, 2.0], requires_grad=True)
    h = w * w                                # made outside the compiled call: MulBackward saved w

    def f(x):
        (g,) = pt.autograd.grad((h * x).sum(), w, retain_graph=True)
        return g

    c = pt.compile(f)
    for k in range(3):
        x = pt.tensor([1.0, -1.0]) * (k + 1)
        np.testing.assert_array_equal(c(x).numpy(), (2 * w.detach() * x).numpy())   # 2 w x
    assert pt.compiler.stats()["graph_breaks"] == 1


def test_a_step_that_makes_its_own_forward_stays_one_graph():
    w = pt.tensor([0.5, -1.0], requires_grad=True)

    def step(x):
        w.grad = None
        (w * x).sum().backward()
        return w.grad * 1

    c = pt.compile(step)
    for k in range(4):
        x = pt.full((2,), float(k))
        np.testing.assert_array_equal(c(x).numpy(), x.numpy())
    st = pt.compiler.stats()
    assert st["graph_breaks"] == 0 and st["compiled_calls"] >= 2


def test_jit_trace_refuses_it():
    w = pt.tensor([0.5, -1.0], requires_grad=True)
    loss = (w * 3).sum()

    def bw(loss):
        loss.backward()
        return w.grad * 1
    with pytest.raises(RuntimeError, match=r"jit.trace: the traced call runs backward through autograd history made "
                                           r"before it \(SumBackward, MulBackward\)"):
        pt.jit.trace(bw, (loss,))
