"""plugtorch.library: a custom op defined from outside plugtorch (meta, kernels on cpu and
opencl, a backward formula) behaves like a built-in; kernel overrides are used and removable."""
import math

import numpy as np
import pytest

import plugtorch as pt
from plugtorch import library
from plugtorch.backends import ArrayAPIBackend
from plugtorch.dispatch import DispatchMode

C = math.sqrt(2.0 / math.pi)


def gelu_reference(x):
    return 0.5 * x * (1.0 + np.tanh(C * (x + 0.044715 * x ** 3)))


def gelu_meta(input, approximate="tanh"):
    """Gaussian error linear unit, tanh approximation, in one kernel."""
    if not isinstance(input, pt.Tensor):
        raise TypeError(f"fused_gelu(): argument 'input' must be Tensor, not {type(input).__name__}")
    if not input.dtype.is_floating_point:
        raise TypeError(f"fused_gelu(): expected a floating-point tensor, got {input.dtype}")
    if approximate != "tanh":
        raise ValueError(f"fused_gelu(): approximate must be 'tanh', got {approximate!r}")
    return input.device, (input.contiguous(), input.dtype), input.dtype


def gelu_cpu(x, dtype):
    # (np.asarray: NumPy turns 0-d results into scalars, and a kernel must return an array; the
    # conformance suite checks every kernel result)
    return np.asarray(gelu_reference(x)).astype(x.dtype, copy=False)


OPENCL_SOURCE = """
__kernel void fused_gelu(__global const T *x, __global T *y, const long n, const long off) {
    long i = get_global_id(0);
    if (i < n) {
        T v = x[off + i];
        // 0.5 v (1 + tanh(u)) as v / (1 + exp(-2u)): exact where tanh saturates
        T inner = (T)%r * (v + (T)0.044715 * v * v * v);
        y[i] = v / ((T)1 + exp((T)-2 * inner));
    }
}
""" % C


def gelu_opencl(x, dtype):
    import numpy
    t = {"float32": "float", "float64": "double"}[str(x.dtype)]
    dev = x.dev
    out = dev.empty(x.shape, x.dtype)
    k = dev.kernel(("testlib.fused_gelu", t), f"#define T {t}\n" + OPENCL_SOURCE, "fused_gelu",
                   [None, None, numpy.int64, numpy.int64])
    if x.size:
        k.set_args(x.data, out.data, numpy.int64(x.size), numpy.int64(x.offset))
        dev.launch(k, x.size)
    return out


def gelu_backward(grad, input, approximate="tanh"):
    inner = C * (input + 0.044715 * input ** 3)
    t = inner.tanh()
    d = 0.5 * (1 + t) + 0.5 * input * (1 - t * t) * C * (1 + 3 * 0.044715 * input * input)
    return (grad * d,)


def opencl_ok():
    try:
        return pt.opencl.is_available()
    except Exception:   # noqa: BLE001
        return False


@pytest.fixture
def fused_gelu():
    library.define("testlib::fused_gelu", gelu_meta, tags=("pointwise",))
    library.impl("testlib::fused_gelu", "cpu", gelu_cpu)
    library.impl("testlib::fused_gelu", "opencl", gelu_opencl)
    library.register_autograd("testlib::fused_gelu", gelu_backward)
    yield pt.ops.testlib.fused_gelu
    library.undefine("testlib::fused_gelu")


X = np.array([[-3.0, -1.0, -0.25], [0.0, 0.5, 2.5]])


def test_custom_op_is_a_function_under_its_namespace(fused_gelu):
    assert fused_gelu.__name__ == "fused_gelu"
    assert "Gaussian error linear unit" in fused_gelu.__doc__
    assert str(pt.dispatch.registry.get("testlib::fused_gelu").signature) == "(input, approximate='tanh')"
    out = fused_gelu(pt.tensor(X, dtype=pt.float32))
    assert out.dtype == pt.float32
    np.testing.assert_allclose(out.numpy(), gelu_reference(X.astype(np.float32)), rtol=1e-6)


@pytest.mark.parametrize("device", ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not opencl_ok(), reason="plugtorch.opencl is unavailable (no OpenCL device or pyopencl)"))])
def test_custom_op_runs_and_differentiates_on_each_backend(fused_gelu, device):
    x = pt.tensor(X, dtype=pt.float64, device=device, requires_grad=True)
    y = fused_gelu(x)
    assert y.device.type == device and y.grad_fn is not None
    np.testing.assert_allclose(y.detach().cpu().numpy(), gelu_reference(X), rtol=1e-12)
    assert pt.autograd.gradcheck(fused_gelu, (x,))
    assert pt.autograd.gradgradcheck(fused_gelu, (x,))
    # a non-contiguous input goes through the meta's contiguous()
    xt = pt.tensor(X.T.copy(), dtype=pt.float32, device=device).t()
    np.testing.assert_allclose(fused_gelu(xt).cpu().numpy(), gelu_reference(X.astype(np.float32)), rtol=1e-5, atol=1e-6)


