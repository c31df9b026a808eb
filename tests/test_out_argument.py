"""``out=`` (PyTorch's semantics, written once in plugtorch/_out.py) and ``asarray(copy=)``.

Each function whose torch counterpart takes ``out=`` writes its result into ``out`` in place and
returns it; errors, the resize warning, tuple outs, factories, aliasing, autograd and compiled
replays are checked against NumPy and the behaviour of PyTorch 2.13.
"""
import inspect
import warnings

import numpy as np
import pytest

import plugtorch as pt
import plugtorch.fft  # noqa: F401
import plugtorch.linalg  # noqa: F401
import plugtorch.special  # noqa: F401
from plugtorch import _out

DEVICES = ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))]
NAMESPACES = {"": pt, "linalg": pt.linalg, "special": pt.special, "fft": pt.fft, "nn.functional": pt.nn.functional}


def _x(dev="cpu"):
    a = np.array([[0.5, 1.5, -2.0], [3.0, -0.25, 1.0]], dtype=np.float32)
    return a, pt.tensor(a, device=dev)


# ---- values ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dev", DEVICES)
def test_out_receives_the_result_in_place_and_is_returned(dev):
    a, x = _x(dev)
    cases = [
        (lambda o: pt.add(x, x, alpha=2, out=o), a + 2 * a),
        (lambda o: pt.sub(x, 1, out=o), a - 1),
        (lambda o: pt.mul(x, x, out=o), a * a),
        (lambda o: pt.div(x, 2, rounding_mode="floor", out=o), np.floor(a / 2)),
        (lambda o: pt.sin(x, out=o), np.sin(a)),
        (lambda o: pt.exp(x, out=o), np.exp(a)),
        (lambda o: pt.clamp(x, -1, 1, out=o), np.clip(a, -1, 1)),
        (lambda o: pt.where(x > 0, x, 0.0, out=o), np.where(a > 0, a, 0)),
        (lambda o: pt.sum(x, 1, out=o), a.sum(1)),
        (lambda o: pt.mean(x, 0, keepdim=True, out=o), a.mean(0, keepdims=True)),
        (lambda o: pt.matmul(x, x.T, out=o), a @ a.T),
        (lambda o: pt.cat([x, x], 1, out=o), np.concatenate([a, a], 1)),
        (lambda o: pt.concatenate([x, x], axis=0, out=o), np.concatenate([a, a], 0)),
        (lambda o: pt.tensordot(x, x, dims=([1], [1]), out=o), np.tensordot(a, a, ([1], [1]))),
        (lambda o: pt.cumsum(x, 1, out=o), np.cumsum(a, 1)),
        (lambda o: pt.special.expit(x, out=o), 1 / (1 + np.exp(-a))),
        (lambda o: pt.nn.functional.normalize(x, dim=1, out=o), a / np.linalg.norm(a, axis=1, keepdims=True)),
    ]
    for call, want in cases:
        o = pt.empty(want.shape, device=dev)
        v = o._version
        assert call(o) is o
        assert o._version > v   # written as copy_ writes: a version bump
        np.testing.assert_allclose(o.cpu().numpy(), want, rtol=1e-5, atol=1e-6)


def test_linalg_and_fft_outs():
    a = np.array([[4.0, 1.0], [1.0, 3.0]])
    x = pt.tensor(a, dtype=pt.float64)
    o = pt.empty(2, 2, dtype=pt.float64)
    assert pt.linalg.inv(x, out=o) is o
    np.testing.assert_allclose(o.numpy(), np.linalg.inv(a))
    c = pt.empty(2, 2, dtype=pt.complex128)
    assert pt.fft.fft(x, out=c) is c
    np.testing.assert_allclose(c.numpy(), np.fft.fft(a))
    f = pt.empty(0)
    pt.fft.fftfreq(4, out=f)
    np.testing.assert_allclose(f.numpy(), np.fft.fftfreq(4))


