"""Complex autograd (autograd/complex_formulas.py): a complex128 gradcheck of every op on the
allowlist (real and imaginary parts of inputs and outputs, as torch.autograd.gradcheck), known
gradients from torch 2.13 (the conjugate Wirtinger convention: z.grad = dL/dx + i dL/dy), real
gradients for real inputs of complex ops, and the refusal of every other op."""
from __future__ import annotations

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.autograd import GradcheckError, gradcheck, gradgradcheck
from plugtorch.autograd.complex_formulas import COMPLEX_OPS

DEVICES = ["cpu"] + (["opencl"] if pt.opencl.is_available() else [])
R = np.random.default_rng(0)


def cz(*shape):
    return pt.tensor(R.standard_normal(shape) + 1j * R.standard_normal(shape), requires_grad=True)


def rx(*shape):
    return pt.tensor(R.standard_normal(shape), requires_grad=True)


A, B, Z, X, Y = cz(2, 3), cz(3, 2), cz(2, 3), rx(2, 3), rx(2, 3)
MASK = pt.tensor([True, False, True])
ZEROS = pt.tensor([[1 + 1j, 0j, 2 - 1j], [0.5j, 1.5, 0j]], dtype=pt.complex128, requires_grad=True)

# name -> (function, inputs): each op of the allowlist, most in several forms
CASES = {
    "neg": (lambda a: -a, (A,)),
    "add_sub_mixed": (lambda a, x: a + x - 2 * a, (A, X)),
    "mul": (lambda a, b: a * b, (A, Z)),
    "mul_real_by_complex": (lambda a, x: a * x, (A, X)),
    "mul_complex_scalar": (lambda x: x * (2 - 1j), (X,)),
    "div": (lambda a, b: a / b, (A, Z)),
    "div_real_by_complex": (lambda x, a: x / a, (X, A)),
    "exp": (lambda a: a.exp(), (A,)),
    "abs": (lambda a: a.abs(), (A,)),
    "matmul": (lambda a, b: a @ b, (A, B)),
    "where": (lambda a, b: pt.where(MASK, a, b), (A, Z)),
    "sum": (lambda a: a.sum(1), (A,)),
    "mean": (lambda a: a.mean(), (A,)),
    "reshape_view": (lambda a: a.reshape(3, 2).view(6), (A,)),
    "transpose_permute": (lambda a: a.transpose(0, 1).permute(1, 0).mT, (A,)),
    "expand_squeeze": (lambda a: a[:1].expand(4, 3).unsqueeze(0).squeeze(0), (A,)),
    "slice_select": (lambda a: a[1, ::2], (A,)),
    "index": (lambda a: a[pt.tensor([1, 0, 1])], (A,)),
    "index_put": (lambda a, b: a.index_put((pt.tensor([0]),), b[:1]), (A, Z)),
    "cat_stack": (lambda a, b: pt.cat([pt.stack([a, b]), a.unsqueeze(0)]), (A, Z)),
    "flip_clone_unfold": (lambda a: a.flip(0).clone().unfold(1, 2, 1), (A,)),
    "to_complex_and_back": (lambda x: (x.to(pt.complex128) * 1j).to(pt.float64), (X,)),
    "conj": (lambda a: a.conj() * a, (A,)),
    "real_imag": (lambda a: a.real * a.imag, (A,)),
    "view_as_real": (lambda a: pt.view_as_real(a), (A,)),
    "view_as_complex": (lambda x: pt.view_as_complex(x), (rx(3, 2),)),
    "complex": (lambda x, y: pt.complex(x, y), (X, Y)),
    "polar": (lambda x, y: pt.polar(x, y), (X, Y)),
    "angle": (lambda a: a.angle(), (A,)),
    "angle_real": (lambda x: x.angle(), (X,)),
    "cumsum": (lambda a: a.cumsum(1), (A,)),
    "pow_int": (lambda a: a ** 3, (A,)),
    "pow_complex_exponent": (lambda a: a ** (1.5 + 0.5j), (A,)),
    "pow_tensors": (lambda a, b: a ** b + X ** b + a ** X, (A, Z)),
    "pow_scalar_base": (lambda x, b: (2 + 1j) ** x + (0.5 - 0.2j) ** b + (-2.0) ** b, (X, Z)),
    "prod": (lambda a: a.prod() + a.prod(1).sum(), (A,)),
    "cumprod": (lambda a: a.cumprod(1), (A,)),
    "prod_cumprod_with_zeros": (lambda z: z.prod(1).sum() + z.cumprod(1), (ZEROS,)),
    # composites differentiated through their steps (docs/complex.md lists them)
    "composites": (lambda a, b: (pt.linalg.vecdot(a, a).sum() + a.var() + pt.linalg.vector_norm(a)
                                 + a.sgn().square().sum()
                                 + pt.einsum("ij,jk->ik", a, b).trace() + pt.outer(a[0], b[:, 0]).diagonal().sum()
                                 + a.index_add(0, pt.tensor([1, 1]), b.mT).roll(1, 1).repeat(2, 1).sum()
                                 + a.masked_fill(MASK, 0).split(1, 1)[1].sum() + pt.dot(a[0], b[:, 1])), (A, B)),
    "householder_product": (lambda a, t: pt.linalg.householder_product(a.mT, t[:2]), (A, Z[0])),
}


