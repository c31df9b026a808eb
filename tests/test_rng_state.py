"""Saving and restoring random streams: get_rng_state/set_rng_state, Generator.get_state/set_state,
the device modules' equivalents, and random.fork_rng."""
import pytest

import plugtorch as pt

DEVICES = [d for d in ("cpu", "opencl") if d in pt.backends.available()]


def _draws(device="cpu", generator=None):
    # uniform, normal (Box-Muller's pairs: an odd count leaves one cached on cpu), integers
    return (pt.rand(5, device=device, generator=generator).tolist()
            + pt.randn(3, device=device, generator=generator).tolist()
            + pt.randint(0, 1000, (3,), device=device, generator=generator).tolist())


def test_global_state_round_trip():
    pt.manual_seed(5)
    pt.randn(7)                      # somewhere in the middle of the stream
    s = pt.get_rng_state()
    assert s.dtype is pt.uint8 and s.device.type == "cpu" and s.ndim == 1
    a = _draws()
    pt.manual_seed(99)               # elsewhere entirely
    pt.set_rng_state(s)
    assert _draws() == a
    assert pt.get_rng_state().tolist() != s.tolist()     # the stream moved on
    pt.set_rng_state(s)
    assert pt.get_rng_state().tolist() == s.tolist()     # exact round trip
    assert pt.random.get_rng_state().tolist() == s.tolist()


@pytest.mark.parametrize("device", DEVICES)
def test_generator_state_round_trip(device):
    g = pt.Generator(device).manual_seed(11)
    _draws(device, g)
    st = g.get_state()
    a = _draws(device, g)
    h = pt.Generator(device).set_state(st)        # a fresh generator takes it too
    assert _draws(device, h) == a and h.initial_seed() == 11
    g.set_state(st)
    assert _draws(device, g) == a


@pytest.mark.parametrize("device", [d for d in DEVICES if d != "cpu"])
def test_device_module_rng_state(device):
    mod = getattr(pt, device)
    mod.manual_seed(3)
    pt.rand(2, device=device)
    s = mod.get_rng_state()
    a = pt.rand(4, device=device).tolist()
    mod.manual_seed_all(8)
    mod.set_rng_state(s)
    assert pt.rand(4, device=device).tolist() == a
    states = mod.get_rng_state_all()
    assert len(states) == mod.device_count()
    b = pt.rand(3, device=device).tolist()
    mod.set_rng_state_all(states)
    assert pt.rand(3, device=device).tolist() == b


def test_fork_rng():
    pt.manual_seed(21)
    pt.rand(1)
    before = pt.get_rng_state()
    expected = pt.rand(4).tolist()
    pt.set_rng_state(before)
    with pt.random.fork_rng():
        pt.rand(100)
        pt.manual_seed(0)
        pt.randn(3)
    assert pt.rand(4).tolist() == expected and pt.initial_seed() == 21
    with pt.random.fork_rng(devices=[]):
        pt.rand(10)
    assert pt.rand(2).tolist() != expected[:2]     # continues, unforked draws gone
    s = pt.get_rng_state()
    with pt.random.fork_rng(enabled=False):
        pt.rand(10)
    assert pt.get_rng_state().tolist() != s.tolist()


@pytest.mark.skipif("opencl" not in DEVICES, reason="no OpenCL device")
def test_fork_rng_forks_device_streams():
    pt.manual_seed(4)
    pt.rand(1, device="opencl")
    a = pt.rand(3, device="opencl").tolist()
    pt.manual_seed(4)
    pt.rand(1, device="opencl")
    with pt.random.fork_rng(devices=[0], device_type="opencl"):
        pt.rand(50, device="opencl")
    assert pt.rand(3, device="opencl").tolist() == a
    # a device named without its index is the current one (its generator is keyed opencl:0)
    for devices in (["opencl"], [pt.device("opencl")], ["opencl:0"]):
        pt.manual_seed(4)
        pt.rand(1, device="opencl")
        with pt.random.fork_rng(devices=devices, device_type="opencl"):
            pt.rand(50, device="opencl")
        assert pt.rand(3, device="opencl").tolist() == a, devices


def test_bad_states():
    s = pt.get_rng_state()
    with pytest.raises(TypeError, match="RNG state must be a torch.ByteTensor"):
        pt.set_rng_state(s.float())
    with pytest.raises(TypeError, match="expected a torch.ByteTensor, but got list"):
        pt.set_rng_state([1, 2])
    with pytest.raises(RuntimeError, match="Expected a cpu generator state of size 104 but found the input RNG "
                                           "state size to be 2"):
        pt.set_rng_state(s[:10])