@pytest.mark.parametrize("dev", DEVICES)
def test_out_none_is_no_out(dev):
    _, x = _x(dev)
    np.testing.assert_allclose(pt.add(x, 1, out=None).cpu().numpy(), x.cpu().numpy() + 1)
    assert pt.zeros(2, out=None).tolist() == [0.0, 0.0]


# ---- several results: a tuple of outs, the op's named tuple back ------------------------------
@pytest.mark.parametrize("dev", DEVICES)
def test_tuple_outs(dev):
    a, x = _x(dev)
    for call, want_values, want_indices in [
            (lambda o: pt.sort(x, 1, out=o), np.sort(a, 1), np.argsort(a, 1)),
            (lambda o: pt.max(x, 1, out=o), a.max(1), a.argmax(1)),
            (lambda o: pt.min(x, 0, keepdim=True, out=o), a.min(0, keepdims=True), a.argmin(0)[None]),
            (lambda o: pt.topk(x, 2, out=o), -np.sort(-a, 1)[:, :2], np.argsort(-a, 1)[:, :2])]:
        v, i = pt.empty(0, device=dev), pt.empty(0, dtype=pt.int64, device=dev)
        r = call([v, i])   # a list is taken too, as torch
        assert r.values is v and r.indices is i
        assert type(r) is type(call(None))
        np.testing.assert_allclose(v.cpu().numpy(), want_values)
        np.testing.assert_array_equal(i.cpu().numpy(), want_indices)
    lo, hi = pt.empty(0, device=dev), pt.empty(0, device=dev)
    r = pt.aminmax(x, dim=1, out=(lo, hi))
    assert r.min is lo and r.max is hi and type(r).__name__ == "aminmax"
    np.testing.assert_allclose(hi.cpu().numpy(), a.max(1))


def test_tuple_outs_linalg():
    a = np.array([[4.0, 1.0], [1.0, 3.0]])
    x = pt.tensor(a, dtype=pt.float64)
    w, v = pt.empty(0, dtype=pt.float64), pt.empty(0, dtype=pt.float64)
    r = pt.linalg.eigh(x, out=(w, v))
    assert r.eigenvalues is w and r.eigenvectors is v
    np.testing.assert_allclose(w.numpy(), np.linalg.eigvalsh(a))
    q, rr = pt.empty(0, dtype=pt.float64), pt.empty(0, dtype=pt.float64)
    res = pt.linalg.qr(x, out=(q, rr))
    assert res.Q is q and res.R is rr
    np.testing.assert_allclose((q @ rr).numpy(), a)
    s, ld = pt.empty(0, dtype=pt.float64), pt.empty(0, dtype=pt.float64)
    r = pt.linalg.slogdet(x, out=(s, ld))
    assert r.sign is s and r.logabsdet is ld
    np.testing.assert_allclose(ld.item(), np.log(np.linalg.det(a)))


def test_tuple_out_errors():
    x = pt.tensor([3.0, 1.0, 2.0])
    with pytest.raises(TypeError, match=r"sort\(\): argument 'out' must be tuple of Tensors, not Tensor"):
        pt.sort(x, out=pt.empty(3))
    with pytest.raises(TypeError, match=r"sort\(\): expected tuple of 2 elements but got 1"):
        pt.sort(x, out=(pt.empty(3),))
    v = pt.zeros(3)
    with pytest.raises(RuntimeError, match=r"sort\(\): Expected out tensor for the indices to have dtype "
                                           r"plugtorch.int64, but got plugtorch.float32"):
        pt.sort(x, out=(v, pt.empty(3)))
    assert v.tolist() == [0.0, 0.0, 0.0]   # nothing is written unless every out is right
    with pytest.raises(TypeError, match=r"add\(\): argument 'out' must be Tensor, not tuple"):
        pt.add(x, x, out=(pt.empty(3),))
    with pytest.raises(RuntimeError, match=r"argmax\(\): Expected out tensor for the indices to have dtype"):
        pt.argmax(x, out=pt.empty(()))


