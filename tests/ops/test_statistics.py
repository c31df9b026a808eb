"""quantile/nanquantile, histc, histogram, cov, corrcoef, cdist, vdot/inner/dist, block_diag,
cartesian_prod, combinations, matrix_exp/matrix_power, the window functions and stft/istft,
against NumPy/SciPy references (stft's from its definition: PyTorch's convention is not
scipy.signal.stft's), float64 gradchecks and PyTorch's errors; cpu and opencl."""
import itertools
import math

import numpy as np
import pytest
import scipy.linalg
import scipy.spatial.distance

import plugtorch as pt
from plugtorch.autograd import gradcheck

DEVICES = ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))]
RNG = np.random.default_rng(1)


def _t(values, dev="cpu", dtype=None):
    return pt.tensor(np.asarray(values), dtype=dtype, device=dev)


def _r(*shape):
    return pt.tensor(RNG.standard_normal(shape), dtype=pt.float64, requires_grad=True)


def _np(x):
    return x.cpu().numpy()


# ---- quantiles -----------------------------------------------------------------------------
@pytest.mark.parametrize("dev", DEVICES)
def test_quantile_matches_numpy_for_every_interpolation(dev):
    a = RNG.standard_normal((4, 7))
    q = np.array([0.0, 0.1, 0.25, 0.5, 0.9, 1.0])
    for method in ("linear", "lower", "higher", "midpoint", "nearest"):
        got = pt.quantile(_t(a, dev), _t(q, dev), dim=1, keepdim=True, interpolation=method)
        want = np.quantile(a, q, axis=1, keepdims=True, method=method)
        np.testing.assert_allclose(_np(got), want, rtol=1e-12, err_msg=method)
    assert pt.quantile(_t(a, dev), 0.3).item() == pytest.approx(np.quantile(a, 0.3), rel=1e-12)
    b = a.copy()
    b[1, 2] = np.nan
    got = pt.nanquantile(_t(b, dev), _t([0.2, 0.8], dev), dim=1)
    np.testing.assert_allclose(_np(got), np.nanquantile(b, [0.2, 0.8], axis=1), rtol=1e-12)
    assert np.isnan(_np(pt.quantile(_t(b, dev), 0.5, dim=1))[1])       # quantile: nan where a slice has one
    assert math.isnan(pt.nanquantile(_t([math.nan, math.nan], dev), 0.3).item())
    assert gradcheck(lambda x: pt.quantile(x, _t([0.2, 0.7], dtype=pt.float64), dim=0), (_r(5, 3),))


def test_quantile_errors():
    with pytest.raises(RuntimeError, match="must be either float or double dtype"):
        pt.quantile(pt.tensor([1, 2]), 0.5)
    with pytest.raises(RuntimeError, match=r"q must be in the range \[0, 1\] but got 1.5"):
        pt.quantile(pt.tensor([1.0, 2.0]), 1.5)
    with pytest.raises(RuntimeError, match="q tensor must be same dtype as the input tensor"):
        pt.quantile(pt.tensor([1.0, 2.0]), pt.tensor([0.5], dtype=pt.float64))
    with pytest.raises(RuntimeError, match="interpolation must be one of linear"):
        pt.quantile(pt.tensor([1.0, 2.0]), 0.5, interpolation="foo")
    with pytest.raises(RuntimeError, match="input tensor must be non-empty"):
        pt.quantile(pt.tensor([]), 0.5)


