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