# ---- errors -----------------------------------------------------------------------------------
def test_out_must_be_a_tensor():
    x = pt.ones(2)
    with pytest.raises(TypeError, match=r"add\(\): argument 'out' must be Tensor.*not int"):
        pt.add(x, x, out=3)
    with pytest.raises(TypeError, match=r"sin\(\): argument 'out' must be Tensor.*not ndarray"):
        pt.sin(x, out=np.empty(2))


@pytest.mark.parametrize("result, out_dtype, msg", [
    (pt.float32, pt.int64, "result type Float can't be cast to the desired output type Long"),
    (pt.complex64, pt.float32, "result type ComplexFloat can't be cast to the desired output type Float"),
    (pt.float32, pt.bool, "result type Float can't be cast to the desired output type Bool"),
    (pt.int64, pt.bool, "result type Long can't be cast to the desired output type Bool"),
])
def test_out_dtype_must_be_castable(result, out_dtype, msg):
    x = pt.ones(2, dtype=result)
    o = pt.zeros(2, dtype=out_dtype)
    with pytest.raises(RuntimeError, match=r"add\(\): " + msg):
        pt.add(x, x, out=o)
    assert o.tolist() == pt.zeros(2, dtype=out_dtype).tolist()   # untouched


def test_out_dtype_is_cast_when_allowed():
    o = pt.empty(2, dtype=pt.float16)
    pt.add(pt.tensor([1, 2], dtype=pt.int32), 1, out=o)
    assert o.dtype is pt.float16 and o.tolist() == [2.0, 3.0]
    o = pt.empty(2, dtype=pt.float16)
    pt.mul(pt.tensor([0.1, 0.2], dtype=pt.float64), 3, out=o)
    np.testing.assert_allclose(o.numpy(), np.float16([0.3, 0.6]))
    o = pt.empty(2, dtype=pt.int64)
    pt.eq(pt.tensor([1, 2]), 2, out=o)
    assert o.tolist() == [0, 1]



@pytest.mark.parametrize("in_dtype", [pt.float32, pt.uint8, pt.bool, pt.int64])
def test_all_and_any_write_into_a_bool_or_uint8_out_only(in_dtype):
    # any(uint8, out=bool) was refused ("result type Byte can't be cast to ... Bool") and
    # all(float, out=float) wrote 1.0/0.0; PyTorch takes a bool or uint8 out for any input and
    # refuses every other dtype. Reference: NumPy's all/any of the rows
    a = np.array([[1, 0], [2, 3]])
    x = pt.tensor(a).to(in_dtype)
    for name in ("all", "any"):
        want = getattr(np, name)(a != 0, axis=1)
        for out_dtype in (pt.bool, pt.uint8):
            o = pt.zeros(2, dtype=out_dtype)
            assert getattr(pt, name)(x, 1, out=o) is o and o.dtype is out_dtype
            assert o.tolist() == want.astype(np.uint8 if out_dtype is pt.uint8 else bool).tolist()
        for out_dtype, legacy in ((pt.float32, "Float"), (pt.int64, "Long")):
            o = pt.zeros(2, dtype=out_dtype)
            with pytest.raises(RuntimeError, match=f"{name} only supports bool tensor for result, got: {legacy}"):
                getattr(pt, name)(x, 1, out=o)
            assert o.tolist() == [0, 0]

@pytest.mark.skipif(not pt.opencl.is_available(), reason="no OpenCL device")
def test_out_device_must_match():
    x = pt.ones(2, device="opencl")
    with pytest.raises(RuntimeError, match=r"add\(\): Expected out tensor to have device opencl:0, but got cpu"):
        pt.add(x, x, out=pt.empty(2))
    with pytest.raises(RuntimeError, match=r"sin\(\): Expected out tensor to have device cpu, but got opencl:0"):
        pt.sin(pt.ones(2), out=pt.empty(2, device="opencl"))


