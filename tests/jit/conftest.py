"""Devices the jit tests run on: cpu always, opencl where a device exists (PoCL in CI)."""
import pytest

import plugtorch as pt

DEVICES = ["cpu"] + (["opencl"] if pt.opencl.is_available() else [])


@pytest.fixture(params=DEVICES)
def dev(request):
    return request.param


@pytest.fixture(autouse=True)
def _fresh_compiler():
    pt.compiler.reset()
    yield
    pt.compiler.reset()
