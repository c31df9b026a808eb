"""The Backend base class's shared defaults: DLPack export and the host random stream."""
import numpy as np
import pytest

from plugtorch.backends.base import Backend, host_generator


class _Buffer:
    """A native array type that does not speak DLPack."""




class _Exported:
    def __init__(self, capsule, device):
        self.capsule, self.device = capsule, device

    def __dlpack__(self, **kwargs):
        return self.capsule

    def __dlpack_device__(self):
        return self.device


def test_dlpack_export_uses_the_native_arrays_protocol():
    b = Backend()
    x = np.arange(3.0)
    np.testing.assert_array_equal(np.from_dlpack(_Exported(b.to_dlpack(x), b.dlpack_device(x))), x)


def test_dlpack_export_refuses_arrays_without_the_protocol():
    b = Backend()
    b.name = "mydev"
    with pytest.raises(BufferError, match=r"the mydev backend does not export DLPack capsules: its arrays "
                                          r"\(_Buffer\) have no __dlpack__; copy to cpu first"):
        b.to_dlpack(_Buffer())
    with pytest.raises(BufferError, match="mydev backend does not export"):
        b.dlpack_device(_Buffer())


def test_host_generator_is_philox_seeded():
    a = host_generator(7).random(4)
    np.testing.assert_array_equal(a, np.random.Generator(np.random.Philox(7)).random(4))
    assert not np.array_equal(a, host_generator(8).random(4))
