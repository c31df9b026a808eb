"""Values and dtypes at the edges (inf, nan, -0.0, half precision, integer wrap-around), as
torch 2.13 gives them, on every backend. Each expected value below was computed with torch 2.13
(the fuzzer's findings 3-10, 13 and 13a of issue 15); none is derived from plugtorch itself."""
import math
import re

import numpy as np
import pytest

import plugtorch as pt

inf, nan = math.inf, math.nan
DEVICES = pt.backends.available()   # cpu, opencl (PoCL), the example plug-in 'strict', cuda if present


def _same(got, want):
    """Element-for-element equality with nan matching nan and the sign of zero checked."""
    g = np.asarray(got.cpu().float().numpy() if got.dtype is pt.bfloat16 else got.cpu().numpy(), dtype=np.float64)
    w = np.asarray(want, dtype=np.float64)
    assert g.shape == w.shape and np.array_equal(g, w, equal_nan=True), (g.tolist(), w.tolist())
    num = ~np.isnan(w)
    assert np.array_equal(np.signbit(g[num]), np.signbit(w[num])), ("sign of zero", g.tolist(), w.tolist())


def _supports(device, dtype):
    return pt.device(device).type == "cpu" or dtype in pt.backends.get_backend(pt.device(device).type).supported_dtypes(0)


@pytest.mark.parametrize("device", DEVICES)
def test_isclose_opposite_infinities_are_never_close(device):
    # finding 3: inf - (-inf) is inf, which is <= atol + rtol * inf; PyTorch requires a finite error
    a = pt.tensor([-inf, inf, inf, 1.0, nan, 1e30, inf], device=device)
    b = pt.tensor([inf, -inf, inf, inf, nan, inf, 1e30], device=device)
    want = [False, False, True, False, False, False, False]
    assert pt.isclose(a, b).tolist() == want
    assert pt.isclose(a, b, rtol=inf, atol=inf).tolist() == want
    assert pt.isclose(a, b, equal_nan=True).tolist() == [False, False, True, False, True, False, False]
    # integers: compared in float32 with the tolerances (torch: [True, True]; the int32 difference
    # 2**32 - 1 does not wrap to 1)
    assert pt.isclose(pt.tensor([1, 2], device=device), pt.tensor([1, 3], device=device), atol=1).tolist() == [True, True]
    big = pt.tensor([-2**31, 5], dtype=pt.int32, device=device)
    assert pt.isclose(big, pt.tensor([2**31 - 1, 5], dtype=pt.int32, device=device), atol=0.5).tolist() == [False, True]
    assert pt.allclose(pt.tensor([inf], device=device), pt.tensor([-inf], device=device), atol=inf) is False


def test_isclose_refuses_mixed_dtypes():
    with pytest.raises(RuntimeError, match=r"isclose\(\).*float32 did not match.*float64"):
        pt.isclose(pt.ones(2), pt.ones(2, dtype=pt.float64))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [pt.float32, pt.float64, pt.float16, pt.bfloat16])
def test_sign_of_nan_and_negative_zero_is_positive_zero(device, dtype):
    # finding 4: PyTorch's sign is (0 < x) - (x < 0); torch 2.13 gives [0., 0., 0., -1., 1.]
    if not _supports(device, dtype):
        pytest.skip(f"{device} has no {dtype}")
    x = pt.tensor([nan, -0.0, 0.0, -inf, 2.0], device=device).to(dtype)
    _same(pt.sign(x), [0.0, 0.0, 0.0, -1.0, 1.0])
    _same(pt.sgn(x), [0.0, 0.0, 0.0, -1.0, 1.0])


