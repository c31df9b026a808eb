"""``plugtorch.cuda``: NVIDIA GPUs through CuPy, with the names ``torch.cuda`` uses.

Loaded on first use of ``plugtorch.cuda``; CuPy itself is imported only when a question needs
it. Without CuPy or a GPU every query answers (``is_available()`` is False, counters are 0)
and anything that needs a device raises RuntimeError saying why and what to install.

>>> import plugtorch as pt
>>> if pt.cuda.is_available():                                       # doctest: +SKIP
...     x = pt.ones(3, device="cuda")
...     pt.cuda.synchronize()
"""
from __future__ import annotations

from plugtorch.backends.cuda.streams import (Event, Stream, current_stream, default_stream,  # noqa: F401
                                             device_index, stream)

__all__ = ["is_available", "unavailable_reason", "device_count", "current_device", "set_device",
           "get_device_name", "synchronize", "memory_allocated", "max_memory_allocated",
           "memory_reserved", "reset_peak_memory_stats", "empty_cache", "manual_seed",
           "manual_seed_all", "seed", "seed_all", "initial_seed", "get_rng_state", "set_rng_state",
           "get_rng_state_all", "set_rng_state_all", "Stream", "Event",
           "current_stream", "default_stream", "stream"]


def _backend():
    from plugtorch.backends import get_backend
    return get_backend("cuda")


def is_available() -> bool:
    """Whether CuPy is installed and sees at least one CUDA device. Never raises."""
    return _backend().is_available()


def unavailable_reason() -> str | None:
    """Why cuda can't be used (CuPy missing, no device or driver), or None if it can."""
    return _backend().unavailable_reason()


def device_count() -> int:
    return _backend().device_count()


def _require():
    be = _backend()
    be.cupy()   # RuntimeError with the reason when cuda is unavailable
    return be


def current_device() -> int:
    return _require().current_device()


def set_device(device) -> None:
    """Make ``device`` (an index, "cuda:1" or a plugtorch.device) the current cuda device."""
    be = _require()
    i = device_index(device)
    if not 0 <= i < be.device_count():
        raise RuntimeError(f"set_device(): cuda:{i} does not exist ({be.device_count()} device(s))")
    be.cupy().cuda.Device(i).use()


def get_device_name(device=None) -> str:
    return _require().device_name(device_index(device))


def synchronize(device=None) -> None:
    """Wait for all work queued on ``device`` (default: the current one) to finish."""
    _require().synchronize(device_index(device))


def _index_or_zero(device):
    return device_index(device) if is_available() else 0


def memory_allocated(device=None) -> int:
    """Bytes held by tensors on ``device`` (0 when cuda is unavailable)."""
    return _backend().memory_allocated(_index_or_zero(device))


def max_memory_allocated(device=None) -> int:
    """Peak of ``memory_allocated`` since start or ``reset_peak_memory_stats``."""
    return _backend().max_memory_allocated(_index_or_zero(device))


def memory_reserved(device=None) -> int:
    """Bytes CuPy's pool holds on ``device``: in use plus cached for reuse."""
    return _backend().memory_reserved(_index_or_zero(device))


def reset_peak_memory_stats(device=None) -> None:
    _backend().reset_peak_memory_stats(_index_or_zero(device))


def empty_cache() -> None:
    """Release cached, unused GPU memory to the driver (no-op without cuda)."""
    _backend().empty_cache()


# --- random --------------------------------------------------------------------------------
def _default_generator(i):
    from plugtorch import random as _random
    from plugtorch._device import device
    dev = device("cuda", i)
    g = _random._defaults.get(dev)
    if g is None:
        g = _random._defaults[dev] = _random._new_default(dev)
    return g


def manual_seed(seed: int) -> None:
    """Seed the current cuda device's default generator (no-op without cuda, as in PyTorch)."""
    if is_available():
        _default_generator(current_device()).manual_seed(int(seed))


def manual_seed_all(seed: int) -> None:
    """Seed every cuda device's default generator."""
    for i in range(device_count()):
        _default_generator(i).manual_seed(int(seed))


def seed() -> None:
    if is_available():
        _default_generator(current_device()).seed()


def seed_all() -> None:
    import random as _pyrandom
    manual_seed_all(_pyrandom.getrandbits(63))


def get_rng_state(device="cuda"):
    """The cuda device's default generator state, a cpu uint8 tensor (CuPy's per-thread cuRAND
    Philox states: a few MB)."""
    from plugtorch import random as _random
    be = _require()
    return _random.device_rng_state(device if device != "cuda" else be.current_device(), "cuda")


def set_rng_state(new_state, device="cuda") -> None:
    """Restore a state ``get_rng_state`` gave."""
    from plugtorch import random as _random
    be = _require()
    _random.set_device_rng_state(new_state, device if device != "cuda" else be.current_device(), "cuda")


def get_rng_state_all() -> list:
    return [get_rng_state(i) for i in range(device_count())]


def set_rng_state_all(new_states) -> None:
    for i, st in enumerate(new_states):
        set_rng_state(st, i)


def initial_seed() -> int:
    return _default_generator(_require().current_device()).initial_seed()


def __getattr__(name):
    if name == "amp":      # (plugtorch.cuda.amp: the deprecated spellings, loaded on first use)
        import importlib
        return importlib.import_module("plugtorch.cuda.amp")
    raise AttributeError(f"module 'plugtorch.cuda' has no attribute '{name}'")
