"""The launch hot paths in C (fastlaunch.py, _fastlaunch.c) against the Python ones: the same
results bit for bit and the same memory statistics (each path in its own process, the Python one
forced by PLUGTORCH_OPENCL_NO_EXT=1), launch errors as RuntimeErrors naming op and error code,
threads, split launches of big tensors, and fused kernels."""
import json
import os
import subprocess
import sys
import threading
import types

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.backends import get_backend
from plugtorch.backends.fusion import IN, STEP, Input, PointwiseGroup, Ref, Step
from plugtorch.backends.opencl import fastlaunch
from plugtorch.backends.opencl.kernels import elementwise as E
from plugtorch.backends.opencl.kernels.pointwise import SPLIT
from plugtorch.backends.opencl.runtime import state

from .conftest import DEV

BE = get_backend("opencl")
needs_ext = pytest.mark.skipif(fastlaunch.ext() is None,
                               reason="the C extension is not built (pip install -e . builds it)")

# the same calls in a process of each kind: results as bytes, memory statistics, the kernel's type
SCRIPT = r"""
import json, sys
import numpy as np
import plugtorch as pt
from plugtorch.backends import get_backend
from plugtorch.backends.fusion import IN, STEP, Input, PointwiseGroup, Ref, Step
SPLIT = 1 << 16
rng = np.random.default_rng(0)
out = {}
def keep(name, t):
    out[name] = (str(t.dtype), list(t.shape), t.cpu().numpy().tobytes().hex())
for n in (1, 5, 64, 65, SPLIT + 5):
    a, b = (rng.standard_normal(n) * 4).astype(np.float32), (rng.standard_normal(n) * 4).astype(np.float32)
    x, y = pt.tensor(a, device="opencl"), pt.tensor(b, device="opencl")
    for _ in range(2):   # (the second call runs the fast path)
        keep(f"add{n}", x + y); keep(f"mul_s{n}", x * 2.5); keep(f"sub_i{n}", x - 3)
        keep(f"neg{n}", x.neg()); keep(f"exp{n}", x.exp()); keep(f"lt{n}", x < y)
        keep(f"div_h{n}", x.half() / 3.1); keep(f"xor{n}", x.int() ^ 6); keep(f"pow{n}", x.abs() ** 0.5)
        keep(f"view{n}", x[1:] + y[1:])
i = pt.tensor([3, -4, 5], dtype=pt.int16, device="opencl")
for s in (0, 6, True, 2):
    keep(f"int16_{s!r}", pt.bitwise_xor(i, s))
d = pt.tensor([1e300, -2.0, 0.5], dtype=pt.float64, device="opencl")
keep("f64", d * 1e10); keep("f32_big", d.float() * 1e300)
f32 = pt.float32
g = PointwiseGroup((Input((70,), f32),) * 3, (Step("mul", (Ref(IN, 0), Ref(IN, 1), f32), (70,), f32),
                   Step("add", (Ref(STEP, 0), Ref(IN, 2), f32), (70,), f32)), (1,), (70,))
fn = get_backend("opencl").fuse_pointwise(g)
xs = [pt.tensor(rng.standard_normal(70).astype(np.float32), device="opencl") for _ in range(3)]
for _ in range(2):
    (r,) = fn(*[t._data for t in xs])
    out["fused"] = get_backend("opencl").to_numpy(r).tobytes().hex()
pt.opencl.synchronize()
m0 = pt.opencl.memory_allocated()
pt.opencl.reset_peak_memory_stats()
big = pt.ones(1000, device="opencl")
z = [big + big, big * 2.0, big.neg(), big + big]
m1 = pt.opencl.memory_allocated()
del z
out["memory"] = [m1 - m0, pt.opencl.memory_allocated() - m0, pt.opencl.max_memory_allocated() - m0]
out["kernel"] = type(get_backend("opencl").kernels["add"]).__name__
out["fused_type"] = type(fn).__name__
json.dump(out, sys.stdout)
"""


def _run(no_ext):
    env = dict(os.environ)
    env.pop("PLUGTORCH_OPENCL_NO_EXT", None)
    if no_ext:
        env["PLUGTORCH_OPENCL_NO_EXT"] = "1"
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout)


@needs_ext
def test_c_and_python_paths_give_the_same_results_and_memory_statistics():
    c, py = _run(False), _run(True)
    assert c.pop("kernel") == "Pointwise" and c.pop("fused_type") == "Fused"
    assert py.pop("kernel") == "function" and py.pop("fused_type") == "FusedKernel"
    assert c.keys() == py.keys()
    for name in c:
        assert c[name] == py[name], name
    grown, left, peak = c["memory"]
    assert grown >= 5 * 4000 and left == grown - 4 * 4000 and peak == grown


