"""mode (the most frequent value, smallest of ties) and the half-precision statistics that
PyTorch computes in float32: values checked against torch 2.13."""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch.dispatch.ops.composite import mode as mode_decomposition


def test_mode_values_and_indices_as_torch():
    r = pt.mode(pt.tensor([3.0, 1.0, 3.0, 2.0, 1.0, 3.0, 1.0, 2.0]))
    assert (r.values.item(), r.indices.item()) == (1.0, 6)          # torch: values=1., indices=6
    r = pt.mode(pt.tensor([[1, 2, 2, 1, 3], [5, 5, 5, 4, 4]]), 1)
    assert r.values.tolist() == [1, 5] and r.indices.tolist() == [3, 2]
    r = pt.tensor([[1, 2, 2]]).mode(1, True)
    assert r.values.tolist() == [[2]] and r.indices.tolist() == [[2]]
    r = pt.mode(pt.tensor([True, False, True]))
    assert r.values.item() is True and r.indices.item() == 2
    r = pt.mode(pt.tensor(3.0))
    assert r.values.item() == 3.0 and r.indices.item() == 0 and r.indices.dtype is pt.int64
    r = pt.mode(pt.zeros(0, 3), 1)
    assert tuple(r.values.shape) == (0,) and r.indices.dtype is pt.int64


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "int8", "uint8", "int64", "bool"])
def test_mode_kernel_and_decomposition_agree_with_a_brute_force_count(dtype):
    rng = np.random.default_rng(0)
    for _ in range(10):
        shape = tuple(rng.integers(1, 6, size=rng.integers(1, 4)))
        v = rng.choice(np.array([-np.inf, np.inf, 0.0, 1.0, -1.5]), size=shape) if "float" in dtype \
            else rng.integers(0, 3, size=shape)
        x = pt.tensor(v).to(getattr(pt, dtype))
        d = int(rng.integers(0, len(shape)))
        k, dec = pt.mode(x, d), mode_decomposition(x, d)
        assert k[0].tolist() == dec[0].tolist() and k[1].tolist() == dec[1].tolist()
        rows = np.moveaxis(x.float().numpy() if dtype != "bool" else v.astype(bool), d, -1).reshape(-1, shape[d])
        for row, val, idx in zip(rows, k[0].reshape(-1).tolist(), k[1].reshape(-1).tolist()):
            u, c = np.unique(row, return_counts=True)
            assert val == u[np.argmax(c)] and row[idx] == val and idx == np.nonzero(row == val)[0][-1]



@pytest.mark.parametrize("dev", ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))])
def test_mode_decomposition_of_a_long_row_needs_no_square_memory(dev):
    # the decomposition (what opencl runs) compared every pair of sorted values: two rows of
    # 70000 asked for 9.8 GB and opencl ran out of memory; runs of equal neighbours need O(n).
    # Reference: NumPy's counts per row (the smallest most frequent value, its last index)
    rng = np.random.default_rng(3)
    v = rng.integers(0, 50, size=(2, 300000)).astype(np.float32)
    v[0, rng.random(300000) < 0.05] = np.nan
    x = pt.tensor(v, device=dev)
    for got in (mode_decomposition(x, 1), pt.mode(x, 1)):
        for row, val, idx in zip(v, got[0].cpu().tolist(), got[1].cpu().tolist()):
            u, c = np.unique(np.where(np.isnan(row), np.inf, row), return_counts=True)   # (nan: one value)
            want = u[np.argmax(c)]
            want = np.nan if np.isinf(want) else want
            same = np.isnan(row) if np.isnan(want) else row == want
            assert (np.isnan(val) if np.isnan(want) else val == want) and idx == np.nonzero(same)[0][-1]

def test_mode_nan_is_one_value_larger_than_all():
    r = pt.mode(pt.tensor([float("nan"), 1.0, float("nan"), 1.0, float("nan")]))
    assert np.isnan(r.values.item()) and r.indices.item() == 4
    assert pt.mode(pt.tensor([float("nan"), 1.0, float("nan"), 1.0])).values.item() == 1.0


def test_mode_gradient_flows_to_the_index():
    x = pt.tensor([1.0, 2.0, 2.0, 3.0], requires_grad=True)
    pt.mode(x).values.backward()
    assert x.grad.tolist() == [0.0, 0.0, 1.0, 0.0]


def test_mode_bad_arguments():
    with pytest.raises(IndexError, match=r"mode\(\): Expected reduction dim 0 to have non-zero size"):
        pt.mode(pt.zeros(0, 3), 0)
    with pytest.raises(IndexError, match=r"mode\(\): Dimension out of range"):
        pt.mode(pt.zeros(3), 1)
    with pytest.raises(TypeError, match=r"mode\(\): argument 'dim' must be int, not float"):
        pt.mode(pt.zeros(3), 0.5)
    with pytest.raises(TypeError, match=r"mode\(\): argument 'input' must be Tensor, not list"):
        pt.mode([1, 2])
    with pytest.raises(TypeError, match=r"mode\(\): argument 'keepdim' must be bool"):
        pt.mode(pt.zeros(3), 0, 1)


def test_half_statistics_in_float32_as_torch():
    x = pt.tensor([300.0, 300.0, 300.0, -300.0], dtype=pt.float16)
    assert x.std().item() == 300.0                 # torch: 300 (the variance, 90000, overflows float16)
    assert x.var().item() == float("inf")
    assert pt.linalg.vector_norm(x).item() == 600.0
    assert pt.linalg.vector_norm(pt.tensor([300.0, 300.0, -300.0], dtype=pt.float16)).item() == 519.5
    assert pt.linalg.vector_norm(pt.tensor([300.0, 300.0, -300.0], dtype=pt.float16), 3).item() == 432.75
    assert pt.linalg.vector_norm(pt.tensor([1e-4] * 3, dtype=pt.float16)).item() == pytest.approx(1.7321e-4, rel=1e-3)
    m = 65504.0
    y = pt.tensor([0.75 * m, 0.75 * m, -0.75 * m, 0.5 * m], dtype=pt.float16)
    assert y.mean().item() == 20464.0              # torch: summed in float32, not inf
    assert pt.tensor([1e20, 1e20, -1e20], dtype=pt.bfloat16).mean().dtype is pt.bfloat16
