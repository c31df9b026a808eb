"""Reductions, arg-reductions, scans, sort and matmul against cpu."""
import numpy as np
import pytest

import plugtorch as pt
from .conftest import FLOATS, check, sample, to_cl


@pytest.mark.parametrize("name", ["sum", "prod", "amax", "amin", "all", "any"])
@pytest.mark.parametrize("dtype", [pt.bool, pt.uint8, pt.int32, pt.int64, *FLOATS])
def test_reductions_over_dim_sets(name, dtype):
    x = sample((3, 4, 5), dtype, 1, -2, 3) if name == "prod" else sample((3, 4, 5), dtype, 1)
    f = getattr(pt, name)
    for dim in (None, 0, 2, (0, 2), (1,)):
        for keep in (False, True):
            if dim is None and keep:
                continue
            check(lambda t: f(t, dim=dim, keepdim=keep) if dim is not None else f(t), x,
                  rtol=2e-2 if dtype is pt.bfloat16 else None, atol=0.5 if dtype is pt.bfloat16 else None)
    check(lambda t: f(t.permute(2, 0, 1)[:, 1:], dim=(1, 2)), x,
          rtol=2e-2 if dtype is pt.bfloat16 else None, atol=0.5 if dtype is pt.bfloat16 else None)


@pytest.mark.parametrize("dtype", [pt.float32, pt.float64, pt.int64])
def test_long_reductions_use_the_tree(dtype):
    x = sample((3, 5000), dtype, 2)
    check(lambda t: t.sum(1), x, rtol=1e-4 if dtype is pt.float32 else None)
    check(lambda t: t.amax(1), x)
    check(lambda t: t.sum(), x, rtol=1e-4 if dtype is pt.float32 else None)
    check(lambda t: t.t().sum(0), x, rtol=1e-4 if dtype is pt.float32 else None)


def test_reductions_with_nan_and_empty():
    x = pt.tensor([[1.0, float("nan"), 3.0], [4.0, 5.0, 6.0]])
    check(lambda t: t.amax(1), x)
    check(lambda t: t.amin(0), x)
    check(lambda t: t.sum(0), pt.zeros(0, 3))
    check(lambda t: t.prod(), pt.zeros(0))
    check(lambda t: t.sum(dtype=pt.float64), sample((4, 4), pt.int16, 3))


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("dtype", [pt.uint8, pt.int64, pt.float32, pt.bfloat16])
def test_argmax_argmin_first_occurrence(name, dtype):
    x = sample((4, 6), dtype, 4, 0, 3)        # many ties
    f = getattr(pt, name)
    check(f, x)
    check(lambda t: f(t, 1), x)
    check(lambda t: f(t, 0, keepdim=True), x)
    check(lambda t: f(t.t(), 1), x)
    if dtype.is_floating_point:
        check(f, pt.tensor([1.0, float("nan"), 5.0, float("nan")], dtype=dtype))


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
@pytest.mark.parametrize("dtype", [pt.bool, pt.int32, pt.float32, pt.float64])
def test_scans(name, dtype):
    x = sample((3, 5), dtype, 5, -2, 3)
    f = getattr(pt, name)
    check(lambda t: f(t, 1), x)
    check(lambda t: f(t, 0), x)
    check(lambda t: f(t.t(), 1), x)
    check(lambda t: f(t, 0), pt.tensor(2.0))


@pytest.mark.parametrize("dtype", [pt.uint8, pt.int32, pt.int64, pt.bfloat16, pt.float32, pt.float64, pt.bool])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_is_stable_with_indices(dtype, descending):
    x = sample((3, 37), dtype, 6, 0, 5)          # many ties: stability matters
    check(lambda t: pt.sort(t, 1, descending=descending), x)
    check(lambda t: pt.sort(t, 0, descending=descending), x)
    check(lambda t: pt.sort(t.t(), 0, descending=descending), x)


