"""PyTorch's top-level constants, process-wide switches and legacy typed constructors."""
import math
import os

import numpy as np
import pytest

import plugtorch as pt


def test_constants():
    assert (pt.pi, pt.e) == (math.pi, math.e)
    assert math.isinf(pt.inf) and pt.inf > 0 and math.isnan(pt.nan)
    assert pt.newaxis is None and pt.ones(3)[pt.newaxis].shape == (1, 3)


def test_typename_is_storage_is_inference():
    assert pt.typename(pt.ones(2)) == "torch.FloatTensor"
    assert pt.typename(pt.ones(2, dtype=pt.int64)) == "torch.LongTensor"
    assert pt.typename(3) == "int"
    assert pt.typename(pt.nn.Linear(1, 1)) == "plugtorch.nn.modules.linear.Linear"
    assert pt.typename(pt.nn.Linear) == "plugtorch.nn.modules.linear.Linear"
    assert pt.typename(np.sum) == "numpy.sum" and pt.typename(int) == "int"
    assert pt.typename(pt.FloatTensor) == "plugtorch.FloatTensor"
    assert pt.is_storage(pt.ones(2)) is False
    with pt.inference_mode():
        x = pt.ones(1)
    assert pt.is_inference(x) is False   # plugtorch's inference_mode is no_grad: no inference tensors
    with pytest.raises(TypeError, match=r"is_inference\(\): argument 'input' \(position 1\) must be Tensor, not int"):
        pt.is_inference(3)


def test_isreal():
    z = pt.tensor([1 + 0j, 1 + 1j, -0.0 + 0j, float("nan") + 0j])
    expected = np.isreal(np.array([1 + 0j, 1 + 1j, -0.0 + 0j, complex(float("nan"), 0)]))
    assert pt.isreal(z).tolist() == expected.tolist() == z.isreal().tolist()
    r = pt.isreal(pt.tensor([1.0, float("nan"), float("inf")]))
    assert r.dtype is pt.bool and r.tolist() == [True, True, True]
    assert pt.isreal(pt.tensor([1, 2])).tolist() == [True, True]
    with pytest.raises(TypeError, match="isreal"):
        pt.isreal([1.0])


def test_deterministic_switches():
    assert pt.are_deterministic_algorithms_enabled() is False
    try:
        pt.use_deterministic_algorithms(True, warn_only=True)
        assert pt.are_deterministic_algorithms_enabled() and pt.is_deterministic_algorithms_warn_only_enabled()
        assert pt.get_deterministic_debug_mode() == 1
        pt.set_deterministic_debug_mode("error")
        assert pt.get_deterministic_debug_mode() == 2 and not pt.is_deterministic_algorithms_warn_only_enabled()
        # the kernels are deterministic already: the same sum of many floats, bit for bit
        x = pt.randn(10000, generator=pt.Generator().manual_seed(0))
        assert x.sum().item() == x.sum().item()
    finally:
        pt.use_deterministic_algorithms(False)
    assert pt.get_deterministic_debug_mode() == 0
    with pytest.raises(TypeError, match=r"argument 'mode' \(position 1\) must be bool, not int"):
        pt.use_deterministic_algorithms(1)
    with pytest.raises(TypeError, match="argument 'warn_only' must be bool, not int"):
        pt.use_deterministic_algorithms(True, warn_only=1)
    with pytest.raises(RuntimeError, match="expected one of `default`, `warn`, `error`"):
        pt.set_deterministic_debug_mode("loud")


def test_num_threads():
    n0 = pt.get_num_threads()
    assert isinstance(n0, int) and n0 >= 1
    saved = {v: os.environ.get(v) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                              "BLIS_NUM_THREADS")}
    try:
        pt.set_num_threads(1)
        assert pt.get_num_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "1"
        a = pt.randn(64, 64, generator=pt.Generator().manual_seed(1))
        np.testing.assert_allclose((a @ a).numpy(), a.numpy() @ a.numpy(), rtol=1e-5, atol=1e-5)
        pt.set_num_threads(n0)
        assert pt.get_num_threads() == n0
    finally:
        for v, old in saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old
    with pytest.raises(RuntimeError, match="set_num_threads expects a positive integer"):
        pt.set_num_threads(0)
    with pytest.raises(RuntimeError, match="set_num_threads expects an int, but got float"):
        pt.set_num_threads(1.5)
    assert pt.get_num_interop_threads() == 1
    with pytest.raises(RuntimeError, match="set_num_interop_threads expects a positive integer"):
        pt.set_num_interop_threads(-2)


def test_warn_always_and_matmul_precision():
    assert pt.is_warn_always_enabled() is False
    pt.set_warn_always(True)
    try:
        assert pt.is_warn_always_enabled() is True
    finally:
        pt.set_warn_always(False)
    with pytest.raises(RuntimeError, match="setWarnOnlyOnce expects a bool, but got int"):
        pt.set_warn_always(1)
    assert pt.get_float32_matmul_precision() == "highest"
    try:
        pt.set_float32_matmul_precision("medium")
        assert pt.get_float32_matmul_precision() == "medium"
        with pytest.warns(UserWarning, match="bad is not one of 'highest', 'high', or 'medium'"):
            pt.set_float32_matmul_precision("bad")
        assert pt.get_float32_matmul_precision() == "medium"
    finally:
        pt.set_float32_matmul_precision("highest")
    with pytest.raises(RuntimeError, match="expects a str, but got int"):
        pt.set_float32_matmul_precision(3)


