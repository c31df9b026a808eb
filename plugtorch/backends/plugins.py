"""Entry-point plug-ins: find them in installed distributions, load them lazily, and report
the ones that fail without letting them break plugtorch.

A distribution declares ``[project.entry-points."plugtorch.backends"] mydev = "mypkg:MyBackend"``;
the object named may be a Backend subclass, a factory returning a Backend, or an instance.
"""
from __future__ import annotations

import importlib
import os
import warnings
from typing import NamedTuple

ENTRY_POINT_GROUP = "plugtorch.backends"


class PluginFailure(NamedTuple):
    """A plug-in that failed to load, as ``plugtorch.backends.list()`` reports it."""

    name: str      # the device type the entry point declares
    origin: str    # "<distribution> <version>"
    error: str     # "<ExceptionType>: <message>"


_entries: list | None = None   # discovered entry points (None: not scanned yet)
_tried: set = set()            # (origin, name, value) already loaded or failed
_failures: dict = {}           # (origin, name) -> PluginFailure


def autoload_enabled() -> bool:
    """False when ``PLUGTORCH_BACKEND_AUTOLOAD=0`` turns plug-in loading off."""
    return os.environ.get("PLUGTORCH_BACKEND_AUTOLOAD", "1").strip().lower() not in ("0", "false", "no", "off")


def _discover() -> list:
    from importlib.metadata import entry_points
    return [*entry_points(group=ENTRY_POINT_GROUP)]


def origin_of(ep) -> str:
    """Where entry point ``ep`` comes from: ``"<distribution> <version>"`` (shown in reports)."""
    dist = getattr(ep, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else f"entry point {ep.value}"


def load(register, *, only=None, rescan=False) -> list:
    """Load plug-ins not tried yet (all, or only those for device type ``only``).

    ``register(name, backend, origin)`` adds a loaded backend to the registry and raises on a
    name clash. Returns the failures so far.
    """
    global _entries
    if not autoload_enabled():
        return failures()
    if rescan:
        importlib.invalidate_caches()
        _entries = None
        _failures.clear()
        _tried.difference_update({k for k in _tried if (k[0], k[1]) not in _loaded_keys()})
    if _entries is None or (only is not None and all(ep.name != only for ep in _entries)):
        if _entries is not None:   # an unknown device type: perhaps installed since the last scan
            importlib.invalidate_caches()
        _entries = _discover()
    for ep in _entries:
        if only is not None and ep.name != only:
            continue
        origin = origin_of(ep)
        key = (origin, ep.name, ep.value)
        if key in _tried:
            continue
        _tried.add(key)
        try:
            register(ep.name, _instantiate(ep), origin)
        except Exception as e:  # noqa: BLE001  (a broken plug-in must never break plugtorch)
            err = f"{type(e).__name__}: {e}"
            _failures[origin, ep.name] = PluginFailure(ep.name, origin, err)
            warnings.warn(f"plugtorch: the backend plug-in '{ep.name}' from distribution {origin} "
                          f"failed to load and was skipped ({err}); other backends are unaffected",
                          RuntimeWarning, stacklevel=4)
    return failures()


def _loaded_keys() -> set:
    from plugtorch.backends import _ORIGINS
    return {(origin, name) for name, origin in _ORIGINS.items()}


def _instantiate(ep):
    from plugtorch.backends.base import Backend
    obj = ep.load()   # ImportError etc. propagate, and are reported by load()
    if isinstance(obj, Backend):
        return obj
    if not callable(obj):
        raise TypeError(f"entry point '{ep.name} = {ep.value}' names a {type(obj).__name__}, not a "
                        "plugtorch.backends.Backend subclass or a factory returning one")
    try:
        be = obj()
    except Exception as e:
        raise RuntimeError(f"constructing the backend ({ep.value}) raised "
                           f"{type(e).__name__}: {e}") from e
    if not isinstance(be, Backend):
        raise TypeError(f"entry point '{ep.name} = {ep.value}' gave a {type(be).__name__}, not a "
                        "plugtorch.backends.Backend (subclass plugtorch.backends.Backend)")
    return be


def failures() -> list:
    """Every plug-in that failed to load so far."""
    return [*_failures.values()]


def failure(name) -> PluginFailure | None:
    """The failure of the plug-in for device type ``name``, or None."""
    for f in _failures.values():
        if f.name == name:
            return f
    return None


def forget(name) -> None:
    """Drop the failure records of device type ``name`` (it was unregistered)."""
    for key in [k for k in _failures if k[1] == name]:
        del _failures[key]
