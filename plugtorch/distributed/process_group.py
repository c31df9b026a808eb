"""The default process group and its subgroups: ``init_process_group``, ``new_group``,
``get_rank``, ``destroy_process_group``, as torch.distributed's.

>>> import plugtorch.distributed as dist              # under: mpiexec -n 2 python train.py
>>> dist.init_process_group("mpi")                    # doctest: +SKIP
>>> dist.get_rank(), dist.get_world_size()            # doctest: +SKIP
(0, 2)
"""
from __future__ import annotations

from datetime import timedelta

from plugtorch.distributed.backend import Backend

default_pg_timeout = timedelta(minutes=30)

_NOT_INITIALIZED = ("Default process group has not been initialized, please make sure to call "
                    "init_process_group.")


class _World:
    default = None        # the default group's backend object (MPIProcessGroup ...)
    groups: list = []     # every group made by new_group, destroyed with the default one


class _GroupMemberMeta(type):
    @property
    def WORLD(cls):
        return _World.default


class GroupMember(metaclass=_GroupMemberMeta):
    """``GroupMember.WORLD`` is the default group (None before init_process_group)."""

    NON_GROUP_MEMBER = -100


class group(metaclass=_GroupMemberMeta):
    """``group.WORLD``, as torch.distributed.group."""


def is_initialized() -> bool:
    """True once this process called ``init_process_group`` (whoever initialized MPI)."""
    return _World.default is not None


def default_group():
    if _World.default is None:
        raise ValueError(_NOT_INITIALIZED)
    return _World.default


def resolve(group_):
    """The group to use: ``group_`` or the default; NON_GROUP_MEMBER for ranks outside it."""
    pg = default_group()
    if group_ is None or group_ is GroupMember.WORLD:
        return pg
    return group_


def init_process_group(backend: str | None = "mpi", init_method: str | None = None,
                       timeout: timedelta | None = None, world_size: int = -1, rank: int = -1,
                       store=None, group_name: str = "", pg_options=None, device_id=None) -> None:
    """Join the processes ``mpiexec`` started into the default process group.

    Rank and world size come from MPI; ``world_size``/``rank``, when given, must agree.
    ``timeout`` bounds every blocking collective (default 30 minutes).

    >>> dist.init_process_group("mpi", timeout=timedelta(seconds=60))   # doctest: +SKIP
    """
    if _World.default is not None:
        raise ValueError("trying to initialize the default process group twice!")
    if timeout is None:
        timeout = default_pg_timeout
    if not isinstance(timeout, timedelta):
        raise TypeError(f"init_process_group: expected timeout argument to be of type "
                        f"datetime.timedelta, got {type(timeout).__name__}")
    name = Backend("mpi" if backend in (None, "undefined") else backend)
    creator = Backend.creator(name)
    pg = creator(store, rank, world_size, timeout)
    _World.default = pg
    _World.groups = []
    from plugtorch.distributed.failures import install_abort_on_exception
    install_abort_on_exception(pg)
    from plugtorch.distributed.memory import keep_freed_memory
    keep_freed_memory()      # (page faults of per-step buffers: see memory.py)


def destroy_process_group(group=None) -> None:
    """Free the group (the default one: every group). MPI itself stays initialized: the
    application, or mpi4py at exit, finalizes it."""
    pg = default_group()
    if group is None or group is pg:
        for g in _World.groups:
            g.destroy()
        pg.destroy()
        _World.default = None
        _World.groups = []
        from plugtorch.distributed.failures import uninstall_abort_on_exception
        uninstall_abort_on_exception()
    elif group != GroupMember.NON_GROUP_MEMBER:
        group.destroy()
        _World.groups.remove(group)


def new_group(ranks=None, timeout: timedelta | None = None, backend=None, pg_options=None,
              use_local_synchronization: bool = False, group_desc=None):
    """A group of the given global ranks (all ranks when None). Every rank of the default
    group must call it; ranks outside get ``GroupMember.NON_GROUP_MEMBER``.

    >>> evens = dist.new_group([0, 2])   # doctest: +SKIP
    """
    pg = default_group()
    if ranks is None:
        ranks = list(range(pg.size))
    ranks = sorted(int(r) for r in ranks)
    for r in ranks:
        if not 0 <= r < pg.size:
            raise ValueError(f"new_group: rank {r} is out of range: the world has ranks "
                             f"0 to {pg.size - 1}")
    if len(set(ranks)) != len(ranks):
        raise ValueError(f"new_group: ranks {ranks} repeat a rank")
    sub = pg.new_subgroup(ranks)
    if sub is None:
        return GroupMember.NON_GROUP_MEMBER
    if timeout is not None:
        sub.timeout = timeout
    _World.groups.append(sub)
    return sub


def get_rank(group=None) -> int:
    """This process's rank in ``group`` (default: the world); -1 outside the group."""
    g = resolve(group)
    return -1 if g == GroupMember.NON_GROUP_MEMBER else g.rank


def get_world_size(group=None) -> int:
    """The number of ranks in ``group`` (default: the world); -1 outside the group."""
    g = resolve(group)
    return -1 if g == GroupMember.NON_GROUP_MEMBER else g.size


def get_backend(group=None) -> str:
    """The name of ``group``'s backend ("mpi", "nccl", or a plug-in's)."""
    g = resolve(group)
    if g == GroupMember.NON_GROUP_MEMBER:
        raise ValueError("Invalid process group specified")
    return Backend(g.backend)


def get_process_group_ranks(group) -> list:
    return list(resolve(group).ranks)


def group_rank(g, global_rank: int, opname: str, what: str) -> int:
    """``global_rank`` as a rank of group ``g`` (src/dst arguments are global, as PyTorch's)."""
    if not isinstance(global_rank, int) or isinstance(global_rank, bool):
        raise TypeError(f"{opname}: {what} must be an int rank, got {global_rank!r}")
    try:
        return g.ranks.index(global_rank)
    except ValueError:
        world = _World.default.size
        if not 0 <= global_rank < world:   # PyTorch: the backend's RuntimeError
            raise RuntimeError(f"{opname}: invalid {what} rank {global_rank}: ranks go from 0 to "
                               f"{world - 1}") from None
        raise ValueError(f"{opname}: Global rank {global_rank} is not part of group (its global "
                         f"ranks are {g.ranks})") from None
