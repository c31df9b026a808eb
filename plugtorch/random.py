"""Random state: ``manual_seed``, ``seed``, ``Generator``; one stream per backend device.

>>> import plugtorch as pt
>>> _ = pt.manual_seed(0); a = pt.rand(3)
>>> _ = pt.manual_seed(0); bool((a == pt.rand(3)).all())
True
"""
from __future__ import annotations

import contextlib
import random as _pyrandom

_DEFAULT_RNG_SEED = 67280421310721   # a fresh Generator's seed, as PyTorch's default_rng_seed_val
_default_seed = _DEFAULT_RNG_SEED
_defaults: dict = {}   # device -> backend generator state
_MASK64 = (1 << 64) - 1


def _seed_value(seed) -> int:
    """A seed as PyTorch keeps it: an int in [-2**63, 2**64), stored as its uint64 bits."""
    if seed.__class__ is bool or not hasattr(seed, "__index__"):
        raise RuntimeError(f"manual_seed expected a long, but got {type(seed).__name__}")
    seed = seed.__index__()
    if not -(1 << 63) <= seed <= _MASK64:
        raise ValueError(f"Overflow when unpacking long long: manual_seed takes a seed in [-2**63, 2**64), got {seed}")
    return seed & _MASK64


class Generator:
    """A random-number stream on one device (``plugtorch.Generator("opencl").manual_seed(1)``)."""

    def __init__(self, device="cpu"):
        from plugtorch._device import canonical
        self.device = canonical(device)
        self._seed = _DEFAULT_RNG_SEED
        self._state = None

    def manual_seed(self, seed: int) -> "Generator":
        seed = _seed_value(seed)
        self._reseed(seed)
        _traced_reset(self, "seed", seed)
        return self

    def _reseed(self, seed: int) -> None:
        self._seed = seed
        self._state = _backend(self.device).new_generator(self.device.index, seed & ((1 << 64) - 1))

    def seed(self) -> int:
        s = _pyrandom.getrandbits(63)
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def _get(self):
        if self._state is None:   # (made on first use: not a seeding the program did, so not recorded)
            self._state = _backend(self.device).new_generator(self.device.index, self._seed & ((1 << 64) - 1))
        return self._state

    def get_state(self):
        """The stream's state as a cpu uint8 tensor (the seed, then the backend's state): draws
        after ``set_state`` of it repeat those after this call."""
        import numpy as np
        from plugtorch import _ops_public
        raw = (self._seed & ((1 << 64) - 1)).to_bytes(8, "little") + _backend(self.device).generator_state(self._get())
        out = _ops_public.from_numpy(np.frombuffer(raw, dtype=np.uint8).copy())
        rec = _recorder()
        if rec is not None:     # plugtorch.jit: a state read while tracing differs at each replay
            rec.rng_state_read(out)
        return out

    def set_state(self, new_state) -> "Generator":
        """Restore a state ``get_state`` gave (a uint8 tensor)."""
        from plugtorch import _dtypes
        from plugtorch._tensor import Tensor
        if not isinstance(new_state, Tensor):
            raise TypeError(f"expected a torch.ByteTensor, but got {type(new_state).__name__}")
        if new_state.dtype is not _dtypes.uint8:
            raise TypeError(f"RNG state must be a torch.ByteTensor (uint8), got {new_state.dtype}")
        raw = bytes(new_state.detach().to("cpu").contiguous().numpy().tobytes())
        if len(raw) < 8:
            raise RuntimeError(f"Expected an RNG state of more than 8 bytes for a '{self.device.type}' generator but "
                               f"found the input RNG state size to be {len(raw)}")
        state = _backend(self.device).new_generator(self.device.index, 0) if self._state is None else self._state
        _backend(self.device).set_generator_state(state, raw[8:])
        self._seed = int.from_bytes(raw[:8], "little")
        self._state = state
        _traced_reset(self, "state", new_state)
        return self

    def clone_state(self) -> "Generator":
        """A new generator of the same device whose draws repeat this one's from here on."""
        g = Generator(self.device)
        return g.set_state(self.get_state())


def _recorder():
    from plugtorch.dispatch import dispatcher as D
    return D._stack.recorder if D._modes else None


def _traced_reset(gen, kind, value):
    """plugtorch.jit: the traced program seeds ``gen`` or sets its state; the graph does it too."""
    rec = _recorder()
    if rec is not None:
        rec.generator_reset(gen, kind, value)


def _backend(dev):
    from plugtorch.dispatch.dispatcher import _resolve_backend
    return dev._backend or _resolve_backend(dev)


def _backend_generator(dev, generator):
    if generator is not None:
        if not isinstance(generator, Generator):
            raise TypeError(f"generator must be a plugtorch.Generator, not {type(generator).__name__}")
        if generator.device != dev:
            raise RuntimeError(f"Expected a '{dev.type}' device type for generator but found '{generator.device.type}'")
        return generator._get()
    g = _defaults.get(dev)
    if g is None:
        g = _defaults[dev] = _new_default(dev)
    return g._get()


