"""The cuda backend: CuPy arrays on NVIDIA GPUs. CuPy is imported on first use, not here."""
from plugtorch.backends.cuda.backend import CUDABackend

__all__ = ["CUDABackend"]