# ---- histograms ----------------------------------------------------------------------------
@pytest.mark.parametrize("dev", DEVICES)
def test_histc_and_histogram_match_numpy(dev):
    a = RNG.standard_normal(200)
    np.testing.assert_array_equal(_np(pt.histc(_t(a, dev), 7)), np.histogram(a, 7)[0])
    np.testing.assert_array_equal(_np(pt.histc(_t(a, dev), 5, min=-1, max=1)), np.histogram(a, 5, (-1, 1))[0])
    w = np.abs(RNG.standard_normal(200))
    h = pt.histogram(_t(a, dev), 6, range=(-2.0, 1.5), weight=_t(w, dev), density=True)
    want, edges = np.histogram(a, 6, (-2.0, 1.5), weights=w, density=True)
    np.testing.assert_allclose(_np(h.hist), want, rtol=1e-12)
    np.testing.assert_allclose(_np(h.bin_edges), edges, rtol=1e-12)
    e = np.array([-3.0, -0.5, 0.0, 0.25, 3.0])
    hist, edges = pt.histogram(_t(a, dev), _t(e, dev))
    np.testing.assert_array_equal(_np(hist), np.histogram(a, e)[0])
    with pytest.raises(RuntimeError, match="max must be larger than min"):
        pt.histc(pt.ones(3), 3, min=3, max=1)
    with pytest.raises(TypeError, match=r"histc\(\): argument 'bins' must be int, not float"):   # (was zeros()'s)
        pt.histc(pt.ones(3), 2.5)
    # the data's range (min = max = 0) is found on the device: same bins as passing it explicitly
    f = (RNG.standard_normal(300) * 1e3).astype(np.float32)
    np.testing.assert_array_equal(_np(pt.histc(_t(f, dev), 9)),
                                  _np(pt.histc(_t(f, dev), 9, min=float(f.min()), max=float(f.max()))))
    np.testing.assert_array_equal(_np(pt.histc(_t([2.0, 2.0], dev), 4)), [0, 0, 2, 0])   # widened to [1, 3]
    np.testing.assert_array_equal(_np(pt.histc(_t([1e30] * 3, dev), 5)), [0, 0, 3, 0, 0])  # +-1 is lost: middle bin
    for bad, shown in ((np.nan, r"\[nan, nan\]"), (np.inf, r"\[0.0, inf\]")):
        with pytest.raises(RuntimeError, match=f"torch.histc: range of {shown} is not finite"):
            pt.histc(_t([0.0, bad], dev), 3)
    with pytest.raises(NotImplementedError, match="histc"):
        pt.histc(pt.tensor([1, 2]), 3)



@pytest.mark.parametrize("dev", DEVICES)
def test_histogram_of_no_data_spans_the_unit_range(dev):
    # with no data and no range the edges were [-0.5, 0, 0.5]; NumPy (and torch 2.13) bin over
    # [0, 1]; a reversed range raised ValueError, where PyTorch raises RuntimeError
    for bins in (2, 5):
        hist, edges = pt.histogram(_t(np.zeros(0), dev), bins)
        want, want_edges = np.histogram(np.zeros(0), bins)
        np.testing.assert_array_equal(_np(hist), want)
        np.testing.assert_allclose(_np(edges), want_edges, rtol=1e-12)
    edges = pt.histogramdd(_t(np.zeros((0, 2)), dev), bins=[2, 3]).bin_edges
    for e, we in zip(edges, np.histogramdd(np.zeros((0, 2)), bins=[2, 3])[1]):
        np.testing.assert_allclose(_np(e), we, rtol=1e-12)
    with pytest.raises(RuntimeError, match=r"max must be larger than min \(range \(2.0, 1.0\)\)"):
        pt.histogram(_t([1.0, 2.0], dev), 2, range=(2.0, 1.0))


def _upper_bound(edges, v):
    """C++'s std::upper_bound, written out: how PyTorch's histogram finds a value's bin."""
    first, count = 0, len(edges)
    while count > 0:
        step = count // 2
        if not v < edges[first + step]:
            first, count = first + step + 1, count - step - 1
        else:
            count = step
    return first


@pytest.mark.parametrize("dev", DEVICES)
def test_histogram_bins_values_by_pytorchs_search_of_the_edges(dev):
    # each value's bin was the count of edges at or below it, a (values x bins) comparison; it is
    # now PyTorch's upper_bound over the edges, which matches NumPy for increasing edges and
    # PyTorch for edges out of order ([0, 3, 1, 2] bins [3, 1, 2, .5, 2.5] as [1, 0, 2])
    a = np.array([3.0, 1.0, 2.0, 0.5, 2.5, 0.0, -1.0, 7.0])
    for e in ([0.0, 3.0, 1.0, 2.0], [0.0, 1.0, 1.0, 3.0], [3.0, 2.0, 1.0, 0.0], [0.0, 0.5, 2.0, 2.5, 3.0]):
        want = np.zeros(len(e) - 1)
        for v in a:
            if e[0] <= v <= e[-1]:
                want[min(_upper_bound(e, v) - 1, len(e) - 2)] += 1
        hist, _ = pt.histogram(_t(a, dev), _t(e, dev))
        np.testing.assert_array_equal(_np(hist), want, err_msg=str(e))
        if all(x <= y for x, y in zip(e, e[1:])):
            np.testing.assert_array_equal(_np(hist), np.histogram(a, e)[0])
    b = RNG.standard_normal(5000)
    np.testing.assert_array_equal(_np(pt.histogram(_t(b, dev), 37).hist), np.histogram(b, 37)[0])

