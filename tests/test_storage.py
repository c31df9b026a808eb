"""Storages (``untyped_storage``, ``storage``, ``set_``, ``is_set_to``) on cpu and opencl: aliasing is
checked by writing through one tensor and reading through the other, sizes in bytes and data_ptr
relations against what PyTorch 2.13 gives for the same calls, and the refusals (the strict plug-in,
whose arrays are private copies; storages that would have to grow) by type and message."""
import struct
import warnings

import numpy as np
import pytest

import plugtorch as pt

DEVICES = ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))]


def _bytes(values, fmt):
    return list(struct.pack(f"<{len(values)}{fmt}", *values))


@pytest.mark.parametrize("dev", DEVICES)
def test_untyped_storage_is_the_tensors_bytes(dev):
    x = pt.arange(6.0, device=dev)
    s = x.untyped_storage()
    assert isinstance(s, pt.UntypedStorage) and pt.is_storage(s) and not pt.is_storage(x)
    assert s.nbytes() == s.size() == len(s) == 24 and s.element_size() == 1
    assert s.device == x.device
    assert s.tolist() == _bytes(range(6), "f") and s[7] == 63 and s[-1] == _bytes([5.0], "f")[-1]
    assert s.data_ptr() == x.data_ptr()
    # views share the storage: the same first byte, their own data_ptr further on
    v = x.view(2, 3).t()[1:]
    assert v.untyped_storage().data_ptr() == s.data_ptr() and v.untyped_storage() == s
    assert v.data_ptr() == x.data_ptr() + v.storage_offset() * 4 and v.untyped_storage().nbytes() == 24
    assert x[2:].data_ptr() == x.data_ptr() + 8
    # the pool of opencl rounds allocations up; nbytes is what the tensor asked for
    assert pt.arange(100.0, device=dev).untyped_storage().nbytes() == 400
    assert pt.ones(3, dtype=pt.float64, device=dev)[1:].untyped_storage().nbytes() == 24


@pytest.mark.parametrize("dev", DEVICES)
def test_untyped_storage_writes_show_in_the_tensor(dev):
    x = pt.zeros(2, dtype=pt.int16, device=dev)
    s = x.untyped_storage()
    s[0] = 1
    s[3] = 300            # a byte wraps around, as in PyTorch
    assert x.tolist() == [1, 44 * 256] and s.tolist() == [1, 0, 0, 44]
    s.fill_(1)
    assert x.tolist() == [257, 257]
    s.copy_(pt.tensor([7, 0, 8, 0], dtype=pt.uint8).untyped_storage())
    assert x.tolist() == [7, 8]
    part = s[2:4]
    assert part.nbytes() == 2 and part.data_ptr() == s.data_ptr() + 2 and part.tolist() == [8, 0]
    part.fill_(0)
    assert x.tolist() == [7, 0]
    c = s.cpu()
    assert c.tolist() == [7, 0, 0, 0] and c.device.type == "cpu"
    assert (c is s) == (dev == "cpu")
    with pytest.raises(IndexError, match="index 4 out of range for storage of size 4"):
        s[4]
    with pytest.raises(RuntimeError, match="size does not match, self was 4 bytes but src was 5 bytes"):
        s.copy_(pt.UntypedStorage(5))
    with pytest.raises(RuntimeError, match="viewed by tensors.*UntypedStorage"):
        s.resize_(8)


def test_untyped_storage_constructors_and_resize():
    s = pt.UntypedStorage([1, 2, 3])
    assert s.tolist() == [1, 2, 3] and s.device.type == "cpu" and s.nbytes() == 3
    assert pt.UntypedStorage(4).fill_(300).tolist() == [44] * 4
    s.resize_(5)
    assert s.nbytes() == 5 and s.tolist()[:3] == [1, 2, 3]
    s.resize_(2)
    assert s.tolist() == [1, 2]
    assert repr(s) == " 1\n 2\n[plugtorch.UntypedStorage(device=cpu) of size 2]"
    assert s.clone().tolist() == [1, 2] and s.clone().data_ptr() != s.data_ptr()
    with pytest.raises(RuntimeError, match="only slices of step 1"):
        s[::2]