def test_memory_statistics_on_the_fast_paths():
    x = pt.ones(1000, device=DEV)
    x + x, x.neg()   # (compile, fill the fast entries)
    pt.opencl.synchronize()
    m0 = pt.opencl.memory_allocated()
    pt.opencl.reset_peak_memory_stats()
    ys = [x + x for _ in range(3)] + [x * 3.0, x.neg()]
    grown = pt.opencl.memory_allocated() - m0
    assert grown >= 5 * 4000
    assert pt.opencl.max_memory_allocated() == m0 + grown
    del ys
    assert pt.opencl.memory_allocated() == m0
    assert pt.opencl.max_memory_allocated() == m0 + grown



@needs_ext
def test_cached_small_buffers_are_reused_only_once_nothing_holds_them():
    # the C paths keep the small buffers they allocate and hand an idle one out again: a buffer
    # that a tensor, or only a view of it, still holds must never be the output of a later op
    n = 1000
    x = pt.arange(n, dtype=pt.float32, device=DEV)
    ref = np.arange(n, dtype=np.float32)
    for _ in range(3):
        x + x, x * 2.0, x.neg()   # (compile, fill the fast entries and the cache)
    y = x + x
    v = (x * 3.0)[1:]   # only a view holds the product's buffer
    outs = [x.neg() for _ in range(40)] + [x + x for _ in range(40)]
    ptrs = {o.data_ptr() for o in outs}
    assert len(ptrs) == len(outs) and y.data_ptr() not in ptrs and v.data_ptr() - 4 not in ptrs
    np.testing.assert_array_equal(y.cpu().numpy(), ref + ref)
    np.testing.assert_array_equal(v.cpu().numpy(), (ref * 3)[1:])
    np.testing.assert_array_equal(outs[0].cpu().numpy(), -ref)
    np.testing.assert_array_equal(outs[-1].cpu().numpy(), ref + ref)
    # once the last reference goes, the same buffer comes back (no pool call)
    p = y.data_ptr()
    del y
    z = x + x
    assert z.data_ptr() == p
    np.testing.assert_array_equal(z.cpu().numpy(), ref + ref)


@needs_ext
def test_idle_cached_buffers_count_neither_as_allocated_nor_in_the_peak():
    x, w = pt.ones(1000, device=DEV), pt.ones(3000, device=DEV)
    x + x, w + w   # (compile, fill the fast entries)
    pt.opencl.synchronize()
    m0 = pt.opencl.memory_allocated()
    pt.opencl.reset_peak_memory_stats()
    a = x + x
    del a      # idle in the cache now, not in use
    b = w + w   # a size the cache has no idle buffer of: a new allocation
    grown = pt.opencl.memory_allocated() - m0
    assert 12000 <= grown < 16000   # b alone
    assert pt.opencl.max_memory_allocated() == m0 + grown   # the idle 4000 bytes left out
    del b
    assert pt.opencl.memory_allocated() == m0


def _bad_kernel(dev):
    """A kernel with one more argument than the fast paths set: enqueueing it fails with
    CL_INVALID_KERNEL_ARGS (-52)."""
    import pyopencl as cl
    src = """__kernel void bad(__global float* o, const long n, __global const float* a,
        __global const float* b, const int unset) { o[get_global_id(0)] = a[0] + b[0]; }"""
    return cl.Kernel(cl.Program(dev.ctx, src).build(), "bad")


def _python_add():
    """A Python-path ``add`` kernel of its own (as without the extension)."""
    real = fastlaunch.ext
    fastlaunch.ext = lambda: None
    try:
        return E.make_binary("add")
    finally:
        fastlaunch.ext = real


@pytest.mark.parametrize("path", ["c", "python"])
def test_a_failed_launch_raises_runtime_error_naming_op_and_code(path):
    if path == "c" and fastlaunch.ext() is None:
        pytest.skip("the C extension is not built")
    dev = state(0)
    x = pt.ones(4, device=DEV)
    f32 = pt.float32
    bad = _bad_kernel(dev)
    fake = types.SimpleNamespace(k0=bad, ku0=bad, last=[-1, None, None, None])
    if path == "c":
        kernel = E.make_binary("add")
        real = fastlaunch.ext
    else:
        kernel = _python_add()
        real = fastlaunch.ext
        fastlaunch.ext = lambda: None
    try:
        kernel(x._data, x._data, f32)   # the slow path fills the entry ...
        kernel.fast[f32] = E._entry(x._data.dtype, x._data.dtype, dev, fake, x._data.dtype)   # ... made bad
        used = pt.opencl.memory_allocated()
        for _ in range(2):
            with pytest.raises(RuntimeError, match=r"clEnqueueNDRangeKernel failed with error -52 "
                                                   r"\(CL_INVALID_KERNEL_ARGS\) launching the kernel of 'add'"):
                kernel(x._data, x._data, f32)
    finally:
        fastlaunch.ext = real
    assert pt.opencl.memory_allocated() <= used   # the failed call's output went back to the pool
    np.testing.assert_array_equal((x + x).cpu().numpy(), [2, 2, 2, 2])   # the device still works


