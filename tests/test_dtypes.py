"""dtypes, PyTorch's promotion table, weak scalars and 0-d tensors, finfo / iinfo."""
import ml_dtypes
import numpy as np
import pytest

import plugtorch as pt

ALL = [pt.bool, pt.uint8, pt.int8, pt.int16, pt.int32, pt.int64,
       pt.float16, pt.bfloat16, pt.float32, pt.float64]


def test_names_and_aliases():
    assert [d.name for d in ALL] == ["bool", "uint8", "int8", "int16", "int32", "int64",
                                     "float16", "bfloat16", "float32", "float64"]
    assert pt.half is pt.float16 and pt.float is pt.float32 and pt.double is pt.float64
    assert pt.short is pt.int16 and pt.int is pt.int32 and pt.long is pt.int64
    assert repr(pt.float32) == "plugtorch.float32"
    assert pt.bfloat16.numpy == np.dtype(ml_dtypes.bfloat16)
    assert [d.itemsize for d in ALL] == [1, 1, 1, 2, 4, 8, 2, 2, 4, 8]
    assert pt.float16.is_floating_point and not pt.int64.is_floating_point
    assert pt.int8.is_signed and not pt.uint8.is_signed


# (a, b, expected) -- PyTorch's promote_types table
PROMOTE = [
    (pt.uint8, pt.int8, pt.int16), (pt.uint8, pt.int16, pt.int16), (pt.uint8, pt.int64, pt.int64),
    (pt.bool, pt.uint8, pt.uint8), (pt.bool, pt.float16, pt.float16), (pt.int8, pt.int32, pt.int32),
    (pt.int64, pt.float16, pt.float16), (pt.float16, pt.bfloat16, pt.float32),
    (pt.bfloat16, pt.float32, pt.float32), (pt.float32, pt.float64, pt.float64),
    (pt.int64, pt.bfloat16, pt.bfloat16), (pt.bool, pt.bool, pt.bool), (pt.uint8, pt.uint8, pt.uint8),
]


@pytest.mark.parametrize("a,b,expected", PROMOTE)
def test_promote_types(a, b, expected):
    assert pt.promote_types(a, b) is expected
    assert pt.promote_types(b, a) is expected


# (left operand, right operand, expected result dtype of a + b); t(dtype) is a 1-d tensor
def t(dtype, ndim=1):
    return pt.ones((2,) * ndim, dtype=dtype)


WEAK = [
    (lambda: t(pt.int8), lambda: 3, pt.int8),                 # int scalar stays weak
    (lambda: t(pt.float16), lambda: 3.0, pt.float16),         # float scalar stays weak
    (lambda: t(pt.int32), lambda: 2.5, pt.float32),           # int tensor + float -> default float
    (lambda: t(pt.uint8), lambda: t(pt.int8), pt.int16),
    (lambda: t(pt.int32), lambda: t(pt.float64, 0), pt.float64),  # 0-d of higher category wins
    (lambda: t(pt.int8), lambda: t(pt.int64, 0), pt.int8),      # 0-d of the same category is weak
    (lambda: t(pt.float16), lambda: t(pt.float64, 0), pt.float16),
    (lambda: t(pt.bool), lambda: 1, pt.int64),
    (lambda: t(pt.bool), lambda: True, pt.bool),
    (lambda: t(pt.bool), lambda: 1.5, pt.float32),
    (lambda: t(pt.uint8), lambda: 300, pt.uint8),
    (lambda: t(pt.int64, 0), lambda: 2.0, pt.float32),
    (lambda: t(pt.int16, 0), lambda: t(pt.int8, 0), pt.int16),
    (lambda: t(pt.bfloat16), lambda: t(pt.float16), pt.float32),
]


@pytest.mark.parametrize("a,b,expected", WEAK)
def test_binary_result_dtype(a, b, expected):
    x, y = a(), b()
    assert pt.result_type(x, y) is expected
    assert (x + y).dtype is expected
    assert (y + x).dtype is expected