def _new_default(dev) -> Generator:
    """A device's default generator, made on first use: seeded with ``initial_seed()``."""
    g = Generator(dev)
    g._seed = _default_seed
    return g


def manual_seed(seed: int) -> Generator:
    """Seed every device's default generator; runs after the same seed repeat exactly."""
    global _default_seed
    _default_seed = _seed_value(int(seed))
    for g in _defaults.values():
        g._reseed(_default_seed)
    # (one node for the program's call: it also seeds the generators made after it, on first use)
    _traced_reset(None, "global", _default_seed)
    return _cpu_generator()


def _cpu_generator() -> Generator:
    """The cpu default generator (``plugtorch.default_generator``)."""
    from plugtorch._device import device
    dev = device("cpu")
    g = _defaults.get(dev)
    if g is None:
        g = _defaults[dev] = _new_default(dev)
    return g


# the cpu default generator, an object as PyTorch's (``plugtorch.default_generator.manual_seed(0)``);
# made here, so fork_rng and the others never replace it
default_generator = _cpu_generator()


def seed() -> int:
    s = _pyrandom.getrandbits(63)
    manual_seed(s)
    return s


def initial_seed() -> int:
    """The cpu default generator's seed (``default_generator.manual_seed(s)`` sets it too)."""
    return default_generator.initial_seed()


def default_generator_for(dev) -> Generator:
    """The default generator of device ``dev`` (made on first use, seeded with ``initial_seed()``)."""
    from plugtorch._device import canonical
    dev = canonical(dev)
    g = _defaults.get(dev)
    if g is None:
        g = _defaults[dev] = _new_default(dev)
    return g


def _device_of(device, kind):
    from plugtorch._device import canonical
    from plugtorch._device import device as _dev
    if isinstance(device, int):
        return canonical(_dev(kind, device))
    d = canonical(device)
    if d.type != kind:
        raise RuntimeError(f"expected a '{kind}' device, got '{d}'")
    return d


def device_rng_state(device, kind):
    """``plugtorch.cuda.get_rng_state(device)`` and the opencl one: that device's default stream."""
    return default_generator_for(_device_of(device, kind)).get_state()


def set_device_rng_state(new_state, device, kind) -> None:
    default_generator_for(_device_of(device, kind)).set_state(new_state)


def get_rng_state():
    """The default cpu generator's state, a uint8 tensor (``set_rng_state`` restores it)."""
    return _cpu_generator().get_state()


def set_rng_state(new_state) -> None:
    """Restore the default cpu generator to ``new_state`` (from ``get_rng_state``).

    >>> import plugtorch as pt
    >>> s = pt.get_rng_state(); a = pt.rand(2); pt.set_rng_state(s)
    >>> bool((a == pt.rand(2)).all())
    True
    """
    _cpu_generator().set_state(new_state)


def _current_index(dev):
    # 'opencl' names the current device: its generator is keyed 'opencl:<index>'
    if dev.index is not None or dev.type == "cpu":
        return dev
    from plugtorch._device import canonical
    try:
        return canonical(dev)
    except Exception:   # a backend that is not available: no generator of it to fork
        return dev


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices", device_type=None):
    """Within the block, draw from the default generators freely: on leaving, they are back where
    they were (``manual_seed`` inside included). With ``devices`` (indices of ``device_type``,
    'cuda' by default, as PyTorch's), the cpu generator and those devices' are forked; without it,
    every device's."""
    from plugtorch._device import device
    global _default_seed
    if not enabled:
        yield
        return
    if devices is None:
        targets = None
    else:
        kind = device_type or "cuda"
        targets = {device("cpu")} | {_current_index(device(d)) if isinstance(d, (str, device)) and not str(d).isdigit()
                                     else device(kind, int(d)) for d in devices}
    saved_seed = _default_seed
    saved = {}
    for dev, g in list(_defaults.items()):
        if targets is None or dev in targets:
            saved[dev] = (g._seed, None if g._state is None else _backend(dev).generator_state(g._state))
    try:
        yield
    finally:
        rec = _recorder()
        if rec is not None and (any(d not in saved and (targets is None or d in targets) for d in _defaults) or any(
                (g._seed, None if g._state is None else _backend(dev).generator_state(g._state)) != saved[dev]
                for dev, g in list(_defaults.items()) if dev in saved)):
            rec.generator_restored()    # (plugtorch.jit: the block changed a generator it restores)
        _default_seed = saved_seed
        for dev in list(_defaults):
            if dev in saved:
                g = _defaults[dev]
                g._seed, raw = saved[dev]
                if raw is None:
                    g._state = None
                else:
                    _backend(dev).set_generator_state(g._get(), raw)
            elif targets is None or dev in targets:
                del _defaults[dev]   # first used inside: as if never used
