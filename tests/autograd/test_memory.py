"""The graph frees what it saved once backward has run, and repeated training steps do not
grow memory."""
from __future__ import annotations

import gc
import tracemalloc
import weakref

import plugtorch as pt


def _graph_with_intermediate(x):
    h = x.exp()                       # saved by exp (its result) and by mul (both operands)
    refs = (weakref.ref(h), weakref.ref(h._data))
    out = (h * h).sum()
    return out, refs


def test_intermediates_freed_after_backward():
    x = pt.randn(8, requires_grad=True)
    out, (t_ref, data_ref) = _graph_with_intermediate(x)
    gc.collect()
    assert t_ref() is not None and data_ref() is not None    # the graph keeps them alive
    out.backward()
    assert t_ref() is None, "the intermediate tensor outlived backward"
    assert data_ref() is None, "the intermediate's storage outlived backward"
    assert out.grad_fn is not None                             # nodes stay, saved data goes


def test_intermediates_kept_with_retain_graph_then_freed():
    x = pt.randn(8, requires_grad=True)
    out, (t_ref, data_ref) = _graph_with_intermediate(x)
    out.backward(retain_graph=True)
    assert data_ref() is not None
    out.backward()
    assert data_ref() is None
    assert x.grad.allclose(4 * (2 * x.detach()).exp())


def test_autograd_grad_frees_too():
    x = pt.randn(8, requires_grad=True)
    out, (t_ref, data_ref) = _graph_with_intermediate(x)
    pt.autograd.grad(out, x)
    assert data_ref() is None


def test_dropping_the_output_frees_the_graph_without_backward():
    x = pt.randn(8, requires_grad=True)
    out, (t_ref, data_ref) = _graph_with_intermediate(x)
    del out
    assert data_ref() is None    # no reference cycles: freed by reference counting alone


def test_repeated_forward_backward_does_not_grow_memory():
    a = pt.randn(16, requires_grad=True)
    b = pt.randn(16, requires_grad=True)

    def step():
        (a * b + a).sum().backward()
        a.grad = None
        b.grad = None

    for _ in range(200):
        step()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(10_000):
            step()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # one leaked 16-float grad per step would be >640 kB; allow small cache noise
    assert after - before < 64 * 1024, f"memory grew by {after - before} bytes over 10,000 steps"
