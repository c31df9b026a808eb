"""Entry-point plug-ins: find them in installed distributions, load them lazily, and report
the ones that fail without letting them break plugtorch.

A distribution declares ``[project.entry-points."plugtorch.backends"] mydev = "mypkg:MyBackend"``;
the object named may be a Backend subclass, a factory returning a Backend, or an instance.

A plug-in that raises while it loads (any Exception, or SystemExit) is recorded as a failure and
reported as such every time it is asked for; one interrupted (KeyboardInterrupt) is tried again
next time. The functions here keep module state: callers hold the backend registry's lock
(``plugtorch.backends._LOCK``).
"""
from __future__ import annotations

import importlib
import os
import re
import warnings
from typing import NamedTuple

ENTRY_POINT_GROUP = "plugtorch.backends"

# "module:attribute" (dotted names both), optionally followed by extras, as the spec allows
_OBJECT_REFERENCE = re.compile(r"\s*(?P<module>[\w.]+)\s*:\s*(?P<attr>[\w.]+)\s*(\[.*\])?\s*")


class PluginFailure(NamedTuple):
    """A plug-in that failed to load, as ``plugtorch.backends.list()`` reports it."""

    name: str          # the device type the entry point declares
    origin: str        # "<distribution> <version>"
    error: str         # "<ExceptionType>: <message>"
    entry_point: str   # "<name> = <value>", as the distribution declares it


_entries: list | None = None   # discovered entry points (None: not scanned yet)
_tried: set = set()            # (origin, name, value) loaded or failed
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


def describe(error: BaseException) -> str:
    """``"<ExceptionType>: <message>"`` (just the type when the message is empty).

    >>> describe(SystemExit(3)), describe(SystemExit())
    ('SystemExit: 3', 'SystemExit')
    """
    message = str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


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
        except (Exception, SystemExit) as e:  # noqa: BLE001  (a broken plug-in never breaks plugtorch)
            _fail(ep, origin, describe(e))
        except BaseException:   # KeyboardInterrupt, GeneratorExit: stop, and try it again next time
            _tried.discard(key)
            raise
    return failures()


def _fail(ep, origin, error):
    failure = PluginFailure(ep.name, origin, error, f"{ep.name} = {ep.value}")
    _failures[origin, ep.name] = failure
    warnings.warn(f"plugtorch: the backend plug-in '{ep.name}' from distribution {origin} (entry "
                  f"point '{failure.entry_point}') failed to load and was skipped ({error}); other "
                  "backends are unaffected", RuntimeWarning, stacklevel=5)


def _loaded_keys() -> set:
    from plugtorch.backends import _ORIGINS
    return {(origin, name) for name, origin in _ORIGINS.items()}


def _load_object(ep):
    """The object entry point ``ep`` names; errors name the entry point when it is malformed."""
    where = f"entry point '{ep.name} = {ep.value}'"
    ref = _OBJECT_REFERENCE.fullmatch(ep.value)
    if ref is None:
        raise ValueError(f"{where} is malformed: expected 'module:attribute' (e.g. "
                         f"'{ep.name} = mypkg:MyBackend')")
    module_name = ref["module"]
    try:
        obj = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name is None or not (module_name == e.name or module_name.startswith(e.name + ".")):
            raise   # the plug-in's module imports something missing: its own error says what
        raise ModuleNotFoundError(f"{where} names module '{module_name}', which is not installed "
                                  f"(No module named '{e.name}')", name=e.name) from None
    # the plug-in's own import errors (any Exception, SystemExit) propagate, and load() reports them
    path = module_name
    for attr in ref["attr"].split("."):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            raise AttributeError(f"{where} names '{ref['attr']}', but '{path}' has no attribute "
                                 f"'{attr}'") from None
        path = f"{path}.{attr}"
    return obj


def _instantiate(ep):
    from plugtorch.backends.base import Backend
    obj = _load_object(ep)
    if isinstance(obj, Backend):
        return obj
    if not callable(obj):
        raise TypeError(f"entry point '{ep.name} = {ep.value}' names a {type(obj).__name__}, not a "
                        "plugtorch.backends.Backend subclass or a factory returning one")
    try:
        be = obj()
    except (Exception, SystemExit) as e:
        raise RuntimeError(f"constructing the backend ({ep.value}) raised {describe(e)}") from e
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