def test_true_division_of_ints_is_float():
    a = pt.tensor([1, 2, 3])
    assert (a / pt.tensor([2, 2, 2])).dtype is pt.float32
    assert (a / 2).tolist() == [0.5, 1.0, 1.5]
    assert (pt.tensor([1], dtype=pt.float64) / 2).dtype is pt.float64


def test_scalar_only_result_type():
    assert pt.result_type(1, 2) is pt.int64
    assert pt.result_type(1, 2.0) is pt.float32
    assert pt.result_type(True, False) is pt.bool


def test_default_dtype():
    assert pt.get_default_dtype() is pt.float32
    try:
        pt.set_default_dtype(pt.float64)
        assert pt.tensor([1.5]).dtype is pt.float64
        assert pt.zeros(2).dtype is pt.float64
        assert (pt.tensor([1, 2]) * 0.5).dtype is pt.float64
    finally:
        pt.set_default_dtype(pt.float32)
    assert pt.tensor([1.5]).dtype is pt.float32
    with pytest.raises(TypeError, match="floating-point"):
        pt.set_default_dtype(pt.int64)


@pytest.mark.parametrize("d", [pt.float16, pt.bfloat16, pt.float32, pt.float64])
def test_finfo(d):
    ref = ml_dtypes.finfo(d.numpy)
    fi = pt.finfo(d)
    assert fi.eps == float(ref.eps) and fi.max == float(ref.max) and fi.tiny == float(ref.tiny)
    assert fi.bits == d.itemsize * 8


@pytest.mark.parametrize("d,resolution", [(pt.float16, 1e-3), (pt.bfloat16, 1e-2), (pt.float32, 1e-6),
                                          (pt.float64, 1e-15), (pt.complex64, 1e-6)])
def test_finfo_resolution_is_a_power_of_ten(d, resolution):
    # 10 ** -precision exactly (NumPy's float32 resolution is rounded to 9.99999997e-07)
    fi = pt.finfo(d)
    assert fi.resolution == resolution and type(fi.resolution) is float
    assert fi == pt.finfo(d) and hash(fi) == hash(pt.finfo(d)) and fi != pt.finfo(pt.float64 if d is not pt.float64 else pt.float32)
    assert f"resolution={resolution:g}," in repr(fi) and "smallest_normal=" in repr(fi)


def test_finfo_repr_reads_as_pytorchs():
    assert repr(pt.finfo(pt.float16)) == ("finfo(resolution=0.001, min=-65504, max=65504, eps=0.000976562, "
                                          "smallest_normal=6.10352e-05, tiny=6.10352e-05, dtype=float16)")


@pytest.mark.parametrize("d", [pt.uint8, pt.int8, pt.int16, pt.int32, pt.int64])
def test_iinfo(d):
    ref = np.iinfo(d.numpy)
    assert (pt.iinfo(d).min, pt.iinfo(d).max, pt.iinfo(d).bits) == (ref.min, ref.max, ref.bits)


def test_info_errors():
    with pytest.raises(TypeError, match="floating-point or complex dtype"):
        pt.finfo(pt.int32)
    with pytest.raises(TypeError, match="integer or bool dtype"):
        pt.iinfo(pt.float32)


def test_dtype_from_numpy_and_names():
    from plugtorch._dtypes import from_numpy_dtype, to_dtype
    for d in ALL:
        assert from_numpy_dtype(d.numpy) is d
    assert to_dtype("float64") is pt.float64 and to_dtype(float) is pt.float64
    assert to_dtype(int) is pt.int64 and to_dtype(bool) is pt.bool
    assert from_numpy_dtype(np.complex64) is pt.complex64 and to_dtype(complex) is pt.complex128
    with pytest.raises(TypeError, match="complex64"):
        from_numpy_dtype(np.clongdouble)
    with pytest.raises(TypeError, match="expected a plugtorch dtype"):
        pt.zeros(2, dtype="cheese")