def test_out_device_must_match_any_backend(altcpu):
    with pytest.raises(RuntimeError, match=r"mul\(\): Expected out tensor to have device cpu, but got altcpu:0"):
        pt.mul(pt.ones(2), 2, out=pt.empty(2, device=altcpu))


def test_functions_without_out_in_torch_refuse_it():
    x = pt.ones(2, 2)
    for call in (lambda: pt.reshape(x, (4,), out=pt.empty(4)), lambda: pt.tensor([1.0], out=pt.empty(1)),
                 lambda: pt.clone(x, out=pt.empty(2, 2)), lambda: pt.relu(x, out=pt.empty(2, 2)),
                 lambda: pt.nn.functional.relu(x, out=pt.empty(2, 2)),
                 lambda: pt.linalg.matrix_exp(x, out=pt.empty(2, 2))):
        with pytest.raises(TypeError, match="unexpected keyword argument 'out'"):
            call()
    # and Tensor methods take no out= either (as torch's)
    with pytest.raises(TypeError, match=r"add\(\) got an unexpected keyword argument 'out'"):
        x.add(x, out=pt.empty(2, 2))
    # nor in-place forms (whose function, with out=, must not take over the op's in-place path)
    for call in (lambda: x.exp_(out=pt.empty(2, 2)), lambda: pt.exp_(x, out=pt.empty(2, 2)),
                 lambda: x.clamp_(0, 1, out=pt.empty(2, 2))):
        with pytest.raises(TypeError, match="unexpected keyword argument 'out'"):
            call()
    assert x.tolist() == [[1.0, 1.0], [1.0, 1.0]]


# ---- shape: resized, with torch's warning when out had elements ------------------------------
@pytest.mark.parametrize("dev", DEVICES)
def test_out_is_resized(dev):
    a, x = _x(dev)
    o = pt.empty(4, device=dev)
    with pytest.warns(UserWarning, match=r"add\(\): An output with one or more elements was resized since it had "
                                         r"shape \[4\], which does not match the required output shape \[2, 3\]"):
        pt.add(x, 1, out=o)
    assert o.shape == (2, 3)
    np.testing.assert_allclose(o.cpu().numpy(), a + 1)
    o = pt.empty(0, device=dev)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # a 0-element out is resized silently
        pt.sin(x, out=o)
    np.testing.assert_allclose(o.cpu().numpy(), np.sin(a), rtol=1e-6)


def test_resize_warning_points_at_the_caller():
    with pytest.warns(UserWarning) as rec:
        pt.sin(pt.ones(2), out=pt.empty(3))
    assert rec[0].filename == __file__


def test_out_writes_into_a_view():
    base = pt.zeros(2, 4)
    pt.add(pt.ones(2, 2), 1, out=base[:, 1:3])
    assert base.tolist() == [[0, 2, 2, 0], [0, 2, 2, 0]]


# ---- aliasing an input ------------------------------------------------------------------------
@pytest.mark.parametrize("dev", DEVICES)
def test_out_aliasing_an_input(dev):
    a, x = _x(dev)
    b = pt.tensor(a.T.copy(), device=dev)
    pt.add(x, x, out=x)
    np.testing.assert_allclose(x.cpu().numpy(), 2 * a)
    m = pt.tensor(a @ a.T, device=dev)
    want = (a @ a.T) @ (a @ a.T)
    pt.matmul(m, m, out=m)
    np.testing.assert_allclose(m.cpu().numpy(), want, rtol=1e-5)
    pt.cumsum(b, 0, out=b)
    np.testing.assert_allclose(b.cpu().numpy(), np.cumsum(a.T, 0))


