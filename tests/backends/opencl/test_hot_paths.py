"""The eager fast paths of opencl's pointwise kernels set only the kernel arguments that changed
since the last call: results stay right when operands, sizes and scalars change between calls."""
import threading

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.backends.opencl.kernels.pointwise import SPLIT

from .conftest import DEV


def arr(values, dtype=pt.float32):
    return pt.tensor(values, dtype=dtype, device=DEV)


def test_binary_operands_and_sizes_change_between_calls():
    rng = np.random.default_rng(0)
    hosts = [rng.standard_normal(n).astype(np.float32) for n in (1, 1, 5, 5, 64, 65, 1)]
    ts = [arr(h) for h in hosts]
    pairs = [(0, 1), (0, 1), (1, 0), (0, 0), (2, 3), (2, 3), (3, 2), (4, 4), (5, 5), (6, 1), (0, 1)]
    for i, j in pairs:   # same and different buffers, n changing, the same pair again
        np.testing.assert_array_equal((ts[i] + ts[j]).cpu().numpy(), hosts[i] + hosts[j])
        np.testing.assert_array_equal((ts[i] * ts[j]).cpu().numpy(), hosts[i] * hosts[j])


def test_scalar_operand_changes_between_calls():
    h = np.array([1.5, -2.0, 3.25], np.float32)
    x = arr(h)
    two = 2.0
    for s in (two, two, 3.0, -0.0, 0.0, 0, 1, True, False, two, float("nan"), 7):
        got = (x * s).cpu().numpy()
        want = h * np.float32(s)
        assert got.tobytes() == want.tobytes(), (s, got, want)
    i = arr([3, -4, 5], pt.int16)   # (an op and dtype no other test runs with a scalar)
    for s in (0, 0, 6, 0, 2, 0):     # the small int 0 is one object: the first fast call sets it too
        np.testing.assert_array_equal(pt.bitwise_xor(i, s).cpu().numpy(), np.array([3, -4, 5]) ^ s)
    y = arr([1.0, 2.0])
    for s in (two, 0.5, two):
        np.testing.assert_array_equal((y - s).cpu().numpy(), np.array([1.0, 2.0], np.float32) - np.float32(s))


def test_unary_operands_and_sizes_change_between_calls():
    hosts = [np.arange(n, dtype=np.float32) - 3 for n in (1, 4, 4, 100, 1)]
    ts = [arr(h) for h in hosts]
    for k in (0, 0, 1, 2, 1, 3, 4, 0):
        np.testing.assert_array_equal(ts[k].neg().cpu().numpy(), -hosts[k])
        np.testing.assert_array_equal(ts[k].abs().cpu().numpy(), np.abs(hosts[k]))


def test_empty_and_views_between_fast_calls():
    x, y = arr([1.0, 2.0, 3.0, 4.0]), arr([10.0, 20.0, 30.0, 40.0])
    e = arr(np.zeros(0, np.float32))
    for _ in range(2):
        np.testing.assert_array_equal((x + y).cpu().numpy(), [11, 22, 33, 44])
        assert (e + e).shape == (0,) and e.neg().shape == (0,)
        np.testing.assert_array_equal((x[1:] + y[1:]).cpu().numpy(), [22, 33, 44])   # offsets: slow path
        np.testing.assert_array_equal((x + y).cpu().numpy(), [11, 22, 33, 44])


