"""no_grad, enable_grad, set_grad_enabled, inference_mode: context managers, decorators,
thread-local state."""
from __future__ import annotations

import threading

import pytest

import plugtorch as pt


def leaf():
    return pt.tensor([1.0, 2.0], requires_grad=True)


def test_no_grad_context_and_decorator():
    x = leaf()
    with pt.no_grad():
        assert not pt.is_grad_enabled()
        y = x * 2
    assert pt.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None

    @pt.no_grad()
    def f(t):
        assert not pt.is_grad_enabled()
        return t * 2
    assert not f(x).requires_grad
    assert f.__name__ == "f"
    assert pt.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = leaf()
    with pt.no_grad():
        with pt.enable_grad():
            y = x * 2
        z = x * 2

        @pt.enable_grad()
        def g(t):
            return t * 3
        w = g(x)
    assert y.requires_grad and not z.requires_grad and w.requires_grad


def test_set_grad_enabled_as_function_context_and_decorator():
    x = leaf()
    with pt.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert pt.is_grad_enabled()
    pt.set_grad_enabled(False)
    try:
        assert not pt.is_grad_enabled()
    finally:
        pt.set_grad_enabled(True)

    @pt.set_grad_enabled(False)
    def f(t):
        return t * 2
    assert pt.is_grad_enabled()        # decorating does not change the mode
    assert not f(x).requires_grad
    assert pt.is_grad_enabled()


def test_inference_mode_context_and_decorator():
    x = leaf()
    with pt.inference_mode():
        assert pt.is_inference_mode_enabled() and not pt.is_grad_enabled()
        assert not (x * 2).requires_grad
    assert not pt.is_inference_mode_enabled() and pt.is_grad_enabled()
    with pt.inference_mode(False):
        assert (x * 2).requires_grad

    @pt.inference_mode()
    def f(t):
        return t * 2
    assert not f(x).requires_grad


def test_modes_restore_after_exception():
    with pytest.raises(ValueError):
        with pt.no_grad():
            raise ValueError("boom")
    assert pt.is_grad_enabled()


def test_grad_mode_is_thread_local():
    seen = {}

    def fresh_thread():
        seen["start"] = pt.is_grad_enabled()

    with pt.no_grad():                     # this thread's mode is not inherited
        t = threading.Thread(target=fresh_thread)
        t.start()
        t.join(5)
    assert seen["start"] is True

    inside = threading.Event()
    release = threading.Event()

    def worker():
        with pt.no_grad():
            inside.set()
            release.wait(5)
            seen["worker"] = (leaf() * 2).requires_grad

    t = threading.Thread(target=worker)
    t.start()
    inside.wait(5)
    assert pt.is_grad_enabled()            # the worker's no_grad does not leak here
    assert (leaf() * 2).requires_grad
    release.set()
    t.join(5)
    assert seen["worker"] is False


def test_backward_under_no_grad_still_computes_grads():
    x = leaf()
    y = (x * x).sum()
    with pt.no_grad():
        y.backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_a_decorated_generator_runs_each_step_in_the_mode():
    # each resumption runs in the decorator's mode and the caller's mode is restored between
    # steps (plugtorch used to run the generator's body with the caller's mode)
    @pt.no_grad()
    def steps(x):
        for k in range(2):
            yield (x * k).requires_grad, pt.is_grad_enabled()

    out = [(rg, on, pt.is_grad_enabled()) for rg, on in steps(leaf())]
    assert out == [(False, False, True)] * 2

    @pt.enable_grad()
    def tracked(x):
        yield (x * 2).requires_grad

    with pt.no_grad():
        assert list(tracked(leaf())) == [True]
        assert not pt.is_grad_enabled()


def test_no_grad_enable_grad_and_inference_mode_decorate_without_parentheses():
    @pt.no_grad
    def f(x):
        return x * 2

    @pt.enable_grad
    def g(x):
        return x * 2

    @pt.inference_mode
    def h(x):
        return x * 2, pt.is_inference_mode_enabled()

    assert not f(leaf()).requires_grad
    with pt.no_grad():
        assert g(leaf()).requires_grad
    y, inside = h(leaf())
    assert not y.requires_grad and inside and not pt.is_inference_mode_enabled()


def test_set_grad_enabled_takes_a_bool_only():
    with pytest.raises(TypeError, match=r"set_grad_enabled\(\): argument 'enabled' \(position 1\) must be bool, not str"):
        pt.set_grad_enabled("yes")
    with pytest.raises(TypeError, match="must be bool, not int"):
        pt.set_grad_enabled(0)
    assert pt.is_grad_enabled()


def test_inference_mode_false_leaves_inference_mode_and_enables_grad():
    x = leaf()
    with pt.no_grad():
        with pt.inference_mode(False):
            assert pt.is_grad_enabled() and not pt.is_inference_mode_enabled()
    with pt.inference_mode():
        with pt.inference_mode(False):
            assert not pt.is_inference_mode_enabled()
            assert (x * 2).requires_grad
        assert pt.is_inference_mode_enabled()


def test_enable_grad_inside_inference_mode_records_nothing():
    x = leaf()
    with pt.inference_mode():
        with pt.enable_grad():
            y = x * 2
        with pt.set_grad_enabled(True):
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert not z.requires_grad
    assert pt.is_grad_enabled()
