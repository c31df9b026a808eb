"""The nn composite ops in the registry: declared, dispatched, visible to dispatch modes."""
import plugtorch as pt
import plugtorch.nn.functional as F
from plugtorch.dispatch import registry
from plugtorch.dispatch.dispatcher import DispatchMode
from plugtorch.nn.ops import NN_OPS


class Recorder(DispatchMode):
    def __init__(self):
        self.names = []

    def __plugtorch_dispatch__(self, op, args, kwargs, call):
        self.names.append(op.name)
        return call(args, kwargs)


def test_nn_ops_are_composite_and_public():
    for name in ("conv2d", "linear", "layer_norm", "cross_entropy", "scaled_dot_product_attention"):
        op = registry.get(name)
        assert not op.is_core and op.decomposition is not None
        assert getattr(pt.ops, name)._op is op
    assert set(NN_OPS) <= set(registry.composite_ops())


def test_modes_see_conv2d_first():
    x, w = pt.randn(1, 2, 4, 4), pt.randn(3, 2, 3, 3)
    with Recorder() as r:
        F.conv2d(x, w, padding=1)
    assert r.names == ["conv2d"]          # cpu has a native conv2d kernel
    be = pt.backends.get_backend("cpu")
    native = be.kernels.pop("conv2d")
    try:
        with Recorder() as r:
            F.conv2d(x, w, padding=1)
    finally:
        be.kernels["conv2d"] = native
    assert r.names[0] == "conv2d" and "_matmul" in r.names   # without it: the decomposition


def test_backend_kernel_overrides_decomposition():
    be = pt.backends.get_backend("cpu")
    calls = []

    def native_linear(x, w, b):
        calls.append((x.shape, w.shape, b))
        return x @ w.T
    own = be.kernels.get("linear")
    be.kernels["linear"] = native_linear
    try:
        out = F.linear(pt.ones(4, 2), pt.ones(3, 2))
    finally:
        if own is None:
            del be.kernels["linear"]
        else:
            be.kernels["linear"] = own
    assert calls == [((4, 2), (3, 2), None)]
    assert tuple(out.shape) == (4, 3) and out.dtype is pt.float32 and out.tolist()[0] == [2.0, 2.0, 2.0]


def test_meta_checks_devices_and_binds_arguments():
    import pytest
    with pytest.raises(TypeError):
        F.conv2d(pt.ones(1, 1, 3, 3), pt.ones(1, 1, 2, 2), None, 1, 0, 1, 1, "extra")


def test_overriding_kernel_result_takes_the_floating_dtype():
    be = pt.backends.get_backend("cpu")
    be.kernels["embedding"] = lambda idx, w, *rest: w[idx]
    try:
        out = F.embedding(pt.tensor([1, 0]), pt.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=pt.float64))
    finally:
        del be.kernels["embedding"]
    assert out.dtype is pt.float64 and out.tolist() == [[3.0, 4.0], [1.0, 2.0]]
