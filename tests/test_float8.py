"""The float8 dtypes: storage and conversion types, as in PyTorch.

Known answers: the float8 grids (e4m3fn: 3 mantissa bits, max 448, no inf; e5m2: 2 bits, inf),
PyTorch's saturating conversion to e4m3fn, and ml_dtypes' own conversions for the values inside
the range (checked independently through NumPy).
"""
import io
import json
import struct

import ml_dtypes
import numpy as np
import pytest

import plugtorch as pt

F8 = [pt.float8_e4m3fn, pt.float8_e5m2, pt.float8_e4m3fnuz, pt.float8_e5m2fnuz]


@pytest.mark.parametrize("dt", F8, ids=lambda d: d.name)
def test_in_range_values_round_to_the_nearest_on_the_grid(dt):
    v = np.array([0.0, 1.0, -1.5, 0.3, 3.1, 100.0, 1e-3], np.float32)
    got = pt.tensor(v).to(dt)
    assert got.dtype is dt and got.element_size() == 1 and dt.is_floating_point
    want = v.astype(dt.numpy).astype(np.float32)   # ml_dtypes rounds to nearest even, as PyTorch
    np.testing.assert_array_equal(got.float().numpy(), want)
    assert got.float().tolist()[:3] == [0.0, 1.0, -1.5]   # exactly representable
    assert pt.tensor(v, dtype=dt).float().tolist() == got.float().tolist()


def test_e4m3fn_saturates_as_pytorch_and_e5m2_overflows_to_inf():
    v = pt.tensor([460.0, 1e6, float("inf"), -float("inf"), float("nan"), -0.0])
    got = v.to(pt.float8_e4m3fn).float().tolist()
    assert got[:4] == [448.0, 448.0, 448.0, -448.0] and np.isnan(got[4]) and str(got[5]) == "-0.0"
    assert v.to(pt.float8_e5m2).float().tolist()[:4] == [448.0, float("inf"), float("inf"), -float("inf")]
    # the same through every path that converts: copy_, setitem, tensor(), int sources, float64
    y = pt.zeros(3, dtype=pt.float8_e4m3fn)
    y.copy_(pt.tensor([1e6, 1.0, float("inf")]))
    y[1] = 1000.0
    assert y.float().tolist() == [448.0, 448.0, 448.0]
    assert pt.tensor([1000, -1000, 3]).to(pt.float8_e4m3fn).float().tolist() == [448.0, -448.0, 3.0]
    assert pt.tensor([1e300], dtype=pt.float64).to(pt.float8_e4m3fn).item() == 448.0
    assert pt.tensor([1000.0], dtype=pt.float8_e4m3fn).item() == 448.0
    with pytest.raises(RuntimeError, match="cannot be converted to type float8_e4m3fn without overflow"):
        pt.full((2,), 1000.0, dtype=pt.float8_e4m3fn)    # as PyTorch's full and fill_


def test_conversions_out_of_float8():
    x = pt.tensor([1.5, -2.0, 448.0]).to(pt.float8_e4m3fn)
    assert x.to(pt.int64).tolist() == [1, -2, 448] and x.to(pt.uint8).tolist()[2] == 192   # 448 mod 256
    assert x.to(pt.bfloat16).float().tolist() == [1.5, -2.0, 448.0]
    assert x.to(pt.float8_e5m2).float().tolist() == [1.5, -2.0, 448.0]
    assert x.to(pt.bool).tolist() == [True, True, True]
    assert x.numpy().dtype == ml_dtypes.float8_e4m3fn and x.tolist() == [1.5, -2.0, 448.0]
    assert pt.from_numpy(np.array([0.5], ml_dtypes.float8_e5m2)).dtype is pt.float8_e5m2


def test_storage_ops_run_and_compute_ops_refuse_as_pytorch():
    x = pt.tensor([[1.0, 2.0], [3.5, -4.0]]).to(pt.float8_e4m3fn)
    assert x.t().contiguous().float().tolist() == [[1.0, 3.5], [2.0, -4.0]]
    assert pt.cat([x, x]).shape == (4, 2) and pt.stack([x, x]).shape == (2, 2, 2)
    assert x[pt.tensor([1])].float().tolist() == [[3.5, -4.0]] and x.clone().dtype is pt.float8_e4m3fn
    assert (x * x).float().tolist() == [[1.0, 4.0], [12.0, 16.0]] and x.abs().float().tolist()[1] == [3.5, 4.0]
    assert pt.where(x.float() > 1, x, pt.zeros_like(x)).float().tolist() == [[0.0, 2.0], [3.5, 0.0]]
    assert (x == x).all().item() and x.isnan().sum().item() == 0
    assert x.sum(dtype=pt.float32).item() == 2.5   # a reduction into a wider dtype is fine
    for name, f in [("add", lambda: x + x), ("sum", lambda: x.sum()), ("neg", lambda: -x),
                    ("relu", lambda: x.relu()), ("add", lambda: x.clone().add_(1)), ("amax", lambda: x.max())]:
        with pytest.raises(NotImplementedError, match=rf"{name}\(\): not implemented for dtype plugtorch.float8_e4m3fn "
                                                      r"\('Float8_e4m3fn'\); float8 tensors are for storage"):
            f()
    with pytest.raises(RuntimeError, match="Promotion for Float8 Types is not supported"):
        x + pt.ones(2)


def test_finfo_matches_pytorch():
    fi = pt.finfo(pt.float8_e4m3fn)
    assert (fi.max, fi.min, fi.eps, fi.tiny, fi.bits, fi.resolution) == (448.0, -448.0, 0.125, 0.015625, 8, 1.0)
    assert pt.finfo(pt.float8_e5m2).max == 57344.0 and pt.finfo(pt.float8_e5m2).eps == 0.25
    assert pt.finfo(pt.bfloat16).resolution == 0.01 and pt.finfo(pt.float32).resolution == 1e-06


def test_other_backends_refuse_float8_with_the_fix():
    x = pt.tensor([1.0, 2.0]).to(pt.float8_e4m3fn)
    for dev in [d for d in pt.backends.available() if d != "cpu"]:
        with pytest.raises(TypeError, match=rf"dtype plugtorch.float8_e4m3fn is not supported on device '{dev}"):
            x.to(dev)
        moved = x.to(dev, pt.float32)   # converted on cpu first, then moved
        assert moved.device.type == dev and moved.tolist() == [1.0, 2.0]


def test_save_and_load_keep_float8():
    b = io.BytesIO()
    x = pt.tensor([1.5, 448.0, -0.25]).to(pt.float8_e4m3fn)
    pt.save({"a": x, "b": x.to(pt.float8_e5m2)}, b)
    b.seek(0)
    d = pt.load(b)
    assert d["a"].dtype is pt.float8_e4m3fn and d["a"].float().tolist() == [1.5, 448.0, -0.25]
    assert d["b"].dtype is pt.float8_e5m2 and d["b"].float().tolist() == [1.5, 448.0, -0.25]
    raw = b.getvalue()
    header = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])
    assert (header["0"]["dtype"], header["1"]["dtype"]) == ("F8_E4M3", "F8_E5M2")   # safetensors' codes


def test_printing():
    x = pt.tensor([1.5, 2.0]).to(pt.float8_e4m3fn)
    assert repr(x) == "tensor([1.5000, 2.0000], dtype=plugtorch.float8_e4m3fn)"
    assert repr(pt.tensor([448.0, 1.0]).to(pt.float8_e4m3fn)) == "tensor([448.,   1.], dtype=plugtorch.float8_e4m3fn)"