@pytest.mark.parametrize("device", DEVICES)
def test_log_softmax_of_rows_with_infinities(device):
    # finding 5: an infinite row max is not replaced by 0 (that is logsumexp's rule, not log_softmax's)
    rows = [[inf, 1.0, 2.0], [-inf, -inf, -inf], [inf, -inf, 0.0], [-inf, 1.0, -inf]]
    want = [[nan, nan, nan], [nan, nan, nan], [nan, nan, nan], [-inf, 0.0, -inf]]
    x = pt.tensor(rows, device=device)
    _same(pt.log_softmax(x, 1), want)
    _same(pt.nn.functional.log_softmax(x.double(), 1), want)
    _same(pt.softmax(x, 1)[:3], [[nan] * 3] * 3)
    _same(pt.logsumexp(x, 1), [inf, -inf, inf, 1.0])   # logsumexp keeps its rule


@pytest.mark.parametrize("device", DEVICES)
def test_lerp_is_exact_at_the_ends(device):
    # finding 6: PyTorch computes from the nearer end (|weight| < 0.5 from input, else from end)
    a, b = pt.tensor([1e20, 3.0, -1e20], device=device), pt.tensor([1.0, 5.0, 2.0], device=device)
    assert pt.lerp(a, b, 1.0).tolist() == [1.0, 5.0, 2.0]
    assert pt.lerp(a, b, 0.0).tolist() == a.tolist()
    assert pt.lerp(a, b, pt.tensor([1.0, 0.0, 1.0], device=device)).tolist() == [1.0, 3.0, 2.0]
    assert pt.lerp(pt.tensor([0.0], device=device), pt.tensor([10.0], device=device), -1.0).tolist() == [-10.0]
    with pytest.raises(TypeError, match=r"lerp\(\): expected a Tensor or a number, got str"):
        pt.lerp(a, b, "a")
    # gradients are the formula's, whichever branch: d/dinput 1 - w, d/dend w, d/dweight end - input
    x = pt.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = pt.tensor([3.0, 0.0], device=device, requires_grad=True)
    w = pt.tensor([0.2, 0.9], device=device, requires_grad=True)
    pt.lerp(x, y, w).sum().backward()
    assert np.allclose(x.grad.tolist(), [0.8, 0.1]) and np.allclose(y.grad.tolist(), [0.2, 0.9])
    assert w.grad.tolist() == [2.0, -2.0]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype,lerp_want,lae_want", [
    # finding 7: computed in float32 and rounded once (torch 2.13 values)
    (pt.bfloat16, [251.0], [0.10009765625, 0.14453125]),
    (pt.float16, [250.75], [0.0999755859375, 0.14404296875]),
])
def test_half_precision_lerp_and_logaddexp_round_once(device, dtype, lerp_want, lae_want):
    if not _supports(device, dtype):
        pytest.skip(f"{device} has no {dtype}")
    t = lambda v: pt.tensor(v, dtype=dtype, device=device)   # noqa: E731
    _same(pt.lerp(t([1000.0]), t([1.0]), 0.75), lerp_want)
    _same(pt.logaddexp(t([-inf, 0.1]), t([0.1, -3.0])), lae_want)


@pytest.mark.parametrize("device", DEVICES)
def test_logaddexp_edges(device):
    x = pt.tensor([0.0, -inf, inf, inf, -inf, 1.0, nan], device=device)
    y = pt.tensor([-30.0, -inf, inf, -inf, 2.0, nan, 1.0], device=device)
    got = pt.logaddexp(x, y).tolist()   # torch 2.13: log1p keeps exp(-30); equal infinities give themselves
    assert got[0] == pytest.approx(9.357622912219837e-14, rel=1e-6, abs=0)
    _same(pt.logaddexp(x, y)[1:], [-inf, inf, inf, 2.0, nan, nan])
    a = pt.tensor([1.0, 2.0], device=device, requires_grad=True)
    b = pt.tensor([1.0, 0.0], device=device, requires_grad=True)
    pt.logaddexp(a, b).sum().backward()
    assert np.allclose(a.grad.tolist(), [0.5, 0.880797]) and np.allclose(b.grad.tolist(), [0.5, 0.119203])