# ---- covariance, correlation, distances ----------------------------------------------------
@pytest.mark.parametrize("dev", DEVICES)
def test_cov_corrcoef_match_numpy(dev):
    a = RNG.standard_normal((3, 8))
    np.testing.assert_allclose(_np(pt.cov(_t(a, dev))), np.cov(a), rtol=1e-12)
    fw, aw = RNG.integers(0, 4, 8), RNG.random(8)
    for corr in (0, 1, 2):
        got = pt.cov(_t(a, dev), correction=corr, fweights=_t(fw, dev), aweights=_t(aw, dev))
        np.testing.assert_allclose(_np(got), np.cov(a, ddof=corr, fweights=fw, aweights=aw), rtol=1e-12)
    assert pt.cov(_t(a[0], dev)).item() == pytest.approx(np.cov(a[0]), rel=1e-12)
    np.testing.assert_allclose(_np(pt.corrcoef(_t(a, dev))), np.corrcoef(a), rtol=1e-12)
    np.testing.assert_allclose(_np(pt.corrcoef(_t([[1, 2, 4], [0, 1, 1]], dev))), np.corrcoef([[1, 2, 4], [0, 1, 1]]))
    assert gradcheck(lambda x: pt.cov(x, aweights=_t([1.0, 2.0, 3.0, 1.0])), (_r(2, 4),))
    assert gradcheck(pt.corrcoef, (_r(3, 5),))
    with pytest.raises(RuntimeError, match="expected input to have two or fewer dimensions"):
        pt.cov(pt.ones(2, 2, 2))



@pytest.mark.parametrize("dev", DEVICES)
def test_cov_refuses_weights_that_sum_to_zero(dev):
    # all-zero aweights/fweights gave a matrix of NaN (the weighted mean 0/0); NumPy raises
    # ZeroDivisionError and torch 2.13 RuntimeError "weights sum to zero"
    a = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 7.0]])
    for kw in ({"aweights": _t([0.0, 0.0, 0.0], dev)}, {"fweights": _t([0, 0, 0], dev)},
               {"fweights": _t([1, 0, 2], dev), "aweights": _t([0.0, 3.0, 0.0], dev)}):
        with pytest.raises(RuntimeError, match=r"cov\(\): weights sum to zero"):
            pt.cov(_t(a, dev), **kw)
        with pytest.raises(ZeroDivisionError):
            np.cov(a, **{k: _np(v) for k, v in kw.items()})
    got = pt.cov(_t(a, dev), fweights=_t([0, 1, 2], dev))
    np.testing.assert_allclose(_np(got), np.cov(a, fweights=[0, 1, 2]), rtol=1e-12)

