"""MetaBackend: a device with no memory. Its native arrays are MetaArrays (shape, strides, offset,
dtype); its kernels compute results' shapes and allocate nothing (see kernels.py)."""
from __future__ import annotations

from plugtorch.backends.base import Backend, host_generator
from plugtorch.backends.meta.array import dense_like, dense_order
from plugtorch.backends.meta.kernels import MetaKernels

NO_DATA = "Cannot copy out of meta tensor; no data!"


class MetaBackend(Backend):
    name = "meta"
    supports_complex = True
    supports_float8 = True
    autocast_list = "cpu"

    def __init__(self):
        self.kernels = MetaKernels()

    def device_name(self, index=0) -> str:
        return "meta"

    def check_device(self, dev) -> None:
        pass

    def from_numpy(self, array, index=None):
        # (host data moved to meta keeps its shape and dtype and drops its values, as in PyTorch)
        isz = array.itemsize
        return dense_like(array.shape, array.dtype, dense_order(array.shape, tuple(s // isz for s in array.strides)))

    def like(self, shape, dtype, strides):
        """A MetaArray of ``shape`` and ``dtype`` laid out in the order of ``strides`` (a tensor moved
        to meta keeps its layout, as PyTorch's ``preserve_format``)."""
        return dense_like(shape, dtype.numpy, dense_order(shape, strides))

    def to_numpy(self, native):
        raise NotImplementedError(NO_DATA)

    def strides(self, native):
        return native.strides

    def storage_offset(self, native):
        return native.offset

    def data_ptr(self, native):
        return 0

    def storage_size(self, native):
        return None

    def new_generator(self, index, seed):
        return host_generator(seed)

    def to_dlpack(self, native, stream=None, **kwargs):
        raise BufferError("meta tensors have no data to export through DLPack; materialize them on a "
                          "device with memory first (module.to_empty(device='cpu'), then load the weights)")

    def dlpack_device(self, native):
        raise BufferError("meta tensors have no DLPack device: they hold no data")