# ---- autograd ---------------------------------------------------------------------------------
def test_out_with_grad_raises_and_no_grad_works():
    x = pt.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"add\(\): functions with out=... arguments don't support automatic "
                                           r"differentiation, but one of the arguments requires grad"):
        pt.add(x, 1, out=pt.empty(2))
    with pytest.raises(RuntimeError, match=r"sin\(\): functions with out=\.\.\. arguments"):
        pt.sin(pt.ones(2), out=pt.empty(2, requires_grad=True))
    with pytest.raises(RuntimeError, match=r"sort\(\): functions with out=\.\.\. arguments"):
        pt.sort(x, out=(pt.empty(2), pt.empty(2, dtype=pt.int64)))
    # outputs that carry no gradient are fine, as torch
    assert pt.eq(x, 1, out=pt.empty(2, dtype=pt.bool)).tolist() == [True, True]
    o = pt.empty(2)
    with pt.no_grad():
        pt.add(x, 1, out=o)
    assert o.tolist() == [2.0, 2.0] and not o.requires_grad


# ---- factories: dtype and device from out ------------------------------------------------------
@pytest.mark.filterwarnings("ignore:plugtorch.range is deprecated")
@pytest.mark.parametrize("dev", DEVICES)
def test_factories_take_dtype_and_device_from_out(dev):
    cases = [
        (lambda o: pt.zeros(2, out=o), pt.int64, [0, 0]),
        (lambda o: pt.ones((2,), out=o), pt.int32, [1, 1]),
        (lambda o: pt.full((2,), 1.5, out=o), pt.int64, [1, 1]),
        (lambda o: pt.arange(5, out=o), pt.float32, [0.0, 1.0, 2.0, 3.0, 4.0]),
        (lambda o: pt.arange(1, 4, out=o), pt.int32, [1, 2, 3]),
        (lambda o: pt.linspace(0, 4, 5, out=o), pt.int64, [0, 1, 2, 3, 4]),
        (lambda o: pt.eye(2, out=o), pt.int64, [[1, 0], [0, 1]]),
        (lambda o: pt.logspace(0, 2, 3, out=o), pt.float64, [1.0, 10.0, 100.0]),
        (lambda o: pt.range(0, 2, out=o), pt.float32, [0.0, 1.0, 2.0]),
    ]
    for call, dt, want in cases:
        o = pt.empty(0, dtype=dt, device=dev)
        assert call(o) is o
        assert o.dtype is dt and o.device.type == dev
        assert o.tolist() == want
    for call in (lambda o: pt.empty(2, 3, out=o), lambda o: pt.rand(2, 3, out=o), lambda o: pt.randn(2, 3, out=o),
                 lambda o: pt.randint(0, 5, (2, 3), out=o)):
        o = pt.empty(0, dtype=pt.float64, device=dev)
        assert call(o) is o and o.shape == (2, 3) and o.dtype is pt.float64
    o = pt.empty(0, dtype=pt.int64)
    pt.randperm(5, out=o)
    assert sorted(o.tolist()) == [0, 1, 2, 3, 4]


def test_factory_errors_and_requires_grad():
    with pytest.raises(RuntimeError, match=r"zeros\(\): dtype Float does not match dtype of out parameter \(Long\)"):
        pt.zeros(2, dtype=pt.float32, out=pt.empty(2, dtype=pt.int64))
    with pytest.raises(RuntimeError, match=r"arange\(\): dtype Double does not match dtype of out parameter"):
        pt.arange(3, dtype=pt.float64, out=pt.empty(3))
    with pytest.raises(NotImplementedError, match="rand"):
        pt.rand(2, out=pt.empty(0, dtype=pt.int64))
    with pytest.raises(RuntimeError, match=r"zeros\(\): functions with out=\.\.\. arguments"):
        pt.zeros(2, out=pt.empty(2, requires_grad=True))
    o = pt.empty(2)
    assert pt.zeros(2, out=o, requires_grad=True) is o and o.requires_grad and o.tolist() == [0.0, 0.0]


