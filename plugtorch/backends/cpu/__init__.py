"""The cpu backend: NumPy kernels, the reference every other backend is compared with."""
from plugtorch.backends.cpu.backend import CPUBackend

__all__ = ["CPUBackend"]
