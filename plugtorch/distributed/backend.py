"""Process-group backends: the table from a backend name to the function that creates a group.

``mpi`` (mpi4py) is built in, ``nccl`` (CuPy's NCCL bindings, cuda tensors) is known and imports
CuPy only when used, and third parties add more, either at run time::

    plugtorch.distributed.Backend.register_backend("mybackend", create_my_group)

or from a package, loaded lazily the first time the name is asked for::

    [project.entry-points."plugtorch.distributed_backends"]
    mybackend = "mypkg:create_my_group"

A creator is called as ``func(store, group_rank, group_size, timeout)`` (``store`` is None:
MPI's launcher replaces PyTorch's rendezvous store) and returns an object with the methods of
``plugtorch.distributed.mpi.MPIProcessGroup`` (see docs/distributed.md).
"""
from __future__ import annotations

import importlib

ENTRY_POINT_GROUP = "plugtorch.distributed_backends"


def _create_mpi(store, group_rank, group_size, timeout):
    from plugtorch.distributed.mpi import MPIProcessGroup
    return MPIProcessGroup.create_world(group_rank, group_size, timeout)


def _create_nccl(store, group_rank, group_size, timeout):
    from plugtorch.distributed.nccl import NCCLProcessGroup
    return NCCLProcessGroup.create_world(group_rank, group_size, timeout)


class Backend(str):
    """A process-group backend's name (a lower-case str), and the table of backends.

    >>> Backend("MPI"), Backend.MPI
    ('mpi', 'mpi')
    """

    UNDEFINED = "undefined"
    MPI = "mpi"
    NCCL = "nccl"
    GLOO = "gloo"

    _creators: dict = {"mpi": _create_mpi, "nccl": _create_nccl}
    _failures: dict = {}         # name -> "<ExceptionType>: <message>" of an entry point
    _scanned = False

    def __new__(cls, name: str):
        if not isinstance(name, str):
            raise ValueError(f"Backend name must be a string, but got: {name!r}")
        return str.__new__(cls, name.lower())

    @classmethod
    def register_backend(cls, name: str, func, extended_api: bool = False, devices=None) -> None:
        """Register ``func(store, group_rank, group_size, timeout)`` as backend ``name``."""
        name = name.lower()
        if name in cls._creators and name in ("mpi", "nccl"):
            raise ValueError(f"{name} backend is already registered (it is built in)")
        cls._creators[name] = func

    @classmethod
    def creator(cls, name: str):
        """The creator of backend ``name``; loads entry points on the first unknown name."""
        if name not in cls._creators and not cls._scanned:
            cls._load_entry_points()
        if name in cls._failures:
            raise RuntimeError(f"process-group backend '{name}' failed to load: {cls._failures[name]} "
                               f"(entry point group '{ENTRY_POINT_GROUP}')")
        if name not in cls._creators:
            raise ValueError(f"Invalid backend: '{name}'; known process-group backends: "
                             f"{sorted(cls._creators)} (a package adds one through the entry point "
                             f"group '{ENTRY_POINT_GROUP}')")
        return cls._creators[name]

    @classmethod
    def _load_entry_points(cls) -> None:
        from importlib.metadata import entry_points
        cls._scanned = True
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in cls._creators:
                continue
            try:
                module, _, attr = ep.value.partition(":")
                obj = importlib.import_module(module.strip())
                for part in attr.strip().split("."):
                    obj = getattr(obj, part)
            except Exception as e:   # a broken plug-in is reported when asked for, never at import
                cls._failures[ep.name] = f"{type(e).__name__}: {e}"
                continue
            cls._creators[ep.name] = obj
