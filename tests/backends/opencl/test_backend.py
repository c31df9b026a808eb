"""Devices, dtype support, errors, asynchrony, memory statistics and random streams."""
import os
import subprocess
import sys

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.backends.opencl import runtime


def _run(code, **env):
    e = dict(os.environ, **env)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=e, timeout=300)
    return r.returncode, r.stdout + r.stderr


def test_device_queries():
    assert pt.opencl.is_available()
    n = pt.opencl.device_count()
    assert n >= 1
    assert ":" in pt.opencl.get_device_name(0)
    with pytest.raises(RuntimeError, match="does not exist"):
        pt.opencl.get_device_name(n)
    with pytest.raises(RuntimeError, match=f"opencl:{n}' does not exist"):
        pt.zeros(2, device=f"opencl:{n}")
    assert pt.zeros(2, device="opencl").device == pt.device("opencl:0")


def test_import_plugtorch_does_not_import_pyopencl():
    rc, out = _run("import sys, plugtorch; assert 'pyopencl' not in sys.modules; print('ok')")
    assert rc == 0 and "ok" in out


def test_missing_pyopencl_names_the_fix():
    code = ("import sys; sys.modules['pyopencl'] = None\nimport plugtorch\n"
            "assert not plugtorch.opencl.is_available()\n"
            "try:\n    plugtorch.zeros(2, device='opencl')\nexcept RuntimeError as e:\n    print('ERR', e)")
    rc, out = _run(code)
    assert "ERR" in out and "pyopencl" in out and "pip install plugtorch[opencl]" in out


def test_device_override_by_index_and_substring():
    code = "import plugtorch; print(plugtorch.opencl.device_count(), plugtorch.opencl.get_device_name(0))"
    rc, out = _run(code, PLUGTORCH_OPENCL_DEVICE="0")
    assert rc == 0 and out.startswith("1 ")
    name = pt.opencl.get_device_name(0)
    rc, out = _run(code, PLUGTORCH_OPENCL_DEVICE=name.split(": ")[1][:6])
    assert rc == 0 and name in out
    rc, out = _run("import plugtorch; plugtorch.zeros(1, device='opencl')", PLUGTORCH_OPENCL_DEVICE="no-such-device")
    assert rc != 0 and "matches no OpenCL device" in out


def test_dtypes_follow_extensions():
    be = pt.backends.get_backend("opencl")
    ext = runtime.state(0).device.extensions.split()
    assert (pt.float64 in be.supported_dtypes(0)) == ("cl_khr_fp64" in ext)
    # float16 and bfloat16 are 16-bit storage computed in float: every device, cl_khr_fp16 or not
    assert pt.bfloat16 in be.supported_dtypes(0) and pt.float16 in be.supported_dtypes(0)
    assert (pt.ones(2, dtype=pt.float16).to("opencl") * 3).tolist() == [3.0, 3.0]


def test_ops_do_not_read_back_until_asked(monkeypatch):
    reads = []
    real = runtime.to_host
    monkeypatch.setattr(runtime, "to_host", lambda a: reads.append(a.shape) or real(a))
    x = pt.arange(1000.0, device="opencl")
    y = ((x * 2 + 1).exp().sum() / 3).sqrt()
    z = pt.matmul(x.view(10, 100), x.view(100, 10)).amax(1)
    assert reads == []
    assert isinstance(y.item(), float) and len(reads) == 1
    z.tolist()
    assert len(reads) == 2
    pt.opencl.synchronize()


def test_memory_stats_and_empty_cache():
    pt.opencl.synchronize()
    base = pt.opencl.memory_allocated()
    x = pt.empty(1 << 20, device="opencl")
    assert pt.opencl.memory_allocated() >= base + 4 * (1 << 20)
    assert pt.opencl.max_memory_allocated() >= pt.opencl.memory_allocated()
    del x
    assert pt.opencl.memory_allocated() == base
    pt.opencl.empty_cache()
    assert pt.opencl.memory_reserved() <= pt.opencl.memory_allocated() + (1 << 20)


def test_out_of_memory_is_a_clear_error():
    with pytest.raises(RuntimeError, match="out of memory"):
        pt.empty(1 << 60, dtype=pt.uint8, device="opencl")