@pytest.mark.parametrize("dev", DEVICES)
def test_typed_storage(dev):
    x = pt.tensor([1.0, 2.0, 3.0], device=dev)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        pt.set_warn_always(True)
        try:
            ts = x[1:].storage()
        finally:
            pt.set_warn_always(False)
    assert [(c.category, "TypedStorage is deprecated" in str(c.message)) for c in w] == [(UserWarning, True)]
    assert isinstance(ts, pt.TypedStorage) and pt.is_storage(ts)
    # the whole storage, not the view, as in PyTorch
    assert ts.dtype is pt.float32 and ts.size() == len(ts) == 3 and ts.nbytes() == 12 and ts.element_size() == 4
    assert ts.tolist() == [1.0, 2.0, 3.0] and ts[-1] == 3.0 and ts.data_ptr() == x.data_ptr()
    assert ts.untyped() == x.untyped_storage()
    ts[0] = 10.0
    assert x.tolist() == [10.0, 2.0, 3.0]
    ts.fill_(5)
    assert x.tolist() == [5.0, 5.0, 5.0]
    assert ts.type() == ("torch.FloatStorage" if dev == "cpu" else "torch.opencl.FloatStorage")
    assert isinstance(ts, pt.FloatStorage) == (dev == "cpu") and not isinstance(ts, pt.LongStorage)
    with pytest.raises(IndexError, match="index 3 out of range for storage of size 3"):
        ts[3]
    with pytest.raises(RuntimeError, match="slices are only supported in UntypedStorage.__getitem__"):
        ts[0:2]


def test_typed_storage_constructors():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert pt.FloatStorage([1, 2, 3]).tolist() == [1.0, 2.0, 3.0]
        assert pt.LongStorage(2).dtype is pt.int64 and pt.LongStorage(2).size() == 2
        d = pt.TypedStorage([1.5, 2.5], dtype=pt.float64)
        assert d.tolist() == [1.5, 2.5] and d.nbytes() == 16
        w = pt.TypedStorage(wrap_storage=pt.UntypedStorage(_bytes([1, -2], "i")), dtype=pt.int32)
        assert w.tolist() == [1, -2]
        w.resize_(3)
        assert w.size() == 3 and w.tolist()[:2] == [1, -2]


@pytest.mark.parametrize("dev", DEVICES)
def test_set_to_a_tensor_aliases_it(dev):
    x = pt.arange(6.0, device=dev)
    y = pt.empty(0, device=dev)
    assert y.set_(x[1:]) is y
    assert y.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0] and y.storage_offset() == 1 and y.stride() == (1,)
    assert y.is_set_to(x[1:]) and not y.is_set_to(x) and y.data_ptr() == x.data_ptr() + 4
    y[0] = 10.0
    assert x.tolist() == [0.0, 10.0, 2.0, 3.0, 4.0, 5.0]
    x.mul_(2)
    assert y.tolist() == [20.0, 4.0, 6.0, 8.0, 10.0]
    # (source, storage_offset, size, stride): offset and strides in elements of the tensor's storage
    y.set_(x, 2, (2, 2), (1, 2))
    assert y.tolist() == [[4.0, 8.0], [6.0, 10.0]] and y.storage_offset() == 2 and y.stride() == (1, 2)
    assert not y.is_contiguous() and y.untyped_storage() == x.untyped_storage()
    y.fill_(-1.0)
    assert x.tolist() == [0.0, 20.0, -1.0, -1.0, -1.0, -1.0]
    assert x.is_set_to(x) and not x.is_set_to(x.view(2, 3)) and not x.is_set_to(x.clone())
    with pytest.raises(TypeError, match="is_set_to\\(\\): argument 'tensor' .* must be Tensor, not UntypedStorage"):
        x.is_set_to(x.untyped_storage())