HOLOMORPHIC = "exp2 expm1 log log2 log10 log1p sqrt rsqrt reciprocal sin cos tan sinh cosh tanh sigmoid asin acos atan"
for _n in HOLOMORPHIC.split():   # away from the branch cuts (the negative real axis, |re| > 1 on the real axis)
    CASES[_n] = (getattr(pt, _n), (pt.tensor([[0.5 + 0.7j, -0.3 + 0.4j], [0.2 - 0.6j, 0.8 + 0.1j]], dtype=pt.complex128,
                                             requires_grad=True),))


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck(name):
    fn, inputs = CASES[name]
    assert gradcheck(fn, inputs)


@pytest.mark.parametrize("name", ["mul", "div", "exp", "abs", "matmul", "conj", "view_as_real", "polar", "log", "tanh",
                                  "sqrt"])
def test_gradgradcheck(name):
    fn, inputs = CASES[name]
    assert gradgradcheck(fn, inputs)


def _recorded(out, seen):
    """The op names of the nodes behind ``out`` (its graph, walked to the leaves)."""
    stack = [out.grad_fn]
    while stack:
        n = stack.pop()
        if n is None or n in seen:
            continue
        seen[n] = getattr(getattr(n, "op", None), "name", None)
        stack.extend(e[0] for e in n.next_functions if e[0] is not None)


def test_every_allowlisted_op_is_gradchecked_here():
    seen = {}
    for fn, inputs in [*CASES.values(), *FFT_CASES.values(), *STFT_CASES.values()]:
        out = fn(*inputs)
        _recorded(out, seen)
    missing = set(COMPLEX_OPS) - set(seen.values()) - {"_to_device"}   # (recorded on opencl only: test_devices)
    assert not missing, f"allowlisted ops no case above records: {sorted(missing)}"


