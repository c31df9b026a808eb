"""plugtorch.utils.dlpack (to_dlpack / from_dlpack with capsules) and plugtorch.utils.swap_tensors."""
import weakref

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.utils import swap_tensors
from plugtorch.utils.dlpack import from_dlpack, to_dlpack

_INVALID = "from_dlpack received an invalid capsule. Note that DLTensor capsules can be consumed only once"


def test_capsule_round_trip_shares_memory_once():
    t = pt.arange(6.0).view(2, 3).t()            # a strided view
    c = to_dlpack(t)
    u = from_dlpack(c)
    assert u.shape == (3, 2) and u.stride() == t.stride() and u.tolist() == t.tolist()
    u[0, 1] = 42.0
    assert t[0, 1].item() == 42.0                # same memory
    with pytest.raises(RuntimeError, match=_INVALID):
        from_dlpack(c)                           # consumed
    with pytest.raises(RuntimeError, match=_INVALID):
        from_dlpack(5)


def test_from_dlpack_of_numpy_capsule_and_producer():
    a = np.arange(8, dtype=np.int32).reshape(2, 4)[:, ::2]
    v = from_dlpack(a.__dlpack__())              # a legacy capsule from NumPy
    assert v.dtype == pt.int32 and v.tolist() == a.tolist()
    w = from_dlpack(a)                           # a producer object
    np.testing.assert_array_equal(w.numpy(), a)
    with pytest.raises(RuntimeError, match="Can't export tensors that require gradient"):
        to_dlpack(pt.ones(1, requires_grad=True))


def test_swap_tensors_swaps_contents_keeps_identity():
    a, b = pt.ones(2), pt.zeros(3, dtype=pt.int64)
    a.tag = "a"
    ida, idb = id(a), id(b)
    swap_tensors(a, b)
    assert (id(a), id(b)) == (ida, idb)
    assert a.tolist() == [0, 0, 0] and a.dtype == pt.int64 and b.tolist() == [1.0, 1.0]
    assert b.tag == "a" and not hasattr(a, "tag")
    p, q = pt.nn.Parameter(pt.ones(2)), pt.zeros(2)
    swap_tensors(p, q)
    assert type(p) is pt.Tensor and isinstance(q, pt.nn.Parameter) and q.requires_grad and not p.requires_grad


def test_swap_tensors_errors():
    x, y = pt.ones(1), pt.ones(1)
    r = weakref.ref(x)
    with pytest.raises(RuntimeError, match="^Cannot swap t1 because it has weakref associated with it$"):
        swap_tensors(x, y)
    with pytest.raises(RuntimeError, match="^Cannot swap t2 because it has weakref associated with it$"):
        swap_tensors(y, x)
    del r
    with pytest.raises(TypeError, match="expected two Tensors, got Tensor and list"):
        swap_tensors(x, [1.0])
    w = pt.ones(2, requires_grad=True)
    loss = (w * 3).sum()                  # recorded before the swap: its leaf is poisoned
    swap_tensors(w, pt.zeros(2))
    with pytest.raises(RuntimeError, match="AccumulateGrad node that was poisoned by swap_tensors"):
        loss.backward()
    assert w.grad is None
