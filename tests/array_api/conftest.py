"""Devices the namespace tests run on: cpu, and opencl where an OpenCL device exists."""
import pytest

import plugtorch as pt

DEVICES = ["cpu"] + (["opencl"] if pt.opencl.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request):
    return pt.empty(0, device=request.param).device     # with its index ("opencl:0")


@pytest.fixture
def default_device(device):
    """Make ``device`` the default device for the test (factories without device= use it)."""
    old = pt.get_default_device()
    pt.set_default_device(device)
    try:
        yield device
    finally:
        pt.set_default_device(old)