@pytest.mark.parametrize("dtype", [pt.float16, pt.bfloat16, pt.float32, pt.float64])
def test_random_is_reproducible_and_plausible(dtype):
    pt.manual_seed(5)
    u = pt.rand(20001, dtype=dtype, device="opencl")
    n = pt.randn(20001, dtype=dtype, device="opencl")
    pt.manual_seed(5)
    assert pt.rand(20001, dtype=dtype, device="opencl").tolist() == u.tolist()
    assert pt.randn(20001, dtype=dtype, device="opencl").tolist() == n.tolist()
    a, b = u.cpu().numpy().astype(np.float64), n.cpu().numpy().astype(np.float64)
    assert a.min() >= 0 and a.max() <= 1 and abs(a.mean() - 0.5) < 0.02
    assert abs(b.mean()) < 0.03 and abs(b.std() - 1) < 0.03
    assert pt.rand(5, dtype=dtype, device="opencl").tolist() != pt.rand(5, dtype=dtype, device="opencl").tolist()


def test_random_ints_views_and_generators():
    pt.manual_seed(0)
    r = pt.randint(-3, 4, (5000,), device="opencl").cpu().numpy()
    assert r.min() == -3 and r.max() == 3
    x = pt.zeros(4, 6, device="opencl")
    x.t()[::2].uniform_(2, 3)                        # non-contiguous target
    v = x.cpu().numpy()
    assert (v[:, ::2] >= 2).all() and (v[:, 1::2] == 0).all()
    g1 = pt.Generator("opencl").manual_seed(3)
    g2 = pt.Generator("opencl").manual_seed(3)
    assert pt.rand(4, generator=g1, device="opencl").tolist() == pt.rand(4, generator=g2, device="opencl").tolist()
    p = pt.randperm(50, device="opencl").cpu().numpy()
    assert sorted(p.tolist()) == list(range(50))


def test_random_whole_int64_range_and_uniform_below_to():
    pt.manual_seed(0)
    r = pt.empty(4096, dtype=pt.int64, device="opencl").random_(-2 ** 63, 2 ** 63).cpu().numpy()   # a span of 2^64
    assert (r < 0).mean() == pytest.approx(0.5, abs=0.05) and len(np.unique(r)) == r.size
    # bfloat16: a draw rounding up to `to` becomes `from`, as PyTorch's (it returned 3.0)
    for dt in (pt.bfloat16, pt.float16):
        u = pt.empty(20000, dtype=dt, device="opencl").uniform_(-2, 3).cpu().float().numpy()
        assert u.max() < 3 and u.min() == -2


def test_arange_full_empty():
    for args, dt in (((0, 10, 3), None), ((1.0, 2.0, 0.25), None), ((0, 5, 1), pt.float32), ((5, -3, -2), pt.int8)):
        want = pt.arange(*args, dtype=dt)
        got = pt.arange(*args, dtype=dt, device="opencl")
        assert got.dtype is want.dtype and got.tolist() == want.tolist()
    assert pt.full((2, 2), 7, dtype=pt.uint8, device="opencl").tolist() == [[7, 7], [7, 7]]
    assert pt.full((3,), True, device="opencl").tolist() == [True] * 3
    assert pt.empty(0, 3, device="opencl").shape == (0, 3)


def test_programs_are_cached_on_disk():
    code = ("import plugtorch as pt\nx = pt.arange(6.0, device='opencl').reshape(2, 3)\n"
            "(x * 2 + x.t().t()).sum(1).tolist()\nprint(pt.opencl.compile_stats())")
    _run(code)
    rc, out = _run(code)
    stats = eval(out.strip().splitlines()[-1])
    assert rc == 0 and stats["programs_built"] >= 1 and stats["build_seconds"] < 0.25 * stats["programs_built"] + 0.5


def test_empty_results_enqueue_no_empty_range(monkeypatch):
    # an empty NDRange is an OpenCL error; PoCL died of SIGFPE on argmax over 0 rows
    import pyopencl as cl
    sizes = []
    real = cl.enqueue_nd_range_kernel

    def spy(queue, kernel, gsize, lsize, *a, **k):
        sizes.append(tuple(gsize))
        return real(queue, kernel, gsize, lsize, *a, **k)
    monkeypatch.setattr(cl, "enqueue_nd_range_kernel", spy)
    x = pt.ones(0, 5, device="opencl")
    assert x.argmax(1).shape == (0,) and x.argmin(1, keepdim=True).shape == (0, 1)
    assert x.sum(1).shape == (0,) and x.amax(1).shape == (0,)
    assert all(0 not in s for s in sizes)
