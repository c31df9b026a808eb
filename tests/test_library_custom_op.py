"""plugtorch.library.custom_op (PyTorch 2.4's decorator API): the op runs per device, is opaque to
autograd until register_autograd gives it a formula (checked by finite differences), traces and
compiles equal to eager, and bad mutates_args raise PyTorch's ValueError."""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch import library


def opencl_ok():
    try:
        return pt.opencl.is_available()
    except Exception:   # noqa: BLE001
        return False


DEVICES = ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not opencl_ok(), reason="plugtorch.opencl is unavailable (no OpenCL device or pyopencl)"))]


@pytest.fixture
def numpy_sin():
    # an implementation PyTorch's docs use: through NumPy, so no plugtorch op sees inside it
    @library.custom_op("cotest::numpy_sin", mutates_args=())
    def numpy_sin(x: pt.Tensor) -> pt.Tensor:
        """sin through NumPy."""
        return pt.tensor(np.sin(x.cpu().numpy()), device=x.device)
    yield numpy_sin
    library.undefine("cotest::numpy_sin")


def _with_autograd(op):
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x.cos()
    op.register_autograd(backward, setup_context=setup_context)


X = np.array([[-2.0, -0.5, 0.0], [0.25, 1.0, 3.0]])


@pytest.mark.parametrize("device", DEVICES)
def test_custom_op_runs_on_each_device(numpy_sin, device):
    assert repr(numpy_sin) == "<CustomOpDef(cotest::numpy_sin)>"
    assert pt.ops.cotest.numpy_sin.__doc__ == "sin through NumPy."
    y = numpy_sin(pt.tensor(X, dtype=pt.float32, device=device))
    assert y.device.type == device and y.dtype == pt.float32
    np.testing.assert_allclose(y.cpu().numpy(), np.sin(X.astype(np.float32)), rtol=1e-6)
    np.testing.assert_allclose(pt.ops.cotest.numpy_sin(pt.tensor(X, dtype=pt.float32, device=device)).cpu().numpy(),
                               np.sin(X.astype(np.float32)), rtol=1e-6)


def test_backward_without_register_autograd_raises(numpy_sin):
    x = pt.tensor(X, requires_grad=True)
    y = numpy_sin(x)    # the implementation gets tensors that do not require grad (x.numpy() works)
    with pytest.raises(RuntimeError, match="Trying to backward through cotest::numpy_sin but no autograd "
                                           "formula was registered. Please use register_autograd"):
        y.sum().backward()


@pytest.mark.parametrize("device", DEVICES)
def test_register_autograd_gradient_matches_finite_differences(numpy_sin, device):
    _with_autograd(numpy_sin)
    x = pt.tensor(X, dtype=pt.float64, device=device, requires_grad=True)
    (numpy_sin(x) * pt.tensor([[1.0, 2.0, 3.0]], dtype=pt.float64, device=device)).sum().backward()
    h = 1e-6
    fd = (np.sin(X + h) - np.sin(X - h)) / (2 * h) * np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(x.grad.cpu().numpy(), fd, rtol=1e-8, atol=1e-10)
    assert pt.autograd.gradcheck(numpy_sin, (x,))


def test_module_register_autograd_and_register_fake_take_the_name(numpy_sin):
    library.register_autograd("cotest::numpy_sin", lambda ctx, g: g * ctx.x.cos(),
                              setup_context=lambda ctx, inputs, output: setattr(ctx, "x", inputs[0]))
    fake = library.register_fake("cotest::numpy_sin", lambda x: pt.empty_like(x))
    assert numpy_sin._abstract_fn is fake
    x = pt.tensor([0.5, 1.5], dtype=pt.float64, requires_grad=True)
    numpy_sin(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.cos([0.5, 1.5]), rtol=1e-12)
    with pytest.raises(RuntimeError, match="setup_context is for ops made with plugtorch.library.custom_op"):
        library.register_autograd("add", lambda ctx, g: g, setup_context=lambda ctx, i, o: None)


def test_register_kernel_replaces_the_implementation_on_one_device(numpy_sin):
    numpy_sin.register_kernel("cpu")(lambda x: x * 0 + 7)
    assert numpy_sin(pt.ones(2)).tolist() == [7.0, 7.0]
    numpy_sin.register_kernel("cpu", lambda x: x - 1)    # a later kernel replaces it, as in PyTorch
    assert numpy_sin(pt.ones(2)).tolist() == [0.0, 0.0]
    with pytest.raises(RuntimeError, match="unknown device type 'nodev'"):
        numpy_sin.register_kernel("nodev", lambda x: x)