@needs_ext
def test_a_failed_fused_launch_raises_runtime_error():
    dev = state(0)
    bad = _bad_kernel(dev)
    m = fastlaunch.ext()
    fn = m.Fused("fused mul -> add", None, dev, dev.pool, bad, dev.queue, (4,), (1,),
                 [(np.dtype(np.float32), 16)], [0, 1], 2, [((64,), (64,), None)])
    x = pt.ones(4, device=DEV)
    with pytest.raises(RuntimeError, match=r"error -52 \(CL_INVALID_KERNEL_ARGS\) launching the kernel "
                                           r"of 'fused mul -> add'"):
        fn(x._data, x._data)


def _mul_add(n):
    f32 = pt.float32
    g = PointwiseGroup((Input((n,), f32),) * 3, (Step("mul", (Ref(IN, 0), Ref(IN, 1), f32), (n,), f32),
                       Step("add", (Ref(STEP, 0), Ref(IN, 2), f32), (n,), f32)), (1,), (n,))
    return BE.fuse_pointwise(g)


@pytest.mark.parametrize("n", [1, 63, 64, 65, SPLIT + 3])
def test_fused_calls_fast_and_views(n):
    fn = _mul_add(n)
    rng = np.random.default_rng(n)
    hs = [rng.standard_normal(n + 1).astype(np.float32) for _ in range(3)]
    ts = [pt.tensor(h, device=DEV) for h in hs]
    want = hs[0][:n] * hs[1][:n] + hs[2][:n]
    for _ in range(2):
        (got,) = fn(*[t[:n]._data for t in ts])                 # contiguous at offset 0: C
        np.testing.assert_array_equal(BE.to_numpy(got), want)
        (got,) = fn(*[t[1:]._data for t in ts])                 # at an offset: the Python path
        np.testing.assert_array_equal(BE.to_numpy(got), hs[0][1:] * hs[1][1:] + hs[2][1:])


def test_fused_kernel_built_at_its_first_call():
    from plugtorch.backends.fusion import deferred_builds
    f32 = pt.float32
    g = PointwiseGroup((Input((77,), f32),) * 2, (Step("sub", (Ref(IN, 0), Ref(IN, 1), f32), (77,), f32),
                       Step("mul", (Ref(STEP, 0), 0.75, f32), (77,), f32)), (1,), (77,))
    with deferred_builds():
        fn = BE.fuse_pointwise(g)
    rng = np.random.default_rng(5)
    for _ in range(3):   # the first call builds (Python), the next ones launch in C
        a, b = rng.standard_normal((2, 77)).astype(np.float32)
        (got,) = fn(pt.tensor(a, device=DEV)._data, pt.tensor(b, device=DEV)._data)
        np.testing.assert_array_equal(BE.to_numpy(got), (a - b) * np.float32(0.75))


def test_threads_share_a_fused_kernel():
    fn = _mul_add(33)
    errors = []

    def work(seed):
        h = np.random.default_rng(seed).standard_normal((3, 33)).astype(np.float32)
        xs = [pt.tensor(r, device=DEV)._data for r in h]
        want = h[0] * h[1] + h[2]
        for _ in range(200):
            (got,) = fn(*xs)
            if not np.array_equal(BE.to_numpy(got), want):
                errors.append(seed)
                return

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_icd_library_is_the_loaded_one():
    path = fastlaunch.icd_library()
    if path is None:
        pytest.skip("no /proc/self/maps or no libOpenCL loaded by name")
    assert os.path.basename(path).startswith("libOpenCL") and os.path.exists(path)


