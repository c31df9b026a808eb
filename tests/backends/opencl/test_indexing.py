"""Views, copies, cat/flip and the indexing kernels against cpu."""
import pytest

import plugtorch as pt
from .conftest import DTYPES, check, sample


def test_views_share_the_buffer():
    x = pt.arange(24.0, device="opencl").reshape(2, 3, 4)
    for v in (x.permute(2, 0, 1), x[:, 1], x[..., ::2], x.expand(5, 2, 3, 4)[1], x.view(6, 4), x.t() if x.ndim == 2 else x.transpose(0, 2)):
        assert v._data.data is x._data.data
    s = x[1, :, 1:3]
    assert s.storage_offset() == 13 and s.stride() == (4, 1)
    s.mul_(0)
    assert x[1, 0].tolist() == [12.0, 0.0, 0.0, 15.0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_clone_flip_cat(dtype):
    x = sample((3, 4), dtype, 1)
    check(lambda t: t.t().clone(), x)
    check(lambda t: t.flip(0), x)
    check(lambda t: t.flip((0, 1)), x)
    check(lambda t: t[:, ::2].flip(1), x)
    check(lambda t: pt.cat([t, t.t().t()[1:], t[:0]], 0), x)
    check(lambda t: pt.cat([t, t[:, :1]], 1), x)
    check(lambda t: pt.stack([t, t]), x)


def test_cat_promotes():
    check(lambda a, b: pt.cat([a, b]), sample((2,), pt.int32, 2), sample((3,), pt.float32, 3))


@pytest.mark.parametrize("dtype", [pt.bool, pt.int64, pt.bfloat16, pt.float32])
def test_gather_scatter(dtype):
    x = sample((3, 5), dtype, 4)
    i = pt.tensor([[0, 4, 3], [1, 1, 2], [3, 0, 0]])   # gather takes no negative indices (as PyTorch)
    check(lambda t, j: t.gather(1, j), x, i)
    check(lambda t, j: t.gather(0, j[:, :2].clamp(0, 2)), x, i)
    src = sample((3, 3), dtype, 5)
    j = pt.tensor([[0, 4, 2], [1, 3, 2], [3, 0, 4]])
    check(lambda t, j, s: t.scatter(1, j, s), x, j, src)
    check(lambda t, j: t.scatter(1, j, 2), x, j)
    if dtype is not pt.bool:
        check(lambda t, j, s: t.scatter_add(1, j, s), x, i.clamp(0, 4), src)      # duplicates
        check(lambda t, j, s: t.scatter_add(0, j, s), x, i.clamp(0, 2), src)


@pytest.mark.parametrize("dtype", [pt.uint8, pt.int32, pt.float64])
def test_advanced_index_and_index_put(dtype):
    x = sample((4, 5, 6), dtype, 6)
    a, b = pt.tensor([0, 3, -1]), pt.tensor([[1], [4]])
    check(lambda t, a: t[a], x, a)
    check(lambda t, a: t[:, a], x, a)
    check(lambda t, a, b: t[a, b], x, a, b)             # broadcast index arrays
    check(lambda t, a, b: t[a, :, b], x, a, b)          # separated: broadcast dims go first
    check(lambda t, a: t.permute(2, 0, 1)[a], x, a)
    check(lambda t, a: t[t > 2], x, a)                  # boolean mask via nonzero
    check(lambda t, a: t.index_put((a,), t.new_ones(5, 6)), x, a)
    check(lambda t, a, b: t.index_put((a, b), pt.tensor(7, dtype=dtype)), x, a, b)
    dup = pt.tensor([1, 1, 2, 1])
    check(lambda t, d: t.index_put((d,), t.new_ones(4, 5, 6), accumulate=True), x, dup)


@pytest.mark.parametrize("dtype", [pt.bool, pt.int8, pt.float32])
def test_nonzero(dtype):
    x = sample((3, 4), dtype, 7, -1, 2)
    check(pt.nonzero, x)
    check(pt.nonzero, x.t())
    check(pt.nonzero, pt.tensor(1, dtype=dtype))
    check(pt.nonzero, pt.zeros(0, 3, dtype=dtype))
