"""Dispatch modes are per thread, as grad mode is: a profiler or tracer entered in one thread
neither sees nor changes the ops of another."""
from __future__ import annotations

import threading

import plugtorch as pt
from plugtorch.dispatch import dispatcher
from plugtorch.dispatch.dispatcher import DispatchMode


class Record(DispatchMode):
    def __init__(self):
        self.names = []

    def __plugtorch_dispatch__(self, op, args, kwargs, call):
        self.names.append(op.name)
        return call(args, kwargs)


class Negate(DispatchMode):
    """Changes every result: a mode leaking into another thread would change its values."""

    def __plugtorch_dispatch__(self, op, args, kwargs, call):
        out = call(args, kwargs)
        return -out if op.name == "mul" else out


def test_a_mode_sees_only_its_own_threads_ops():
    entered, done = threading.Event(), threading.Event()
    seen = {}

    def in_mode():
        with Record() as rec:
            entered.set()
            done.wait(10)
            pt.ones(2) + 1
        seen["mode"] = rec.names

    t = threading.Thread(target=in_mode)
    t.start()
    entered.wait(10)
    with Record() as mine:            # this thread's own mode, while the other is active
        x = pt.ones(3) * 2
    y = pt.ones(3) * 3                # no mode of this thread: plain values
    done.set()
    t.join()
    assert mine.names == ["full", "mul"]
    assert seen["mode"] == ["full", "add"]
    assert x.tolist() == [2.0, 2.0, 2.0] and y.tolist() == [3.0, 3.0, 3.0]
    assert dispatcher.active_modes() == [] and dispatcher._modes == []


def test_a_mode_in_one_thread_does_not_change_values_in_another():
    entered, done = threading.Event(), threading.Event()

    def in_mode():
        with Negate():
            entered.set()
            done.wait(10)
            assert (pt.ones(2) * 2).tolist() == [-2.0, -2.0]

    t = threading.Thread(target=in_mode)
    t.start()
    entered.wait(10)
    results = [(pt.ones(2) * 2).tolist() for _ in range(100)]
    done.set()
    t.join()
    assert results == [[2.0, 2.0]] * 100