@pytest.mark.parametrize("d", ALL)
def test_tensor_roundtrip_every_dtype(d):
    x = pt.tensor([0, 1, 1], dtype=d)
    assert x.dtype is d
    assert x.numpy().dtype == d.numpy
    assert x.tolist() == ([False, True, True] if d is pt.bool else [0, 1, 1])


# ---- complex64 / complex128 ------------------------------------------------------------------
C64, C128 = pt.complex64, pt.complex128


def test_complex_dtypes():
    assert pt.cfloat is C64 and pt.cdouble is C128 and repr(C64) == "plugtorch.complex64"
    assert (C64.itemsize, C128.itemsize) == (8, 16) and C64.numpy == np.complex64
    assert C64.is_complex and not C64.is_floating_point and C64.is_signed and not pt.float64.is_complex
    assert C64.to_real() is pt.float32 and C128.to_real() is pt.float64 and pt.int8.to_real() is pt.int8
    assert pt.float64.to_complex() is C128 and pt.float32.to_complex() is C64 and C128.to_complex() is C128
    assert pt.float16.to_complex() is C64   # no complex32 in plugtorch
    with pytest.raises(RuntimeError, match="int32 has no complex counterpart"):
        pt.int32.to_complex()
    fi = pt.finfo(C64)   # PyTorch: the limits of the parts
    assert fi.dtype == "float32" and fi.bits == 32 and fi.eps == float(np.finfo(np.float32).eps)
    assert pt.finfo(C128).max == float(np.finfo(np.float64).max)
    with pytest.raises(TypeError, match="integer or bool dtype"):
        pt.iinfo(C64)


# PyTorch 2.x's promote_types with a complex operand
COMPLEX_PROMOTE = {
    C64: {pt.bool: C64, pt.uint8: C64, pt.int64: C64, pt.float16: C64, pt.bfloat16: C64, pt.float32: C64,
          pt.float64: C128, C64: C64, C128: C128},
    C128: {pt.bool: C128, pt.int8: C128, pt.float32: C128, pt.float64: C128, C64: C128},
}


@pytest.mark.parametrize("a", [C64, C128])
def test_complex_promote_types(a):
    for b, want in COMPLEX_PROMOTE[a].items():
        assert pt.promote_types(a, b) is want and pt.promote_types(b, a) is want, (a, b)


def test_complex_weak_promotion():
    # a Python complex: a float tensor keeps its precision, others take the default complex dtype
    for d, want in [(pt.float64, C128), (pt.float32, C64), (pt.int64, C64), (pt.bool, C64), (C128, C128)]:
        assert pt.result_type(pt.ones(2, dtype=d), 1j) is want, d
        assert pt.result_type(pt.tensor(1, dtype=d), 1j) is want, d
    # a complex tensor and a Python float or a 0-d float64 tensor: the complex tensor's dtype
    assert pt.result_type(pt.ones(2, dtype=C64), 2.5) is C64
    assert pt.result_type(pt.ones(2, dtype=C64), pt.tensor(2.5, dtype=pt.float64)) is C64
    # a 0-d complex tensor beside a dimensioned float tensor: complex of the float's precision
    assert pt.result_type(pt.ones(2), pt.tensor(1j, dtype=C128)) is C64
    assert pt.result_type(pt.ones(2, dtype=pt.float64), pt.tensor(1j, dtype=C64)) is C128
    assert pt.result_type(pt.ones(2, dtype=pt.int32), pt.tensor(1j, dtype=C128)) is C128
    assert pt.result_type(pt.tensor(1.0, dtype=pt.float64), pt.ones(2, dtype=C64)) is C64
    assert (pt.ones(2, dtype=pt.float64) * 1j).dtype is C128


