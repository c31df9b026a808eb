"""The backend registry: registering and removing backends at run time, lookups, listing."""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch.backends import ArrayAPIBackend


@pytest.fixture
def mydev():
    be = pt.backends.register(ArrayAPIBackend(np), name="mydev")
    yield be
    if "mydev" in pt.backends._BACKENDS:
        pt.backends.unregister("mydev")


def test_registered_device_type_works_everywhere(mydev):
    x = pt.tensor([[1.0, 2.0], [3.0, 4.0]], device="mydev:0")
    assert x.device == pt.device("mydev", 0)
    assert x.device._backend is mydev
    y = pt.ones(2, 2).to("mydev")
    assert y.device.type == "mydev"
    assert (x + y).cpu().tolist() == [[2.0, 3.0], [4.0, 5.0]]
    assert (x @ y).cpu().tolist() == [[3.0, 3.0], [7.0, 7.0]]
    assert pt.zeros(3, device=pt.device("mydev")).device == pt.device("mydev:0")


def test_registered_device_supports_autograd(mydev):
    x = pt.tensor([1.0, 2.0, 3.0], device="mydev", requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.device.type == "mydev"
    assert x.grad.cpu().tolist() == [2.0, 4.0, 6.0]


def test_module_to_registered_device(mydev):
    nn = pytest.importorskip("plugtorch.nn")
    if not hasattr(nn, "Linear"):
        pytest.skip("plugtorch.nn.Linear is not there yet")
    pt.manual_seed(0)
    m = nn.Linear(3, 2)
    x = pt.randn(4, 3)
    expected = m(x)
    m.to("mydev")
    assert all(p.device.type == "mydev" for p in m.parameters())
    out = m(x.to("mydev"))
    assert out.device.type == "mydev"
    np.testing.assert_allclose(out.detach().cpu().numpy(), expected.detach().numpy(), rtol=1e-6)


def test_list_reports_runtime_backend(mydev):
    entry = next(e for e in pt.backends.list() if e["name"] == "mydev")
    assert entry == {"name": "mydev", "origin": "runtime", "devices": ["mydev:0"], "status": "ok"}
    assert pt.backends.list()[0] == {"name": "cpu", "origin": "built-in", "devices": ["cpu"], "status": "ok"}
    assert "mydev" in pt.backends.available()
    table = pt.backends.summary()
    assert table.splitlines()[0].split() == ["device", "type", "origin", "devices", "status"]
    assert any(line.split()[:2] == ["mydev", "runtime"] for line in table.splitlines())


def test_unregister_then_device_is_unknown(mydev):
    x = pt.ones(2, device="mydev")
    assert pt.device("mydev:0")._backend is mydev
    pt.backends.unregister("mydev")
    assert not pt.backends.is_registered("mydev")
    assert pt.device("mydev:0")._backend is None    # cached lookups are forgotten
    with pytest.raises(RuntimeError, match="'mydev' has no registered backend"):
        pt.ones(2, device="mydev")
    del x


def test_register_a_class_and_replace(mydev):
    class Other(ArrayAPIBackend):
        def __init__(self):
            super().__init__(np, name="mydev")
    with pytest.raises(RuntimeError, match="device type 'mydev' is already registered .*replace=True"):
        pt.backends.register(Other)
    be = pt.backends.register(Other, replace=True)
    assert isinstance(be, Other) and pt.backends.get_backend("mydev") is be
    assert pt.ones(1, device="mydev").device._backend is be


@pytest.mark.parametrize("name", ["", "my dev", "my:dev", "0dev", 7])
def test_register_rejects_bad_names(name):
    with pytest.raises(ValueError, match="register\\(\\): invalid device type name"):
        pt.backends.register(ArrayAPIBackend(np), name=name)


def test_register_rejects_non_backends():
    with pytest.raises(TypeError, match="expected a plugtorch.backends.Backend instance or subclass, got object"):
        pt.backends.register(object())


def test_builtin_names_are_reserved():
    with pytest.raises(RuntimeError, match="'opencl' is reserved for plugtorch's built-in backend"):
        pt.backends.register(ArrayAPIBackend(np), name="opencl")
    with pytest.raises(RuntimeError, match="'cpu' is reserved for plugtorch's built-in backend"):
        pt.backends.register(ArrayAPIBackend(np), name="cpu")


def test_unregister_errors():
    with pytest.raises(RuntimeError, match="the cpu backend is the reference and cannot be removed"):
        pt.backends.unregister("cpu")
    with pytest.raises(RuntimeError, match="no backend is registered for device type 'nosuchdev'"):
        pt.backends.unregister("nosuchdev")


def test_unknown_device_type_error_names_the_fix():
    with pytest.raises(RuntimeError, match="'nosuchdev' has no registered backend; install its plug-in "
                                           "package or call plugtorch.backends.register"):
        pt.zeros(2, device="nosuchdev")


def test_device_index_out_of_range(mydev):
    with pytest.raises(RuntimeError, match="device 'mydev:3' does not exist: the mydev backend has 1 device"):
        pt.zeros(2, device="mydev:3")


def test_unsupported_dtype_is_a_clear_error():
    import array_api_strict
    pt.backends.register(ArrayAPIBackend(array_api_strict), name="strictrt")
    try:
        with pytest.raises(TypeError, match="full\\(\\): dtype plugtorch.float16 is not supported on device 'strictrt:0': "
                                            "array_api_strict has no float16"):
            pt.ones(2, dtype=pt.float16, device="strictrt")
        with pytest.raises(TypeError, match="to\\(\\): dtype plugtorch.bfloat16 is not supported"):
            pt.ones(2, dtype=pt.bfloat16).to("strictrt")
    finally:
        pt.backends.unregister("strictrt")


def test_get_backend_of_builtins():
    assert pt.backends.get_backend("cpu").name == "cpu"
    assert pt.backends.is_registered("cpu") and pt.backends.is_registered("opencl")