def test_sort_nan_and_long_lines():
    x = pt.tensor([3.0, float("nan"), -1.0, float("nan"), 2.0])
    check(lambda t: pt.sort(t), x)
    check(lambda t: pt.sort(t, descending=True), x)
    y = sample((2, 3000), pt.float32, 7)
    check(lambda t: pt.sort(t, 1), y)
    check(lambda t: t.topk(5, 1), y)


@pytest.mark.parametrize("dtype", [pt.int32, pt.bfloat16, pt.float32, pt.float64])
def test_matmul_shapes_and_views(dtype):
    tol = {pt.bfloat16: dict(rtol=5e-2, atol=0.5), pt.float32: dict(rtol=1e-4, atol=1e-4)}.get(dtype, {})
    a, b = sample((37, 19), dtype, 8, -3, 3), sample((19, 21), dtype, 9, -3, 3)
    check(pt.matmul, a, b, **tol)
    check(lambda x, y: x.t().t() @ y.t().contiguous().t(), a, b, **tol)
    check(lambda x, y: y.t() @ x.t(), a, b, **tol)                 # non-contiguous rows
    c, d = sample((2, 1, 5, 7), dtype, 10, -3, 3), sample((3, 7, 4), dtype, 11, -3, 3)
    check(pt.matmul, c, d, **tol)                                   # broadcast batch
    check(lambda x: x @ x.t(), sample((1, 64), dtype, 12, -3, 3), **tol)
    check(pt.matmul, pt.ones(3, 0, dtype=dtype), pt.ones(0, 2, dtype=dtype))
    check(pt.mv, a, b[:, 0].contiguous(), **tol)


@pytest.mark.parametrize("name", ["sum", "prod", "amax", "amin", "all", "any"])
def test_few_very_long_reductions_split_over_work_groups(name):
    x = sample((2, 70000), pt.float64, 13, 0.9999, 1.0001)
    f = getattr(pt, name)
    check(lambda t: f(t, dim=1), x)
    check(lambda t: f(t), x)
    check(lambda t: f(t.t().contiguous().t(), dim=1, keepdim=True), x)   # strided rows
    check(lambda t: f(t.view(2, 7, 10000), dim=(1, 2)), x)                # several dims


@pytest.mark.parametrize("name", ["sum", "amax", "amin"])
@pytest.mark.parametrize("shape", [(300, 133), (2000, 40), (50, 70), (5, 3000)])
def test_lane_reductions_whole_lanes_and_the_rest(name, shape):
    """k_col's whole strips of lanes and its rest (133 = 2 * 64 + 5 columns, 40 < one strip),
    k_row's lanes and their tail (3000 = 93 * 32 + 24), on views too; results repeat bit for bit."""
    x = sample(shape, pt.float32, 17)
    f = getattr(pt, name)
    # (cpu sums a column as a tree, k_col in order: up to rows * eps * 5 apart, 1e-4 at 2000 rows)
    tol = dict(rtol=1e-5, atol=2e-4) if name == "sum" else dict(rtol=1e-5)
    for dim in (0, 1, None):
        got = check(lambda t: f(t, dim=dim) if dim is not None else f(t), x, **tol)
        again = f(to_cl(x), dim=dim) if dim is not None else f(to_cl(x))
        assert np.array_equal(got.cpu().numpy().view(np.uint32), again.cpu().numpy().view(np.uint32))
    check(lambda t: f(t.t(), dim=0), x, **tol)
    check(lambda t: f(t[1:, 3:], dim=0), x, **tol)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_arg_lanes_keep_the_first_extreme(name):
    """Ties and NaNs spread over the lanes: the earliest index still wins, along rows and columns."""
    rng = np.random.default_rng(5)
    a = rng.integers(-2, 3, (70, 300)).astype(np.float32)
    a[3, [40, 7, 299]] = np.nan
    a[[60, 9], 11] = np.nan
    f = getattr(pt, name)
    x = pt.tensor(a)
    for dim in (0, 1, None):
        check(lambda t: f(t, dim) if dim is not None else f(t), x)
    check(lambda t: f(t.t(), 0), x)