def test_device_types_restricts_the_default_implementation():
    @library.custom_op("cotest::plus_one", mutates_args=(), device_types="cpu")
    def plus_one(x: pt.Tensor) -> pt.Tensor:
        return x + 1
    try:
        assert plus_one(pt.tensor([1.0, 2.0])).tolist() == [2.0, 3.0]
        if opencl_ok():
            with pytest.raises(NotImplementedError, match="cotest::plus_one: no kernel for device type 'opencl'"):
                plus_one(pt.ones(2, device="opencl"))
            plus_one.register_kernel("opencl")(lambda x: x + 10)
            assert plus_one(pt.ones(2, device="opencl")).tolist() == [11.0, 11.0]
    finally:
        library.undefine("cotest::plus_one")


def test_op_with_two_outputs_differentiates_each():
    @library.custom_op("cotest::scale_two", mutates_args=())
    def scale_two(x: pt.Tensor, k: float) -> tuple[pt.Tensor, pt.Tensor]:
        return x * k, x * (k + 1)

    def backward(ctx, ga, gb):
        return ga * ctx.k + gb * (ctx.k + 1), None
    scale_two.register_autograd(backward, setup_context=lambda ctx, inputs, output: setattr(ctx, "k", inputs[1]))
    try:
        x = pt.tensor([1.0, 2.0], requires_grad=True)
        a, b = scale_two(x, 2.0)
        assert a.tolist() == [2.0, 4.0] and b.tolist() == [3.0, 6.0]
        (a.sum() + 10 * b.sum()).backward()
        assert x.grad.tolist() == [32.0, 32.0]     # d/dx (2x + 10 * 3x)
    finally:
        library.undefine("cotest::scale_two")


@pytest.mark.parametrize("device", DEVICES)
def test_custom_op_traces_and_compiles_equal_to_eager(numpy_sin, device):
    def f(t):
        return numpy_sin(t) * 2 + 1
    x0 = pt.tensor([0.1, 0.2, 0.3], device=device)
    x1 = pt.tensor([-1.0, 0.5, 2.0], device=device)
    expected = 2 * np.sin(np.array([-1.0, 0.5, 2.0], dtype=np.float32)) + 1
    traced = pt.jit.trace(f, (x0,))
    np.testing.assert_allclose(traced(x1).cpu().numpy(), expected, rtol=1e-6)
    compiled = pt.compile(f)
    compiled(x0)
    np.testing.assert_allclose(compiled(x1).cpu().numpy(), f(x1).cpu().numpy(), rtol=1e-6)
    np.testing.assert_allclose(compiled(x1).cpu().numpy(), expected, rtol=1e-6)


def test_mutating_custom_op_writes_its_argument():
    @library.custom_op("cotest::add_into", mutates_args=iter(["out"]))   # (any iterable, read once)
    def add_into(x: pt.Tensor, out: pt.Tensor) -> None:
        out.add_(x)
    try:
        y = pt.zeros(3)
        assert add_into(pt.tensor([1.0, 2.0, 3.0], requires_grad=True), y) is None
        assert y.tolist() == [1.0, 2.0, 3.0]

        def f(a, b):
            c = b.clone()
            add_into(a, c)
            return c * 2
        # the tracer sees the write into c (it runs under the modes), so a replay repeats it
        traced = pt.jit.trace(f, (pt.ones(3), pt.zeros(3)))
        assert traced(pt.tensor([1.0, 2.0, 3.0]), pt.full((3,), 10.0)).tolist() == [22.0, 24.0, 26.0]
    finally:
        library.undefine("cotest::add_into")


def test_mutates_args_and_annotations_are_validated_as_in_pytorch():
    def f(x: pt.Tensor, n: int) -> pt.Tensor:
        return x * n
    with pytest.raises(TypeError, match="mutates_args"):
        library.custom_op("cotest::f", f)
    with pytest.raises(ValueError, match="mutates_args must either be a sequence of the names of the arguments "
                                         "that are mutated or the string 'unknown'"):
        library.custom_op("cotest::f", f, mutates_args="x")
    with pytest.raises(ValueError, match=r"\{'y'\} in mutates_args were not found in the custom op's signature"):
        library.custom_op("cotest::f", f, mutates_args=("y",))
    with pytest.raises(ValueError, match="Parameter n is in mutable_args but only Tensors or collections of "
                                         "Tensors can be mutated"):
        library.custom_op("cotest::f", f, mutates_args=("n",))
    with pytest.raises(ValueError, match="Parameter x must have a type annotation"):
        library.custom_op("cotest::f", lambda x: x, mutates_args=())
    with pytest.raises(ValueError, match="must be 'namespace::name'"):
        library.custom_op("f", f, mutates_args=())
    assert not hasattr(pt.ops, "cotest")