def test_no_ext_variable_forces_the_python_paths():
    r = subprocess.run([sys.executable, "-c",
                        "import plugtorch as pt; from plugtorch.backends import get_backend; "
                        "x = pt.ones(3, device='opencl'); print((x + x).tolist(), "
                        "type(get_backend('opencl').kernels['add']).__name__)"],
                       capture_output=True, text=True, env={**os.environ, "PLUGTORCH_OPENCL_NO_EXT": "1"},
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["[2.0,", "2.0,", "2.0]", "function"]


def test_an_extension_built_from_another_source_is_not_used(monkeypatch):
    # a build left over from an older _fastlaunch.c (an editable install does not rebuild it)
    # must not run: the backend takes its Python paths and still gives the right values
    m = fastlaunch.ext()
    if m is None:
        pytest.skip("the C extension is not built here")
    assert m.VERSION == fastlaunch.VERSION
    monkeypatch.setattr(fastlaunch, "VERSION", m.VERSION + 1)
    monkeypatch.setattr(fastlaunch, "_EXT", False)
    assert fastlaunch.ext() is None
    monkeypatch.setattr(fastlaunch, "_EXT", False)   # (the next ext() loads it again)


@needs_ext
def test_replay_runs_its_fused_kernel_behind_every_check():
    # _fastlaunch.Replay (plugtorch.compiler's hot path for a graph of one fused kernel): the
    # kernel's output wrapped in a new object where every check holds, else `miss` and no launch
    import plugtorch.compiler as C
    from plugtorch.dispatch import dispatcher as D
    f32 = pt.float32
    group = PointwiseGroup((Input((3,), f32),) * 2,
                           (Step("mul", (Ref(IN, 0), Ref(IN, 1), f32), (3,), f32),), (0,), (3,))
    fk = BE.fuse_pointwise(group)
    a = pt.tensor([1.0, 2.0, 3.0], device=DEV)
    b = pt.tensor([4.0, 5.0, 6.0], device=DEV)

    class Env:
        flag = None
    env = Env()
    env.flag = "on"
    counter = {"n": 5}
    modes = []
    miss = object()
    spec = dict(cls=pt.Tensor, miss=miss, empty=modes, env=[(env, "flag", "on", False)],
                names=("_rg", "_device", "_dtype"), expect=[(False, a.device, a.dtype)] * 2, data="_data",
                shapes=[(3,), (3,)], strides=[(1,), (1,)], kargs=[1, 0], wrap=("_data", "_dtype", "_device"),
                out_dtype=pt.float32, out_device=a.device, counter=counter, key="n")
    r = fastlaunch.replay(fk, **spec)
    assert fastlaunch.replay(lambda *x: x, **spec) is None        # not the extension's kernel
    got = r(None, (a, b))
    assert type(got) is pt.Tensor and got.tolist() == [4.0, 10.0, 18.0] and counter["n"] == 6
    assert got.dtype == pt.float32 and got.device == a.device and not got.requires_grad
    env.flag = "off"                                      # an env check
    assert r(None, (a, b)) is miss
    env.flag = "on"
    modes.append(1)                                       # a non-empty list
    assert r(None, (a, b)) is miss
    modes.clear()
    assert r(None, (a,)) is miss and r(None, (a, b, b)) is miss and r(None, [a, b]) is miss
    assert r(None, (a, pt.ones(3))) is miss               # another device
    assert r(None, (a, pt.ones(4, device=DEV))) is miss   # another shape
    assert r(None, (a, pt.ones(6, device=DEV)[::2])) is miss   # other strides
    assert r(None, (a, b.double())) is miss               # another dtype
    assert r(None, (a, b.clone().requires_grad_())) is miss
    assert r(None, (a, pt.nn.Parameter(b.clone()))) is miss    # not exactly the class
    assert counter["n"] == 6
    assert r(None, (b, a)).tolist() == [4.0, 10.0, 18.0] and counter["n"] == 7
    assert C._MISS is not None and D._modes == []


@needs_ext
def test_replay_reads_a_thread_local_check_per_thread():
    # an env object that is a threading.local is read from the calling thread's own dict (its
    # class attribute where that thread set none), the dicts taken again in another thread
    import plugtorch.compiler as C
    f32 = pt.float32
    group = PointwiseGroup((Input((2,), f32),) * 2,
                           (Step("add", (Ref(IN, 0), Ref(IN, 1), f32), (2,), f32),), (0,), (2,))
    fk = BE.fuse_pointwise(group)

    class Local(threading.local):
        flag = "on"            # (the class default)
    loc = Local()
    a = pt.tensor([1.0, 2.0], device=DEV)
    miss = object()
    r = fastlaunch.replay(fk, cls=pt.Tensor, miss=miss, empty=[], env=[(loc, "flag", "on", False)],
                          names=("_device",), expect=[(a.device,)] * 2, data="_data", shapes=[(2,)] * 2,
                          strides=[(1,)] * 2, kargs=[0, 1], wrap=("_data", "_dtype", "_device"),
                          out_dtype=f32, out_device=a.device, counter={}, key="n")
    assert r(None, (a, a)).tolist() == [2.0, 4.0]        # the class default
    loc.flag = "off"
    assert r(None, (a, a)) is miss                        # this thread's own value
    seen = []

    def other():
        seen.append(r(None, (a, a)))                      # another thread: the default again
        loc.flag = "off"
        seen.append(r(None, (a, a)))
        loc.flag = "on"
        seen.append(r(None, (a, a)))
    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen[0].tolist() == [2.0, 4.0] and seen[1] is miss and seen[2].tolist() == [2.0, 4.0]
    assert r(None, (a, a)) is miss                        # this thread's value is still "off"
    loc.flag = "on"
    assert r(None, (a, a)).tolist() == [2.0, 4.0] and C._MISS is not miss