LEGACY = {"FloatTensor": pt.float32, "DoubleTensor": pt.float64, "HalfTensor": pt.float16,
          "BFloat16Tensor": pt.bfloat16, "LongTensor": pt.int64, "IntTensor": pt.int32, "ShortTensor": pt.int16,
          "CharTensor": pt.int8, "ByteTensor": pt.uint8, "BoolTensor": pt.bool}


@pytest.mark.parametrize("name", list(LEGACY))
def test_legacy_constructors(name):
    cls, dtype = getattr(pt, name), LEGACY[name]
    t = cls(2, 3)
    assert t.shape == (2, 3) and t.dtype is dtype and t.device.type == "cpu"
    assert cls(pt.Size([4])).shape == (4,) and cls().shape == (0,)
    d = cls([1, 0, 1])
    assert d.dtype is dtype and d.tolist() == np.array([1, 0, 1]).astype(dtype.numpy).tolist()
    assert isinstance(d, cls) and isinstance(d, pt.Tensor) and cls.dtype is dtype
    others = [c for n, c in LEGACY.items() if n != name]
    assert not any(isinstance(d, getattr(pt, n)) for n in LEGACY if n != name) and others
    assert not isinstance(d.numpy(), cls)
    assert d.type() == f"torch.{name}" == pt.typename(d)
    assert cls(d) is d


def test_legacy_constructor_semantics():
    assert pt.FloatTensor((2, 3)).tolist() == [2.0, 3.0]     # a tuple is data, a Size is sizes
    assert pt.LongTensor([1.5, -2.7]).tolist() == [1, -2]
    assert not issubclass(pt.FloatTensor, pt.Tensor)
    with pytest.raises(TypeError, match=r"data must be a sequence \(got float\)"):
        pt.FloatTensor(2.5)
    with pytest.raises(RuntimeError, match=r"negative dimension -1: \[-1\]"):
        pt.FloatTensor(-1)
    with pytest.raises(TypeError, match="expected a cpu tensor of dtype plugtorch.float32"):
        pt.FloatTensor(pt.ones(2, dtype=pt.float64))
    with pytest.raises(TypeError, match="unexpected keyword argument 'dtype'"):
        pt.FloatTensor(2, dtype=pt.float64)


def test_tensor_type_conversions():
    x = pt.tensor([1.5, 2.0])
    assert x.type() == "torch.FloatTensor"
    assert pt.ones(1, dtype=pt.complex64).type() == "torch.ComplexFloatTensor"
    assert x.type(pt.DoubleTensor).dtype is pt.float64
    assert x.type("torch.IntTensor").tolist() == [1, 2]
    assert x.type(pt.int64).dtype is pt.int64
    with pytest.raises(ValueError, match="invalid type: 'torch.Bad'"):
        x.type("torch.Bad")


@pytest.mark.parametrize("name", ["plugtorch._settings", "plugtorch._legacy_types", "plugtorch._ops_inplace",
                                  "plugtorch._nn_toplevel", "plugtorch.random", "plugtorch._layout"])
def test_docstring_examples(name):
    import doctest
    import importlib
    pt.manual_seed(0)
    result = doctest.testmod(importlib.import_module(name), extraglobs={"pt": pt, "plugtorch": pt},
                             optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_layout_flush_denormal_default_tensor_type():
    import pickle
    assert pt.ones(2).layout is pt.strided and isinstance(pt.strided, pt.layout) and repr(pt.strided) == "plugtorch.strided"
    assert pt.zeros(2, layout=pt.strided).tolist() == [0.0, 0.0]
    assert pickle.loads(pickle.dumps(pt.strided)) is pt.strided
    assert pt.set_flush_denormal(True) is False          # not supported: nothing changes
    assert np.float32(1e-40) * pt.ones(1).item() != 0
    with pytest.raises(TypeError, match="must be bool"):
        pt.set_flush_denormal(1)
    try:
        with pytest.warns(UserWarning, match="set_default_tensor_type\\(\\) is deprecated"):
            pt.set_default_tensor_type(pt.DoubleTensor)
        assert pt.get_default_dtype() is pt.float64 and pt.tensor([1.0]).dtype is pt.float64
        with pytest.warns(UserWarning):
            pt.set_default_tensor_type("torch.FloatTensor")
        assert pt.tensor([1.0]).dtype is pt.float32
        with pytest.raises(TypeError, match="only floating-point types are supported as the default type"), \
                pytest.warns(UserWarning):
            pt.set_default_tensor_type(pt.LongTensor)
    finally:
        pt.set_default_dtype(pt.float32)
