"""The cuda backend on a real GPU: transfers, ops against NumPy, random, memory, streams, DLPack.

Skipped, with the reason, wherever CuPy or a CUDA device is missing (CI has neither);
tools/gpu_check.sh runs these on a lent GPU. The conformance suite checks every op on cuda
against cpu; these tests cover what is particular to the backend.
"""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch.dispatch import registry

pytestmark = pytest.mark.skipif(not pt.cuda.is_available(),
                                reason=f"cuda unavailable: {pt.cuda.unavailable_reason()}")

DTYPES = [pt.float16, pt.float32, pt.float64, pt.int8, pt.int16, pt.int32, pt.int64, pt.uint8, pt.bool]


@pytest.fixture(scope="module")
def cp():
    import cupy
    return cupy


def host(t):
    return t.cpu().numpy()


# --- devices and the kernel table ------------------------------------------------------------
def test_device_queries():
    assert pt.cuda.device_count() >= 1
    assert pt.cuda.current_device() == 0
    name = pt.cuda.get_device_name(0)
    assert isinstance(name, str) and name
    assert pt.cuda.unavailable_reason() is None
    assert pt.ones(1, device="cuda").device == pt.device("cuda:0")
    assert pt.ones(1, device="cuda").is_cuda


def test_missing_device_index_raises():
    n = pt.cuda.device_count()
    with pytest.raises(RuntimeError, match=f"device 'cuda:{n}' does not exist"):
        pt.zeros(1, device=f"cuda:{n}")


def test_every_core_op_has_a_cuda_kernel():
    pt.ones(1, device="cuda")
    be = pt.backends.get_backend("cuda")
    assert set(registry.core_ops()) - set(be.kernels) == set()


# --- transfers -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_round_trip_keeps_values_and_dtype(dtype):
    a = (np.arange(-6, 6).reshape(3, 4) % (2 if dtype is pt.bool else 100)).astype(dtype.numpy)
    t = pt.tensor(a, device="cuda")
    assert t.dtype is dtype and t.device.type == "cuda"
    back = t.cpu()
    assert back.dtype is dtype
    np.testing.assert_array_equal(back.numpy(), a)


def test_bfloat16_is_refused_with_reason():
    with pytest.raises(TypeError, match="bfloat16 is not supported on device 'cuda:0': CuPy has no "
                                        "bfloat16 arrays; use float16 or float32"):
        pt.zeros(2, dtype=pt.bfloat16, device="cuda")
    with pytest.raises(TypeError, match="bfloat16"):
        pt.ones(2, dtype=pt.bfloat16).to("cuda")


def test_strides_and_storage_offset_in_elements():
    x = pt.arange(24, device="cuda").reshape(2, 3, 4)
    assert x.stride() == (12, 4, 1) and x.storage_offset() == 0
    v = x[1, :, 1:]
    assert v.stride() == (4, 1) and v.storage_offset() == 13
    assert x.transpose(0, 2).stride() == (1, 4, 12)
    assert v.tolist() == [[13, 14, 15], [17, 18, 19], [21, 22, 23]]


def test_view_writes_through_to_base():
    x = pt.zeros(3, 4, device="cuda")
    x[1].fill_(2.0) if hasattr(x, "fill_") else x[1].copy_(pt.full((4,), 2.0, device="cuda"))
    x[:, 2] = 5.0
    np.testing.assert_array_equal(host(x), [[0, 0, 5, 0], [2, 2, 5, 2], [0, 0, 5, 0]])