def test_threads_share_the_cached_kernels():
    # the argument caches belong to kernels shared by all threads: LOCK keeps set-and-enqueue whole
    rng = np.random.default_rng(1)
    errors = []

    def work(seed):
        h = np.random.default_rng(seed).standard_normal((2, 16)).astype(np.float32)
        a, b = arr(h[0]), arr(h[1])
        for _ in range(200):
            if not np.array_equal((a + b).cpu().numpy(), h[0] + h[1]) or \
                    not np.array_equal((a * 3.0).cpu().numpy(), h[0] * np.float32(3.0)) or \
                    not np.array_equal(a.neg().cpu().numpy(), -h[0]):
                errors.append(seed)
                return

    threads = [threading.Thread(target=work, args=(int(s),)) for s in rng.integers(0, 1000, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


@pytest.mark.parametrize("n", [SPLIT - 1, SPLIT, SPLIT + 1, SPLIT + 63, 3 * SPLIT + 64])
@pytest.mark.parametrize("dtype", [pt.float32, pt.float16, pt.int32])
def test_large_launches_split_at_the_last_block(n, dtype):
    # From SPLIT elements on, a contiguous pointwise op runs an unchecked kernel over the whole
    # work-groups and the checked one over the last partial block: every element is written
    # once, none past the end (the neighbours of a view stay as they were).
    rng = np.random.default_rng(n)
    a = rng.uniform(-4, 4, n + 5).astype(dtype.numpy)
    b = rng.uniform(-4, 4, n).astype(dtype.numpy)
    x, y = pt.tensor(a, device=DEV), pt.tensor(b, device=DEV)
    xv = x[5:]                                    # at an offset: the general contiguous kernel
    xc, yc = pt.tensor(a), pt.tensor(b)
    for got, want in [(xv + y, xc[5:] + yc), (x[:n] * y, xc[:n] * yc), (xv * 3, xc[5:] * 3),
                      (x[:n].neg(), xc[:n].neg()), (xv.abs(), xc[5:].abs())]:
        np.testing.assert_array_equal(got.cpu().numpy(), want.numpy())
    out = pt.zeros(n + 128, dtype=dtype, device=DEV)
    out[64:64 + n].copy_(y)                       # a copy into the middle of a buffer
    ref = np.zeros(n + 128, dtype.numpy)
    ref[64:64 + n] = b
    np.testing.assert_array_equal(out.cpu().numpy(), ref)


@pytest.mark.parametrize("shape", [(5,), (3, 4), (4096, 3), (3, 130), (70, 3, 65), (2, 3, 4, 5),
                                   (2, 1, 3, 1, 4, 5), (2,) * 8, (129, 65)])
def test_strided_and_broadcast_launches(shape):
    # The strided kernels launch up to three dims (the innermost, or the largest when the
    # innermost is short, as dim 0, whole work-groups unchecked and the last one checked);
    # more than three dims unravel the outer ones. Each layout against the cpu reference.
    rng = np.random.default_rng(len(shape))
    a = rng.standard_normal(shape).astype(np.float32)
    x, xc = pt.tensor(a, device=DEV), pt.tensor(a)
    v = rng.standard_normal(shape[-1:]).astype(np.float32)
    w = rng.standard_normal((shape[0],) + (1,) * (len(shape) - 1)).astype(np.float32)
    perm = list(range(len(shape)))[::-1]
    pairs = [(x + pt.tensor(v, device=DEV), xc + pt.tensor(v)),          # a bias along the last dim
             (x * pt.tensor(w, device=DEV), xc * pt.tensor(w)),          # along the first
             (x.permute(*perm).neg(), xc.permute(*perm).neg()),
             (x.permute(*perm).contiguous(), xc.permute(*perm).contiguous()),
             (x.permute(*perm) * x.permute(*perm), xc.permute(*perm) * xc.permute(*perm))]
    if shape[-1] >= 2:
        pairs.append((x[..., ::2] * 2, xc[..., ::2] * 2))
        e, ec = x.unsqueeze(0).expand(3, *shape), xc.unsqueeze(0).expand(3, *shape)
        pairs.append((e + e, ec + ec))
        z, zc = pt.zeros(*shape, device=DEV), pt.zeros(*shape)
        z[..., ::2] = x[..., ::2]
        zc[..., ::2] = xc[..., ::2]
        pairs.append((z, zc))
    for got, want in pairs:
        np.testing.assert_array_equal(got.cpu().numpy(), want.numpy())
