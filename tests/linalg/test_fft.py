"""plugtorch.fft against NumPy's FFT, known answers, every backend for the frequency and shift
helpers, autograd of the real transforms, errors, and complex results refused where a device
has no complex dtypes or a gradient is asked for."""
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


def crnd(*shape, seed=0):
    g = np.random.default_rng(seed)
    return g.standard_normal(shape) + 1j * g.standard_normal(shape)


def _swap(norm):
    return {None: "forward", "backward": "forward", "forward": "backward", "ortho": "ortho"}[norm]


@pytest.mark.parametrize("dtype", [pt.complex64, pt.complex128])
@pytest.mark.parametrize("norm", [None, "backward", "forward", "ortho"])
def test_complex_transforms_match_numpy(dtype, norm):
    z, x = crnd(3, 4, 5).astype(dtype.numpy), rnd(3, 4, 5).astype(dtype.to_real().numpy)
    tz, tx = pt.tensor(z), pt.tensor(x)
    cases = [(F.fft(tz, norm=norm), np.fft.fft(z, norm=norm)),
             (F.fft(tz, n=7, dim=1, norm=norm), np.fft.fft(z, n=7, axis=1, norm=norm)),
             (F.fft(tx, n=3, dim=0, norm=norm), np.fft.fft(x, n=3, axis=0, norm=norm)),        # real input, cut
             (F.ifft(tz, norm=norm), np.fft.ifft(z, norm=norm)),
             (F.fft2(tz, norm=norm), np.fft.fft2(z, norm=norm)),
             (F.ifft2(tz, s=(2, 6), norm=norm), np.fft.ifft2(z, s=(2, 6), norm=norm)),
             (F.fftn(tz, norm=norm), np.fft.fftn(z, norm=norm)),
             (F.ifftn(tz, s=(4, 3), dim=(0, 2), norm=norm), np.fft.ifftn(z, s=(4, 3), axes=(0, 2), norm=norm)),
             (F.rfft(tx, norm=norm), np.fft.rfft(x, norm=norm)),
             (F.rfft2(tx, norm=norm), np.fft.rfft2(x, norm=norm)),
             (F.rfftn(tx, s=(2, 3, 8), norm=norm), np.fft.rfftn(x, s=(2, 3, 8), axes=(0, 1, 2), norm=norm)),
             (F.irfft(tz, norm=norm), np.fft.irfft(z, norm=norm)),
             (F.irfftn(tz, s=(3, 4, 9), norm=norm), np.fft.irfftn(z, s=(3, 4, 9), axes=(0, 1, 2), norm=norm)),
             (F.hfft(tz, n=7, norm=norm), np.fft.hfft(z, n=7, norm=norm)),
             (F.hfftn(tz, norm=norm), np.fft.irfftn(z.conj(), norm=_swap(norm))),
             (F.ihfft(tx, norm=norm), np.fft.ihfft(x, norm=norm)),
             (F.ihfft2(tx, norm=norm), np.fft.rfft2(x, norm=_swap(norm)).conj()),
             (F.ihfftn(tx, norm=norm), np.fft.rfftn(x, norm=_swap(norm)).conj())]
    tol = 1e-5 if dtype is pt.complex64 else 1e-12
    for i, (got, want) in enumerate(cases):
        complex_out = want.dtype.kind == "c"
        assert got.dtype is (dtype if complex_out else dtype.to_real()), i
        np.testing.assert_allclose(got.numpy(), want, rtol=tol, atol=tol * 10, err_msg=str(i))


def test_complex_transform_known_answers_and_promotion():
    assert F.fft(pt.tensor([1., 0., 0., 0.])).tolist() == [1, 1, 1, 1]
    assert F.fft(pt.tensor([0., 1., 0., 0.])).tolist() == [1, -1j, -1, 1j]
    assert F.ifft(F.fft(pt.tensor([1 + 2j, 3, -1j]))).numpy() == pytest.approx(np.array([1 + 2j, 3, -1j]), abs=1e-6)
    assert F.fft(pt.tensor([1, 2])).dtype is pt.complex64            # integers: the default complex dtype
    assert F.fft(pt.tensor([1., 2.], dtype=pt.float64)).dtype is pt.complex128
    assert F.rfft(pt.arange(4.)).tolist() == [6, -2 + 2j, -2]
    assert F.fftfreq(4, dtype=pt.complex64).dtype is pt.complex64