# --- ops against NumPy -----------------------------------------------------------------------
def test_arithmetic_and_matmul_match_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((33, 17)).astype(np.float32), rng.standard_normal((17, 9)).astype(np.float32)
    ta, tb = pt.tensor(a, device="cuda"), pt.tensor(b, device="cuda")
    np.testing.assert_allclose(host(ta @ tb), a @ b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(host(ta * 2 + 1), a * 2 + 1, rtol=1e-6)
    np.testing.assert_allclose(host(ta.sum(dim=0)), a.sum(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(host(ta.exp()), np.exp(a), rtol=1e-6)
    h = pt.tensor(a[:8, :8], device="cuda").half()
    np.testing.assert_allclose(host(h @ h).astype(np.float32), (a[:8, :8].astype(np.float16).astype(np.float32)
                                                               @ a[:8, :8].astype(np.float16).astype(np.float32)),
                               rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("dtype", [pt.float32, pt.float64, pt.float16], ids=str)
def test_sigmoid_matches_reference(dtype):
    x = np.array([-100.0, -3.0, -0.5, 0.0, 0.5, 3.0, 100.0, np.inf, -np.inf, np.nan])
    want = 1 / (1 + np.exp(-x))
    got = host(pt.tensor(x, dtype=dtype, device="cuda").sigmoid())
    assert got.dtype == dtype.numpy
    half = dtype is pt.float16   # sigmoid(-100) = 3.7e-44 flushes to 0 below float64
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=1e-3 if half else 1e-6,
                               atol=1e-4 if half else 1e-37, equal_nan=True)


def test_sign_of_nan_and_negative_zero_is_positive_zero():
    # PyTorch's (0 < x) - (x < 0), as on cpu (torch 2.13: sign(nan) == 0, sign(-0.0) == +0)
    x = pt.tensor([-2.0, -0.0, 0.0, 3.0, float("nan")], device="cuda")
    got = host(x.sign())
    np.testing.assert_array_equal(got, [-1.0, 0.0, 0.0, 1.0, 0.0])
    assert not np.signbit(got[1:]).any()
    assert host(pt.tensor([-3, 0, 4], device="cuda").sign()).tolist() == [-1, 0, 1]


def test_erf_matches_known_values():
    x = pt.tensor([0.0, 0.5, 1.0, -2.0], device="cuda")
    np.testing.assert_allclose(host(x.erf()), [0.0, 0.5204998778, 0.8427007929, -0.9953222650], rtol=1e-6)


def test_sort_descending_stable_with_nan():
    x = pt.tensor([[3.0, 1.0, float("nan"), 1.0, 2.0]], device="cuda")
    values, idx = x.sort(dim=1, descending=True)
    assert host(idx).tolist() == [[2, 0, 4, 1, 3]]
    v = host(values)[0]
    assert np.isnan(v[0]) and v[1:].tolist() == [3.0, 2.0, 1.0, 1.0]
    values, idx = x.sort(dim=1)
    assert host(idx).tolist() == [[1, 3, 4, 0, 2]]


def test_argmax_and_reductions():
    x = pt.tensor([[1.0, 5.0, 5.0], [7.0, -1.0, 0.0]], device="cuda")
    assert host(x.argmax(dim=1)).tolist() == [1, 0]
    assert x.argmax().item() == 3
    assert x.amax().item() == 7.0 and x.amin().item() == -1.0
    assert pt.tensor([True, False, True], device="cuda").sum().item() == 2


def test_integer_division_by_zero_raises():
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        pt.tensor([1, 2], device="cuda") // pt.tensor([1, 0], device="cuda")


@pytest.mark.parametrize("dtype", [pt.float16, pt.float32, pt.float64, pt.int8, pt.int32, pt.int64,
                                   pt.uint8], ids=str)
def test_index_put_accumulate_with_duplicates(dtype):
    x = pt.zeros(5, dtype=dtype, device="cuda")
    y = x.index_put((pt.tensor([1, 1, 4, 1], device="cuda"),), pt.tensor([1, 2, 3, 4], dtype=dtype, device="cuda"),
                    accumulate=True)
    assert host(y).tolist() == [0, 7, 0, 0, 3]
    assert host(x).tolist() == [0, 0, 0, 0, 0]


def test_scatter_add_int64_and_wrapping_int8():
    idx = pt.tensor([[0, 0, 2]], device="cuda")
    big = pt.tensor([[2**40, 2**40, -5]], device="cuda")
    assert host(pt.zeros(1, 3, dtype=pt.int64, device="cuda").scatter_add(1, idx, big)).tolist() == [[2**41, 0, -5]]
    small = pt.full((1, 3), 100, dtype=pt.int8, device="cuda")
    assert host(pt.zeros(1, 3, dtype=pt.int8, device="cuda").scatter_add(1, idx, small)).tolist() == [[-56, 0, 100]]


def test_scatter_multiply_and_gather():
    x = pt.full((2, 3), 2.0, device="cuda")
    idx = pt.tensor([[0, 0], [2, 1]], device="cuda")
    src = pt.tensor([[3.0, 5.0], [7.0, 11.0]], device="cuda")
    assert host(x.scatter(1, idx, src, reduce="multiply")).tolist() == [[30.0, 2.0, 2.0], [2.0, 22.0, 14.0]]
    assert host(src.gather(1, pt.tensor([[1, 1], [0, 1]], device="cuda"))).tolist() == [[5.0, 5.0], [7.0, 11.0]]


def test_boolean_mask_and_nonzero():
    x = pt.tensor([[1.0, -2.0], [-3.0, 4.0]], device="cuda")
    assert host(x[x > 0]).tolist() == [1.0, 4.0]
    assert host((x > 0).nonzero()).tolist() == [[0, 0], [1, 1]]


def test_autograd_matches_cpu():
    rng = np.random.default_rng(3)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    xin = rng.standard_normal((5, 4)).astype(np.float32)
    grads = []
    for dev in ("cpu", "cuda"):
        W = pt.tensor(w, device=dev, requires_grad=True)
        loss = (pt.tensor(xin, device=dev) @ W).sigmoid().log_softmax(dim=1).sum()
        loss.backward()
        grads.append(host(W.grad))
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-5, atol=1e-6)


# --- random ----------------------------------------------------------------------------------
def test_manual_seed_repeats_on_device():
    pt.cuda.manual_seed(123)
    a = host(pt.rand(1000, device="cuda"))
    pt.cuda.manual_seed(123)
    b = host(pt.rand(1000, device="cuda"))
    np.testing.assert_array_equal(a, b)
    pt.manual_seed(7)
    c = host(pt.randn(1000, device="cuda"))
    pt.manual_seed(7)
    np.testing.assert_array_equal(c, host(pt.randn(1000, device="cuda")))
    assert not np.array_equal(a, host(pt.rand(1000, device="cuda")))


def test_random_distributions():
    pt.cuda.manual_seed_all(0)
    u = host(pt.rand(200_000, device="cuda"))
    assert u.dtype == np.float32 and u.min() >= 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.01
    n = host(pt.randn(200_000, dtype=pt.float64, device="cuda"))
    assert abs(n.mean()) < 0.01 and abs(n.std() - 1) < 0.01
    r = host(pt.randint(-3, 4, (10_000,), device="cuda"))
    assert r.dtype == np.int64 and set(np.unique(r).tolist()) == set(range(-3, 4))
    assert host(pt.rand(0, device="cuda")).shape == (0,)
    h = pt.empty(1000, dtype=pt.float16, device="cuda").uniform_(-2, 2)
    assert h.dtype is pt.float16 and -2 <= h.min().item() and h.max().item() <= 2


def test_generator_object_on_cuda():
    g = pt.Generator("cuda").manual_seed(5)
    a = host(pt.rand(10, device="cuda", generator=g))
    g.manual_seed(5)
    np.testing.assert_array_equal(a, host(pt.rand(10, device="cuda", generator=g)))


# --- memory, synchronisation, streams --------------------------------------------------------
def test_memory_statistics():
    pt.cuda.synchronize()
    pt.cuda.empty_cache()
    base = pt.cuda.memory_allocated()
    pt.cuda.reset_peak_memory_stats()
    x = pt.empty(16 * 2**20, dtype=pt.float32, device="cuda")   # 64 MiB
    assert pt.cuda.memory_allocated() - base >= 64 * 2**20
    assert pt.cuda.max_memory_allocated() >= base + 64 * 2**20
    assert pt.cuda.memory_reserved() >= pt.cuda.memory_allocated()
    del x
    assert pt.cuda.memory_allocated() <= base + 2**20
    assert pt.cuda.max_memory_allocated() >= base + 64 * 2**20      # the peak stays
    reserved = pt.cuda.memory_reserved()
    pt.cuda.empty_cache()
    assert pt.cuda.memory_reserved() <= reserved - 64 * 2**20
    pt.cuda.reset_peak_memory_stats()
    assert pt.cuda.max_memory_allocated() <= base + 2**20


def test_synchronize_streams_and_events():
    x = pt.rand(1 << 20, device="cuda")
    s = pt.cuda.Stream()
    start, end = pt.cuda.Event(enable_timing=True), pt.cuda.Event(enable_timing=True)
    s.wait_stream(pt.cuda.current_stream())   # x was made on the default stream
    with pt.cuda.stream(s):
        assert pt.cuda.current_stream() == s
        start.record(s)
        y = (x * 2).sum()
        end.record(s)
    assert pt.cuda.current_stream() != s
    s.synchronize()
    assert s.query() and end.query()
    assert start.elapsed_time(end) >= 0.0
    assert abs(y.item() - 2 * x.sum().item()) < 1e-3 * abs(y.item())
    pt.cuda.synchronize()
    pt.cuda.synchronize(0)
    pt.cuda.synchronize("cuda:0")
    other = pt.cuda.Stream()
    other.wait_stream(s)
    ev = s.record_event()
    ev.synchronize()
    assert pt.cuda.default_stream() == pt.cuda.default_stream(0)


# --- DLPack ----------------------------------------------------------------------------------
def test_from_dlpack_cupy_shares_memory(cp):
    a = cp.arange(6, dtype=cp.float32).reshape(2, 3)
    t = pt.from_dlpack(a)
    assert t.device == pt.device("cuda:0") and t.dtype is pt.float32 and t.shape == (2, 3)
    a[1, 1] = 42
    assert t[1, 1].item() == 42.0
    t.add_(1)
    assert float(a[0, 0]) == 1.0


def test_cupy_from_dlpack_of_tensor_shares_memory(cp):
    t = pt.zeros(4, dtype=pt.int32, device="cuda")
    assert t.__dlpack_device__() == (2, 0)
    a = cp.from_dlpack(t)
    a[2] = 9
    assert host(t).tolist() == [0, 0, 9, 0]


def test_dlpack_round_trip_and_refusals(cp):
    t = pt.arange(5, dtype=pt.float64, device="cuda")
    again = pt.from_dlpack(t)
    again[0] = -1
    assert t[0].item() == -1.0
    with pytest.raises(RuntimeError, match="require gradient"):
        cp.from_dlpack(pt.ones(2, device="cuda", requires_grad=True))


def test_torch_interop_when_installed():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch sees no CUDA device")
    t = pt.arange(4, dtype=pt.float32, device="cuda")
    tt = torch.from_dlpack(t)
    tt[1] = 10
    assert host(t).tolist() == [0.0, 10.0, 2.0, 3.0]
    back = pt.from_dlpack(torch.ones(3, device="cuda"))
    assert host(back).tolist() == [1.0, 1.0, 1.0]