def test_python_complex_scalars_take_the_default_complex_dtype():
    assert pt.tensor([1 + 2j, 3]).dtype is C64 and pt.tensor(1j).dtype is C64
    assert pt.tensor(np.array([1j])).dtype is C128 and pt.tensor(1j, dtype=complex).dtype is C128
    assert pt.full((2,), 1j).dtype is C64
    pt.set_default_dtype(pt.float64)
    try:
        assert pt.tensor([1j]).dtype is C128 and (pt.arange(3) * 1j).dtype is C128
    finally:
        pt.set_default_dtype(pt.float32)
    assert (pt.arange(3) * 1j).dtype is C64   # memoised decisions follow the default


@pytest.mark.parametrize("d", [C64, C128])
def test_complex_numpy_round_trip(d):
    a = np.array([[1 + 2j, -3.5j], [np.inf - 1j, np.nan]], dtype=d.numpy)
    t = pt.from_numpy(a)
    assert t.dtype is d and np.shares_memory(t.numpy(), a)
    np.testing.assert_array_equal(pt.tensor(a).numpy(), a)
    assert t[0, 0].item() == 1 + 2j and complex(t[0, 1]) == -3.5j and t.tolist()[0] == [1 + 2j, -3.5j]
    assert t.is_complex() and not t.is_floating_point()


def test_complex_scalar_into_real_dtype_is_refused():
    with pytest.raises(RuntimeError, match="value 1j cannot be converted to type float32"):
        pt.zeros(2).fill_(1j)
    with pytest.raises(RuntimeError, match="cannot be converted to type int64"):
        pt.full((2,), 1j, dtype=pt.int64)


def test_complex_autograd_only_through_verified_ops():
    assert pt.ones(2, dtype=C64).requires_grad_().requires_grad   # a complex leaf may require grad
    x = pt.ones(2, requires_grad=True)
    assert (x * 1j).dtype is C64 and (x * 1j).requires_grad      # mul is on the complex allowlist
    with pytest.raises(RuntimeError, match=r"linalg_det\(\): autograd is not supported for complex results"):
        pt.linalg.det(pt.diag(x * 1j))                             # det is not
    with pt.no_grad():
        assert pt.linalg.det(pt.diag(x * 1j)).dtype is C64


def test_complex_tensors_save_and_load():
    import io
    buf = io.BytesIO()
    z = pt.tensor([1j, 2], dtype=C64)
    pt.save({"z": z, "c": z.conj()}, buf)
    buf.seek(0)
    back = pt.load(buf)
    assert back["z"].dtype is C64 and back["z"].tolist() == [1j, 2 + 0j]
    assert back["c"].tolist() == [-1j, 2 + 0j]        # a lazily conjugated view is saved resolved


@pytest.fixture
def no_complex_device():
    """A device whose backend has no complex kernels: a plug-in over array_api_strict (opencl has
    them: tests/backends/opencl/test_complex.py)."""
    import array_api_strict
    from plugtorch.backends import ArrayAPIBackend
    pt.backends.register(ArrayAPIBackend(array_api_strict), name="nocomplex")
    try:
        yield "nocomplex"
    finally:
        pt.backends.unregister("nocomplex")


def test_backends_without_complex_refuse_it(no_complex_device):
    dev = no_complex_device
    be = pt.backends.get_backend(pt.device(dev).type)
    assert C64 not in be.supported_dtypes(0) and pt.float32 in be.supported_dtypes(0)
    x = pt.ones(3, device=dev)
    calls = {"to": lambda: pt.tensor([1j]).to(dev), "full": lambda: pt.zeros(2, dtype=C128, device=dev),
             "mul": lambda: x * 1j, "add": lambda: 1j + x, "where": lambda: pt.where(x > 0, x, 1j),
             "to ": lambda: x.to(C64)}
    for op, call in calls.items():
        for _ in range(2):   # the second call meets the memoised dispatch decisions
            with pytest.raises(TypeError, match=rf"{op.strip()}\(\): dtype plugtorch.complex(64|128) is not "
                                                f"supported on device '{dev}(:0)?': .*complex"):
                call()
