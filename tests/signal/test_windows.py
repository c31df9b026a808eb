"""plugtorch.signal.windows against NumPy: np.hanning, np.hamming, np.blackman, np.bartlett and
np.kaiser where NumPy defines the same window, the others' formulas written out in NumPy; periodic
windows (sym=False) are the first M points of the symmetric window of M + 1."""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch.signal import windows

NUTTALL = [0.3635819, 0.4891775, 0.1365995, 0.0106411]


def general_cosine_ref(M, a):
    n = np.arange(M)
    return sum((-1) ** i * c * np.cos(2 * np.pi * i * n / (M - 1)) for i, c in enumerate(a))


REFERENCES = {   # symmetric windows of M >= 2 points
    "hann": np.hanning,
    "hamming": np.hamming,
    "blackman": np.blackman,
    "bartlett": np.bartlett,
    "kaiser": lambda M: np.kaiser(M, 12.0),
    "nuttall": lambda M: general_cosine_ref(M, NUTTALL),
    "cosine": lambda M: np.sin(np.pi * (np.arange(M) + 0.5) / M),
    "gaussian": lambda M: np.exp(-(np.arange(M) - (M - 1) / 2) ** 2 / 2),
    "exponential": lambda M: np.exp(-np.abs(np.arange(M) - (M - 1) / 2)),
    "general_hamming": np.hamming,
}


def opencl_ok():
    try:
        return pt.opencl.is_available()
    except Exception:   # noqa: BLE001
        return False


@pytest.mark.parametrize("name", sorted(REFERENCES))
@pytest.mark.parametrize("M", [2, 3, 8, 11])
def test_symmetric_and_periodic_windows_match_numpy(name, M):
    fn = getattr(windows, name)
    ref = REFERENCES[name]
    np.testing.assert_allclose(fn(M, dtype=pt.float64).numpy(), ref(M), rtol=1e-12, atol=1e-14)
    if name not in ("cosine",):   # cosine's periodic window is the symmetric one of M + 1 too, checked below
        np.testing.assert_allclose(fn(M, sym=False, dtype=pt.float64).numpy(), ref(M + 1)[:M], rtol=1e-12, atol=1e-14)
    w = fn(M)
    assert w.dtype == pt.float32 and w.shape == (M,) and not w.requires_grad
    np.testing.assert_allclose(w.numpy(), ref(M), rtol=1e-5, atol=1e-6)


def test_periodic_cosine_window():
    # PyTorch's periodic cosine window: sin(pi (n + 0.5) / (M + 1))
    np.testing.assert_allclose(windows.cosine(6, sym=False, dtype=pt.float64).numpy(),
                               np.sin(np.pi * (np.arange(6) + 0.5) / 7), rtol=1e-12)


def test_window_parameters():
    n = np.arange(7)
    np.testing.assert_allclose(windows.gaussian(7, std=0.6, dtype=pt.float64).numpy(),
                               np.exp(-(n - 3) ** 2 / (2 * 0.6 ** 2)), rtol=1e-12)
    np.testing.assert_allclose(windows.exponential(7, tau=2.5, dtype=pt.float64).numpy(),
                               np.exp(-np.abs(n - 3) / 2.5), rtol=1e-12)
    np.testing.assert_allclose(windows.exponential(7, center=1.0, sym=False, dtype=pt.float64).numpy(),
                               np.exp(-np.abs(n - 1.0)), rtol=1e-12)
    np.testing.assert_allclose(windows.kaiser(8, beta=5.5, dtype=pt.float64).numpy(), np.kaiser(8, 5.5), rtol=1e-12)
    np.testing.assert_allclose(windows.kaiser(8, beta=5.5, sym=False, dtype=pt.float64).numpy(),
                               np.kaiser(9, 5.5)[:8], rtol=1e-12)
    np.testing.assert_allclose(windows.general_hamming(6, alpha=0.7, dtype=pt.float64).numpy(),
                               0.7 - 0.3 * np.cos(2 * np.pi * np.arange(6) / 5), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(windows.general_cosine(6, a=(0.5, 0.3, 0.2), dtype=pt.float64).numpy(),
                               general_cosine_ref(6, [0.5, 0.3, 0.2]), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_short_windows(name):
    fn = getattr(windows, name)
    assert fn(0).shape == (0,) and fn(0).dtype == pt.float32
    # one point: 1 (cosine, gaussian and exponential by their formulas: sin(pi/2), exp(0))
    assert fn(1, dtype=pt.float64).tolist() == [1.0]
    assert fn(1, sym=False, dtype=pt.float64).tolist() == [1.0]


def test_requires_grad_default_dtype_and_device():
    w = windows.hann(5, requires_grad=True)
    assert w.requires_grad and not w.is_leaf   # built from a linspace that requires grad, as PyTorch's
    w.sum().backward()
    assert windows.kaiser(1, requires_grad=True).is_leaf
    pt.set_default_dtype(pt.float64)
    try:
        assert windows.blackman(4).dtype == pt.float64
    finally:
        pt.set_default_dtype(pt.float32)


@pytest.mark.skipif(not opencl_ok(), reason="plugtorch.opencl is unavailable (no OpenCL device or pyopencl)")
@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_windows_on_opencl(name):
    w = getattr(windows, name)(9, device="opencl")
    assert w.device.type == "opencl"
    np.testing.assert_allclose(w.cpu().numpy(), REFERENCES[name](9), rtol=1e-5, atol=1e-6)


def test_errors_as_in_pytorch():
    with pytest.raises(ValueError, match="hann requires|general_cosine requires non-negative window length, got M=-1"):
        windows.hann(-1)
    with pytest.raises(ValueError, match="kaiser expects float32 or float64 dtypes, got: plugtorch.float16"):
        windows.kaiser(4, dtype=pt.float16)
    with pytest.raises(ValueError, match="bartlett expects float32 or float64 dtypes, got: plugtorch.int64"):
        windows.bartlett(4, dtype=pt.int64)
    with pytest.raises(ValueError, match="is implemented for strided tensors only, got: sparse_coo"):
        windows.cosine(4, layout="sparse_coo")
    with pytest.raises(ValueError, match="Tau must be positive, got: 0 instead."):
        windows.exponential(4, tau=0)
    with pytest.raises(ValueError, match="Center must be None for symmetric windows"):
        windows.exponential(4, center=1.0)
    with pytest.raises(ValueError, match="Standard deviation must be positive, got: -1 instead."):
        windows.gaussian(4, std=-1)
    with pytest.raises(ValueError, match="beta must be non-negative, got: -1.0 instead."):
        windows.kaiser(4, beta=-1.0)
    with pytest.raises(ValueError, match="Coefficients cannot be empty"):
        windows.general_cosine(4, a=[])
    with pytest.raises(TypeError, match="Coefficients must be a list/tuple"):
        windows.general_cosine(4, a=3)
    assert pt.signal.windows is windows