EINSUM = [   # (equation, operand shapes, dtype of the operands, torch 2.13's result dtype)
    ("ij,jk->ik", [(2, 3), (3, 2)], pt.int32, pt.int32),     # contractions keep the dtype (bmm)
    ("ij,j->i", [(2, 3), (3,)], pt.int32, pt.int32),
    ("bij,bjk->bik", [(2, 2, 2), (2, 2, 2)], pt.int16, pt.int16),
    ("ij,j,j->i", [(2, 3), (3,), (3,)], pt.int32, pt.int32),
    ("i,i->i", [(3,), (3,)], pt.int8, pt.int8),
    ("ij->ji", [(2, 3)], pt.int32, pt.int32),
    ("ii->i", [(3, 3)], pt.int16, pt.int16),
    ("ij->", [(2, 3)], pt.int8, pt.int64),                   # one operand: sum() widens
    ("ij->j", [(2, 3)], pt.bool, pt.int64),
    ("ij,k->k", [(2, 3), (2,)], pt.int32, pt.int64),         # summed within one operand: sum() widens
    ("ij,jk->", [(2, 3), (3, 2)], pt.int32, pt.int64),
    ("ij,jk->", [(1, 3), (3, 1)], pt.int32, pt.int32),       # ... unless that dim has size 1
    ("i,i->i", [(2,), (2,)], pt.bool, pt.bool),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("eq,shapes,dtype,want", EINSUM, ids=[f"{e[0]}-{e[2]}-{len(e[1])}" for e in EINSUM])
def test_einsum_integer_dtypes(device, eq, shapes, dtype, want):
    ops = [pt.ones(*s, dtype=dtype, device=device) for s in shapes]
    r = pt.einsum(eq, *ops)
    assert r.dtype is want
    np.testing.assert_array_equal(r.cpu().numpy(), np.einsum(eq, *[np.ones(s, np.int64) for s in shapes]))


@pytest.mark.parametrize("device", DEVICES)
def test_einsum_integer_contractions_wrap_and_refusals(device):
    u = pt.ones(2, 3, dtype=pt.uint8, device=device) * 100
    assert pt.einsum("ij,jk->ik", u, pt.ones(3, 2, dtype=pt.uint8, device=device)).tolist() == [[44, 44], [44, 44]]
    b = pt.ones(2, dtype=pt.bool, device=device)
    with pytest.raises(NotImplementedError, match=r"einsum\(\).*Bool.*bmm"):
        pt.einsum("i,i->", b, b)
    with pytest.raises(RuntimeError, match=r"einsum\(\): expected all operands to have the same dtype"):
        pt.einsum("ij,jk->ik", pt.ones(2, 3, dtype=pt.int32, device=device), pt.ones(3, 2, device=device))


@pytest.mark.parametrize("device", DEVICES)
def test_half_precision_einsum_sums_in_float32(device):
    if not _supports(device, pt.float16):
        pytest.skip(f"{device} has no float16")
    a = pt.full((1, 3), 30.0, dtype=pt.float16, device=device)
    b = pt.full((1, 3), 1.001, dtype=pt.float16, device=device)
    # torch 2.13: 90.0625 (each product 30.03 rounded to float16 would sum to 90.0)
    assert pt.einsum("ij,ij->i", a, b).tolist() == [90.0625]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("start,end,steps,dtype,want", [
    (0, -1, 4, pt.uint8, [0, 85, 170, 255]),     # a negative int end wraps for uint8 first
    (-3, -inf, 1, pt.int32, [-3]),               # one step: only start is converted
    (-3, -inf, 0, pt.int32, []),
    (0, 2.5, 3, pt.int64, [0, 1, 2]),
    (-3, -inf, 4, pt.float32, [nan, -inf, nan, nan]),
    (0, 1e39, 3, pt.float64, [0.0, 5e38, 1e39]),
    (0.0, 1, 1, pt.bool, [0.0]),
])
def test_linspace_converts_its_ends_to_the_dtype(device, start, end, steps, dtype, want):
    _same(pt.linspace(start, end, steps, dtype=dtype, device=device), want)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("start,end,steps,dtype,exc,match", [
    # finding 10: torch 2.13 "value cannot be converted to type int without overflow"
    (-3, -inf, 4, pt.int32, RuntimeError, "value -inf cannot be converted to type int32 without overflow"),
    (nan, 3, 4, pt.int64, RuntimeError, "value nan cannot be converted to type int64"),
    (0, 3e9, 4, pt.int32, RuntimeError, "3000000000.0 cannot be converted to type int32"),
    (0, 300, 4, pt.uint8, RuntimeError, "300 cannot be converted to type uint8"),
    (-1.0, 1, 3, pt.uint8, RuntimeError, "-1.0 cannot be converted to type uint8"),
    (-inf, 3, 1, pt.int32, RuntimeError, "-inf cannot be converted to type int32"),
    (0, 1e39, 3, pt.float32, RuntimeError, "1e[+]39 cannot be converted to type float32"),
    (0, 1, 3, pt.bool, NotImplementedError, r"linspace\(\): not implemented for dtype plugtorch.bool"),
])
def test_linspace_refuses_ends_the_dtype_cannot_hold(device, start, end, steps, dtype, exc, match):
    with pytest.raises(exc, match=match):
        pt.linspace(start, end, steps, dtype=dtype, device=device)


@pytest.mark.parametrize("device", DEVICES)
def test_threshold_backward_dtypes(device):
    # finding 13: the result is the operands' promoted dtype; torch 2.13 has no bool kernel
    T = pt.ops.threshold_backward
    b = pt.ones(2, dtype=pt.bool, device=device)
    with pytest.raises(NotImplementedError, match=r"threshold_backward\(\).*'Bool'"):
        T(b, b, 0)
    assert T(b, pt.ones(2, device=device), 0).dtype is pt.float32
    r = T(pt.ones(2, dtype=pt.int32, device=device), pt.ones(2, dtype=pt.int64, device=device), 0)
    assert r.dtype is pt.int64 and r.tolist() == [1, 1]
    r = T(pt.ones(2, dtype=pt.int32, device=device), pt.tensor([0.5, 2.0], device=device), 1.5)
    assert r.dtype is pt.float32 and r.tolist() == [0.0, 1.0]
    # the threshold takes the dtype too: -1 is 255 in uint8, so every element is at or below it
    g, x = pt.tensor([3, 4], dtype=pt.uint8, device=device), pt.tensor([0, 2], dtype=pt.uint8, device=device)
    assert T(g, x, -1).tolist() == [0, 0]
    assert T(g, x, 1.5).tolist() == [0, 4]


@pytest.mark.parametrize("device", DEVICES)
def test_comparisons_with_a_python_int_wrap_it_to_the_dtype(device):
    # finding 13a: torch 2.13 converts the scalar to the promoted dtype (uint8: -3 is 253, 300 is 44)
    u = pt.tensor([1, 200], dtype=pt.uint8, device=device)
    assert (u < -3).tolist() == [True, True]
    assert (u > 300).tolist() == [False, True]
    assert (u == -56).tolist() == [False, True] and pt.ne(u, -56).tolist() == [True, False]
    assert pt.ge(u, -56).tolist() == [False, True] and pt.le(u, -56).tolist() == [True, True]
    assert (-3 > u).tolist() == [True, True] and (300 < u).tolist() == [False, True]
    i8 = pt.tensor([1, 100], dtype=pt.int8, device=device)
    assert (i8 < 200).tolist() == [False, False] and (i8 == -156).tolist() == [False, True]
    assert (i8 > 2**40).tolist() == [True, True]
    i32 = pt.tensor([1, 100], dtype=pt.int32, device=device)
    assert (i32 < 2**40).tolist() == [False, False] and (i32 == 2**32 + 1).tolist() == [True, False]
    # a float scalar, or a bool tensor against an int, promotes instead: no wrapping
    assert (u < 2.5).tolist() == [True, False] and (u <= -3.5).tolist() == [False, False]
    t = pt.tensor([True, False], device=device)
    assert (t < 2).tolist() == [True, True] and (t > -1).tolist() == [True, True] and (t == 2).tolist() == [False, False]


@pytest.mark.parametrize("device", DEVICES)
def test_clamp_promotes_over_both_bounds_before_comparing(device):
    # make fuzz seed 13: uint8 clamped to (-2, 2.5) computes in float32 (torch 2.13: [0., 1., 2.5]);
    # -2 was wrapped to uint8's 254 first, giving [2.5, 2.5, 2.5]
    u = pt.tensor([0, 1, 5], dtype=pt.uint8, device=device)
    r = u.clamp(min=-2, max=2.5)
    assert r.dtype is pt.float32 and r.tolist() == [0.0, 1.0, 2.5]
    assert u.clamp(pt.tensor(-2, device=device), 2.5).tolist() == [0.0, 1.0, 2.5]
    # one int bound alone keeps uint8 and wraps, as in torch
    assert u.clamp(min=-2).tolist() == [254, 254, 254] and u.clamp(min=-2).dtype is pt.uint8
    with pytest.raises(RuntimeError, match="clamp.*300.*uint8"):
        u.clamp(min=300)


_CAST_VALUES = [0.0, -1.0, 3.7, -3.7, 255.5, 300.0, 70000.5, -70000.5, 2.0 ** 31, -2.0 ** 31 - 1, 1e10, -1e10,
                2.0 ** 63, 1e30, nan, inf, -inf, 65504.0, 3e38]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("src", [pt.float16, pt.bfloat16, pt.float32, pt.float64])
def test_float_to_integer_out_of_range_as_numpy_and_torch(device, src):
    # nan, inf and values outside int32 (int64) give its minimum, which narrower types truncate to 0;
    # in range a narrower type wraps. bfloat16 gave 0 for nan/inf/2^31 and uint8(-1.0) == 0 on cpu
    # (ml_dtypes' own conversion); opencl's went through int64 (1e10 -> int32 1410065408, nan -> 0)
    if not _supports(device, src):
        pytest.skip(f"{src} is not supported on {device}")
    x = pt.tensor(_CAST_VALUES, dtype=pt.float64).to(src)
    exact = x.to(pt.float64).numpy()                       # the values src holds
    with np.errstate(invalid="ignore"):
        want32 = exact.astype(np.float32) if src is not pt.float64 else exact
        for dst in (pt.uint8, pt.int8, pt.int16, pt.int32, pt.int64):
            if src is pt.float64 and dst is pt.uint8:
                continue                                   # (torch goes through int64 there; NumPy and plugtorch do not)
            want = want32.astype(dst.numpy)
            got = x.to(device).to(dst)
            assert got.tolist() == want.tolist(), (src, dst)
            z = pt.zeros(len(_CAST_VALUES), dtype=dst, device=device)
            z.copy_(x.to(device))
            assert z.tolist() == want.tolist(), (src, dst, "copy_")
    assert pt.tensor([nan, 1e10], dtype=src, device=device).to(pt.int32).tolist() == [-2 ** 31, -2 ** 31]   # torch 2.13


_OVERLAP_MESSAGE = ("unsupported operation: some elements of the input tensor and the written-to tensor refer to a "
                    "single memory location. Please clone() the tensor before performing the operation.")


@pytest.mark.parametrize("device", DEVICES)
def test_writes_from_partly_overlapping_memory_are_refused_as_in_torch(device):
    # opencl copied r[:-1] into r[1:] with work-items reading what others had written
    # ([0, 0, 1, ..., 7, 7]), and r.copy_(r.t()) of a 3 x 3 gave [[0, 3, 6], [3, 4, 7], [6, 7, 8]];
    # torch 2.13 refuses both, and in-place ops with such an operand
    refused = [lambda r: r[1:].copy_(r[:-1]), lambda r: r[:-1].copy_(r[1:]),
               lambda r: r.view(3, 3).copy_(r.view(3, 3).t()), lambda r: r.copy_(r[1]),
               lambda r: r[1:].add_(r[:-1]), lambda r: r.view(3, 3).add_(r.view(3, 3).t()),
               lambda r: r.add_(r[0]), lambda r: r.clamp_(r[0], r[8]), lambda r: r[1:].lerp_(r[:-1], 0.5),
               lambda r: r.index_add_(0, pt.tensor([0, 1], device=device), r[2:4]),
               lambda r: r.__setitem__(slice(1, None), r[:-1])]
    strided = pt.arange(3.0, device=device)[1:].storage_offset() == 1   # (views share memory there)
    for f in refused if strided else ():
        r = pt.arange(9.0, device=device)
        with pytest.raises(RuntimeError, match=re.escape(_OVERLAP_MESSAGE)):
            f(r)
        assert r.tolist() == list(range(9)), "a refused write changed nothing"
    # what torch allows: the same memory in the same layout, disjoint parts, a 0-d value read once
    allowed = [(lambda r: r.add_(r), np.arange(9.0) * 2), (lambda r: r.mul_(r.detach()), np.arange(9.0) ** 2),
               (lambda r: r[:4].add_(r[5:]), [5, 7, 9, 11, 4, 5, 6, 7, 8]), (lambda r: r.fill_(r[1]), [1] * 9),
               (lambda r: r[1:3].copy_(r[0]), [0, 0, 0, 3, 4, 5, 6, 7, 8]),
               (lambda r: r.masked_fill_(r > 1, r[0]), [0, 1] + [0] * 7),
               (lambda r: r.index_fill_(0, pt.tensor([1], device=device), r[0]), [0, 0, 2, 3, 4, 5, 6, 7, 8]),
               (lambda r: r[1:].copy_(r[:-1].clone()), [0, 0, 1, 2, 3, 4, 5, 6, 7])]
    for f, want in allowed:
        r = pt.arange(9.0, device=device)
        f(r)
        assert r.tolist() == list(np.asarray(want, dtype=np.float64)), want


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [pt.float16, pt.bfloat16])
def test_half_log_softmax_rounds_once(device, dtype):
    # the decomposition (opencl, strict) rounded log(sum(exp)) to the half type first:
    # bfloat16 log_softmax([0, -7])[0] was 0.0 (1 + e^-7 rounds to 1), torch 2.13: -0.000911712646484375
    if not _supports(device, dtype):
        pytest.skip(f"{dtype} is not supported on {device}")
    v = np.array([[0.0, -7.0, 0.5], [3.0, 3.0, -1.0]], np.float32)
    s = v - v.max(1, keepdims=True)
    want = pt.tensor(s - np.log(np.exp(s).sum(1, keepdims=True))).to(dtype)   # float32, rounded once
    got = pt.tensor(v, device=device).to(dtype).log_softmax(1)
    assert got.dtype is dtype
    assert got.cpu().float().tolist() == want.float().tolist()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [pt.float16, pt.bfloat16])
def test_half_softmax_rounds_once(device, dtype):
    # softmax rounded exp and the sum to the half type before dividing: float16 softmax of
    # [-0.0, 0.5] along dim 0 of [[-0.0, -7, 0.5], [-0.0, 0.5, inf]] gave 0.99902 where torch 2.13 gives 0.99951
    if not _supports(device, dtype):
        pytest.skip(f"{dtype} is not supported on {device}")
    v = np.array([[0.0, -7.0, 0.5], [0.0, 0.5, 3.0], [-2.25, -1e-3, 0.0]], np.float32)
    e = np.exp(v - v.max(0, keepdims=True))
    want = pt.tensor(e / e.sum(0, keepdims=True)).to(dtype)                  # float32, rounded once
    got = pt.tensor(v, device=device).to(dtype).softmax(0)
    assert got.dtype is dtype and got.cpu().float().tolist() == want.float().tolist()
