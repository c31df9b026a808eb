"""Backend registry: built-ins, programmatic registration and entry-point plug-ins.

>>> import plugtorch
>>> [b["name"] for b in plugtorch.backends.list()][:1]
['cpu']
"""
from __future__ import annotations

import builtins
import os
import warnings

from plugtorch.backends.base import Backend

__all__ = ["Backend", "register", "unregister", "get_backend", "list", "default_device",
           "is_registered", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "plugtorch.backends"

_BACKENDS: dict = {}          # name -> Backend instance
_ORIGINS: dict = {}           # name -> "built-in" | "dist-name version" | "runtime"
_LAZY_BUILTINS = {
    "opencl": "plugtorch.backends.opencl:OpenCLBackend",
    "cuda": "plugtorch.backends.cuda:CUDABackend",
}
_PLUGINS_LOADED = False
_PLUGIN_ERRORS: dict = {}     # name -> error text


def register(backend, *, name: str | None = None, origin: str = "runtime", replace: bool = False) -> Backend:
    """Register a backend instance (or class) so ``device=name`` works everywhere.

    >>> class MyBackend(plugtorch.backends.Backend): name = "mydev"   # doctest: +SKIP
    >>> plugtorch.backends.register(MyBackend())                        # doctest: +SKIP
    """
    if isinstance(backend, type):
        backend = backend()
    if not isinstance(backend, Backend):
        raise TypeError(f"register(): expected a plugtorch.backends.Backend, got {type(backend).__name__}")
    name = name or backend.name
    if not name or not name.replace("_", "").isalnum():
        raise ValueError(f"register(): invalid device type name {name!r}")
    backend.name = name
    if name in _BACKENDS and not replace:
        raise RuntimeError(f"register(): a backend for device type '{name}' is already registered "
                           f"({_ORIGINS.get(name)}); unregister it first or pass replace=True")
    _BACKENDS[name] = backend
    _ORIGINS[name] = origin
    backend.origin = origin
    _forget_devices(name)
    return backend


def unregister(name: str) -> None:
    if name == "cpu":
        raise RuntimeError("unregister(): the cpu backend is the reference and cannot be removed")
    _BACKENDS.pop(name, None)
    _ORIGINS.pop(name, None)
    _forget_devices(name)


def _forget_devices(name):
    from plugtorch._device import _INTERNED
    for d in _INTERNED.values():
        if d.type == name:
            d._backend = None


def is_registered(name: str) -> bool:
    return name in _BACKENDS or name in _LAZY_BUILTINS


def _load_builtin(name):
    import importlib
    mod, cls = _LAZY_BUILTINS[name].split(":")
    be = getattr(importlib.import_module(mod), cls)()
    register(be, origin="built-in")
    return be


def get_backend(name: str) -> Backend:
    be = _BACKENDS.get(name)
    if be is not None:
        return be
    if name in _LAZY_BUILTINS:
        return _load_builtin(name)
    load_plugins()
    be = _BACKENDS.get(name)
    if be is not None:
        return be
    if name in _PLUGIN_ERRORS:
        raise RuntimeError(f"device type '{name}': its backend failed to load: {_PLUGIN_ERRORS[name]}")
    known = sorted(set(_BACKENDS) | set(_LAZY_BUILTINS))
    raise RuntimeError(f"Expected one of {', '.join(known)} device type at start of device string: "
                       f"'{name}' (no backend is registered for it; install its plug-in package or "
                       "call plugtorch.backends.register)")


def load_plugins() -> None:
    """Load the backends that installed distributions declare under ``plugtorch.backends``."""
    global _PLUGINS_LOADED
    if _PLUGINS_LOADED:
        return
    _PLUGINS_LOADED = True
    if os.environ.get("PLUGTORCH_BACKEND_AUTOLOAD", "1") == "0":
        return
    from importlib.metadata import entry_points
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        origin = f"{dist.name} {dist.version}" if dist is not None else ep.value
        try:
            if ep.name in _BACKENDS or ep.name in _LAZY_BUILTINS:
                raise RuntimeError(f"device type '{ep.name}' clashes with an already registered "
                                   f"backend ({_ORIGINS.get(ep.name, 'built-in')})")
            obj = ep.load()
            be = obj() if callable(obj) and not isinstance(obj, Backend) else obj
            if not isinstance(be, Backend):
                raise TypeError(f"entry point '{ep.name} = {ep.value}' gave {type(be).__name__}, "
                                "not a plugtorch.backends.Backend")
            register(be, name=ep.name, origin=origin)
        except Exception as e:  # a broken plug-in must never break plugtorch
            _PLUGIN_ERRORS[ep.name] = f"{type(e).__name__}: {e} (from {origin})"
            warnings.warn(f"plugtorch: the backend plug-in '{ep.name}' from {origin} failed to load: "
                          f"{type(e).__name__}: {e}", RuntimeWarning, stacklevel=2)


def list() -> builtins.list:
    """Every known backend: name, origin, devices and status (ok / unavailable / failed)."""
    load_plugins()
    out = []
    for name in ["cpu", *sorted(_LAZY_BUILTINS), *sorted(set(_BACKENDS) - {"cpu"} - set(_LAZY_BUILTINS))]:
        entry = {"name": name, "origin": _ORIGINS.get(name, "built-in"), "devices": [], "status": "ok"}
        try:
            be = get_backend(name)
            if be.is_available():
                entry["devices"] = [f"{name}:{i} ({be.device_name(i)})" if name != "cpu" else f"cpu ({be.device_name(0)})"
                                    for i in range(be.device_count())]
            else:
                entry["status"] = f"unavailable: {be.unavailable_reason()}"
        except Exception as e:
            entry["status"] = f"failed to load: {type(e).__name__}: {e}"
        out.append(entry)
    for name, err in _PLUGIN_ERRORS.items():
        out.append({"name": name, "origin": err.rsplit("(from ", 1)[-1].rstrip(")"), "devices": [],
                    "status": f"failed to load: {err}"})
    return out


def available() -> builtins.list:
    """Names of backends that have at least one usable device."""
    names = []
    for e in list():
        if e["status"] == "ok" and e["devices"]:
            names.append(e["name"])
    return names


def default_device():
    from plugtorch._device import device
    return device(_default_device_type)


_default_device_type = "cpu"


def _register_cpu():
    from plugtorch.backends.cpu import CPUBackend
    register(CPUBackend(), origin="built-in")
