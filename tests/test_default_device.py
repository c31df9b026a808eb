"""set_default_device / get_default_device and PLUGTORCH_DEFAULT_DEVICE: where factories put
tensors without device=, per thread, and what explicit devices and *_like functions keep."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import plugtorch as pt


@pytest.fixture
def restore_default():
    old = pt.get_default_device()
    yield
    pt.set_default_device(old)


FACTORIES = [
    ("tensor", lambda: pt.tensor([1, 2])), ("zeros", lambda: pt.zeros(2)), ("ones", lambda: pt.ones(2, 3)),
    ("empty", lambda: pt.empty(2)), ("full", lambda: pt.full((2,), 1.5)), ("arange", lambda: pt.arange(3)),
    ("linspace", lambda: pt.linspace(0, 1, 3)), ("eye", lambda: pt.eye(2)), ("rand", lambda: pt.rand(2)),
    ("randn", lambda: pt.randn(2)), ("randint", lambda: pt.randint(0, 5, (2,))), ("randperm", lambda: pt.randperm(4)),
    ("as_tensor", lambda: pt.as_tensor(np.ones(2))), ("asarray", lambda: pt.asarray([1.0])),
]


def test_default_is_cpu():
    assert pt.get_default_device() == pt.device("cpu")
    assert pt.backends.default_device() == pt.device("cpu")


@pytest.mark.parametrize("name, make", FACTORIES)
def test_factories_use_the_default_device(altcpu, restore_default, name, make):
    pt.set_default_device("altcpu")
    t = make()
    assert t.device == altcpu, name


def test_explicit_devices_and_like_functions_keep_theirs(altcpu, restore_default):
    pt.set_default_device("altcpu")
    assert pt.get_default_device() == altcpu
    assert pt.zeros(2, device="cpu").device == pt.device("cpu")
    x = pt.ones(2, device="cpu")
    assert pt.zeros_like(x).device == pt.device("cpu") and pt.rand_like(x).device == pt.device("cpu")
    assert (x + 1).device == pt.device("cpu")
    assert pt.from_numpy(np.ones(2)).device == pt.device("cpu")    # shares NumPy's memory: host only
    assert pt.Generator().device == pt.device("cpu")
    pt.set_default_device(None)
    assert pt.zeros(1).device == pt.device("cpu")


def test_default_device_is_per_thread(altcpu, restore_default):
    pt.set_default_device("altcpu")
    seen = []
    t = threading.Thread(target=lambda: seen.append((pt.get_default_device(), pt.zeros(1).device)))
    t.start()
    t.join()
    assert seen == [(pt.device("cpu"), pt.device("cpu"))]
    assert pt.zeros(1).device == altcpu


def test_an_unknown_device_is_refused_at_once(restore_default):
    with pytest.raises(RuntimeError, match="'nodevice' has no registered backend"):
        pt.set_default_device("nodevice")
    assert pt.get_default_device() == pt.device("cpu")


def _run(env_value, code):
    env = dict(os.environ, PLUGTORCH_DEFAULT_DEVICE=env_value)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def test_environment_variable():
    r = _run("strict", "import plugtorch as pt; print(pt.zeros(1).device, pt.get_default_device())")
    if "no registered backend" in r.stderr:
        pytest.skip("the plugtorch-strict example plug-in is not installed")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["strict:0", "strict:0"]


def test_environment_variable_with_a_bad_device():
    r = _run("bogus", "import plugtorch as pt; pt.zeros(1)")
    assert r.returncode != 0
    assert "PLUGTORCH_DEFAULT_DEVICE='bogus' is not a usable device" in r.stderr
    assert "set it to a device such as 'cpu'" in r.stderr


@pytest.mark.skipif(not pt.opencl.is_available(), reason="no OpenCL device")
def test_opencl_default_device(restore_default):
    pt.set_default_device("opencl")
    assert pt.get_default_device() == pt.device("opencl:0")   # with its index, as PyTorch's
    assert pt.arange(3).device.type == "opencl" and pt.tensor([1.5]).tolist() == [1.5]


# ---- ``with pt.device(...)``: the default device for the length of a block ------------------

def test_device_as_a_context_manager(altcpu, restore_default):
    with pt.device("altcpu") as d:
        assert d is pt.device("altcpu")                     # __enter__ returns the device
        assert pt.get_default_device() == altcpu
        for name, make in FACTORIES:
            assert make().device == altcpu, name
        lin = pt.nn.Linear(3, 2)                             # module parameters follow it too
        assert lin.weight.device == altcpu and lin.bias.device == altcpu
        assert pt.zeros(2, device="cpu").device == pt.device("cpu")   # an explicit device wins
        np.testing.assert_array_equal(pt.full((2,), 1.5).cpu().numpy(), [1.5, 1.5])
    assert pt.get_default_device() == pt.device("cpu")
    assert pt.zeros(1).device == pt.device("cpu")


def test_device_contexts_nest_and_restore(altcpu, restore_default):
    cpu = pt.device("cpu")
    with pt.device("altcpu"):
        with cpu:
            assert pt.ones(1).device == cpu
            with pt.device("altcpu"):                        # the same (interned) device again
                assert pt.ones(1).device == altcpu
            assert pt.ones(1).device == cpu
        assert pt.ones(1).device == altcpu
    assert pt.ones(1).device == cpu
    pt.set_default_device("altcpu")                         # a block restores a set default
    with cpu:
        assert pt.arange(2).device == cpu
    assert pt.get_default_device() == altcpu


def test_device_context_restores_on_an_exception(altcpu, restore_default):
    with pytest.raises(ValueError, match="inside"):
        with pt.device("altcpu"):
            raise ValueError("inside")
    assert pt.get_default_device() == pt.device("cpu")


def test_device_context_is_per_thread(altcpu, restore_default):
    seen = []
    with pt.device("altcpu"):
        t = threading.Thread(target=lambda: seen.append(pt.zeros(1).device))
        t.start()
        t.join()
        assert pt.zeros(1).device == altcpu
    assert seen == [pt.device("cpu")]


def test_device_context_with_an_unknown_device_is_refused(restore_default):
    with pytest.raises(RuntimeError, match="'nodevice' has no registered backend"):
        with pt.device("nodevice"):
            pass
    assert pt.get_default_device() == pt.device("cpu")


@pytest.mark.skipif(not pt.opencl.is_available(), reason="no OpenCL device")
def test_opencl_device_context(restore_default):
    with pt.device("opencl"):
        assert pt.get_default_device() == pt.device("opencl:0")
        assert pt.arange(3).device.type == "opencl" and pt.nn.Linear(2, 2).weight.device.type == "opencl"
    assert pt.zeros(1).device == pt.device("cpu")
