"""plugtorch.device, moving tensors between devices, host transfer and the two-device error."""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch.backends.cpu import CPUBackend


@pytest.fixture
def altcpu():
    """A second cpu-like backend registered at run time (NumPy arrays, cpu kernels)."""
    class AltCPU(CPUBackend):
        name = "altcpu"

        def copy_from(self, x):
            return np.array(x, copy=True)

    pt.backends.register(AltCPU())
    try:
        yield pt.device("altcpu:0")
    finally:
        pt.backends.unregister("altcpu")


@pytest.mark.parametrize("spec,type_,index,text", [
    ("cpu", "cpu", None, "cpu"), ("opencl:1", "opencl", 1, "opencl:1"), ("cuda:0", "cuda", 0, "cuda:0"),
    ("cuda", "cuda", None, "cuda"),
])
def test_device_parse(spec, type_, index, text):
    d = pt.device(spec)
    assert (d.type, d.index, str(d)) == (type_, index, text)
    assert d == spec and d == pt.device(type_, index)
    assert pt.device(d) is d


def test_device_repr_and_hash():
    assert repr(pt.device("opencl:1")) == "device(type='opencl', index=1)"
    assert repr(pt.device("cpu")) == "device(type='cpu')"
    assert pt.device("opencl", 1) is pt.device("opencl:1")
    assert len({pt.device("cuda:0"), pt.device("cuda", 0)}) == 1
    assert pt.device("cuda:0") != pt.device("cuda:1") and pt.device("cpu") != "cuda"


@pytest.mark.parametrize("bad,exc,msg", [
    ("cuda:x", RuntimeError, "Invalid device string"),
    ("", RuntimeError, "Invalid device string"),
    ("cuda:-1", RuntimeError, "Invalid device string"),
    (3.5, TypeError, "expected a str or device"),
])
def test_device_errors(bad, exc, msg):
    with pytest.raises(exc, match=msg):
        pt.device(bad)


def test_unknown_device_type():
    with pytest.raises(RuntimeError, match="nosuchdev.*plugtorch.backends.register"):
        pt.zeros(2, device="nosuchdev")


def test_tensor_device_and_strings():
    x = pt.zeros(2, device="cpu")
    assert x.device == pt.device("cpu") and x.is_cpu and not x.is_cuda
    assert x.get_device() == -1
    assert pt.ones(2, device=pt.device("cpu")).device.type == "cpu"


def test_to_dtype_and_copy():
    x = pt.tensor([1.5, -2.5])
    assert x.to(pt.int32).tolist() == [1, -2]
    assert x.to(dtype=pt.float64).dtype is pt.float64
    assert x.to("cpu") is x and x.to(pt.float32) is x
    y = x.to("cpu", copy=True)
    assert y is not x and y.tolist() == x.tolist()
    y[0] = 9
    assert x[0].item() == 1.5
    assert x.to(pt.zeros(1, dtype=pt.float64)).dtype is pt.float64
    assert x.to("cpu", pt.float16).dtype is pt.float16
    with pytest.raises(TypeError, match="unexpected keyword"):
        x.to(bogus=1)
    with pytest.raises(TypeError, match="invalid combination"):
        x.to(3)


def test_cpu_numpy_shares_memory():
    x = pt.tensor([1.0, 2.0])
    assert x.cpu() is x
    a = x.numpy()
    a[0] = 7
    assert x[0].item() == 7.0
    x.add_(1)
    assert a.tolist() == [8.0, 3.0]
    with pytest.raises(RuntimeError, match="detach"):
        pt.ones(1, requires_grad=True).numpy()


def test_from_numpy_shares_memory():
    a = np.arange(4, dtype=np.int16)
    x = pt.from_numpy(a)
    assert x.dtype is pt.int16
    x[1] = 10
    assert a[1] == 10
    a[2] = 20
    assert x.tolist() == [0, 10, 20, 3]
    with pytest.raises(TypeError, match="expected np.ndarray"):
        pt.from_numpy([1, 2])
    with pytest.raises(TypeError, match="can't convert NumPy dtype complex"):
        pt.from_numpy(np.zeros(2, dtype=np.clongdouble))


def test_tolist_item_array():
    x = pt.tensor([[1, 2], [3, 4]], dtype=pt.int32)
    assert x.tolist() == [[1, 2], [3, 4]]
    assert pt.tensor(2.5).item() == 2.5 and isinstance(pt.tensor(3).item(), int)
    assert isinstance(pt.tensor(True).item(), bool)
    assert np.asarray(x).tolist() == [[1, 2], [3, 4]]
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    with pytest.raises(RuntimeError, match="4 elements cannot be converted to Scalar"):
        x.item()
    assert float(pt.tensor([1.5])) == 1.5 and int(pt.tensor(7)) == 7


def test_runtime_backend_and_two_device_error(altcpu):
    a = pt.tensor([1.0, 2.0], device="altcpu")
    assert a.device == altcpu and str(a.device) == "altcpu:0"
    assert (a + 1).tolist() == [2.0, 3.0]
    assert (a + 1).device == altcpu
    assert repr(a) == "tensor([1., 2.], device='altcpu:0')"
    b = pt.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"same device.*(cpu and altcpu:0|altcpu:0 and cpu)"):
        a + b
    with pytest.raises(RuntimeError, match="altcpu:0"):
        pt.cat([a, b])
    with pytest.raises(RuntimeError, match="altcpu:0"):
        a @ b
    # a 0-d cpu tensor may join any device, as in PyTorch
    assert (a * pt.tensor(2.0)).tolist() == [2.0, 4.0]
    back = a.to("cpu")
    assert back.device == pt.device("cpu") and back.tolist() == [1.0, 2.0]
    with pytest.raises(TypeError, match="Use Tensor.cpu"):
        a.numpy()
    assert a.cpu().numpy().tolist() == [1.0, 2.0]
    assert np.asarray(a).tolist() == [1.0, 2.0]
