"""float16 on opencl (16-bit storage computed in float) is bit for bit NumPy's float16.

Rounding edge cases: ties to even, subnormals, overflow to inf, -0.0 and NaN, in casts from and
to every float width and integers, in pointwise ops, reductions, scans and matmul.
"""
import numpy as np
import pytest

import plugtorch as pt
from .conftest import DEV

F16 = np.float16
ULP1 = 2.0 ** -10          # float16's spacing at 1
TINY = 2.0 ** -24          # its smallest subnormal
NAN_BITS = {0x7E00, 0xFE00}


def bits(a):
    return np.asarray(a, dtype=F16).view(np.uint16)


def assert_bits_equal(got, want):
    """Same float16 bit patterns; NaNs need only be NaNs where an op made them (their sign and
    payload come from the hardware: x86 makes -nan, other devices +nan)."""
    g, w = got.cpu().numpy(), np.asarray(want)
    assert got.dtype is pt.float16 and g.dtype == F16 and g.shape == w.shape
    nan = np.isnan(w)
    np.testing.assert_array_equal(np.isnan(g), nan)
    np.testing.assert_array_equal(bits(g)[~nan], bits(w)[~nan])


def f32_edges():
    """float32 values at every rounding boundary of float16, both signs."""
    v = [0.0, 1.0, 1 + ULP1 / 2, 1 + 3 * ULP1 / 2,             # ties: to 1.0 and to 1 + 2 ulp
         1 + ULP1 / 2 + 2.0 ** -23, 1 + ULP1 / 2 - 2.0 ** -23,  # just above / below a tie
         2049.0, 2051.0, 2050.0,                                 # integer ties at 2048..4096
         65504.0, 65519.0, 65520.0, 65536.0, 1e10, 3.4e38,       # largest finite, to inf
         2.0 ** -14, 2.0 ** -14 - 2.0 ** -25, 2.0 ** -14 - 2.0 ** -26,   # smallest normal
         TINY, TINY / 2, TINY / 2 + 2.0 ** -40, 3 * TINY / 2, 5 * TINY / 2, TINY / 4,  # subnormals
         1e-30, 1e-40, np.finfo(np.float32).tiny, float("inf"), 0.1, 1 / 3, 1e4 + 0.5]
    a = np.array(v, dtype=np.float32)
    return np.concatenate([a, -a, np.float32([float("nan"), -float("nan")])])


def test_float32_to_float16_rounds_as_numpy():
    x = f32_edges()
    got = pt.tensor(x).to(DEV).to(pt.float16)
    want = x.astype(F16)
    assert_bits_equal(got, want)
    assert set(bits(got.cpu().numpy())[np.isnan(x)].tolist()) == NAN_BITS   # quiet NaNs keep their sign


def test_float32_to_float16_random_bit_patterns():
    # exponents from below float16's subnormals to above its range, any mantissa and sign
    rng = np.random.default_rng(0)
    n = 1 << 18
    e = rng.integers(100, 146, n, dtype=np.uint32)
    u = (rng.integers(0, 2, n, dtype=np.uint32) << 31) | (e << 23) | rng.integers(0, 1 << 23, n, dtype=np.uint32)
    x = u.view(np.float32)
    with np.errstate(over="ignore"):
        assert_bits_equal(pt.tensor(x).to(DEV).to(pt.float16), x.astype(F16))


def test_every_float16_widens_exactly():
    h = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(F16)
    x = pt.tensor(h).to(DEV)
    for dt, npdt in ((pt.float32, np.float32), (pt.float64, np.float64)):
        got = x.to(dt).cpu().numpy()
        nan = np.isnan(h)
        np.testing.assert_array_equal(np.isnan(got), nan)
        np.testing.assert_array_equal(got[~nan].view(np.uint32 if npdt is np.float32 else np.uint64),
                                      h[~nan].astype(npdt).view(np.uint32 if npdt is np.float32 else np.uint64))
    back = x.to(pt.float32).to(pt.float16).cpu().numpy()
    np.testing.assert_array_equal(bits(back)[~np.isnan(h)], bits(h)[~np.isnan(h)])
    # the quiet NaNs float16 arithmetic makes keep their bits through a round trip
    q = pt.tensor(np.array([0x7E00, 0xFE00], np.uint16).view(F16)).to(DEV)
    assert bits(q.float().half().cpu().numpy()).tolist() == [0x7E00, 0xFE00]


