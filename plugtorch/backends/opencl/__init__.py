"""The opencl backend: PyOpenCL on any OpenCL platform (PoCL gives every machine a CPU device).

Importing this package does not import pyopencl; that happens when a device is first used.
"""
from plugtorch.backends.opencl.backend import OpenCLBackend

__all__ = ["OpenCLBackend"]