def test_custom_op_errors_come_from_its_meta(fused_gelu):
    with pytest.raises(TypeError, match="fused_gelu\\(\\): expected a floating-point tensor, got plugtorch.int64"):
        fused_gelu(pt.tensor([1, 2]))
    with pytest.raises(ValueError, match="approximate must be 'tanh', got 'none'"):
        fused_gelu(pt.ones(2), approximate="none")


def test_custom_op_without_kernel_on_a_backend(fused_gelu):
    pt.backends.register(ArrayAPIBackend(np), name="libdev")
    try:
        with pytest.raises(NotImplementedError, match="The operator 'testlib::fused_gelu' is not "
                                                      "implemented for the 'libdev' backend"):
            fused_gelu(pt.ones(2, device="libdev"))
        # a kernel registered now reaches the registered backend; one for a backend that
        # registers later is installed when it does
        library.impl("testlib::fused_gelu", "libdev", lambda x, dtype: 0.5 * x * (1.0 + np.tanh(C * (x + 0.044715 * x ** 3))))
        np.testing.assert_allclose(fused_gelu(pt.tensor(X, device="libdev")).cpu().numpy(), gelu_reference(X))
        pt.backends.unregister("libdev")
        pt.backends.register(ArrayAPIBackend(np), name="libdev")
        assert fused_gelu(pt.zeros(1, device="libdev")).item() == 0.0
    finally:
        pt.backends.unregister("libdev")


def test_composite_custom_op_decomposes_everywhere():
    def square_plus(input, other):
        return input * input + other
    library.define("testlib::square_plus", decomposition=square_plus)
    try:
        x = pt.tensor([1.0, -2.0], dtype=pt.float64, requires_grad=True)
        y = pt.ops.testlib.square_plus(x, 3.0)
        assert y.tolist() == [4.0, 7.0]
        assert pt.autograd.gradcheck(lambda t: pt.ops.testlib.square_plus(t, 1.0), (x,))
    finally:
        library.undefine("testlib::square_plus")
    assert not hasattr(pt.ops, "testlib")


def test_modes_see_custom_ops(fused_gelu):
    class Names(DispatchMode):
        def __init__(self):
            self.seen = []

        def __plugtorch_dispatch__(self, op, args, kwargs, call):
            self.seen.append(op.name)
            return call(args, kwargs)
    with Names() as mode:
        fused_gelu(pt.ones(2))
    assert "testlib::fused_gelu" in mode.seen


# ---- overrides of built-in ops ------------------------------------------------------------
@pytest.fixture(params=["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not opencl_ok(), reason="plugtorch.opencl is unavailable (no OpenCL device or pyopencl)"))])
def device(request):
    return request.param


def test_override_of_a_composite_op_is_used_and_removable(device):
    calls = []

    def fast_softmax(input, dim, dtype=None):
        calls.append(tuple(input.shape))
        e = (input - input.amax(dim, keepdim=True)).exp()
        return e / e.sum(dim, keepdim=True)

    x = pt.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], device=device)
    expected = x.softmax(1).cpu().numpy()
    library.impl("softmax", device, fast_softmax)
    try:
        np.testing.assert_allclose(x.softmax(1).cpu().numpy(), expected, rtol=1e-6)
        np.testing.assert_allclose(pt.softmax(x, dim=1).cpu().numpy(), expected, rtol=1e-6)
        assert calls == [(2, 3), (2, 3)]
        # softmax has a backward formula, so the override serves training too
        xg = x.clone().requires_grad_()
        (xg.softmax(1) * pt.tensor([1.0, 0.0, 0.0], device=device)).sum().backward()
        assert len(calls) == 3
        s = expected
        np.testing.assert_allclose(xg.grad.cpu().numpy(), s[:, :1] * ((np.arange(3) == 0) - s), rtol=1e-5, atol=1e-7)
    finally:
        library.remove_impl("softmax", device)
    x.softmax(1)
    assert len(calls) == 3


def test_override_without_a_formula_leaves_autograd_to_the_decomposition():
    def square_plus(input, other):
        return input * input + other
    library.define("testlib::square_plus", decomposition=square_plus)
    calls = []

    def fast(input, other):          # computes outside autograd: must not be used under it
        calls.append(1)
        with pt.no_grad():
            return input * input + other
    library.impl("testlib::square_plus", "cpu", fast)
    try:
        x = pt.tensor([1.0, -2.0], requires_grad=True)
        y = pt.ops.testlib.square_plus(x, 1.0)
        assert calls == [] and y.grad_fn is not None
        y.sum().backward()
        assert x.grad.tolist() == [2.0, -4.0]
        with pt.no_grad():
            assert pt.ops.testlib.square_plus(x, 1.0).tolist() == [2.0, 5.0]
        assert calls == [1]
    finally:
        library.undefine("testlib::square_plus")