@pytest.mark.skipif(not pt.opencl.is_available(), reason="no OpenCL device")
def test_factory_device_must_match_out():
    with pytest.raises(RuntimeError, match=r"ones\(\): device cpu does not match the device of out parameter "
                                           r"\(opencl:0\)"):
        pt.ones(2, device="cpu", out=pt.empty(2, device="opencl"))


# ---- graphs: an out= write is replayed ---------------------------------------------------------
def test_out_write_is_replayed_by_compile():
    def f(x, o):
        pt.mul(x, 2, out=o)
        return pt.sum(o, 0, out=pt.empty(())) + 1

    cf = pt.compile(f)
    for i in range(3):
        a = np.arange(3.0, dtype=np.float32) * (i + 1)
        o = pt.empty(3)
        r = cf(pt.tensor(a), o)
        np.testing.assert_allclose(o.numpy(), 2 * a)
        assert r.item() == pytest.approx(2 * a.sum() + 1)


def test_out_write_into_a_captured_tensor_is_replayed_by_trace():
    o = pt.zeros(3)
    traced = pt.jit.trace(lambda x: pt.add(x, 1, out=o) * 1, (pt.ones(3),))
    for i in range(2, 4):
        a = np.full(3, float(i), dtype=np.float32)
        traced(pt.tensor(a))
        np.testing.assert_allclose(o.numpy(), a + 1)


# ---- the table: every exported function torch gives out= takes it ------------------------------
_SAMPLES = {   # functions whose first argument is not one float matrix
    "bitwise_and": lambda i, f: (i, i), "bitwise_or": lambda i, f: (i, i), "bitwise_xor": lambda i, f: (i, i),
    "bitwise_not": lambda i, f: (i,), "bitwise_left_shift": lambda i, f: (i, 1),
    "bitwise_right_shift": lambda i, f: (i, 1), "gcd": lambda i, f: (i, i), "lcm": lambda i, f: (i, i),
    "bmm": lambda i, f: (f[None], f[None]), "dot": lambda i, f: (f[0], f[1]), "vdot": lambda i, f: (f[0], f[1]),
    "mv": lambda i, f: (f, f[0]), "gather": lambda i, f: (f, 1, i.abs() % 3), "index_select": lambda i, f: (f, 0, i[0] % 3),
    "take": lambda i, f: (f, i[0] % 9), "take_along_dim": lambda i, f: (f, i.abs() % 3, 1),
    "masked_select": lambda i, f: (f, f > 3.5), "full": lambda i, f: ((2, 2), 1.5),
    "linspace": lambda i, f: (0, 1, 5), "logspace": lambda i, f: (0, 1, 5), "randint": lambda i, f: (5, (3,)),
    "polygamma": lambda i, f: (1, f), "special.polygamma": lambda i, f: (1, f), "bucketize": lambda i, f: (f, f[0].sort().values),
    "addmv": lambda i, f: (f[0], f, f[0]), "addbmm": lambda i, f: (f, f[None], f[None]),
    "baddbmm": lambda i, f: (f[None], f[None], f[None]), "renorm": lambda i, f: (f, 2, 0, 1.0),
    "index_add": lambda i, f: (f, 0, i[0] % 3, f), "index_copy": lambda i, f: (f, 0, pt.tensor([2, 0, 1]), f),
    "scatter_add": lambda i, f: (f, 1, i.abs() % 3, f),
}


def _exported_out_functions():
    for key, mod in NAMESPACES.items():
        for name in _out.OUT_FUNCTIONS[key]:
            f = getattr(mod, name, None)
            if f is not None:
                yield (key + "." if key else "") + name, f


def test_every_listed_function_has_out_in_its_signature():
    missing = [n for n, f in _exported_out_functions() if "out" not in inspect.signature(f).parameters]
    assert missing == []
    assert len(list(_exported_out_functions())) > 350


