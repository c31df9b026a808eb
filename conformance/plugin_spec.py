"""``--plugin [NAME=]module:attribute``: register a backend that no entry point installs.

The attribute names a ``Backend`` subclass, an instance, or a factory returning one (as an entry
point may). Its device type is NAME when given, else the backend's ``name`` attribute, else (for
a backend that keeps a built-in's name or none) the module's top-level package.

>>> load("mypkg.backend:MyBackend")          # doctest: +SKIP
'mydev'
"""
from __future__ import annotations

import importlib
import re
import traceback

import plugtorch as pt
from plugtorch.backends import BUILTIN_NAMES, Backend

_SPEC = re.compile(r"(?:(?P<name>\w+)\s*=\s*)?(?P<module>[\w.]+):(?P<attr>[\w.]+)")
LOADED: dict = {}     # device type -> the spec that registered it (reruns must name it again)


class PluginSpecError(ValueError):
    """A ``--plugin`` spec that does not name a usable backend; the message says why."""


def load(spec: str) -> str:
    """Register the backend ``spec`` names (once per process); returns its device type."""
    for name, known in LOADED.items():
        if known == spec and pt.backends.is_registered(name):
            return name
    m = _SPEC.fullmatch(spec.strip())
    if m is None:
        why = "no colon" if ":" not in spec else "not a dotted module path and attribute"
        raise PluginSpecError(f"--plugin {spec}: {why}; expected module:attribute naming a plugtorch "
                              "Backend subclass, instance or factory (e.g. --plugin mypkg.backend:MyBackend, "
                              "or --plugin mydev=mypkg.backend:MyBackend to choose the device type)")
    backend = _instantiate(spec, m["module"], m["attr"])
    name = m["name"] or _device_type(backend, m["module"])
    try:
        pt.backends.register(backend, name=name)
    except (RuntimeError, ValueError) as e:
        raise PluginSpecError(f"--plugin {spec}: cannot register it as device type '{name}': {e} "
                              f"(choose another with --plugin othername={m['module']}:{m['attr']})") from None
    LOADED[name] = spec
    return name


def _instantiate(spec, module_name, attr):
    try:
        obj = importlib.import_module(module_name)
    except Exception as e:   # the module's own errors too: show them, they are the author's to fix
        raise PluginSpecError(f"--plugin {spec}: module '{module_name}' cannot be imported: "
                              f"{type(e).__name__}: {e}{_where(e)}") from None
    path = module_name
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise PluginSpecError(f"--plugin {spec}: '{path}' has no attribute '{part}'")
        obj = getattr(obj, part)
        path = f"{path}.{part}"
    if isinstance(obj, Backend):
        return obj
    if not callable(obj):
        raise PluginSpecError(f"--plugin {spec}: '{path}' is a {type(obj).__name__}, not a plugtorch "
                              "Backend subclass, instance or factory")
    try:
        backend = obj()
    except Exception as e:
        raise PluginSpecError(f"--plugin {spec}: calling '{path}()' raised {type(e).__name__}: {e}"
                              f"{_where(e)}") from None
    if not isinstance(backend, Backend):
        raise PluginSpecError(f"--plugin {spec}: '{path}()' gave a {type(backend).__name__}, not a plugtorch "
                              "Backend (subclass plugtorch.backends.Backend; see docs/backends.md)")
    return backend


def _device_type(backend, module_name):
    name = getattr(backend, "name", None)
    if isinstance(name, str) and name not in ("", "?") and name not in BUILTIN_NAMES:
        return name
    return module_name.split(".")[0]


def _where(error):
    """The plug-in's last frames of the error's traceback (where it went wrong), on a new line."""
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if not f.filename.startswith("<frozen") and f.filename not in (__file__, importlib.__file__)]
    return "".join(["\n"] + traceback.format_list(frames[-3:])).rstrip() if frames else ""


def rerun_command(command: str, backend: str) -> str:
    """``command`` (a ``plugtorch-conformance`` line) with the ``--plugin`` that ``backend`` needs.

    >>> rerun_command("plugtorch-conformance --backend cpu --sample 3", "cpu")
    'plugtorch-conformance --backend cpu --sample 3'
    """
    spec = LOADED.get(backend)
    if spec is None or " --plugin " in command:
        return command
    head, sep, rest = command.partition(" ")
    return f"{head} --plugin {spec}{sep}{rest}"