def test_float64_to_float16_rounds_once():
    # 1 + 2^-11 + 2^-40 is above the tie: rounding to float32 first would make it an exact tie and
    # round it down to 1.0 (NumPy, and so cpu, round the double directly)
    x = np.array([1 + 2.0 ** -11 + 2.0 ** -40, 1 + 2.0 ** -11 - 2.0 ** -40, 1 + 2.0 ** -11,
                  2049 + 2.0 ** -30, 65519.99999999, 65520.0, 1e300, 2.0 ** -25 + 2.0 ** -60, 2.0 ** -25,
                  -(2.0 ** -25) - 2.0 ** -70, 1e-320, -0.0, float("inf"), float("nan")])
    rng = np.random.default_rng(1)
    ties = (rng.integers(1, 2048, 2000) * 2 + 1) * 2.0 ** rng.integers(-25, 5, 2000)   # odd / 2^k: ties
    x = np.concatenate([x, ties, ties * (1 + 2.0 ** -45), ties * (1 - 2.0 ** -45), -ties])
    with np.errstate(over="ignore"):
        want = x.astype(F16)
    assert_bits_equal(pt.tensor(x).to(DEV).to(pt.float16), want)
    z = pt.full((1,), -0.0, dtype=pt.float16, device=DEV)   # (-0.0 + v is v) a 0-d float64 operand is cast to float16 first
    for v, w in zip(x[:13], want[:13]):
        assert_bits_equal(z + pt.tensor(v, device=DEV), np.array([w]))


def test_float64_to_bfloat16_rounds_once():
    # the same for bfloat16 (8-bit significand): 1 + 2^-8 + 2^-40 rounds up to 1 + 2^-7 as ml_dtypes
    # (and so cpu) round it; through float32 it became the tie 1 + 2^-8 and rounded down to 1.0
    import ml_dtypes
    rng = np.random.default_rng(2)
    ties = (rng.integers(1, 256, 2000) * 2 + 1) * 2.0 ** rng.integers(-130, 120, 2000)   # odd / 2^k: ties
    x = np.concatenate([[1 + 2.0 ** -8 + 2.0 ** -40, 1 + 2.0 ** -8 - 2.0 ** -40, 1e300, -0.0, float("inf")],
                        ties, ties * (1 + 2.0 ** -45), ties * (1 - 2.0 ** -45), -ties])
    want = x.astype(ml_dtypes.bfloat16).astype(np.float32)
    assert want[0] == 1 + 2.0 ** -7
    got = pt.tensor(x).to(DEV).to(pt.bfloat16).cpu().float().numpy()
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


def test_integers_and_bfloat16_to_float16():
    i = np.array([0, 1, -1, 2049, 2051, 4097, 65504, 65519, 65520, 70000, -70000, 2 ** 31 - 1], np.int64)
    for dt in (pt.int32, pt.int64):
        assert_bits_equal(pt.tensor(i, dtype=dt).to(DEV).to(pt.float16), i.astype(F16))
    b = pt.tensor([1.0, 1.0078125, 65536.0, 3e38, 2.0 ** -20, -0.0], dtype=pt.bfloat16)
    assert_bits_equal(b.to(DEV).to(pt.float16), b.float().numpy().astype(F16))
    h = pt.tensor(np.array([1 + ULP1, 1 + 3 * ULP1, 65504, 2.0 ** -24, -0.0], F16))
    assert h.to(DEV).to(pt.bfloat16).cpu().float().tolist() == h.to(pt.bfloat16).float().tolist()


def _pairs():
    a = np.array([2048, 2048, 65504, 65504, -65504, 1 + ULP1, TINY, 3 * TINY, -TINY, 0.0, -0.0, 1.0,
                  float("inf"), float("nan"), 1e-4, 3.0], F16)
    b = np.array([1, 3, 16, 15.9, -16, 1 + ULP1, 0.5, 0.5, 0.25, -0.0, -0.0, -1.0,
                  -float("inf"), 1.0, 1e-4, 7.0], F16)
    return a, b


@pytest.mark.parametrize("op", ["add", "sub", "mul"])
def test_binary_ops_round_as_numpy(op):
    a, b = _pairs()
    f = {"add": np.add, "sub": np.subtract, "mul": np.multiply}[op]
    got = getattr(pt, op)(pt.tensor(a).to(DEV), pt.tensor(b).to(DEV))
    assert_bits_equal(got, f(a, b))
    got = getattr(pt, op)(pt.tensor(a).to(DEV).view(4, 4).t(), pt.tensor(b).to(DEV).view(4, 4).t())   # strided
    assert_bits_equal(got, f(a.reshape(4, 4).T, b.reshape(4, 4).T))


def test_long_contiguous_operands_match_numpy():
    # (the contiguous kernels convert eight values at a time where they can; the tail is 5 long)
    rng = np.random.default_rng(2)
    a = rng.standard_normal(1003).astype(F16) * F16(300)
    b = (rng.standard_normal(1003) * 1e-3).astype(F16)
    c = np.where(rng.random(1003) < 0.1, F16(65504), a)
    A, B, C = (pt.tensor(v).to(DEV) for v in (a, b, c))
    assert_bits_equal(A * B + C, a * b + c)
    assert_bits_equal(A - C, a - c)
    assert_bits_equal(pt.neg(A), -a)
    assert_bits_equal(A[3:] * B[3:], a[3:] * b[3:])          # at an offset


