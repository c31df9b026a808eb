"""The dispatcher checks what a non-built-in backend's kernels return (type, dtype, shape,
tuple length) against the op's meta, and leaves the built-ins' kernels as they are."""
import re

import array_api_strict
import numpy as np
import pytest

import plugtorch as pt
from plugtorch.backends import get_backend
from plugtorch.backends.cpu import CPUBackend
from plugtorch.dispatch import registry
from plugtorch.dispatch.checked import PluginKernels

CPU = get_backend("cpu").kernels


class CheckDev(CPUBackend):
    """The cpu backend under another name, registered at run time: a third-party backend."""
    name = "checkdev"

    def __init__(self, broken=None):
        super().__init__()
        self.kernels = {**self.kernels, **(broken or {})}


@pytest.fixture
def backend():
    """register(**broken kernels) -> the device of a CheckDev with those kernels."""
    def register(**broken):
        pt.backends.register(CheckDev(broken))
        return pt.device("checkdev:0")
    yield register
    if "checkdev" in pt.backends._BACKENDS:
        pt.backends.unregister("checkdev")


def message(op, what):
    return re.escape(f"{op}(): the 'checkdev' backend's kernel returned {what}; fix the kernel in "
                     "the backend (registered at run time)") + "$"


def raises_twice(call, op, what):
    for _ in range(2):   # the second call takes the dispatcher's memoised path
        with pytest.raises(RuntimeError, match=message(op, what)):
            call()


def test_wrong_shape(backend):
    dev = backend(add=lambda a, b, dtype: CPU["add"](a, b, dtype)[..., :1])
    a, b = pt.ones(2, 3, device=dev), pt.arange(3.0, device=dev)
    what = "an array of shape (2, 1), but the op's result has shape (2, 3) (its inputs' broadcast shape)"
    raises_twice(lambda: a + b, "add", what)                     # the binary fast path
    raises_twice(lambda: pt.add(a, b), "add", what)              # dispatch -> run
    raises_twice(lambda: a + 1.0, "add", "an array of shape (2, 1), but the op's result has shape "
                                         "(2, 3) (its inputs' broadcast shape)")


def test_wrong_dtype(backend):
    dev = backend(exp=lambda x, dtype: np.exp(x.astype(np.float64)),
                  gt=lambda a, b, dtype: (a > b).astype(np.float32))
    x = pt.tensor([0.0, 1.0], device=dev)
    raises_twice(lambda: x.exp(), "exp", "an array of dtype float64, but the op's result has dtype "
                                         "float32 (float32 on this backend)")
    raises_twice(lambda: pt.exp(x), "exp", "an array of dtype float64, but the op's result has dtype "
                                           "float32 (float32 on this backend)")
    # the kernel is given the operands' dtype; the result's (bool) comes from the meta
    raises_twice(lambda: x > 0.5, "gt", "an array of dtype float32, but the op's result has dtype "
                                        "bool (bool on this backend)")


@pytest.mark.parametrize("dtype", [pt.float64, pt.float32, pt.int64, pt.bool])
def test_python_list(backend, dtype):
    dev = backend(neg=lambda x, dtype: (-x).tolist(), mul=lambda a, b, dtype: (a * b).tolist())
    x = pt.ones(2, dtype=dtype, device=dev)
    raises_twice(lambda: x * x, "mul", "a list, not a numpy.ndarray (the backend's native array type)")
    if dtype is not pt.bool:
        raises_twice(lambda: -x, "neg", "a list, not a numpy.ndarray (the backend's native array type)")


def test_numpy_scalar(backend):
    dev = backend(sum=lambda x, dims, keepdim, dtype: np.float32(x.sum()))
    x = pt.ones(3, device=dev)
    raises_twice(lambda: x.sum(), "sum", "a numpy.float32, not a numpy.ndarray (the backend's "
                                         "native array type)")


def test_array_of_another_library(backend):
    dev = backend(mul=lambda a, b, dtype: array_api_strict.asarray(a * b))
    x = pt.ones(3, device=dev)
    raises_twice(lambda: x * 2, "mul", "an array_api_strict.Array, not a numpy.ndarray (the "
                                       "backend's native array type)")


def test_view_of_wrong_type(backend):
    dev = backend(permute=lambda x, dims: x.transpose(dims).tolist())
    x = pt.ones(2, 3, device=dev)
    raises_twice(lambda: x.permute(1, 0), "permute", "a list, not a numpy.ndarray (the backend's "
                                                     "native array type)")


@pytest.mark.parametrize("kernel, what", [
    (lambda x, dim, descending: CPU["sort"](x, dim, descending)[:1],
     "a tuple of 1 results, but the op has 2 outputs"),
    (lambda x, dim, descending: (*CPU["sort"](x, dim, descending), x),
     "a tuple of 3 results, but the op has 2 outputs"),
    (lambda x, dim, descending: list(CPU["sort"](x, dim, descending)), "a list, not a tuple of its 2 outputs"),
    (lambda x, dim, descending: np.sort(x, axis=dim), "a numpy.ndarray, not a tuple of its 2 outputs"),
    (lambda x, dim, descending: (np.sort(x, axis=dim), np.argsort(x, axis=dim).astype(np.int32)),
     "as output 1 (of 2) an array of dtype int32, but the op's result has dtype int64 (int64 on "
     "this backend)"),
    (lambda x, dim, descending: (np.sort(x, axis=dim).tolist(), np.argsort(x, axis=dim)),
     "as output 0 (of 2) a list, not a numpy.ndarray (the backend's native array type)"),
], ids=["too few", "too many", "list", "one array", "wrong index dtype", "list inside"])
def test_multi_output(backend, kernel, what):
    dev = backend(sort=kernel)
    x = pt.tensor([[3.0, 1.0, 2.0]], device=dev)
    raises_twice(lambda: x.sort(1), "sort", what)


