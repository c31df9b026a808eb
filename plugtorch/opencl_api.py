"""``plugtorch.opencl``: device queries, synchronisation and memory statistics.

>>> import plugtorch
>>> plugtorch.opencl.is_available()   # doctest: +SKIP
True
"""
from __future__ import annotations


def _be():
    from plugtorch.backends import get_backend
    return get_backend("opencl")


def is_available() -> bool:
    """Whether pyopencl is installed and at least one OpenCL device exists."""
    try:
        return _be().device_count() > 0
    except Exception:
        return False


def device_count() -> int:
    return _be().device_count()


def get_device_name(device=0) -> str:
    """"platform: device" of ``opencl:device``."""
    idx = device if isinstance(device, int) else (getattr(device, "index", None) or 0)
    n = device_count()
    if not 0 <= idx < n:
        raise RuntimeError(f"get_device_name(): opencl:{idx} does not exist ({n} device(s))")
    return _be().device_name(idx)


def synchronize(device=None) -> None:
    """Wait for every kernel queued on ``device`` (all devices if None)."""
    idx = device if isinstance(device, int) or device is None else getattr(device, "index", None)
    _be().synchronize(idx)


def memory_allocated(device=0) -> int:
    """Bytes held by live tensors on ``opencl:device``."""
    return _be().memory_allocated(device)


def max_memory_allocated(device=0) -> int:
    return _be().max_memory_allocated(device)


def reset_peak_memory_stats(device=0) -> None:
    _be().reset_peak_memory_stats(device)


def memory_reserved(device=0) -> int:
    """Bytes the memory pool holds (live tensors and cached free blocks)."""
    return _be().memory_reserved(device)


def empty_cache() -> None:
    """Return the pool's cached free blocks to the OpenCL driver."""
    _be().empty_cache()


def compile_stats() -> dict:
    """Programs built, seconds spent building, kernels created in this process."""
    from plugtorch.backends.opencl.runtime import STATS
    return dict(STATS)


def manual_seed(seed: int) -> None:
    """Seed opencl:0's default generator (a no-op without OpenCL, as ``cuda.manual_seed``)."""
    if is_available():
        from plugtorch import random as _random
        _random.default_generator_for("opencl:0").manual_seed(int(seed))


def manual_seed_all(seed: int) -> None:
    """Seed every opencl device's default generator."""
    from plugtorch import random as _random
    for i in range(device_count() if is_available() else 0):
        _random.default_generator_for(f"opencl:{i}").manual_seed(int(seed))


def get_rng_state(device="opencl"):
    """The opencl device's default generator state, a cpu uint8 tensor (its seed and Philox counter)."""
    from plugtorch import random as _random
    return _random.device_rng_state(0 if device == "opencl" else device, "opencl")


def set_rng_state(new_state, device="opencl") -> None:
    """Restore a state ``get_rng_state`` gave."""
    from plugtorch import random as _random
    _random.set_device_rng_state(new_state, 0 if device == "opencl" else device, "opencl")


def get_rng_state_all() -> list:
    return [get_rng_state(i) for i in range(device_count())]


def set_rng_state_all(new_states) -> None:
    for i, st in enumerate(new_states):
        set_rng_state(st, i)
