"""The backend registry: built-ins, backends registered at run time, and entry-point plug-ins.

A device type (``"cpu"``, ``"opencl"``, ``"mydev"``) names one backend. Built-ins load on first
use; plug-ins, which installed distributions declare under the entry-point group
``plugtorch.backends``, load at the first use of an unknown device type or when listing, so
``import plugtorch`` stays fast and a broken plug-in never breaks it.

>>> import plugtorch
>>> [b["name"] for b in plugtorch.backends.list()][:1]
['cpu']
"""
from __future__ import annotations

import builtins
import importlib
import sys
import threading

from plugtorch import _device
from plugtorch.backends import plugins as _plugins
from plugtorch.backends.base import Backend

__all__ = ["Backend", "ArrayAPIBackend", "register", "unregister", "get_backend", "list",
           "available", "default_device", "is_registered", "load_plugins", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = _plugins.ENTRY_POINT_GROUP

_BACKENDS = _device.BACKENDS  # device type -> Backend instance (the table lives in _device)
_ORIGINS: dict = {}           # device type -> "built-in" | "runtime" | "<distribution> <version>"
_LAZY_BUILTINS = {
    "opencl": "plugtorch.backends.opencl:OpenCLBackend",
    "cuda": "plugtorch.backends.cuda:CUDABackend",
    "meta": "plugtorch.backends.meta:MetaBackend",
}
BUILTIN_NAMES = frozenset({"cpu", *_LAZY_BUILTINS})
# Guards the registry and plug-in loading, so that threads asking for a backend at once load it
# once and all get it. Reentrant: loading a plug-in registers it, and its import may register more.
_LOCK = threading.RLock()


def register(backend, *, name: str | None = None, origin: str = "runtime",
             replace: bool = False) -> Backend:
    """Register a backend (an instance, or a class to instantiate) under a device type.

    Afterwards ``device="mydev:0"``, ``Tensor.to("mydev")`` and ``Module.to("mydev")`` work.

    >>> class MyBackend(plugtorch.backends.ArrayAPIBackend): ...     # doctest: +SKIP
    >>> plugtorch.backends.register(MyBackend(numpy), name="mydev")   # doctest: +SKIP
    """
    if isinstance(backend, type):
        backend = backend()
    if not isinstance(backend, Backend):
        raise TypeError(f"register(): expected a plugtorch.backends.Backend instance or subclass, "
                        f"got {type(backend).__name__}; subclass plugtorch.backends.Backend "
                        "(see docs/backends.md)")
    name = backend.name if name is None else name
    if not isinstance(name, str) or not name or not name.replace("_", "").isalnum() or name[0].isdigit():
        raise ValueError(f"register(): invalid device type name {name!r}: use letters, digits and "
                         "underscores, starting with a letter (e.g. 'mydev')")
    with _LOCK:
        return _add(backend, name, origin, replace)


def _add(backend, name, origin, replace):
    if not replace:
        if name in BUILTIN_NAMES and origin != "built-in":
            raise RuntimeError(f"register(): device type '{name}' is reserved for plugtorch's "
                               "built-in backend; pick another name or pass replace=True")
        if name in _BACKENDS:
            raise RuntimeError(f"register(): device type '{name}' is already registered (from "
                               f"{_ORIGINS.get(name)}); unregister it first or pass replace=True")
    backend.name = name
    backend.origin = origin
    _BACKENDS[name] = backend
    _ORIGINS[name] = origin
    _forget_devices(name)
    library = sys.modules.get("plugtorch.library")   # custom kernels waiting for this backend
    if library is not None:
        library._install_kernels_for(name, backend)
    return backend


def unregister(name: str) -> None:
    """Remove the backend for device type ``name``; tensors already on it become unusable.

    >>> plugtorch.backends.unregister("mydev")   # doctest: +SKIP
    """
    if name == "cpu":
        raise RuntimeError("unregister(): the cpu backend is the reference and cannot be removed")
    with _LOCK:
        _remove(name)


def _remove(name):
    if name not in _BACKENDS:
        raise RuntimeError(f"unregister(): no backend is registered for device type '{name}' "
                           f"(registered: {', '.join(sorted(_BACKENDS))})")
    del _BACKENDS[name]
    _ORIGINS.pop(name, None)
    _plugins.forget(name)
    _forget_devices(name)
    from plugtorch import random
    for dev in [d for d in random._defaults if d.type == name]:
        del random._defaults[dev]


def _forget_devices(name):
    # devices cache their backend and its kernels, ops their dispatch decisions: forget them
    _device.forget_backend(name)


def is_registered(name: str) -> bool:
    """Whether ``name`` is a known device type (loading plug-ins if needed).

    >>> plugtorch.backends.is_registered("cpu"), plugtorch.backends.is_registered("nosuchdev")
    (True, False)
    """
    if name in _BACKENDS or name in _LAZY_BUILTINS:
        return True
    with _LOCK:
        load_plugins(only=name)
        return name in _BACKENDS


def _load_builtin(name):
    mod, cls = _LAZY_BUILTINS[name].split(":")
    be = getattr(importlib.import_module(mod), cls)()
    return register(be, origin="built-in", replace=True)


def get_backend(name: str) -> Backend:
    """The backend for device type ``name``, loading a built-in or plug-in on first use.

    >>> plugtorch.backends.get_backend("cpu").name
    'cpu'
    """
    be = _BACKENDS.get(name)
    if be is not None:
        return be
    with _LOCK:   # one thread loads it; the others wait, then find it registered
        return _load_backend(name)


def _load_backend(name):
    be = _BACKENDS.get(name)
    if be is not None:
        return be
    if name in _LAZY_BUILTINS:
        return _load_builtin(name)
    load_plugins(only=name)
    be = _BACKENDS.get(name)
    if be is not None:
        return be
    failure = _plugins.failure(name)
    if failure is not None:
        raise RuntimeError(f"device type '{name}': its backend plug-in from {failure.origin} (entry "
                           f"point '{failure.entry_point}') failed to load: {failure.error}")
    known = sorted(set(_BACKENDS) | set(_LAZY_BUILTINS))
    hint = (" (plug-in loading is off: PLUGTORCH_BACKEND_AUTOLOAD=0)" if not _plugins.autoload_enabled()
            else "; install its plug-in package or call plugtorch.backends.register")
    raise RuntimeError(f"Expected one of {', '.join(known)} device type at start of device string: "
                       f"'{name}' has no registered backend{hint}")


def load_plugins(*, only: str | None = None, rescan: bool = False) -> builtins.list:
    """Load the backends installed distributions declare under ``plugtorch.backends``.

    Runs by itself when needed; call it with ``rescan=True`` after installing a plug-in package
    in a running session. Returns the failures (each with ``name``, ``origin``, ``error``).
    """
    with _LOCK:
        return _plugins.load(_register_plugin, only=only, rescan=rescan)


def _register_plugin(name, backend, origin):
    if name in BUILTIN_NAMES:
        raise RuntimeError(f"device type '{name}' clashes with plugtorch's built-in backend; "
                           "the plug-in must pick another name")
    if name in _BACKENDS:
        raise RuntimeError(f"device type '{name}' clashes with the backend already registered "
                           f"from {_ORIGINS.get(name)}")
    register(backend, name=name, origin=origin)


def list() -> builtins.list:
    """Every known backend: device type, origin, devices and status.

    Each entry is a dict: ``name`` (the device type), ``origin`` (``built-in``, ``runtime`` or
    the distribution's name and version), ``devices`` and ``status`` (``ok``,
    ``unavailable: <why>`` or ``failed to load: <error>``).

    >>> plugtorch.backends.list()[0]["status"]
    'ok'
    """
    with _LOCK:
        failures = load_plugins()
        # (not meta: it holds no data and computes nothing, so it is no device to run or test on,
        # as PyTorch lists no meta accelerator; device="meta" always works)
        names = ["cpu", *sorted(n for n in _LAZY_BUILTINS if n != "meta"), *sorted(set(_BACKENDS) - BUILTIN_NAMES)]
        origins = dict(_ORIGINS)
    out = []
    for name in names:
        entry = {"name": name, "origin": origins.get(name, "built-in"), "devices": [], "status": "ok"}
        try:
            be = get_backend(name)
            if be.is_available():
                n = be.device_count()
                entry["devices"] = ["cpu"] if name == "cpu" else [f"{name}:{i}" for i in range(n)]
            else:
                entry["status"] = f"unavailable: {be.unavailable_reason()}"
        except (Exception, SystemExit) as e:  # noqa: BLE001  (a broken backend is reported, never raised)
            entry["status"] = f"failed to load: {_plugins.describe(e)}"
        out.append(entry)
    for f in failures:
        out.append({"name": f.name, "origin": f.origin, "devices": [],
                    "status": f"failed to load: {f.error}"})
    return out


def summary() -> str:
    """``list()`` as a table, for printing; below it, what backends declare about their own ops
    (``Backend.declarations()``: a capability they lack, a kernel repaired or run on cpu)."""
    entries = list()
    rows = [(e["name"], e["origin"], ", ".join(e["devices"]) or "-", e["status"]) for e in entries]
    head = ("device type", "origin", "devices", "status")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    table = "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [head, *rows])
    notes = [f"{e['name']}: {line}" for e in entries if e["status"] == "ok"
             for line in get_backend(e["name"]).declarations()]
    return table + ("\n\n" + "\n".join(notes) if notes else "")


def available() -> builtins.list:
    """Names of backends that have at least one usable device.

    >>> "cpu" in plugtorch.backends.available()
    True
    """
    return [e["name"] for e in list() if e["status"] == "ok" and e["devices"]]


def default_device():
    """The device tensors are made on when no ``device=`` is given: cpu unless
    ``plugtorch.set_default_device`` or ``PLUGTORCH_DEFAULT_DEVICE`` chose another.

    >>> plugtorch.backends.default_device()
    device(type='cpu')
    """
    return _device.get_default_device()


def _register_cpu():
    from plugtorch.backends.cpu import CPUBackend
    register(CPUBackend(), origin="built-in")


_device.set_backend_loader(get_backend)


def __getattr__(name):
    if name == "ArrayAPIBackend":  # imported on first use: it needs array-api-compat
        from plugtorch.backends.array_api import ArrayAPIBackend
        globals()[name] = ArrayAPIBackend
        return ArrayAPIBackend
    raise AttributeError(f"module 'plugtorch.backends' has no attribute '{name}'")