@pytest.mark.parametrize("dev", DEVICES)
def test_set_to_a_storage_reinterprets_its_bytes(dev):
    x = pt.arange(6.0, device=dev)
    s = x.untyped_storage()
    y = pt.empty(0, device=dev).set_(s)
    assert y.shape == (6,) and y.tolist() == list(range(6))
    y.set_(s, 2, (2, 2), (2, 1))
    assert y.tolist() == [[2.0, 3.0], [4.0, 5.0]] and y.storage_offset() == 2
    y.fill_(7.0)
    assert x.tolist() == [0.0, 1.0, 7.0, 7.0, 7.0, 7.0]
    i = pt.empty(0, dtype=pt.int32, device=dev).set_(s, 0, (3,))
    assert i.tolist() == list(np.array([0.0, 1.0, 7.0], dtype=np.float32).view(np.int32))
    d = pt.empty(0, dtype=pt.float64, device=dev).set_(s, 1, (2,))
    ref = np.array([0.0, 1.0, 7.0, 7.0, 7.0, 7.0], dtype=np.float32).view(np.float64)
    assert d.tolist() == ref[1:].tolist() and d.storage_offset() == 1
    d.zero_()
    assert x.tolist() == [0.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    # a standalone storage: two tensors set to it alias each other
    u = pt.UntypedStorage(16, device=dev).fill_(0)
    a = pt.empty(0, device=dev).set_(u)
    b = pt.empty(0, device=dev).set_(u, 2, (2,))
    a.copy_(pt.tensor([1.0, 2.0, 3.0, 4.0], device=dev))
    assert b.tolist() == [3.0, 4.0] and b.data_ptr() == a.data_ptr() + 8
    assert pt.empty(0, dtype=pt.float32, device=dev).set_(pt.UntypedStorage(7, device=dev)).shape == (1,)
    # set_() gives the tensor an empty storage of its own
    a.set_()
    assert a.shape == (0,) and a.untyped_storage().nbytes() == 0 and b.tolist() == [3.0, 4.0]


@pytest.mark.parametrize("dev", DEVICES)
def test_set_refuses_what_it_cannot_do(dev):
    x = pt.arange(6.0, device=dev)
    s = x.untyped_storage()
    y = pt.empty(0, device=dev)
    # PyTorch reallocates the shared storage here; plugtorch cannot grow memory other arrays hold
    with pytest.raises(RuntimeError, match=r"setStorage: sizes \[10\], strides \[1\], storage offset 0, and itemsize 4 "
                                           r"requiring a storage size of 40 are out of bounds for storage of size 24"):
        y.set_(s, 0, (10,))
    with pytest.raises(RuntimeError, match="Tensor: invalid storage offset -1"):
        y.set_(s, -1, (2,))
    with pytest.raises(RuntimeError, match=r"unequal size length \(2\) and stride length \(1\)"):
        y.set_(s, 0, (2, 3), (1,))
    with pytest.raises(RuntimeError, match="Trying to create tensor with negative dimension"):
        y.set_(s, 0, (-2, 3))
    with pytest.raises(RuntimeError, match="could not set a tensor of dtype plugtorch.int32 to a tensor of dtype "
                                           "plugtorch.float32"):
        pt.empty(0, dtype=pt.int32, device=dev).set_(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="expected a storage of dtype plugtorch.int32 or an UntypedStorage"):
            pt.empty(0, dtype=pt.int32, device=dev).set_(x.storage())
    with pytest.raises(TypeError, match="set_\\(\\) received an invalid combination of arguments"):
        y.set_(x, 1)
    with pytest.raises(TypeError, match="source must be a Tensor, UntypedStorage or TypedStorage, got int"):
        y.set_(3)
    if dev != "cpu":
        with pytest.raises(RuntimeError, match=f"the source tensor is on cpu but this tensor is on {x.device}"):
            y.set_(pt.ones(2))
        with pytest.raises(RuntimeError, match=f"the storage is on cpu but this tensor is on {x.device}"):
            y.set_(pt.UntypedStorage(8))
    with pytest.raises(RuntimeError, match=r"a leaf Variable that requires grad is being used in an in-place "
                                           r"operation \(set_\)"):
        pt.ones(3, requires_grad=True, device=dev).set_(x)
    with pytest.raises(RuntimeError, match="the source requires grad, and autograd does not record set_"):
        y.set_(pt.ones(3, requires_grad=True, device=dev))


@pytest.mark.parametrize("dev", DEVICES)
def test_a_saved_tensor_changed_through_a_set_alias_fails_backward(dev):
    # (PyTorch 2.13 misses this case and returns a wrong gradient: its set_ does not share the version counter)
    for write in ("set_tensor", "set_storage", "storage_bytes"):
        a = pt.ones(3, requires_grad=True, device=dev)
        b = a * 2
        c = b.sin()   # saves b
        with pt.no_grad():
            if write == "set_tensor":
                pt.empty(0, device=dev).set_(b).add_(1)
            elif write == "set_storage":
                pt.empty(0, device=dev).set_(b.untyped_storage(), 1, (1,)).mul_(3)
            else:
                b.untyped_storage()[0] = 1
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            c.sum().backward()
    # reads through an alias leave backward alone
    a = pt.ones(3, requires_grad=True, device=dev)
    b = a * 2
    c = b.sin()
    with pt.no_grad():
        alias = pt.empty(0, device=dev).set_(b)
    assert alias.tolist() == [2.0, 2.0, 2.0]
    c.sum().backward()
    np.testing.assert_allclose(a.grad.tolist(), 2 * np.cos([2.0, 2.0, 2.0]), rtol=1e-6)


def test_set_under_no_grad_keeps_a_parameter():
    p = pt.nn.Parameter(pt.ones(2))
    with pt.no_grad():
        p.set_(pt.zeros(3))
    assert p.requires_grad and p.tolist() == [0.0, 0.0, 0.0] and isinstance(p, pt.nn.Parameter)
    # a view set to other memory is no longer a view of its old base
    base = pt.zeros(4)
    v = base[1:]
    v.set_(pt.ones(2))
    v.fill_(5.0)
    assert v._base is None and base.tolist() == [0.0, 0.0, 0.0, 0.0]


@pytest.fixture
def strict_device():
    """A plug-in over array_api_strict: its views are copies, so it has no storages."""
    array_api_strict = pytest.importorskip("array_api_strict")
    from plugtorch.backends import ArrayAPIBackend
    pt.backends.register(ArrayAPIBackend(array_api_strict), name="strictstorage")
    try:
        yield "strictstorage"
    finally:
        pt.backends.unregister("strictstorage")


def test_a_backend_without_shared_memory_refuses_storages(strict_device):
    x = pt.ones(3, device=strict_device)
    msg = (r"untyped_storage\(\): the 'strictstorage' backend keeps its arrays as private copies .* Move the tensor "
           r"to cpu or opencl first .* implement storage_bytes\(\) and view_storage\(\)")
    with pytest.raises(RuntimeError, match=msg):
        x.untyped_storage()
    with pytest.raises(RuntimeError, match=msg):
        pt.empty(0, device=strict_device).set_(x)
    with pytest.raises(RuntimeError, match=msg):
        pt.empty(0, device=strict_device).set_()
    with pytest.raises(RuntimeError, match="data_ptr\\(\\): the 'strictstorage' backend does not expose memory "
                                           "addresses; move the tensor to cpu or opencl"):
        x.data_ptr()
    assert x.is_set_to(x) and not x.is_set_to(pt.ones(3, device=strict_device))


def test_set_and_view_dtype_are_refused_inside_a_jit_trace():
    def f(a):
        return pt.empty(0).set_(a) * 2
    with pytest.raises(RuntimeError, match="set_\\(\\): plugtorch.jit cannot trace it"):
        pt.jit.trace(f, (pt.ones(3),))
    with pytest.raises(RuntimeError, match="view\\(dtype\\): plugtorch.jit cannot trace it"):
        pt.jit.trace(lambda a: a.view(pt.int32) + 1, (pt.ones(3),))


@pytest.mark.parametrize("dev", DEVICES)
def test_resize_keeps_the_storage_it_fits_in(dev):
    x = pt.arange(6.0, device=dev)
    y = pt.empty(0, device=dev).set_(x)
    y.resize_(2, 2)      # fits: the same memory, as PyTorch
    assert y.tolist() == [[0.0, 1.0], [2.0, 3.0]] and y.data_ptr() == x.data_ptr() and y.is_contiguous()
    y.fill_(9.0)
    assert x.tolist() == [9.0, 9.0, 9.0, 9.0, 4.0, 5.0]
    with pytest.raises(RuntimeError, match=r"resize_\(\): shape \(2, 2\) -> \(7,\) needs more memory than this "
                                           r"tensor's storage holds, and tensors set_ to that storage"):
        y.resize_(7)
    z = pt.arange(4.0, device=dev)
    z.resize_(6)         # no alias: grows into new memory, keeping the first elements
    assert z.shape == (6,) and z[:4].tolist() == [0.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize("dev", DEVICES)
def test_view_dtype_reads_the_same_memory(dev):
    x = pt.arange(6.0, device=dev)
    y = x.view(pt.int32)
    assert y.tolist() == np.arange(6, dtype=np.float32).view(np.int32).tolist() and y.data_ptr() == x.data_ptr()
    y[0] = 1065353216     # the bits of 1.0
    assert x[0].item() == 1.0 and not y.requires_grad
    d = x.view(pt.float64)
    assert d.shape == (3,) and d.tolist() == np.array([1, 1, 2, 3, 4, 5], np.float32).view(np.float64).tolist()
    assert x.view(pt.int16).shape == (12,) and x.view(2, 3).t().view(pt.int32).stride() == (1, 3)
    assert pt.ones(2, 4, device=dev)[:, 2:].view(pt.float64).stride() == (2, 1)
    assert pt.ones(3, dtype=pt.complex64, device=dev).view(pt.float32).tolist() == [1.0, 0.0] * 3
    # a saved tensor changed through its dtype view fails backward
    a = pt.ones(3, requires_grad=True, device=dev)
    b = a * 2
    c = b.sin()
    b.detach().view(pt.int32).zero_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        c.sum().backward()
    what = "to view plugtorch.float32 as plugtorch.float64 \\(different element sizes\\)"
    with pytest.raises(RuntimeError, match=f"self.dim\\(\\) cannot be 0 {what}"):
        pt.tensor(1.0, device=dev).view(pt.float64)
    with pytest.raises(RuntimeError, match=f"self.stride\\(-1\\) must be 1 {what}, but got 3"):
        x.view(2, 3).t().view(pt.float64)
    with pytest.raises(RuntimeError, match=f"self.size\\(-1\\) must be divisible by 2 {what}, but got 5"):
        x[1:].view(pt.float64)
    with pytest.raises(RuntimeError, match=f"self.stride\\(0\\) must be divisible by 2 {what}, but got 3"):
        x.view(2, 3)[:, :2].view(pt.float64)
    with pytest.raises(RuntimeError, match=f"self.storage_offset\\(\\) must be divisible by 2 {what}, but got 1"):
        pt.ones(5, device=dev)[1:].view(pt.float64)


def test_view_dtype_on_a_backend_without_storages(strict_device):
    x = pt.ones(2, device=strict_device)
    assert x.view(pt.int32).tolist() == [1065353216] * 2   # (a copy: its views are copies too)
    with pytest.raises(RuntimeError, match="viewing plugtorch.float32 as plugtorch.float64 .* needs the tensor's "
                                           "storage, and untyped_storage\\(\\): the 'strictstorage' backend"):
        x.view(pt.float64)