def test_every_listed_function_writes_its_result_into_out():
    g = np.random.default_rng(0)
    a = g.random((3, 3)).astype(np.float32)
    f32 = pt.tensor(a @ a.T + 3 * np.eye(3, dtype=np.float32))   # symmetric positive definite, positive entries
    i64 = pt.tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    generic = [(f32,), (f32, f32), (f32, 0), (f32, f32, f32), (3,), (f32, 2), ([f32, f32],)]
    called, failed = 0, []
    for name, f in _exported_out_functions():
        candidates = [_SAMPLES[name](i64, f32)] if name in _SAMPLES else generic
        for args in candidates:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    pt.manual_seed(0)
                    want = f(*args)
            except Exception:
                continue
            if isinstance(want, pt.Tensor):
                out = pt.empty(0, dtype=want.dtype, device=want.device)
            elif isinstance(want, tuple) and all(isinstance(t, pt.Tensor) for t in want):
                out = tuple(pt.empty(0, dtype=t.dtype, device=t.device) for t in want)
            else:
                break
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pt.manual_seed(0)
                got = f(*args, out=out)
            ok = (got is out) if isinstance(want, pt.Tensor) else all(g is o for g, o in zip(got, out))
            for w, o in zip((want,) if isinstance(want, pt.Tensor) else want, (out,) if isinstance(out, pt.Tensor) else out):
                ok = ok and w.shape == o.shape and np.array_equal(w.cpu().numpy(), o.cpu().numpy(), equal_nan=True)
            if not ok:
                failed.append(name)
            called += 1
            break
    assert failed == []
    assert called >= 330, called


# ---- asarray(copy=) ---------------------------------------------------------------------------
def test_asarray_shares_memory_when_it_can():
    x = pt.arange(3.0)
    assert pt.asarray(x) is x
    a = np.arange(3.0)
    t = pt.asarray(a)
    t.add_(1)
    assert a.tolist() == [1.0, 2.0, 3.0] and t.dtype is pt.float64
    t = pt.asarray(a, copy=False)
    t.mul_(2)
    assert a.tolist() == [2.0, 4.0, 6.0]
    buf = bytearray(np.array([1, 2], dtype=np.int16).tobytes())
    t = pt.asarray(buf, dtype=pt.int16)
    t.add_(1)
    assert np.frombuffer(buf, dtype=np.int16).tolist() == [2, 3]


def test_asarray_copy_true_always_copies():
    x = pt.arange(3.0)
    c = pt.asarray(x, copy=True)
    c.add_(1)
    assert x.tolist() == [0.0, 1.0, 2.0]
    a = np.arange(3.0)
    pt.asarray(a, copy=True).add_(1)
    assert a.tolist() == [0.0, 1.0, 2.0]
    assert pt.asarray([1, 2.5], copy=True).tolist() == [1.0, 2.5]


def test_asarray_copy_none_copies_only_when_needed():
    x = pt.arange(3.0)
    y = pt.asarray(x, dtype=pt.int64)
    assert y.dtype is pt.int64 and y.tolist() == [0, 1, 2]
    assert pt.asarray([1, 2]).dtype is pt.int64
    assert pt.asarray(np.arange(2.0), dtype=pt.float32).dtype is pt.float32


@pytest.mark.parametrize("call, msg", [
    (lambda: pt.asarray(pt.arange(3.0), dtype=pt.int64, copy=False),
     "can't alias tensor with dtype plugtorch.float32 into dtype plugtorch.int64"),
    (lambda: pt.asarray(np.arange(3.0), dtype=pt.float32, copy=False),
     "can't alias NumPy array with dtype plugtorch.float64 into dtype plugtorch.float32"),
    (lambda: pt.asarray([1, 2], copy=False), r"can't alias arbitrary sequence \(list\) into a tensor"),
    (lambda: pt.asarray(3, copy=False), r"can't alias arbitrary sequence \(int\) into a tensor"),
])
def test_asarray_copy_false_refuses_to_copy(call, msg):
    with pytest.raises(ValueError, match=r"asarray\(\): " + msg):
        call()


