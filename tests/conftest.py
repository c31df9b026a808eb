"""Fixtures shared across the test tree."""
import pytest

import plugtorch as pt
from plugtorch.backends.cpu import CPUBackend


@pytest.fixture
def altcpu():
    """A second backend registered at run time (NumPy arrays, cpu kernels): stands for any
    non-cpu device in tests of code that must keep tensors on their device."""
    class AltCPU(CPUBackend):
        name = "altcpu"
    pt.backends.register(AltCPU())
    try:
        yield pt.device("altcpu:0")
    finally:
        if pt.backends.is_registered("altcpu"):
            pt.backends.unregister("altcpu")