@pytest.mark.parametrize("dev", DEVICES)
def test_cov_corrcoef_of_complex_rows(dev):
    # cov raised ('le(): not supported for complex tensors': its normaliser was complex); torch 2.13
    # gives NumPy's conjugated covariance, weights real, and corrcoef clips each part to [-1, 1]
    z = RNG.standard_normal((3, 6)) + 1j * RNG.standard_normal((3, 6))
    fw, aw = RNG.integers(1, 4, 6), RNG.random(6)
    np.testing.assert_allclose(_np(pt.cov(_t(z, dev))), np.cov(z), rtol=1e-12)
    got = pt.cov(_t(z, dev), correction=0, fweights=_t(fw, dev), aweights=_t(aw, dev))
    np.testing.assert_allclose(_np(got), np.cov(z, ddof=0, fweights=fw, aweights=aw), rtol=1e-12)
    c = _np(pt.corrcoef(_t(z, dev)))
    want = np.corrcoef(z)
    np.testing.assert_allclose(c, np.clip(want.real, -1, 1) + 1j * np.clip(want.imag, -1, 1), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dev", DEVICES)
def test_cdist_matches_scipy(dev):
    x1, x2 = RNG.standard_normal((30, 3)), RNG.standard_normal((4, 3))
    for p, metric in ((1, "cityblock"), (2, "euclidean"), (3.5, "minkowski"), (math.inf, "chebyshev")):
        kw = {"p": p} if metric == "minkowski" else {}
        want = scipy.spatial.distance.cdist(x1, x2, metric, **kw)
        for mode in ("use_mm_for_euclid_dist_if_necessary", "donot_use_mm_for_euclid_dist", "use_mm_for_euclid_dist"):
            got = pt.cdist(_t(x1, dev), _t(x2, dev), p, mode)
            np.testing.assert_allclose(_np(got), want, rtol=1e-10, err_msg=f"{p} {mode}")
    assert (_np(pt.cdist(_t(x1, dev), _t(x2, dev), 0)) == 3).all()      # counts of differing coordinates
    batched = pt.cdist(_t(RNG.standard_normal((2, 1, 5, 3)), dev), _t(RNG.standard_normal((3, 4, 3)), dev))
    assert batched.shape == (2, 3, 5, 4)
    assert gradcheck(lambda a, b: pt.cdist(a, b, 1.5), (_r(3, 2), _r(4, 2)))
    with pytest.raises(RuntimeError, match="X1 and X2 must have the same number of columns. X1: 3 X2: 2"):
        pt.cdist(pt.ones(2, 3), pt.ones(4, 2))
    with pytest.raises(RuntimeError, match="only supports non-negative p values"):
        pt.cdist(pt.ones(2, 3), pt.ones(4, 3), -1.0)
    with pytest.raises(ValueError, match="not a valid value for compute_mode"):
        pt.cdist(pt.ones(2, 3), pt.ones(4, 3), compute_mode="x")



@pytest.mark.parametrize("dev", DEVICES)
def test_cdist_gradient_at_a_zero_distance_is_zero_in_the_matmul_form(dev):
    # cdist(x, x) with more than 25 rows (or compute_mode="use_mm_for_euclid_dist") took sqrt of
    # |a|^2 - 2 a.b + |b|^2 clamped at 0: the zero diagonal gave 0 * inf = NaN in every gradient.
    # Reference: d/dx_i of sum_jk |x_j - x_k| is 2 * sum_(j != i) (x_i - x_j) / |x_i - x_j|
    x = np.array([[0.0, 0.0], [3.0, 4.0], [1.0, -2.0], [3.0, 4.0]])   # rows 1 and 3 coincide too
    diff = x[:, None] - x[None]
    dist = np.sqrt((diff ** 2).sum(-1))
    want = 2 * (diff / np.where(dist > 0, dist, 1)[..., None]).sum(1)
    for mode in ("use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist"):
        xt = pt.tensor(x, device=dev, requires_grad=True)
        d = pt.cdist(xt, xt, compute_mode=mode)
        d.sum().backward()
        np.testing.assert_allclose(_np(d.detach()), dist, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(_np(xt.grad), want, rtol=1e-12, atol=1e-12, err_msg=mode)
    big = pt.tensor(np.repeat(x, 8, axis=0), device=dev, requires_grad=True)      # 32 rows: the matmul form
    pt.cdist(big, big).sum().backward()
    np.testing.assert_allclose(_np(big.grad), np.repeat(want, 8, axis=0) * 8, rtol=1e-9, atol=1e-9)

@pytest.mark.parametrize("dev", DEVICES)
def test_products_and_combinations(dev):
    a, b = RNG.standard_normal((2, 5)), RNG.standard_normal((3, 5))
    np.testing.assert_allclose(_np(pt.inner(_t(a, dev), _t(b, dev))), np.inner(a, b), rtol=1e-12)
    z = np.array([1 + 2j, 3j]), np.array([2 - 1j, 1 + 1j])
    assert pt.vdot(_t(z[0]), _t(z[1])).item() == pytest.approx(np.vdot(*z))
    assert pt.dist(_t(a, dev), _t(b[0], dev), 3).item() == pytest.approx(np.sum(np.abs(a - b[0]) ** 3) ** (1 / 3))
    np.testing.assert_array_equal(_np(pt.block_diag(_t([[1, 2]], dev), _t(3, dev), _t([4, 5], dev))),
                                  scipy.linalg.block_diag([[1, 2]], [[3]], [[4, 5]]))
    got = pt.cartesian_prod(_t([1, 2], dev), _t([3, 4, 5], dev)).tolist()
    assert got == [list(p) for p in itertools.product([1, 2], [3, 4, 5])]
    for r, rep in ((2, False), (3, True), (5, False)):
        pick = itertools.combinations_with_replacement if rep else itertools.combinations
        got = pt.combinations(_t([1, 2, 3, 4], dev), r, rep)
        assert got.tolist() == [list(c) for c in pick([1, 2, 3, 4], r)] and got.shape[-1:] == (r,)
    assert gradcheck(lambda x, y: pt.inner(x, y), (_r(2, 4), _r(3, 4)))
    with pytest.raises(RuntimeError, match="1D tensors expected"):
        pt.vdot(pt.ones(2, 2), pt.ones(2))
    with pytest.raises(RuntimeError, match="Input tensors must have 2 or fewer dimensions"):
        pt.block_diag(pt.ones(2, 2, 2))


# ---- matrix functions ----------------------------------------------------------------------
@pytest.mark.parametrize("dev", DEVICES)
def test_matrix_exp_and_power(dev):
    m = RNG.standard_normal((3, 4, 4)) * np.array([0.01, 1.0, 5.0])[:, None, None]
    got = _np(pt.matrix_exp(_t(m, dev)))
    for i in range(3):
        np.testing.assert_allclose(got[i], scipy.linalg.expm(m[i]), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_np(pt.matrix_power(_t(m[1], dev), 3)), np.linalg.matrix_power(m[1], 3), rtol=1e-12)
    assert gradcheck(pt.matrix_exp, (_r(2, 3, 3),))
    with pytest.raises(RuntimeError, match="Expected a square matrix"):
        pt.matrix_exp(pt.ones(2, 3))


@pytest.mark.parametrize("dev", DEVICES)
def test_matrix_exp_traced_formulation(dev, monkeypatch):
    """The formulation jit/compile record (squarings picked on the device, all 64 recorded and
    kept while needed): scipy's values, eager's bits, finite-difference gradients, no nan from an
    inf in a skipped squaring."""
    from plugtorch.dispatch.ops import matrix_functions as mf
    m = RNG.standard_normal((3, 4, 4)) * np.array([0.01, 1.0, 40.0])[:, None, None]
    eager = _np(pt.matrix_exp(_t(m, dev)))
    monkeypatch.setattr(mf, "_tracing", lambda: True)
    got = _np(pt.matrix_exp(_t(m, dev)))
    np.testing.assert_array_equal(got, eager)
    for i in range(3):
        np.testing.assert_allclose(got[i], scipy.linalg.expm(m[i]), rtol=1e-10, atol=1e-12)
    assert gradcheck(pt.matrix_exp, (_r(2, 3, 3),))
    x = pt.tensor([[[300.0]]], dtype=pt.float32, device=dev, requires_grad=True)   # exp overflows float32
    pt.matrix_exp(x).sum().backward()
    assert _np(x.grad).tolist() == [[[float("inf")]]]


# ---- windows and short-time transforms -----------------------------------------------------
def _sym(kind, m):
    k = np.arange(m)
    if m == 1:
        return np.ones(1)
    return {"hann": np.hanning, "hamming": np.hamming, "blackman": np.blackman, "bartlett": np.bartlett}[kind](m) \
        if kind != "kaiser" else np.kaiser(m, 12.0) + 0 * k


@pytest.mark.parametrize("kind", ["hann", "hamming", "blackman", "bartlett", "kaiser"])
def test_windows_match_numpy(kind):
    fn = getattr(pt, f"{kind}_window")
    for n in (1, 2, 7, 8):
        np.testing.assert_allclose(_np(fn(n, False, dtype=pt.float64)), _sym(kind, n), atol=1e-12)
        if n > 1:   # periodic: the first n points of the n + 1 window (a single point is 1, as PyTorch's)
            np.testing.assert_allclose(_np(fn(n, dtype=pt.float64)), _sym(kind, n + 1)[:n], atol=1e-12)
    assert fn(1).tolist() == [1.0] and fn(0).shape == (0,) and fn(5).dtype is pt.float32
    with pytest.raises(RuntimeError, match="expects floating point dtypes"):
        fn(4, dtype=pt.int64)
    with pytest.raises(RuntimeError, match="non-negative window_length"):
        fn(-1)


def _stft_reference(x, n_fft, hop, window, center=True, normalized=False, onesided=True):
    """PyTorch's definition: reflect-pad n_fft // 2 each side, frame t is x[t*hop : t*hop+n_fft] * window."""
    if center:
        x = np.pad(x, n_fft // 2, mode="reflect")
    frames = np.stack([x[t * hop:t * hop + n_fft] * window for t in range(1 + (len(x) - n_fft) // hop)])
    spec = np.fft.rfft(frames, axis=-1) if onesided else np.fft.fft(frames, axis=-1)
    return (spec / math.sqrt(n_fft) if normalized else spec).T


@pytest.mark.parametrize("dev", DEVICES)
def test_stft_matches_its_definition_and_istft_inverts_it(dev):
    x = RNG.standard_normal(50)
    w = np.hanning(17)[:16]                                       # periodic hann
    got = pt.stft(_t(x, dev), 16, 4, window=_t(w, dev), return_complex=True)
    np.testing.assert_allclose(_np(got), _stft_reference(x, 16, 4, w), rtol=1e-10, atol=1e-12)
    w9 = np.zeros(12)
    w9[1:10] = np.hamming(9)                                      # win_length 9 centred in n_fft 12
    got = pt.stft(_t(x, dev), 12, 5, 9, _t(np.hamming(9), dev), normalized=True, onesided=False, return_complex=True)
    np.testing.assert_allclose(_np(got), _stft_reference(x, 12, 5, w9, normalized=True, onesided=False),
                               rtol=1e-10, atol=1e-12)
    nc = pt.stft(_t(x, dev), 8, center=False, return_complex=False)   # rectangular window, (freq, frames, 2)
    ref = _stft_reference(x, 8, 2, np.ones(8), center=False)
    np.testing.assert_allclose(_np(nc), np.stack([ref.real, ref.imag], -1), rtol=1e-10, atol=1e-12)
    spec = pt.stft(_t(x, dev), 16, 4, window=_t(w, dev), return_complex=True)
    np.testing.assert_allclose(_np(pt.istft(spec, 16, 4, window=_t(w, dev))), x[:48], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_np(pt.istft(spec, 16, 4, window=_t(w, dev), length=50)), x, rtol=1e-10, atol=1e-12)


def test_stft_errors():
    with pytest.raises(RuntimeError, match="requires the return_complex parameter"):
        pt.stft(pt.ones(16), 4)
    with pytest.raises(RuntimeError, match="expected 0 < win_length <= n_fft"):
        pt.stft(pt.ones(16), 4, win_length=5, return_complex=True)
    with pytest.raises(RuntimeError, match="expected hop_length > 0"):
        pt.stft(pt.ones(16), 4, hop_length=0, return_complex=True)
    with pytest.raises(NotImplementedError, match="Unrecognised padding mode foo"):
        pt.stft(pt.ones(16), 4, pad_mode="foo", return_complex=True)
    with pytest.raises(RuntimeError, match="complex-valued input"):
        pt.istft(pt.ones(3, 5), 4)
    spec = pt.stft(pt.ones(16), 4, 4, window=pt.hann_window(4, periodic=False), center=False, return_complex=True)
    with pytest.raises(RuntimeError, match="NOLA"):
        pt.istft(spec, 4, 4, window=pt.hann_window(4, periodic=False), center=False)


@pytest.mark.parametrize("dev", DEVICES)
def test_histogramdd_matches_numpy(dev):
    pts = RNG.standard_normal((50, 3))
    w = RNG.random(50)
    hist, edges = pt.histogramdd(_t(pts, dev), bins=[2, 3, 4], weight=_t(w, dev), density=True)
    want, want_edges = np.histogramdd(pts, bins=[2, 3, 4], weights=w, density=True)
    np.testing.assert_allclose(_np(hist), want, rtol=1e-12)
    for e, we in zip(edges, want_edges):
        np.testing.assert_allclose(_np(e), we, rtol=1e-12)
    given = [np.array([-3.0, 0.0, 3.0]), np.array([-1.0, 1.0]), np.array([-2.0, -1.0, 0.5, 2.0])]
    hist, _ = pt.histogramdd(_t(pts, dev), bins=[_t(e, dev) for e in given])
    np.testing.assert_array_equal(_np(hist), np.histogramdd(pts, bins=given)[0])
    hist, _ = pt.histogramdd(_t(pts[:, :2], dev), bins=3, range=[-1.0, 1.0, 0.0, 2.0])
    np.testing.assert_array_equal(_np(hist), np.histogramdd(pts[:, :2], bins=3, range=[(-1, 1), (0, 2)])[0])
    with pytest.raises(RuntimeError, match="size of bins must be equal to the innermost dimension"):
        pt.histogramdd(pt.ones(4, 2), bins=[2, 3, 4])