@pytest.mark.parametrize("fn, exc, msg", [
    (lambda: F.fft(pt.ones(4), norm="bad"), RuntimeError, "Invalid normalization mode"),
    (lambda: F.rfft(pt.ones(4, dtype=pt.complex64)), RuntimeError, "expects a real input tensor, but got "
                                                                   "plugtorch.complex64"),
    (lambda: F.ihfft(pt.ones(4, dtype=pt.complex64)), RuntimeError, "expects a real input tensor"),
    (lambda: F.fft(pt.ones(4), n=0), RuntimeError, r"Invalid number of data points \(0\)"),
    (lambda: F.fft(pt.tensor(1.)), IndexError, "no dimensions"),
    (lambda: F.fft(pt.ones(4, dtype=pt.float16)), RuntimeError, "Unsupported dtype Half"),
    (lambda: F.fftn(pt.ones(2, 2), dim=(0, 0)), RuntimeError, "FFT dims must be unique"),
])
def test_complex_transform_errors(fn, exc, msg):
    with pytest.raises(exc, match=msg):
        fn()


@pytest.fixture(scope="module")
def no_complex_device():
    """A plug-in over array_api_strict: a backend without complex dtypes."""
    import array_api_strict
    from plugtorch.backends import ArrayAPIBackend
    pt.backends.register(ArrayAPIBackend(array_api_strict), name="nocomplexfft")
    yield "nocomplexfft"
    pt.backends.unregister("nocomplexfft")


@pytest.mark.parametrize("name", ["fft", "ifft", "rfft", "ihfft", "fft2", "rfftn"])
def test_complex_results_are_refused_on_a_device_without_complex(name, no_complex_device):
    with pytest.raises(TypeError, match=r"dtype plugtorch.complex64 is not supported on device 'nocomplexfft(:0)?'"):
        getattr(F, name)(pt.ones(4, 4, device=no_complex_device))


@pytest.mark.parametrize("device", DEVICES)
def test_a_size_of_minus_one_in_s_means_the_default(device):
    # PyTorch's n-d transforms read s[i] == -1 as "no change" (irfftn's last one: 2 * (m - 1));
    # they used to raise "Invalid number of data points (-1)"
    x = rnd(4, 3)
    X = pt.tensor(x, device=device)
    np.testing.assert_allclose(F.fftn(X, s=(-1, 5)).cpu().numpy(), np.fft.fftn(x, s=(4, 5), axes=(0, 1)), atol=1e-12)
    np.testing.assert_allclose(F.rfftn(X, s=(2, -1)).cpu().numpy(), np.fft.rfftn(x, s=(2, 3), axes=(0, 1)), atol=1e-12)
    np.testing.assert_allclose(F.irfftn(X, s=(-1, -1)).cpu().numpy(), np.fft.irfftn(x, s=(4, 4), axes=(0, 1)), atol=1e-12)
    np.testing.assert_allclose(F.hfft2(X, s=(3, -1)).cpu().numpy(),
                               np.fft.irfftn(x, s=(3, 4), axes=(0, 1)) * 12, atol=1e-12)
    # gradients see the resolved sizes too
    a = pt.tensor(x, requires_grad=True)
    assert gradcheck(lambda t: F.rfftn(t, s=(5, -1)), (a,))
    assert gradcheck(lambda t: F.irfftn(t, s=(-1, -1)), (a,))
    # the 1-d transforms' n stays a count
    with pytest.raises(RuntimeError, match=r"^fft_fft: Invalid number of data points \(-1\) specified$"):
        F.fft(X, n=-1)
    with pytest.raises(RuntimeError, match=r"^fft_irfft: Invalid number of data points \(-1\) specified$"):
        F.irfft(X, n=-1)


@pytest.mark.parametrize("device", DEVICES)
def test_zero_d_and_no_dims(device):
    # fftn of a 0-d tensor transforms no dims: the value as complex (it raised IndexError)
    assert F.fftn(pt.tensor(2.5, device=device)).tolist() == 2.5 + 0j
    assert F.ifftn(pt.tensor(2.5, dtype=pt.float64, device=device)).dtype == pt.complex128
    # the one-sided ones must halve a dim: RuntimeError (an IndexError, or a crash for dim=(), before)
    for call in (lambda: F.rfftn(pt.tensor(2., device=device)), lambda: F.rfftn(pt.ones(2, 3, device=device), dim=()),
                 lambda: F.irfftn(pt.ones(2, 3, device=device), dim=()), lambda: F.hfftn(pt.ones(2, 3, device=device), s=())):
        with pytest.raises(RuntimeError, match=r"must transform at least one axis"):
            call()
    with pytest.raises(IndexError, match=r"^fft_fftn: Dimension specified as -1 but tensor has no dimensions"):
        F.fft(pt.tensor(2., device=device))