def test_override_of_a_core_op_is_used_and_removable():
    be = pt.backends.get_backend("cpu")
    own = be.kernels["exp"]
    seen = []

    def exp_kernel(x, dtype):
        seen.append(x.shape)
        return own(x, dtype)

    library.impl("exp", "cpu", exp_kernel)
    try:
        assert pt.tensor([0.0]).exp().item() == 1.0 and seen == [(1,)]
        with pytest.raises(RuntimeError, match="'exp' already has a kernel registered for 'cpu'"):
            library.impl("exp", "cpu", exp_kernel)
    finally:
        library.remove_impl("exp", "cpu")
    assert be.kernels["exp"] is own
    pt.tensor([0.0]).exp()
    assert seen == [(1,)]


# ---- errors -------------------------------------------------------------------------------
def test_redefinition_is_an_error(fused_gelu):
    with pytest.raises(RuntimeError, match="op 'testlib::fused_gelu' is already defined; call "
                                           "plugtorch.library.undefine\\('testlib::fused_gelu'\\) first"):
        library.define("testlib::fused_gelu", gelu_meta)


@pytest.mark.parametrize("name", ["fused_gelu", "a::b::c", "my-lib::x", "::x"])
def test_names_need_a_namespace(name):
    with pytest.raises(ValueError, match="must be 'namespace::name' with two Python identifiers"):
        library.define(name, gelu_meta)


def test_namespace_cannot_shadow_an_op():
    with pytest.raises(RuntimeError, match="namespace 'add' clashes with the op plugtorch.ops.add"):
        library.define("add::x", gelu_meta)


def test_unknown_backend_and_op():
    with pytest.raises(RuntimeError, match="library.impl\\(\\): unknown device type 'nosuchdev' \\(known: .*cpu"):
        library.impl("exp", "nosuchdev", lambda x, dtype: x)
    with pytest.raises(RuntimeError, match="there is no op named 'nolib::nop'; define it first"):
        library.impl("nolib::nop", "cpu", lambda x: x)
    with pytest.raises(RuntimeError, match="no kernel for 'exp' on 'cpu' was registered through plugtorch.library"):
        library.remove_impl("exp", "cpu")


def test_signature_mismatches(fused_gelu):
    with pytest.raises(TypeError, match="the kernel for 'exp' on 'cpu' takes 3 positional arguments, "
                                        "but the op's kernels receive 2"):
        library.impl("exp", "cpu", lambda x, dtype, extra: x)
    with pytest.raises(TypeError, match="the kernel for 'testlib::fused_gelu' on 'libdev2' takes 1 positional"):
        pt.backends.register(ArrayAPIBackend(np), name="libdev2")
        try:
            library.impl("testlib::fused_gelu", "libdev2", lambda x: x)
        finally:
            pt.backends.unregister("libdev2")
    with pytest.raises(TypeError, match="the kernel takes \\(x, dim\\) but 'softmax' takes \\(input, dim, dtype\\)"):
        library.impl("softmax", "cpu", lambda x, dim: x)
    with pytest.raises(TypeError, match="the formula for 'testlib::fused_gelu' must take \\(grad, input, approximate\\)"):
        library.register_autograd("testlib::fused_gelu", lambda grad, x: (grad,))
    with pytest.raises(TypeError, match="the decomposition takes \\(a\\) but the meta function takes \\(input, approximate\\)"):
        library.define("testlib::other", gelu_meta, decomposition=lambda a: a)
    assert "testlib::other" not in pt.dispatch.registry.OPS


# ---- the conformance suite runs custom ops like built-in ones ------------------------------
def fused_gelu_entry():
    from plugtorch.conformance import Entry, ErrorInput, Sample

    def samples(ctx):
        yield Sample(ctx.input((2, 3)))
        yield Sample(ctx.input((4, 3), layout="transposed"))
        yield Sample(ctx.input((3, 5), layout="stepped"))
        yield Sample(ctx.input(()))
        yield Sample(ctx.input((0, 3)))

    def errors(ctx):
        yield ErrorInput(Sample(ctx.input((2,), dtype=pt.int64)), TypeError, "expected a floating-point tensor")
        yield ErrorInput(Sample(ctx.input((2,)), approximate="none"), ValueError, "approximate must be 'tanh'")

    return Entry("testlib::fused_gelu", samples=samples, fn=pt.ops.testlib.fused_gelu,
                 dtypes=(pt.float32, pt.float64), error_inputs=errors)


@pytest.mark.parametrize("device", ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not opencl_ok(), reason="plugtorch.opencl is unavailable (no OpenCL device or pyopencl)"))])
def test_custom_op_passes_conformance(fused_gelu, device):
    from plugtorch.conformance import PASS, run
    results = run([device], [fused_gelu_entry()], max_examples=4)
    assert [(r.dtype, r.status) for r in results] == [("float32", PASS), ("float64", PASS)], \
        "\n".join(str(f) for r in results for f in r.failures)
    assert all(r.samples >= 5 for r in results)