def test_unary_ops_and_where():
    a, _ = _pairs()
    x = pt.tensor(a).to(DEV)
    assert_bits_equal(pt.neg(x), -a)
    assert_bits_equal(pt.abs(x), np.abs(a))
    assert_bits_equal(pt.floor(x * 0.5), np.floor(a * F16(0.5)))
    assert_bits_equal(pt.where(x > 1, x, -0.0), np.where(a > 1, a, F16(-0.0)))
    assert pt.isnan(x).cpu().tolist() == np.isnan(a).tolist()
    assert (x == x).cpu().tolist() == (a == a).tolist()


def test_python_scalars_round_as_cpu():
    # add rounds its scalar to float16 first (0.1 -> 0.0999755859375); mul takes it as a float32
    # and rounds the product once (PyTorch's opmath), as the cpu backend does
    h = np.array([1.0, 3.0, 2047.0, 65504.0, -7.5, TINY * 3], F16)
    x = pt.tensor(h)
    for f in (lambda t: t + 0.1, lambda t: t * 0.1, lambda t: t / 3.3, lambda t: t - 1e5, lambda t: 2.5 - t):
        want = f(x).numpy()
        assert_bits_equal(f(x.to(DEV)), want)
    assert_bits_equal(pt.full((3,), 2050.999, dtype=pt.float16, device=DEV), np.full(3, 2050.999).astype(F16))
    assert_bits_equal(pt.full((2,), 1 / 3, dtype=pt.float16, device=DEV), np.full(2, 1 / 3).astype(F16))


def test_reductions_accumulate_in_float32():
    # float16 ones summed in float16 stop at 2048 (2048 + 1 rounds back); in float32 they reach
    # 60000, rounded once. 70000 overflows to inf as on cpu. The long ones split over work-groups.
    for n, want in ((5000, 5000.0), (60000, 60000.0), (70000, float("inf")), (4097, 4096.0)):
        assert bits(pt.ones(n, dtype=pt.float16, device=DEV).sum().cpu().numpy()) == bits(F16(want))
    rng = np.random.default_rng(3)
    x = rng.uniform(-3, 3, (4, 3000)).astype(F16)
    want = np.add.reduce(x, axis=1, dtype=np.float32).astype(F16)
    got = pt.tensor(x).to(DEV).sum(1)
    assert got.dtype is pt.float16
    np.testing.assert_allclose(got.cpu().numpy().astype(np.float64), want.astype(np.float64), rtol=1e-3, atol=1e-2)
    assert_bits_equal(pt.tensor(x).to(DEV).amax(1), x.max(1))
    m = pt.tensor(np.array([[2048, 1, 0.5], [65504, 8, 8], [-TINY, TINY / 2, 0]], F16)).to(DEV)
    assert_bits_equal(m.sum(1), np.add.reduce(m.cpu().numpy(), axis=1, dtype=np.float32).astype(F16))
    assert_bits_equal(m.prod(1), np.multiply.reduce(m.cpu().numpy(), axis=1, dtype=np.float32).astype(F16))


def test_cumsum_and_matmul_round_once_per_element():
    ones = np.ones(3000, F16)
    want = np.cumsum(ones, dtype=np.float32).astype(F16)     # 2049 -> 2048, 2051 -> 2052, ...
    assert_bits_equal(pt.tensor(ones).to(DEV).cumsum(0), want)
    a = np.array([[2048, 1, 0], [65504, 16, 0], [1, 1 + ULP1, -3], [TINY, TINY, TINY]], F16)
    b = np.array([[1, 2], [1, 1], [1, 1]], F16)
    want = (a.astype(np.float32) @ b.astype(np.float32)).astype(F16)   # exact in float32, rounded once
    assert_bits_equal(pt.tensor(a).to(DEV) @ pt.tensor(b).to(DEV), want)
    # whole 4 x 16 tiles and partial ones: integer sums up to 52800, exact in float32, many of
    # them ties in float16 (above 2048 its spacing is 2 or more)
    rng = np.random.default_rng(5)
    a, b = (rng.integers(-40, 41, shape).astype(F16) for shape in ((9, 33), (33, 40)))
    want = (a.astype(np.float32) @ b.astype(np.float32)).astype(F16)
    assert_bits_equal(pt.tensor(a).to(DEV) @ pt.tensor(b).to(DEV), want)
    assert_bits_equal(pt.tensor(a).to(DEV) @ pt.tensor(b.T.copy()).to(DEV).t(), want)   # B a transposed view


