"""Zero-copy DLPack exchange on cpu: plugtorch.from_dlpack, Tensor.__dlpack__ and __dlpack_device__.

(The cuda side, with CuPy, is in tests/backends/cuda/test_cuda_gpu.py.)
"""
import numpy as np
import pytest

import plugtorch as pt

KDLCPU = 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int8, np.int16, np.int32,
                                   np.int64, np.uint8, np.bool_])
def test_from_dlpack_numpy_shares_memory(dtype):
    a = np.arange(6).reshape(2, 3).astype(dtype)
    t = pt.from_dlpack(a)
    assert t.device == pt.device("cpu")
    assert t.dtype == pt._dtypes.from_numpy_dtype(np.dtype(dtype))
    assert t.shape == (2, 3)
    np.testing.assert_array_equal(t.numpy(), a)
    a[1, 2] = 1 if dtype == np.bool_ else 5
    assert t[1, 2].item() == a[1, 2]        # same memory, not a copy
    t[0, 0] = 1
    assert a[0, 0] == 1


def test_from_dlpack_keeps_strides_of_a_view():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    view = a[:, 1::2]
    t = pt.from_dlpack(view)
    assert t.tolist() == view.tolist()
    assert t.stride() == (4, 2)
    a[2, 3] = -1.0
    assert t[2, 1].item() == -1.0


def test_numpy_from_dlpack_of_tensor_shares_memory():
    t = pt.arange(6, dtype=pt.float32).reshape(2, 3)
    a = np.from_dlpack(t)
    assert a.dtype == np.float32 and a.shape == (2, 3)
    np.testing.assert_array_equal(a, [[0, 1, 2], [3, 4, 5]])
    t.add_(10)
    np.testing.assert_array_equal(a, [[10, 11, 12], [13, 14, 15]])


def test_round_trip_through_dlpack_is_the_same_memory():
    t = pt.tensor([1, 2, 3], dtype=pt.int64)
    back = pt.from_dlpack(t)
    back[0] = 7
    assert t.tolist() == [7, 2, 3]


def test_dlpack_device_of_cpu_tensor():
    assert pt.ones(2).__dlpack_device__() == (KDLCPU, 0)


def test_0d_and_empty_tensors():
    assert np.from_dlpack(pt.tensor(2.5)).shape == ()
    assert float(np.from_dlpack(pt.tensor(2.5))) == 2.5
    assert pt.from_dlpack(np.zeros((0, 3), np.float32)).shape == (0, 3)


def test_export_of_tensor_requiring_grad_refuses():
    x = pt.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="Can't export tensors that require gradient, use tensor.detach()"):
        np.from_dlpack(x)
    np.testing.assert_array_equal(np.from_dlpack(x.detach()), [1.0, 1.0])


def test_from_dlpack_unknown_device_type():
    class OnMars:
        def __dlpack_device__(self):
            return (99, 0)

    with pytest.raises(RuntimeError, match="from_dlpack\\(\\): unsupported DLPack device type 99"):
        pt.from_dlpack(OnMars())


# ---- the current protocol: max_version, dl_device, copy; from_dlpack(device=, copy=) -------------
def test_dunder_dlpack_keywords_on_cpu():
    t = pt.arange(4, dtype=pt.float32)
    for kw in ({}, {"max_version": (1, 0)}, {"max_version": (0, 8)}, {"dl_device": (KDLCPU, 0)},
               {"copy": False}, {"copy": True, "max_version": (1, 0)}):
        class Holder:
            def __dlpack__(self, **k):
                return t.__dlpack__(**kw)

            def __dlpack_device__(self):
                return t.__dlpack_device__()
        np.testing.assert_array_equal(np.from_dlpack(Holder()), [0, 1, 2, 3])
    a = np.from_dlpack(t, copy=True)
    a[0] = 9
    assert t[0].item() == 0                        # copy=True: a copy
    with pytest.raises(BufferError, match="cannot export a tensor on cpu to DLPack device \\(2, 0\\)"):
        t.__dlpack__(dl_device=(2, 0))


def test_from_dlpack_copy_and_device():
    a = np.arange(3.0)
    shared = pt.from_dlpack(a)
    copied = pt.from_dlpack(a, copy=True)
    a[0] = 5.0
    assert shared[0].item() == 5.0 and copied[0].item() == 0.0
    t = pt.ones(2)
    same = pt.from_dlpack(t, copy=False)
    same[0] = 3.0
    assert t[0].item() == 3.0
    assert pt.from_dlpack(t, copy=True) is not t
    assert pt.from_dlpack(t, device="cpu").device == pt.device("cpu")


def test_from_dlpack_moves_to_another_device(altcpu):
    a = np.arange(3.0)
    t = pt.from_dlpack(a, device=altcpu)
    assert t.device == altcpu and t.tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(BufferError, match="moving a tensor from cpu to altcpu:0 needs a copy, but copy=False"):
        pt.from_dlpack(a, device=altcpu, copy=False)
    back = pt.from_dlpack(t, device="cpu")
    assert back.device == pt.device("cpu") and back.tolist() == [0.0, 1.0, 2.0]


@pytest.mark.skipif(not pt.opencl.is_available(), reason="no OpenCL device")
def test_opencl_tensors_export_host_copies():
    t = pt.tensor([1.5, 2.5], device="opencl")
    assert t.__dlpack_device__() == (4, t.device.index)     # kDLOpenCL
    with pytest.raises(BufferError, match="the opencl backend does not export DLPack capsules"):
        t.__dlpack__()
    with pytest.raises(BufferError, match="exporting a tensor on opencl:0 to the host needs a copy, but copy=False"):
        t.__dlpack__(dl_device=(KDLCPU, 0), copy=False)
    host = np.from_dlpack(t, device="cpu")                   # NumPy asks for dl_device=(1, 0)
    np.testing.assert_array_equal(host, [1.5, 2.5])
    assert pt.from_dlpack(t, device="cpu").tolist() == [1.5, 2.5]
    back = pt.from_dlpack(np.arange(2.0), device="opencl")
    assert back.device.type == "opencl" and back.tolist() == [0.0, 1.0]
    with pytest.raises(RuntimeError, match="unsupported DLPack device type 4"):
        pt.from_dlpack(type("Foreign", (), {"__dlpack_device__": lambda self: (4, 0)})())
