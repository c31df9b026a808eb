"""The cpu backend: NumPy kernels, the reference every other backend is compared with."""
from plugtorch.backends.cpu import _malloc
from plugtorch.backends.cpu.backend import CPUBackend

_malloc.tune()   # (large NumPy temporaries from the heap, not a fresh mmap each: see _malloc)

__all__ = ["CPUBackend"]
