"""plugtorch.fft: the real-valued part of torch.fft against NumPy's FFT, known answers, every
backend for the frequency and shift helpers, autograd, errors, and the transforms whose result
would be complex (missing with the complex dtypes) refused clearly."""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch.autograd import gradcheck, gradgradcheck

F = pt.fft
DEVICES = ["cpu"] + (["opencl"] if pt.opencl.is_available() else [])


def rnd(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def test_known_answers():
    assert F.irfft(pt.tensor([4., 0., 0.])).tolist() == [1.0, 1.0, 1.0, 1.0]
    assert F.irfft(pt.tensor([1., 2., 3.]), n=4).tolist() == [2.0, -0.5, 0.0, -0.5]
    assert F.hfft(pt.tensor([1., 0., 0.]), n=4).tolist() == [1.0, 1.0, 1.0, 1.0]   # unnormalised
    assert F.fftfreq(5).tolist() == pytest.approx([0.0, 0.2, 0.4, -0.4, -0.2])
    assert F.fftfreq(4, d=0.5).tolist() == [0.0, 0.5, -1.0, -0.5]
    assert F.rfftfreq(4, 2.0).tolist() == [0.0, 0.125, 0.25]
    assert F.fftshift(pt.arange(5)).tolist() == [3, 4, 0, 1, 2]
    assert F.ifftshift(pt.arange(5)).tolist() == [2, 3, 4, 0, 1]
    assert F.fftshift(pt.arange(6).reshape(2, 3)).tolist() == [[5, 3, 4], [2, 0, 1]]
    assert F.fftshift(pt.arange(6).reshape(2, 3), dim=1).tolist() == [[2, 0, 1], [5, 3, 4]]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("norm", [None, "backward", "forward", "ortho"])
def test_inverse_real_transforms_match_numpy(device, norm):
    x = rnd(3, 4, 5)
    t = pt.tensor(x, device=device)
    cases = [(F.irfft(t, norm=norm), np.fft.irfft(x, norm=norm)),
             (F.irfft(t, n=7, dim=1, norm=norm), np.fft.irfft(x, n=7, axis=1, norm=norm)),
             (F.irfft(t, n=3, norm=norm), np.fft.irfft(x, n=3, norm=norm)),          # the input cut
             (F.irfft2(t, norm=norm), np.fft.irfft2(x, norm=norm)),
             (F.irfftn(t, s=(6, 2, 9), norm=norm), np.fft.irfftn(x, s=(6, 2, 9), axes=(0, 1, 2), norm=norm)),
             (F.irfftn(t, dim=(2, 0), norm=norm), np.fft.irfftn(x, axes=(2, 0), norm=norm)),
             (F.hfft(t, n=9, norm=norm), np.fft.hfft(x, n=9, norm=norm)),
             (F.hfftn(t, s=(4, 7), norm=norm), np.fft.irfftn(x, s=(4, 7), axes=(1, 2),
                                                          norm={None: "forward", "backward": "forward",
                                                                "forward": "backward", "ortho": "ortho"}[norm]))]
    for got, want in cases:
        assert got.device.type == device and got.dtype is pt.float64
        np.testing.assert_allclose(got.cpu().numpy(), want, rtol=1e-12, atol=1e-12)


def test_dtypes():
    assert F.irfft(pt.ones(4)).dtype is pt.float32
    assert F.irfft(pt.arange(6)).dtype is pt.float32                      # integers: the default float
    assert F.irfft(pt.ones(3, dtype=pt.bool)).tolist() == [1.0, 0.0, 0.0, 0.0]
    assert F.fftfreq(3, dtype=pt.float64).dtype is pt.float64
    assert F.fftfreq(3, requires_grad=True).requires_grad
    np.testing.assert_allclose(F.irfft(pt.tensor(rnd(9), dtype=pt.float32)).numpy(), np.fft.irfft(rnd(9)), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_frequencies_and_shifts_on_every_device(device):
    assert tuple(F.fftfreq(0, device=device).shape) == (0,) and tuple(F.rfftfreq(0, device=device).shape) == (1,)
    for n in (1, 4, 5):
        for d in (1.0, 0.3):
            np.testing.assert_allclose(F.fftfreq(n, d, device=device).cpu().numpy(), np.fft.fftfreq(n, d), rtol=1e-6)
            np.testing.assert_allclose(F.rfftfreq(n, d, device=device).cpu().numpy(), np.fft.rfftfreq(n, d), rtol=1e-6)
    x = rnd(4, 5, 3)
    t = pt.tensor(x, device=device)
    for dim in (None, 1, (0, 2), -1):
        axes = dim if not isinstance(dim, int) else (dim,)
        np.testing.assert_array_equal(F.fftshift(t, dim).cpu().numpy(), np.fft.fftshift(x, axes))
        np.testing.assert_array_equal(F.ifftshift(t, dim).cpu().numpy(), np.fft.ifftshift(x, axes))
        np.testing.assert_array_equal(F.ifftshift(F.fftshift(t, dim), dim).cpu().numpy(), x)


@pytest.mark.parametrize("fn,shape", [
    (lambda t: F.irfft(t, n=10, norm="ortho"), (8,)),
    (lambda t: F.irfft(t, n=9), (2, 4)),                   # the input zero-padded
    (lambda t: F.irfft(t, n=4), (2, 6)),                   # the input cut
    (lambda t: F.irfftn(t, s=(3, 6)), (4, 3)),
    (lambda t: F.irfftn(t, s=(5, 4), dim=(0, 2)), (4, 2, 3)),
    (lambda t: F.hfftn(t, norm="forward"), (3, 4)),
    (lambda t: pt.ops._fft_rfftn_real(t, (0, 1)), (3, 5)),
    (lambda t: F.fftshift(t, 0) * F.rfftfreq(6, dtype=pt.float64), (5, 4)),
])
def test_gradients(fn, shape):
    t = pt.tensor(rnd(*shape, seed=1), requires_grad=True)
    assert gradcheck(fn, (t,))
    assert gradgradcheck(fn, (t,))


@pytest.mark.parametrize("fn,exc,msg", [
    (lambda: F.irfft(pt.tensor(1.)), IndexError, "no dimensions"),
    (lambda: F.irfft(pt.ones(4), n=0), RuntimeError, r"Invalid number of data points \(0\) specified"),
    (lambda: F.irfft(pt.ones(1)), RuntimeError, r"Invalid number of data points \(0\) specified"),
    (lambda: F.irfft(pt.ones(4), norm="bad"), RuntimeError, 'Invalid normalization mode: "bad"'),
    (lambda: F.hfft(pt.ones(4), norm="bad"), RuntimeError, "Invalid normalization mode"),
    (lambda: F.irfft(pt.ones(3, 4), dim=2), IndexError, "Dimension out of range"),
    (lambda: F.irfftn(pt.ones(3, 4), s=(2, 6), dim=(1,)), RuntimeError, "dim and shape arguments must have the same length"),
    (lambda: F.irfftn(pt.ones(3, 4), dim=(1, 1)), RuntimeError, "FFT dims must be unique"),
    (lambda: F.irfft(pt.ones(4, dtype=pt.float16)), RuntimeError, "Unsupported dtype Half"),
    (lambda: F.fftfreq(5, dtype=pt.int64), RuntimeError, "requires a floating point or complex dtype"),
    (lambda: F.fftfreq(-1), RuntimeError, "negative dimension -1"),
    (lambda: F.fftfreq(5.0), TypeError, "argument 'n' must be int"),
    (lambda: F.fftshift(pt.tensor(1.)), RuntimeError, "`shifts` required"),
    (lambda: F.irfft([1.0, 2.0]), TypeError, "must be Tensor"),
])
def test_errors(fn, exc, msg):
    with pytest.raises(exc, match=msg):
        fn()


@pytest.mark.parametrize("name", ["fft", "ifft", "rfft", "ihfft", "fft2", "ifft2", "rfft2", "ihfft2", "fftn", "ifftn",
                                  "rfftn", "ihfftn"])
def test_complex_results_are_refused_with_the_reason(name):
    with pytest.raises(NotImplementedError, match=f"fft.{name}\\(\\): its result is complex, and plugtorch has no "
                                                  "complex dtypes"):
        getattr(F, name)(pt.ones(4))
