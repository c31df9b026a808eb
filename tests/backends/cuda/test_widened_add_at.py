"""The cuda backend's scatter accumulation for every dtype, built on an atomicAdd-like primitive.

``cupyx.scatter_add`` takes only the dtypes CUDA's atomicAdd does. ``widened_add_at`` builds
``np.add.at`` semantics for every dtype on such a primitive; here the primitive is
``np.add.at`` restricted to the same dtypes, so the widening is checked against ``np.add.at``.
"""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch.backends.cpu.array_kernels import make_kernels
from plugtorch.backends.cuda.kernels import _ATOMIC_ADD, widened_add_at


def atomic_only(r, key, values):
    if r.dtype not in _ATOMIC_ADD:
        raise TypeError(f"scatter_add only supports atomicAdd dtypes, got {r.dtype}")
    np.add.at(r, key, values)


add_at = widened_add_at(atomic_only, np)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int8, np.int16, np.int32,
                                   np.int64, np.uint8, np.bool_])
def test_matches_np_add_at(dtype):
    rng = np.random.default_rng(0)
    r = (rng.integers(-5, 5, size=(6, 3)) if dtype != np.bool_ else rng.integers(0, 2, (6, 3))).astype(dtype)
    idx = np.array([0, 2, 2, 5, 0, 0])
    vals = (rng.integers(-4, 4, size=(6, 3)) if dtype != np.bool_ else rng.integers(0, 2, (6, 3))).astype(dtype)
    want = r.copy()
    if dtype == np.bool_:
        acc = want.astype(np.int32)
        np.add.at(acc, (idx,), vals.astype(np.int32))
        want = acc != 0
    else:
        np.add.at(want, (idx,), vals)
    got = r.copy()
    add_at(got, (idx,), vals)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_int64_beyond_32_bits_and_negative():
    r = np.array([2**40, -3, 0], dtype=np.int64)
    add_at(r, (np.array([0, 0, 1, 2]),), np.array([2**40, -(2**41), -7, 2**62], dtype=np.int64))
    np.testing.assert_array_equal(r, [2**40 + 2**40 - 2**41, -10, 2**62])


def test_small_ints_wrap_like_pytorch():
    r = np.array([120, -120], dtype=np.int8)
    add_at(r, (np.array([0, 0, 1]),), np.array([5, 5, -10], dtype=np.int8))
    np.testing.assert_array_equal(r, [-126, 126])   # 130 and -130 wrap in int8
    u = np.array([250], dtype=np.uint8)
    add_at(u, (np.array([0, 0]),), np.array([3, 4], dtype=np.uint8))
    assert u.tolist() == [1]


def test_broadcast_values_and_scalar():
    r = np.zeros((3, 2), dtype=np.int64)
    add_at(r, (np.array([1, 1]), slice(None)), np.broadcast_to(np.array([1, 2], dtype=np.int64), (2, 2)))
    np.testing.assert_array_equal(r, [[0, 0], [2, 4], [0, 0]])
    add_at(r, (np.array([0, 0, 0]),), 7)
    np.testing.assert_array_equal(r[0], [21, 21])


def test_make_kernels_routes_accumulation_through_the_hooks():
    calls = []

    def spy_add(r, key, values):
        calls.append("add")
        add_at(r, key, values)

    def spy_mul(r, key, values):
        calls.append("mul")
        np.multiply.at(r, key, values)

    K = make_kernels(np, add_at=spy_add, multiply_at=spy_mul)
    x = np.zeros(4, dtype=np.int64)
    out = K["index_put"](x, (np.array([1, 1, 3]),), np.array([2, 3, 4], dtype=np.int64), True)
    assert out.tolist() == [0, 5, 0, 4] and x.tolist() == [0, 0, 0, 0]
    out = K["scatter_add"](np.zeros(3, np.int8), 0, np.array([2, 2]), np.array([100, 100], np.int8))
    assert out.tolist() == [0, 0, -56]
    out = K["scatter"](np.full(3, 2.0), 0, np.array([0, 0]), np.array([3.0, 5.0]), "multiply")
    assert out.tolist() == [30.0, 2.0, 2.0]
    assert calls == ["add", "add", "mul"]


def test_public_ops_agree_on_cpu_with_widened_accumulation():
    # the same public calls the GPU script checks on cuda, answered on cpu
    x = pt.zeros(4, dtype=pt.int64)
    y = x.index_put((pt.tensor([1, 1, 3]),), pt.tensor([2, 3, 4]), accumulate=True)
    assert y.tolist() == [0, 5, 0, 4]
    z = pt.zeros(2, 3, dtype=pt.int8).scatter_add(1, pt.tensor([[0, 0], [2, 2]]),
                                                    pt.full((2, 2), 100, dtype=pt.int8))
    assert z.tolist() == [[-56, 0, 0], [0, 0, -56]]