def test_correct_kernels_pass_and_agree_with_cpu(backend):
    dev = backend()
    rng = np.random.default_rng(0)
    a_np, b_np = rng.standard_normal((2, 3)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    a, b = pt.tensor(a_np, device=dev), pt.tensor(b_np, device=dev)
    assert isinstance(dev._kernels, PluginKernels)
    np.testing.assert_allclose((a + b).cpu().numpy(), a_np + b_np)                       # broadcasting
    np.testing.assert_allclose((2 - a).cpu().numpy(), 2 - a_np)                           # scalar first
    np.testing.assert_allclose((a * pt.tensor(3.0)).cpu().numpy(), a_np * 3)              # 0-d cpu operand
    np.testing.assert_array_equal((a > b).cpu().numpy(), a_np > b_np)
    np.testing.assert_allclose(pt.where(a > 0, a, b).cpu().numpy(), np.where(a_np > 0, a_np, b_np))
    np.testing.assert_allclose(a.exp().sum(1).cpu().numpy(), np.exp(a_np).sum(1), rtol=1e-6)
    values, indices = a.sort(1)
    np.testing.assert_array_equal(values.cpu().numpy(), np.sort(a_np, 1))
    np.testing.assert_array_equal(indices.cpu().numpy(), np.argsort(a_np, 1, kind="stable"))
    np.testing.assert_array_equal(a.permute(1, 0).cpu().numpy(), a_np.T)
    assert a.long().argmax(1).tolist() == a_np.astype(np.int64).argmax(1).tolist()
    c = a.clone()
    c.add_(b)                                                                        # in-place kernel
    np.testing.assert_allclose(c.cpu().numpy(), a_np + b_np)
    assert pt.tensor(5, device=dev).neg().item() == -5                              # 0-d
    assert pt.ones(0, 3, device=dev).sum(0).tolist() == [0.0, 0.0, 0.0]            # empty


def test_in_place_kernels_stay_in_the_table(backend):
    dev = backend()
    pt.ones(1, device=dev)
    table = dev._kernels
    be = get_backend("checkdev")
    assert table["add_"] is be.kernels["add_"] and table["copy_"] is be.kernels["copy_"]
    assert "add" not in table and "sort" not in table and "permute" not in table


def test_kernel_replaced_through_library_is_checked(backend):
    dev = backend()
    x = pt.ones(2, device=dev)
    assert (-x).tolist() == [-1.0, -1.0]
    pt.library.impl("neg", "checkdev", lambda x, dtype: (-x).tolist())
    try:
        raises_twice(lambda: -x, "neg", "a list, not a numpy.ndarray (the backend's native array type)")
    finally:
        pt.library.remove_impl("neg", "checkdev")
    assert (-x).tolist() == [-1.0, -1.0]


def test_plugin_from_a_distribution_is_checked():
    x = pt.ones(2, device="strict")
    assert isinstance(x.device._kernels, PluginKernels)
    assert (x + 1).tolist() == [2.0, 2.0]


def test_builtin_kernels_run_unwrapped():
    """cpu (and opencl, cuda) keep their own kernel table and memoise their own kernels."""
    cpu = get_backend("cpu")
    a = pt.ones(2, 3)
    a + a
    -a
    assert pt.device("cpu")._kernels is cpu.kernels
    add, neg = registry.get("add"), registry.get("neg")
    assert add.fast[(a.device, pt.float32, pt.float32, (2, 3), (2, 3))][0] is cpu.kernels["add"]
    assert neg.fast[(a.device, pt.float32)][0] is cpu.kernels["neg"]


def test_error_names_the_distribution_of_a_plugin():
    pt.backends.register(CheckDev({"exp": lambda x, dtype: x.tolist()}), origin="ptplug-check 1.2")
    try:
        with pytest.raises(RuntimeError, match=re.escape(
                "exp(): the 'checkdev' backend's kernel returned a list, not a numpy.ndarray (the "
                "backend's native array type); fix the kernel in the backend (plug-in ptplug-check 1.2)")):
            pt.ones(1, device="checkdev").exp()
    finally:
        pt.backends.unregister("checkdev")


def test_backend_with_arrays_of_another_library():
    """The native array type and dtypes are the backend's own (here array-api-strict's)."""
    from plugtorch.backends import ArrayAPIBackend
    be = ArrayAPIBackend(array_api_strict, name="checkdev")
    xp = be.xp
    be.kernels = {**be.kernels, "add": lambda a, b, dtype: np.asarray(a) + np.asarray(b),
                  "exp": lambda x, dtype: xp.exp(xp.astype(x, xp.float64)),
                  "mul": lambda a, b, dtype: xp.reshape(xp.multiply(a, b), (-1,))}
    pt.backends.register(be)
    try:
        x = pt.ones(2, 2, device="checkdev")
        raises_twice(lambda: x + x, "add", "a numpy.ndarray, not an array_api_strict.Array (the "
                                           "backend's native array type)")
        raises_twice(lambda: x.exp(), "exp", "an array of dtype array_api_strict.float64, but the "
                                             "op's result has dtype float32 (array_api_strict.float32 "
                                             "on this backend)")
        raises_twice(lambda: x * x, "mul", "an array of shape (4,), but the op's result has shape "
                                           "(2, 2) (its inputs' broadcast shape)")
        assert (x - x).tolist() == [[0.0, 0.0], [0.0, 0.0]]
    finally:
        pt.backends.unregister("checkdev")
