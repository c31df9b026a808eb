"""plugtorch.compile's hot path: the graph that ran last replays behind one generated check of the
rest of its cache key (compiler._hot_function); every part of the key it checks sends a call
that differs to the keyed lookup, and its results are eager's, bit for bit."""
import numpy as np
import pytest

import plugtorch as pt


def chain(s):
    return ((((s * 2 + 1).relu() * 3 - 1).exp() + 2) * 0.5).sqrt()


def _ref(x):
    # the chain in NumPy, float32 at each step (what eager computes on either device)
    x = np.asarray(x, np.float32)
    r = np.maximum(x * np.float32(2) + np.float32(1), np.float32(0)) * np.float32(3) - np.float32(1)
    return np.sqrt((np.exp(r) + np.float32(2)) * np.float32(0.5))


def test_replays_equal_eager_and_take_the_hot_path(dev):
    c = pt.compile(chain)
    xs = [pt.tensor([v, -v, 0.25], device=dev) for v in (0.5, 1.5, -2.0, 0.125)]
    for x in xs:
        got = c(x)
        assert got.device.type == dev and got.dtype == pt.float32
        assert got.tolist() == chain(x).tolist()
        np.testing.assert_allclose(got.cpu().numpy(), _ref(x.cpu().numpy()), rtol=1e-6)
    assert c._hot is not None
    st = pt.compiler.stats()
    assert st["graphs"] == 1 and st["compiled_calls"] == 3 and c.counters["recompiles"] == 0


def test_a_wrong_shape_is_refused_by_the_guard(dev):
    c = pt.compile(chain)
    x3 = pt.tensor([0.5, 1.0, 2.0], device=dev)
    c(x3), c(x3)
    x4 = pt.tensor([0.5, 1.0, 2.0, 3.0], device=dev)
    got = c(x4)       # the hot graph's guard raises before any kernel runs: traced again
    np.testing.assert_allclose(got.cpu().numpy(), _ref([0.5, 1.0, 2.0, 3.0]), rtol=1e-6)
    assert c.counters == {"graphs": 2, "graph_breaks": 0, "recompiles": 1}
    # a strided view of the traced shape is another signature, too
    v = pt.tensor([0.5, 9.0, 1.0, 9.0, 2.0, 9.0], device=dev)[::2]
    assert c(v).tolist() == chain(v).tolist()
    assert c.counters["graphs"] == 3
    # and the first signature replays again, its values its own
    assert c(x3).tolist() == chain(x3).tolist() and c.counters["graphs"] == 3


def test_requires_grad_grad_mode_and_default_dtype_leave_the_hot_path(dev):
    c = pt.compile(lambda x: x * 3 + pt.ones(3, device=dev))
    x = pt.tensor([1.0, 2.0, 3.0], device=dev)
    c(x), c(x)
    w = pt.tensor([1.0, 2.0, 3.0], device=dev, requires_grad=True)
    y = c(w)                                  # another key: a graph through autograd
    assert y.requires_grad
    y.sum().backward()
    assert w.grad.tolist() == [3.0, 3.0, 3.0]
    with pt.no_grad():
        assert not c(w).requires_grad
    prev = pt.get_default_dtype()
    pt.set_default_dtype(pt.float64)
    try:
        r = c(x)
        assert r.dtype == pt.float64 and r.tolist() == [4.0, 7.0, 10.0]
    finally:
        pt.set_default_dtype(prev)
    r = c(x)
    assert r.dtype == pt.float32 and r.tolist() == [4.0, 7.0, 10.0]


def test_other_arguments_leave_the_hot_path(dev):
    c = pt.compile(lambda x, k=2: x * k)
    x = pt.tensor([1.0, 2.0], device=dev)
    c(x), c(x)
    assert c(x, 3).tolist() == [3.0, 6.0]
    assert c(x, k=5).tolist() == [5.0, 10.0]
    assert c(x).tolist() == [2.0, 4.0]


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_a_module_mode_change_leaves_the_hot_path(dev, mode):
    pt.manual_seed(0)
    m = pt.nn.Sequential(pt.nn.Linear(3, 3), pt.nn.Dropout(0.5)).to(dev)
    getattr(m, mode)()
    c = pt.compile(m)
    x = pt.ones(2, 3, device=dev)
    with pt.no_grad():
        c(x), c(x)
        m.eval() if mode == "train" else m.train()
        pt.manual_seed(1)
        got = c(x)
        pt.manual_seed(1)
        assert got.tolist() == m(x).tolist()


def test_under_a_dispatch_mode_the_ops_are_seen(dev):
    from plugtorch.dispatch.dispatcher import DispatchMode

    class Count(DispatchMode):
        def __init__(self):
            self.n = 0

        def __plugtorch_dispatch__(self, op, args, kwargs, call):
            self.n += 1
            return call(args, kwargs)
    c = pt.compile(chain)
    x = pt.tensor([0.5, 1.0], device=dev)
    c(x), c(x)
    with Count() as m:
        got = c(x)
    assert m.n >= 8 and got.tolist() == chain(x).tolist()
    assert c(x).tolist() == got.tolist()


