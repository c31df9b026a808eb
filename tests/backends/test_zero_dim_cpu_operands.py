"""A 0-d cpu tensor beside a device's tensors (PyTorch lets it join any device): its dtype may be
one the device lacks. Where PyTorch's promotion leads to a dtype the device holds the op runs; where
it leads to the missing one the op raises the device's TypeError naming the dtype and the device,
never a KeyError from a kernel table or an OpenCL build failure (the fuzzer's findings 23 and 24)."""
import pytest

import plugtorch as pt
from plugtorch.backends.cpu import CPUBackend

BINARY = ["add", "sub", "mul", "div", "true_divide", "atan2", "pow", "remainder", "maximum", "minimum",
          "eq", "lt", "le", "logical_and", "logical_xor"]


class NoHalfCPU(CPUBackend):
    """A device without float16 and bfloat16 (NumPy kernels: without the check they would run)."""
    name = "nohalf"

    def unsupported_dtype(self, dtype, index):
        if dtype in (pt.float16, pt.bfloat16):
            return f"the nohalf device has no {dtype.name}"
        return None


@pytest.fixture
def nohalf():
    pt.backends.register(NoHalfCPU())
    try:
        yield "nohalf"
    finally:
        pt.backends.unregister("nohalf")


def _lacking(device):
    be = pt.backends.get_backend(pt.device(device).type)
    return [d for d in (pt.float16, pt.bfloat16) if be.unsupported_dtype(d, 0)]


def _devices():
    out = []
    for name in pt.backends.available():
        if name != "cpu" and _lacking(name):
            out.append(name)
    return out


def _check(device, dtypes):
    for dtype in dtypes:
        h = pt.tensor(1.0, dtype=dtype)   # 0-d, on cpu
        for op in BINARY:
            i16 = pt.ones(2, 3, dtype=pt.int16, device=device)
            # int16 with a 0-d float tensor: PyTorch promotes to the 0-d tensor's float dtype
            with pytest.raises(TypeError, match=rf"dtype plugtorch.{dtype.name} is not supported on device "
                                                rf"'{device}:0'"):
                getattr(pt, op)(i16, h)
            with pytest.raises(TypeError, match=rf"plugtorch.{dtype.name} is not supported on device '{device}:0'"):
                getattr(pt, op)(h, i16)
            # float32 with it: a 0-d tensor does not promote within its category, so float32 it is
            f32 = pt.full((2, 3), 2.0, device=device)
            r = getattr(pt, op)(f32, h)
            assert r.device.type == device and r.dtype in (pt.float32, pt.bool)
            assert r.tolist() == getattr(pt, op)(f32.cpu(), h).tolist()
        c = pt.tensor([True, False], device=device)
        with pytest.raises(TypeError, match=rf"where\(\): dtype plugtorch.{dtype.name} is not supported"):
            pt.where(c, pt.ones(2, dtype=pt.int16, device=device), h)
        assert pt.where(c, pt.zeros(2, device=device), h).tolist() == [0.0, 1.0]
        with pytest.raises(TypeError, match=rf"plugtorch.{dtype.name} is not supported on device '{device}:0'"):
            pt.ones(2, dtype=pt.int16, device=device) + h
        with pytest.raises(TypeError, match=rf"plugtorch.{dtype.name} is not supported on device '{device}:0'"):
            pt.ones(2, dtype=pt.int16, device=device) < h


def test_registered_device_without_half_precision(nohalf):
    _check(nohalf, (pt.float16, pt.bfloat16))


@pytest.mark.parametrize("device", _devices() or [pytest.param("none", marks=pytest.mark.skip(
    reason="every device here holds float16 and bfloat16"))])
def test_available_devices_without_half_precision(device):
    _check(device, _lacking(device))   # e.g. array-api-strict: float16 and bfloat16
