"""Random state: ``manual_seed``, ``seed``, ``Generator``; one stream per backend device.

>>> import plugtorch as pt
>>> _ = pt.manual_seed(0); a = pt.rand(3)
>>> _ = pt.manual_seed(0); bool((a == pt.rand(3)).all())
True
"""
from __future__ import annotations

import random as _pyrandom

_default_seed = 67280421310721
_defaults: dict = {}   # device -> backend generator state


class Generator:
    """A random-number stream on one device (``plugtorch.Generator("opencl").manual_seed(1)``)."""

    def __init__(self, device="cpu"):
        from plugtorch._device import canonical
        self.device = canonical(device)
        self._seed = _default_seed
        self._state = None

    def manual_seed(self, seed: int) -> "Generator":
        seed = int(seed)
        self._seed = seed
        self._state = _backend(self.device).new_generator(self.device.index, seed & ((1 << 64) - 1))
        return self

    def seed(self) -> int:
        s = _pyrandom.getrandbits(63)
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def _get(self):
        if self._state is None:
            self.manual_seed(self._seed)
        return self._state


def _backend(dev):
    from plugtorch.dispatch.dispatcher import _resolve_backend
    return dev._backend or _resolve_backend(dev)


def _backend_generator(dev, generator):
    if generator is not None:
        if generator.device != dev:
            raise RuntimeError(f"Expected a '{dev.type}' device type for generator but found '{generator.device.type}'")
        return generator._get()
    g = _defaults.get(dev)
    if g is None:
        g = _defaults[dev] = Generator(dev)
    return g._get()


def manual_seed(seed: int) -> Generator:
    """Seed every device's default generator; runs after the same seed repeat exactly."""
    global _default_seed
    _default_seed = int(seed)
    for g in _defaults.values():
        g.manual_seed(seed)
    from plugtorch._device import device
    return default_generator()


def default_generator() -> Generator:
    from plugtorch._device import device
    dev = device("cpu")
    g = _defaults.get(dev)
    if g is None:
        g = _defaults[dev] = Generator(dev)
    return g


def seed() -> int:
    s = _pyrandom.getrandbits(63)
    manual_seed(s)
    return s


def initial_seed() -> int:
    return _default_seed