def test_arange_sort_and_indexing():
    assert_bits_equal(pt.arange(0, 1, 0.1, dtype=pt.float16, device=DEV), (np.arange(10) * 0.1).astype(F16))
    a, _ = _pairs()
    v, i = pt.sort(pt.tensor(a).to(DEV), descending=True)
    wv, wi = pt.sort(pt.tensor(a), descending=True)
    assert_bits_equal(v, wv.numpy())
    assert i.cpu().tolist() == wi.tolist()
    assert_bits_equal(pt.tensor(a).to(DEV)[pt.tensor([3, 0, 3, 9], device=DEV)], a[[3, 0, 3, 9]])
    # index_put with accumulate adds in order, rounding each sum as np.add.at: 2048 + 1 -> 2048
    acc = pt.zeros(2, dtype=pt.float16, device=DEV).index_put_(
        (pt.tensor([0, 0, 1], device=DEV),), pt.tensor([2048.0, 1.0, -0.0], dtype=pt.float16, device=DEV),
        accumulate=True)
    want = np.zeros(2, F16)
    np.add.at(want, [0, 0, 1], np.array([2048, 1, -0.0], F16))
    assert_bits_equal(acc, want)


def test_portable_bit_conversions_match_numpy_bit_for_bit():
    # where the compiler has no F16C (GPUs, non-x86 CPUs) float16 converts by bit manipulation:
    # checked here on whatever device this is, on every float16 and on float32 values around every
    # rounding boundary; NaN payloads included, as NumPy keeps them
    from plugtorch.backends.opencl import runtime
    dev = runtime.state(0)
    src = """__kernel void k(__global float* wide, __global ushort* narrow, __global const ushort* h,
                         __global const float* f, const long n) {
    const long i = get_global_id(0);
    if (i < n) { wide[i] = f16_load_bits(h[i]); narrow[i] = f16_store_bits(f[i]); }
}"""
    k = dev.kernel(("test_f16_bits",), src, "k", [None, None, None, None, np.int64])
    h = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    rng = np.random.default_rng(4)
    e = rng.integers(100, 146, 1 << 16, dtype=np.uint32)
    u = (rng.integers(0, 2, 1 << 16, dtype=np.uint32) << 31) | (e << 23) | rng.integers(0, 1 << 23, 1 << 16, dtype=np.uint32)
    edges = f32_edges().view(np.uint32)
    u[:edges.size] = edges
    u[edges.size:edges.size + 4] = [0x7F800001, 0xFF801000, 0x7FBFFFFF, 0x00000001]   # NaN payloads, a denormal
    f = u.view(np.float32)
    wide, narrow = dev.empty(h.shape, np.dtype(np.float32)), dev.empty(h.shape, np.dtype(np.uint16))
    hb, fb = runtime.from_host(dev, h), runtime.from_host(dev, f)
    k.set_args(wide.data, narrow.data, hb.data, fb.data, h.size)
    dev.launch(k, h.size)
    with np.errstate(over="ignore", invalid="ignore"):
        np.testing.assert_array_equal(runtime.to_host(wide).view(np.uint32), h.view(F16).astype(np.float32).view(np.uint32))
        np.testing.assert_array_equal(runtime.to_host(narrow), f.astype(F16).view(np.uint16))


def test_backward_in_float16_matches_cpu():
    # a conv -> relu -> pool -> linear -> log_softmax step entirely in float16: the gradients
    # are the cpu backend's (the same rounded kernels; log_softmax within an ulp or two)
    import plugtorch.nn.functional as F
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal(s).astype(F16) * F16(0.5) for s in ((2, 3, 6, 6), (4, 3, 3, 3), (5, 36), (5,))]
    target = pt.tensor([1, 4])

    def step(dev):
        x, w, v, b = (pt.tensor(a, device=dev, requires_grad=True) for a in arrays)
        h = F.max_pool2d(F.relu(F.conv2d(x, w, padding=1)), 2).reshape(2, 36)
        loss = F.nll_loss(F.log_softmax(F.linear(h, v, b), 1).float(), target.to(dev))
        loss.backward()
        return [loss.detach().cpu()] + [t.grad.cpu() for t in (x, w, v, b)]

    for got, want in zip(step(DEV), step("cpu")):
        assert got.dtype is want.dtype
        np.testing.assert_allclose(got.float().numpy(), want.float().numpy(), rtol=1e-2, atol=1e-3)


def test_amp_benchmark_smoke(capsys):
    # benchmarks/amp.py checks its float16 result against NumPy bit for bit, then prints the table
    import os
    import runpy
    path = os.path.join(os.path.dirname(__file__), "..", "..", "..", "benchmarks", "amp.py")
    mod = runpy.run_path(path)
    mod["main"](["--rounds", "1", "--log2n", "12"])
    out = capsys.readouterr().out
    assert "2^12 elements" in out and "float16" in out and "x  (target >= 1.30)" in out
    with pytest.raises(SystemExit):
        mod["main"](["--rounds", "0"])