@pytest.mark.skipif(not pt.opencl.is_available(), reason="no OpenCL device")
def test_asarray_across_devices():
    x = pt.arange(3.0)
    with pytest.raises(ValueError, match=r"can't alias tensor from device cpu to opencl:0"):
        pt.asarray(x, device="opencl", copy=False)
    y = pt.asarray(x, device="opencl")
    assert y.device == pt.device("opencl:0") and y.tolist() == [0.0, 1.0, 2.0]
    assert pt.asarray(y) is y


def test_asarray_requires_grad():
    x = pt.arange(3.0)
    r = pt.asarray(x, requires_grad=True)
    assert r.requires_grad and not x.requires_grad
    w = pt.ones(2, requires_grad=True)
    assert not pt.asarray(w).requires_grad
    c = pt.asarray(w, copy=True, requires_grad=True)
    c.sum().backward()
    assert w.grad.tolist() == [1.0, 1.0]


def test_as_tensor_keeps_its_signature():
    assert list(inspect.signature(pt.as_tensor).parameters) == ["data", "dtype", "device"]
    with pytest.raises(TypeError):
        pt.as_tensor([1], copy=True)


def test_linear_algebra_outs_must_have_the_results_dtype():
    # PyTorch's linalg functions and matrix products refuse an out of another dtype (the others cast
    # into it); plugtorch wrote det's float32 value into a float64 or float16 out, and inv_ex's int32
    # info into an int64 one
    A = pt.tensor([[4., 1.], [1., 3.]])
    for call, dt in ((lambda o: pt.linalg.det(A, out=o), pt.float64), (lambda o: pt.linalg.inv(A, out=o), pt.float16),
                     (lambda o: pt.matmul(A, A, out=o), pt.float64), (lambda o: pt.mm(A, A, out=o), pt.complex64),
                     (lambda o: pt.linalg.vector_norm(A, out=o), pt.float64),
                     (lambda o: pt.linalg.slogdet(A, out=(pt.empty(0), o)), pt.float64),
                     (lambda o: pt.linalg.inv_ex(A, out=(pt.empty(0), o)), pt.int64)):
        with pytest.raises(RuntimeError, match=r"\(\): Expected out tensor to have dtype plugtorch\.(float32|int32), "
                                               rf"but got {dt} instead"):
            call(pt.empty(0, dtype=dt))
    o = pt.empty(0)
    assert pt.linalg.det(A, out=o) is o and o.item() == 11.0                 # det [[4, 1], [1, 3]] = 11
    assert pt.linalg.pinv(pt.eye(2), out=pt.empty(0, dtype=pt.float64)).tolist() == [[1., 0.], [0., 1.]]  # casts


def test_real_ffts_refuse_a_complex_out():
    # irfft/hfft's result is real: PyTorch refuses a complex out (plugtorch wrote into it, imaginary 0)
    for call in (lambda o: pt.fft.irfft(pt.ones(3, dtype=pt.complex64), out=o),
                 lambda o: pt.fft.hfft2(pt.ones(2, 3, dtype=pt.complex64), out=o)):
        with pytest.raises(RuntimeError, match=r"^fft\.(irfft|hfft2)\(\): expects a floating point output tensor, "
                                               r"but got ComplexFloat;"):
            call(pt.empty(0, dtype=pt.complex64))
    o = pt.empty(0, dtype=pt.float64)      # a wider real out is fine: irfft([1, 1, 1]) = [1, 0, 0, 0]
    assert pt.fft.irfft(pt.ones(3, dtype=pt.complex64), out=o) is o and o.tolist() == [1.0, 0.0, 0.0, 0.0]