def test_the_gradcheck_catches_a_missing_conj():
    class NoConjMul(pt.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            return g * b, g * a        # the real formula: wrong for complex numbers

    with pytest.raises(GradcheckError, match="Jacobian mismatch for output 0 with respect to input 0"):
        gradcheck(NoConjMul.apply, (A, Z))
    assert gradcheck(NoConjMul.apply, (X, Y))   # right for real ones


# ---- plugtorch.fft ------------------------------------------------------------------------
F = pt.fft
C4, C34, R6, R35 = cz(4), cz(3, 4), rx(6), rx(3, 5)
FFT_CASES = {}
for _norm in (None, "forward", "ortho"):
    FFT_CASES.update({
        f"fft_padded_{_norm}": (lambda z, n=_norm: F.fft(z, n=6, norm=n), (C4,)),
        f"ifft_cut_{_norm}": (lambda z, n=_norm: F.ifft(z, n=3, norm=n), (C4,)),
        f"fft_of_real_{_norm}": (lambda x, n=_norm: F.fft(x, norm=n), (R6,)),
        f"rfft_{_norm}": (lambda x, n=_norm: F.rfft(x, n=7, norm=n), (R6,)),
        f"irfft_{_norm}": (lambda z, n=_norm: F.irfft(z, n=5, norm=n), (C4,)),
        f"hfft_{_norm}": (lambda z, n=_norm: F.hfft(z, norm=n), (C4,)),
        f"ihfft_{_norm}": (lambda x, n=_norm: F.ihfft(x, norm=n), (R6,)),
        f"fftn_{_norm}": (lambda z, n=_norm: F.fftn(z, s=(4, 3), norm=n), (C34,)),
        f"ifftn_{_norm}": (lambda z, n=_norm: F.ifftn(z, dim=(0,), norm=n), (C34,)),
        f"rfftn_{_norm}": (lambda x, n=_norm: F.rfftn(x, s=(2, 6), norm=n), (R35,)),
        f"irfftn_{_norm}": (lambda z, n=_norm: F.irfftn(z, s=(3, 7), norm=n), (C34,)),
    })


@pytest.mark.parametrize("name", sorted(FFT_CASES))
def test_fft_gradcheck(name):
    fn, inputs = FFT_CASES[name]
    assert gradcheck(fn, inputs)


@pytest.mark.parametrize("name", ["fft_padded_ortho", "rfft_None", "irfft_forward"])
def test_fft_gradgradcheck(name):
    fn, inputs = FFT_CASES[name]
    assert gradgradcheck(fn, inputs)


@pytest.mark.parametrize("device", DEVICES)
def test_fft_gradients_on_devices(device):
    x = np.array([1., 2., 3., 4., 5.])
    t = pt.tensor(x, device=device, requires_grad=True)
    F.rfft(t).abs().sum().backward()     # torch 2.13's
    np.testing.assert_allclose(t.grad.cpu().numpy(), [-0.5388417686, 0.636728736, 1.0, 1.363271264, 2.5388417686],
                               rtol=1e-9)
    z = pt.tensor([1 + 1j, 2 - 1j, -1 + 0.5j, 0.25j], device=device, dtype=pt.complex128, requires_grad=True)
    w = pt.tensor([1 - 1j, 0.5 + 2j, -1j, 3 + 0j], device=device, dtype=pt.complex128)
    (F.fft(z, norm="ortho") * w).real.sum().backward()
    np.testing.assert_allclose(z.grad.cpu().numpy(), [2.25, 1.5 - 1.25j, -1.25 + 2j, -0.5 + 1.25j], rtol=1e-9)
    z.grad = None
    F.irfft(z, n=6).pow(2).sum().backward()
    np.testing.assert_allclose(z.grad.cpu().numpy(), [1 / 3, 4 / 3 - 2j / 3, -2 / 3 + 1j / 3, 0], atol=1e-9)


# ---- stft / istft (composites: differentiated through unfold, mul, the FFTs, index_put ...) ---
WIN = pt.hann_window(8, dtype=pt.float64)
SIG, CSIG, WR = rx(20), cz(20), rx(8)
SPEC = pt.stft(SIG.detach(), 8, hop_length=2, window=WIN, return_complex=True).requires_grad_()
CSPEC = pt.stft(CSIG.detach(), 8, hop_length=2, window=WIN, return_complex=True).requires_grad_()
STFT_CASES = {
    "stft": (lambda x: pt.stft(x, 8, hop_length=2, window=WIN, return_complex=True), (SIG,)),
    "stft_real_pairs_uncentred": (lambda x: pt.stft(x, 8, hop_length=3, center=False, normalized=True,
                                                    return_complex=False), (SIG,)),
    "stft_complex_signal": (lambda x: pt.stft(x, 8, hop_length=2, window=WIN, return_complex=True), (CSIG,)),
    "stft_window_grad": (lambda x, w: pt.stft(x, 8, hop_length=2, window=w, return_complex=True), (SIG, WR)),
    "istft": (lambda s: pt.istft(s, 8, hop_length=2, window=WIN), (SPEC,)),
    "istft_length_normalized": (lambda s: pt.istft(s, 8, hop_length=2, window=WIN, length=15, normalized=True), (SPEC,)),
    "istft_two_sided_complex": (lambda s: pt.istft(s, 8, hop_length=2, window=WIN, onesided=False,
                                                   return_complex=True), (CSPEC,)),
}


@pytest.mark.parametrize("name", sorted(STFT_CASES))
def test_stft_gradcheck(name):
    fn, inputs = STFT_CASES[name]
    assert gradcheck(fn, inputs)


@pytest.mark.parametrize("device", DEVICES)
def test_stft_istft_known_gradients(device):
    s = pt.arange(16, dtype=pt.float64, device=device).sin().requires_grad_()
    win = pt.hann_window(8, dtype=pt.float64, device=device)
    pt.stft(s, 8, hop_length=2, window=win, return_complex=True).abs().sum().backward()   # torch 2.13's
    np.testing.assert_allclose(s.grad.cpu().numpy(), [
        -1.5131072993, 8.5843155949, 4.0020929982, 0.2953447192, -2.5916282557, -6.1893481709, -0.9684571171,
        1.7078838491, 3.4012633541, 0.8636210416, -1.881219482, -6.5496171148, -1.7384364511, 0.405488104,
        11.3929528305, -0.2643035497], rtol=1e-8)
    S = pt.stft(s.detach(), 8, hop_length=2, window=win, return_complex=True).requires_grad_()
    pt.istft(S * (1 + 0.5j), 8, hop_length=2, window=win).pow(2).sum().backward()
    np.testing.assert_allclose(S.grad[:, :2].cpu().numpy().reshape(-1), [
        0.2181280799 - 0.1090640399j, 0.1212926422 - 0.0606463211j, -0.0992125958 + 0.4494961793j,
        -0.6598660559 - 0.2972836386j, -0.2441349993 - 0.2814742613j, 0.5670306485 + 0.1634103839j,
        0.2437336384 - 0.0059998148j, -0.104410961 - 0.0951788873j, -0.0736280732 + 0.0368140366j,
        -0.0551164043 + 0.0275582022j], atol=1e-9)


# ---- known values: torch 2.13, complex128 ------------------------------------------------
def grad_of(loss, *inputs):
    leaves = [pt.tensor(v, dtype=pt.complex128 if np.iscomplexobj(v) else pt.float64, requires_grad=True)
              for v in inputs]
    loss(*leaves).backward()
    return [t.grad.numpy() for t in leaves]


def test_known_values_from_torch():
    z = np.array([3 + 4j, 1 - 2j, 0j])
    np.testing.assert_allclose(grad_of(lambda t: t.abs().sum(), z)[0], [0.6 + 0.8j, 0.4472135955 - 0.894427191j, 0])
    np.testing.assert_allclose(grad_of(lambda t: t.angle().sum(), z)[0], [-0.16 + 0.12j, 0.4 + 0.2j, 0])
    np.testing.assert_allclose(grad_of(lambda t: t.exp().imag.sum(), z)[0],
                               [-15.2007844631 - 13.1287830815j, -2.471726672 - 1.1312043838j, 1j], rtol=1e-9)
    a, b = np.array([1 + 2j, -0.5 + 1j]), np.array([3 - 1j, 2 + 0.25j])
    ga, gb = grad_of(lambda s, t: (s * t).abs().sum(), a, b)
    np.testing.assert_allclose(ga, [1.4142135624 + 2.8284271247j, -0.9013878189 + 1.8027756377j], rtol=1e-9)
    np.testing.assert_allclose(gb, [2.1213203436 - 0.7071067812j, 1.1094003925 + 0.1386750491j], rtol=1e-9)
    ga, gb = grad_of(lambda s, t: (s / t).real.sum(), a, b)
    np.testing.assert_allclose(ga, [0.3 - 0.1j, 0.4923076923 + 0.0615384615j], rtol=1e-9)
    np.testing.assert_allclose(gb, [0.04 + 0.22j, 0.0586982249 + 0.2688757396j], rtol=1e-9)
    m1 = np.array([[1 + 1j, 2 - 1j], [0.5j, -1 + 0j]])
    m2 = np.array([[2 - 1j, 1j], [1 + 0j, 0.5 - 0.5j]])
    g1, g2 = grad_of(lambda s, t: (s @ t).abs().sum(), m1, m2)
    np.testing.assert_allclose(g1.reshape(-1), [1.2928932188 + 1.7071067812j, 1 - 0.7071067812j,
                                                -1.3416407865 + 2.2360679775j, -1.1180339887 + 0.6708203932j], rtol=1e-9)
    np.testing.assert_allclose(g2.reshape(-1), [1.4472135955 - 0.7763932023j, -1.1906067646 + 0.4472135955j,
                                                2.4472135955 + 0.105572809j, 0.1873204098 - 2.5685339391j], rtol=1e-9)
    w = pt.tensor([1 - 1j, 0.5 + 2j, -1j])
    gx, gy = grad_of(lambda r, p: (pt.polar(r, p) * w).real.sum(), np.array([1., 2., 3.]), np.array([0.5, -1., 2.]))
    np.testing.assert_allclose(gx, [1.3570081005, 1.9530931225, 0.9092974268], rtol=1e-9)   # real inputs: real grads
    np.testing.assert_allclose(gy, [0.3981570233, -1.3197382387, -1.2484405096], rtol=1e-9)
    z = np.array([0.5 + 0.7j, -1.2 + 0.3j])
    for name, want in [("log", [-1.0399991267 + 0.5193776736j, -0.2529724443 - 0.7678539664j]),
                       ("sqrt", [0.313340274 + 0.4386763836j, -0.4361467868 + 0.1090366967j]),
                       ("tanh", [0.1520546699 + 1.1575657291j, -0.2572644722 + 0.1789250722j]),
                       ("sigmoid", [0.2391339864 + 0.1123358567j, 0.1803366937 + 0.0124649088j]),
                       ("sin", [0.4688466508 + 1.0610293133j, -0.3444395163 + 0.3246493046j])]:
        np.testing.assert_allclose(grad_of(lambda t: getattr(t, name)().abs().sum(), z)[0], want, rtol=1e-9)
    np.testing.assert_allclose(grad_of(lambda t: (t ** 3).abs().sum(), np.array([0.5 + 0.7j, -1.2 + 0.3j, 0j]))[0],
                               [1.2903487901 + 1.8064883061j, -4.4529540757 + 1.1132385189j, 0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(grad_of(lambda t: ((2 + 1j) ** t).abs().sum(), np.array([0.5, 2.0]))[0],
                               [1.2033355104, 4.0235947811], rtol=1e-9)
    m = np.array([[1 + 1j, 0j, 2 - 1j], [0.5j, 1.5, 0.3 - 0.2j]])
    np.testing.assert_allclose(grad_of(lambda t: t.prod(1).abs().sum(), m)[0].reshape(-1),
                               [0, 0, 0, 0.5408326913j, 0.1802775638, 0.6240377208 - 0.4160251472j], atol=1e-9)
    np.testing.assert_allclose(grad_of(lambda t: t.cumprod(1).real.sum(), m)[0].reshape(-1),
                               [1, 4 - 2j, 0, 2.95 + 0.3j, 0.1 - 0.65j, -0.75j], atol=1e-9)


def test_real_inputs_get_real_gradients():
    x = pt.tensor([1., -2.], requires_grad=True)
    (x * (1 + 2j)).abs().sum().backward()
    assert x.grad.dtype is pt.float32
    np.testing.assert_allclose(x.grad.numpy(), [5 ** 0.5, -5 ** 0.5], rtol=1e-6)   # |x (1 + 2i)| = sqrt(5) |x|


@pytest.mark.parametrize("device", DEVICES)
def test_devices_agree_with_cpu(device):
    a = np.array([[1 + 2j, -0.5 + 1j, 0.25 - 1j]])

    def loss(t):
        u = t.to(device).clone()      # _to_device; the in-place op records copy_
        u *= 2
        u = u / 2
        return (((u * u.conj().exp()) @ u.mT).abs().sum() + pt.view_as_real(u).sum()
                + (u * 0.3).tanh().log().sqrt().abs().sum())

    t = pt.tensor(a, requires_grad=True)
    loss(t).backward()
    np.testing.assert_allclose(t.grad.numpy(), grad_of(loss if device == "cpu" else
                                                       lambda s: ((s * s.conj().exp()) @ s.mT).abs().sum()
                                                       + pt.view_as_real(s).sum()
                                                       + (s * 0.3).tanh().log().sqrt().abs().sum(), a)[0], rtol=1e-9)


# ---- what still refuses ------------------------------------------------------------------
@pytest.mark.parametrize("name,fn", [
    ("linalg_inv_ex", lambda z: pt.linalg.inv(pt.diag(z))),
    ("linalg_det", lambda z: pt.linalg.det(pt.diag(z))), ("linalg_qr", lambda z: pt.linalg.qr(pt.diag(z))),
])
def test_ops_off_the_allowlist_refuse(name, fn):
    z = pt.tensor([1 + 1j, 2 - 1j], requires_grad=True)
    with pytest.raises(RuntimeError, match=rf"{name}\(\): autograd is not supported for complex results in plugtorch "
                                           r"yet \(a complex input requires grad; its backward formula is not verified"):
        fn(z)
    with pt.no_grad():
        fn(z)    # the forward itself works


def test_a_complex_result_of_a_real_input_refuses_off_the_allowlist():
    x = pt.ones(2, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"linalg.eigvals\(\): autograd is not supported for complex results"):
        pt.linalg.eigvals(x).abs().sum().backward()


def test_complex_backward_needs_a_real_loss():
    z = pt.tensor([1 + 1j], requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for real scalar outputs"):
        (z * 2).sum().backward()
    (z * 2).sum().backward(pt.tensor(1 + 0j))     # an explicit gradient is fine (torch's too)
    assert z.grad.tolist() == [(2 + 0j)]


def test_gradient_descent_on_complex_numbers():
    # the conjugate Wirtinger gradient is the steepest ascent direction: stepping against it finds 2 - 3j
    z = pt.tensor([1 + 1j], dtype=pt.complex128, requires_grad=True)
    for _ in range(60):
        z.grad = None
        (z - (2 - 3j)).abs().sum().backward()
        with pt.no_grad():
            z -= 0.1 * z.grad
    assert abs(z.item() - (2 - 3j)) < 0.11
    x = pt.nn.Parameter(pt.view_as_real(pt.tensor([1 + 1j], dtype=pt.complex128)).clone())   # optim: real views
    opt = pt.optim.Adam([x], lr=0.1)
    for _ in range(200):
        opt.zero_grad()
        (pt.view_as_complex(x) - (2 - 3j)).abs().sum().backward()
        opt.step()
    assert abs(pt.view_as_complex(x.detach()).item() - (2 - 3j)) < 0.05


def test_sgn_gradient_at_zero_is_zero():
    # torch 2.13: z = [0, 1+1j], sgn(z).real.sum() gives [0, (1 - i) / (2 sqrt 2)] (it was nan at 0:
    # the gradient flowed through z / |z| at |z| == 0 before the where dropped it)
    z = pt.tensor([0j, 1 + 1j], dtype=pt.complex128, requires_grad=True)
    z.sgn().real.sum().backward()
    s = 1 / (2 * np.sqrt(2))
    np.testing.assert_allclose(z.grad.numpy(), [0j, s - s * 1j], atol=1e-15)
    np.testing.assert_allclose(pt.sgn(z).detach().numpy(), [0j, (1 + 1j) / np.sqrt(2)], atol=1e-15)