# --- opencl: a graph of one fused kernel replays in C (executor.one_kernel, Backend.guarded_call) ---

def _c_path():
    if not pt.opencl.is_available():
        pytest.skip("no opencl device")
    from plugtorch.backends.opencl import fastlaunch
    if fastlaunch.ext() is None:
        pytest.skip("the opencl C extension is not built")
    return fastlaunch.ext().Replay


def test_one_fused_kernel_replays_in_c_equal_to_eager():
    Replay = _c_path()
    c = pt.compile(chain)
    x = pt.tensor([0.5, -1.0, 2.0, 0.0], device="opencl")
    first = c(x)
    c(x)
    assert type(c._hot) is Replay
    n0 = pt.compiler.stats()["compiled_calls"]
    for v in ([0.5, -1.0, 2.0, 0.0], [3.0, 0.25, -0.5, 1.0]):
        x = pt.tensor(v, device="opencl")
        got = c(x)
        assert type(got) is pt.Tensor and got.dtype == pt.float32 and got.device == x.device
        assert got.shape == (4,) and not got.requires_grad and got.grad_fn is None
        assert got.tolist() == chain(x).tolist()
        np.testing.assert_allclose(got.cpu().numpy(), _ref(v), rtol=1e-6)
        assert got.data_ptr() != x.data_ptr() and got.data_ptr() != first.data_ptr()
    assert pt.compiler.stats()["compiled_calls"] == n0 + 2
    assert (got + 1).tolist() == [a + 1 for a in got.tolist()]      # an ordinary tensor afterwards


def test_the_c_replay_refuses_what_its_guards_refuse():
    _c_path()
    c = pt.compile(chain)
    x = pt.tensor([0.5, 1.0, 2.0], device="opencl")
    c(x), c(x)
    for y in (pt.tensor([0.5, 1.0, 2.0, 3.0], device="opencl"),             # another shape
              pt.tensor([0.5, 9.0, 1.0, 9.0, 2.0, 9.0], device="opencl")[::2],  # strided
              pt.tensor([0.5, 1.0, 2.0], device="opencl", dtype=pt.float64),   # another dtype
              pt.tensor([0.5, 1.0, 2.0])):                                     # cpu
        assert c(y).tolist() == chain(y).tolist()
    assert c.counters["graphs"] == 5 and c.counters["recompiles"] == 4
    w = pt.tensor([0.5, 1.0, 2.0], device="opencl", requires_grad=True)
    c(x)
    y = c(w)                        # requires_grad: through autograd, with a backward
    assert y.grad_fn is not None
    y.sum().backward()
    wn = np.array([0.5, 1.0, 2.0], np.float32)
    r = np.maximum(2 * wn + 1, 0) * 3 - 1
    d = np.exp(r) * 0.5 / (2 * np.sqrt((np.exp(r) + 2) * 0.5)) * 3 * 2 * (2 * wn + 1 > 0)
    np.testing.assert_allclose(w.grad.cpu().numpy(), d, rtol=1e-5)
    c(x)
    with pt.no_grad():              # grad mode is part of the key
        assert c(x).tolist() == chain(x).tolist()
    assert c(x, ).tolist() == chain(x).tolist()


def test_grad_mode_is_checked_per_thread(dev):
    import threading
    c = pt.compile(chain)
    x = pt.tensor([0.5, 1.0], device=dev)
    c(x), c(x)
    got = []

    def other():
        with pt.no_grad():            # this thread's grad mode: another key, traced there
            got.append(c(x))
    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert got[0].tolist() == chain(x).tolist() and c.counters["graphs"] == 2
    assert c(x).tolist() == chain(x).tolist() and c.counters["graphs"] == 2


def test_the_c_replay_of_a_view_at_an_offset_and_of_0d_and_empty_tensors():
    _c_path()
    c = pt.compile(chain)
    x = pt.tensor([0.5, 1.0, 2.0], device="opencl")
    c(x), c(x)
    y = pt.tensor([9.0, 0.25, -1.0, 3.0, 7.0], device="opencl")[1:4]   # the traced shape and strides, offset 1
    np.testing.assert_allclose(c(y).cpu().numpy(), _ref([0.25, -1.0, 3.0]), rtol=1e-6)
    assert c(y).tolist() == chain(y).tolist() and c.counters["graphs"] == 1
    for t in (pt.tensor(0.5, device="opencl"), pt.ones(0, device="opencl")):
        c0 = pt.compile(chain)
        c0(t), c0(t)
        got = c0(t)
        assert got.shape == t.shape and got.tolist() == chain(t).tolist()
