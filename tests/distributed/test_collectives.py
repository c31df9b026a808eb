"""plugtorch.distributed: collectives under ``mpiexec -n 2`` and ``-n 3`` on cpu and opencl
tensors (scripts/collectives_check.py: every collective and ReduceOp against known answers),
and the API and its errors in this process (world size 1: MPI's singleton init)."""
import os
import subprocess
import sys

import numpy as np
import pytest

import plugtorch as pt
import plugtorch.distributed as dist
from plugtorch.distributed import ReduceOp

SCRIPTS = os.path.join(os.path.dirname(__file__), "scripts")
MPIEXEC = os.path.join(os.path.dirname(sys.executable), "mpiexec")
NOT_INITIALIZED = "Default process group has not been initialized, please make sure to call init_process_group."


def run_ranks(n, script, *args, timeout=120):
    """``mpiexec -n n python scripts/<script> args``: (returncode, stdout + stderr)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    proc = subprocess.run([MPIEXEC, "-n", str(n), sys.executable, os.path.join(SCRIPTS, script), *args],
                          env=env, capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("n", [2, 3])
def test_every_collective_under_mpiexec(n):
    rc, out = run_ranks(n, "collectives_check.py", "cpu,opencl")
    assert rc == 0, f"mpiexec -n {n} collectives_check.py exited {rc}:\n{out[-4000:]}"
    for r in range(n):
        assert f"rank {r}: " in out and "checks passed" in out, out[-2000:]


@pytest.fixture
def world():
    dist.init_process_group("mpi")
    try:
        yield
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def test_not_initialized_errors():
    assert not dist.is_initialized()
    for call in (dist.get_rank, dist.get_world_size, dist.barrier, lambda: dist.all_reduce(pt.ones(2)),
                 lambda: dist.new_group([0]), dist.destroy_process_group):
        with pytest.raises(ValueError, match=NOT_INITIALIZED):
            call()


def test_world_of_one_process(world):
    from mpi4py import MPI
    assert dist.is_available() and dist.is_mpi_available() and dist.is_initialized()
    assert (dist.get_rank(), dist.get_world_size(), dist.get_backend()) == (0, 1, "mpi")
    assert dist.GroupMember.WORLD is dist.group.WORLD is not None
    assert dist.get_rank(dist.GroupMember.WORLD) == 0
    for device in ("cpu", "opencl"):
        t = pt.tensor([1.0, -2.0, 3.0], device=device)
        for op in ReduceOp:
            if op not in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR):   # integer and bool only
                dist.all_reduce(t, op=op)
        np.testing.assert_array_equal(t.cpu().numpy(), [1.0, -2.0, 3.0])
        n = pt.tensor([6, -3, 0], device=device)
        for op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR):
            dist.all_reduce(n, op=op)
        np.testing.assert_array_equal(n.cpu().numpy(), [6, -3, 0])
        out = pt.zeros(3, device=device)
        dist.scatter(out, [t], src=0)
        np.testing.assert_array_equal(out.cpu().numpy(), [1.0, -2.0, 3.0])
    dist.destroy_process_group()
    assert not dist.is_initialized() and MPI.Is_initialized() and not MPI.Is_finalized()
    dist.init_process_group()   # MPI stays usable: a second process group after the first
    assert dist.get_world_size() == 1


def test_application_initialized_mpi_first():
    from mpi4py import MPI   # the application's own MPI, initialized before plugtorch's group
    assert MPI.Is_initialized() and not dist.is_initialized()
    before = sys.excepthook
    dist.init_process_group("mpi", world_size=1, rank=0)
    assert sys.excepthook is not before   # uncaught exceptions abort every rank now
    comm = dist.GroupMember.WORLD.comm
    assert comm != MPI.COMM_WORLD and comm.Get_size() == MPI.COMM_WORLD.Get_size()
    dist.destroy_process_group()
    assert sys.excepthook is before and not MPI.Is_finalized()


def test_contiguous_cpu_tensor_is_the_mpi_buffer(world):
    t = pt.tensor([1.0, 2.0])
    data, version = t._data, t._version
    dist.all_reduce(t, op=ReduceOp.AVG)
    assert t._data is data and t._version == version + 1
    base = pt.arange(6.0).reshape(2, 3)
    view = base[:, 1]
    dist.all_reduce(view, op=ReduceOp.MAX)
    np.testing.assert_array_equal(base.numpy(), np.arange(6.0).reshape(2, 3))


def test_rank_and_world_size_must_agree_with_mpi():
    with pytest.raises(ValueError, match=r"world_size=2 disagrees with MPI, which started this process as "
                                         r"rank 0 of 1 \(mpiexec -n decides world_size"):
        dist.init_process_group("mpi", world_size=2, rank=0)
    with pytest.raises(ValueError, match="rank=1 disagrees with MPI"):
        dist.init_process_group("mpi", rank=1)
    assert not dist.is_initialized()


def test_init_twice_and_bad_timeout(world):
    with pytest.raises(ValueError, match="trying to initialize the default process group twice"):
        dist.init_process_group("mpi")
    dist.destroy_process_group()
    with pytest.raises(TypeError, match="expected timeout argument to be of type datetime.timedelta, got int"):
        dist.init_process_group("mpi", timeout=30)


def test_argument_errors(world):
    with pytest.raises(RuntimeError, match=r"all_reduce: ReduceOp.AVG of a plugtorch.int64 tensor \(shape \[2\], "
                                           r"dtype plugtorch.int64, device cpu\): result type Float can't be "
                                           r"cast to the desired output type Long"):
        dist.all_reduce(pt.tensor([1, 2]), op=ReduceOp.AVG)
    with pytest.raises(TypeError, match="all_reduce: op must be a plugtorch.distributed.ReduceOp"):
        dist.all_reduce(pt.ones(2), op="sum")
    with pytest.raises(TypeError, match="broadcast: tensor must be a plugtorch.Tensor, got list"):
        dist.broadcast([1.0], src=0)
    with pytest.raises(RuntimeError, match=r"all_gather_into_tensor: output tensor size must be equal to "
                                           r"world_size \(1\) times input tensor size \(output shape \[3\], "
                                           r"dtype plugtorch.float32, device cpu, input shape \[2\]"):
        dist.all_gather_into_tensor(pt.zeros(3), pt.ones(2))
    with pytest.raises(RuntimeError, match="all_gather_into_tensor: output tensor must have the same type"):
        dist.all_gather_into_tensor(pt.zeros(2, dtype=pt.float64), pt.ones(2))
    with pytest.raises(RuntimeError, match=r"reduce_scatter_tensor: input tensor must be the same size as "
                                           r"output size times world size \(1\)"):
        dist.reduce_scatter_tensor(pt.zeros(3), pt.ones(2))
    with pytest.raises(RuntimeError, match="all_gather: tensor_list must hold one tensor per rank of the "
                                           "group: expected length 1, got 2"):
        dist.all_gather([pt.zeros(2), pt.zeros(2)], pt.ones(2))
    with pytest.raises(RuntimeError, match=r"all_gather: invalid tensor at index 0 of tensor_list \(expected "
                                           r"shape \[2\], dtype plugtorch.float32 as the input tensor, got "
                                           r"shape \[3\]"):
        dist.all_gather([pt.zeros(3)], pt.ones(2))
    with pytest.raises(RuntimeError, match="broadcast: invalid src rank 3: ranks go from 0 to 0"):
        dist.broadcast(pt.ones(2), src=3)
    with pytest.raises(RuntimeError, match="reduce: invalid dst rank -1"):
        dist.reduce(pt.ones(2), dst=-1)
    with pytest.raises(ValueError, match=r"gather: Argument ``gather_list`` must be specified on destination rank."):
        dist.gather(pt.ones(2), None, dst=0)
    with pytest.raises(RuntimeError, match="gather: gather_list must hold one tensor per rank"):
        dist.gather(pt.ones(2), [pt.zeros(2)] * 2, dst=0)
    with pytest.raises(ValueError, match=r"scatter: Argument ``scatter_list`` must be specified on source rank."):
        dist.scatter(pt.ones(2), None, src=0)
    with pytest.raises(ValueError, match="send: Invalid destination rank: destination rank should not be "
                                         "the same as the rank of the current process."):
        dist.send(pt.ones(2), dst=0)
    with pytest.raises(ValueError, match="recv: Invalid source rank"):
        dist.recv(pt.ones(2), src=0)
    with pytest.raises(ValueError, match="new_group: rank 1 is out of range: the world has ranks 0 to 0"):
        dist.new_group([0, 1])


def test_async_handle_and_subgroup(world):
    t = pt.tensor([[1.0, 2.0], [3.0, 4.0]]).t()   # non-contiguous
    work = dist.all_reduce(t, op=ReduceOp.SUM, async_op=True)
    assert isinstance(work, dist.Work) and work.wait() is True and work.is_completed()
    assert work.result()[0] is t
    sub = dist.new_group([0])
    assert dist.get_rank(sub) == 0 and dist.get_world_size(sub) == 1
    out = pt.zeros(2, 2)
    dist.all_gather_into_tensor(out, t, group=sub)
    np.testing.assert_array_equal(out.numpy(), [[1.0, 3.0], [2.0, 4.0]])
    dist.destroy_process_group(sub)


def test_half_and_bool_reductions(world):
    for dtype in (pt.float16, pt.bfloat16):
        t = pt.tensor([0.5, 3.0], dtype=dtype)
        dist.all_reduce(t, op=ReduceOp.AVG)
        assert t.dtype is dtype
        np.testing.assert_array_equal(t.float().numpy(), [0.5, 3.0])
    b = pt.tensor([True, False])
    dist.all_reduce(b, op=ReduceOp.SUM)
    assert b.dtype is pt.bool and b.tolist() == [True, False]


def test_backend_registry(world, monkeypatch):
    from plugtorch.distributed.backend import Backend
    from plugtorch.distributed.mpi import MPIProcessGroup
    dist.destroy_process_group()
    assert Backend("MPI") == Backend.MPI == "mpi"
    with pytest.raises(ValueError, match="Invalid backend: 'nosuch'; known process-group backends"):
        dist.init_process_group("nosuch")

    class Mine(MPIProcessGroup):
        backend = "mine"
    calls = []

    def create(store, rank, size, timeout):
        calls.append((store, rank, size, timeout))
        return Mine.create_world(rank, size, timeout)
    monkeypatch.setattr(Backend, "_creators", dict(Backend._creators))
    Backend.register_backend("mine", create)
    dist.init_process_group("mine")
    assert dist.get_backend() == "mine" and calls == [(None, -1, -1, dist.default_pg_timeout)]
    dist.destroy_process_group()

    class BrokenEntryPoint:
        name, value = "broken", "plugtorch_no_such_module:create"
    import importlib.metadata
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [BrokenEntryPoint()])
    monkeypatch.setattr(Backend, "_scanned", False)
    monkeypatch.setattr(Backend, "_failures", {})
    with pytest.raises(RuntimeError, match=r"process-group backend 'broken' failed to load: "
                                           r"ModuleNotFoundError: No module named 'plugtorch_no_such_module'"):
        dist.init_process_group("broken")
    assert not dist.is_initialized()


def test_without_mpi4py(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", None)
    assert not dist.is_available() and not dist.is_mpi_available()
    with pytest.raises(RuntimeError, match=r"needs mpi4py .*pip install plugtorch\[mpi\]"):
        dist.init_process_group("mpi")
    assert not dist.is_initialized()


def test_nccl_without_cupy_is_reported(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)
    assert not dist.is_nccl_available()
    with pytest.raises(RuntimeError, match=r"the nccl process-group backend needs CuPy with NCCL"):
        dist.init_process_group("nccl")
    assert not dist.is_initialized()


def test_importing_plugtorch_distributed_does_not_import_mpi4py():
    code = ("import sys, plugtorch, plugtorch.distributed as dist; "
            "assert dist.is_available(); assert 'mpi4py' not in sys.modules, 'mpi4py imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_plugtorch_distributed_is_an_attribute_of_the_package_without_importing_mpi():
    code = ("import sys, plugtorch as pt; d = pt.distributed; "
            "print(d.is_initialized(), 'mpi4py' in sys.modules, d is sys.modules['plugtorch.distributed'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "False", "True"], out.stderr


def test_keep_freed_memory_asks_glibc_for_top_padding_unless_the_user_chose(monkeypatch):
    from plugtorch.distributed import memory
    monkeypatch.delenv("MALLOC_TOP_PAD_", raising=False)
    monkeypatch.delenv("PLUGTORCH_KEEP_FREED_MEMORY", raising=False)
    assert memory.keep_freed_memory() is True          # glibc (Linux, as CI)
    monkeypatch.setenv("PLUGTORCH_KEEP_FREED_MEMORY", "0")
    assert memory.keep_freed_memory() is False
    monkeypatch.delenv("PLUGTORCH_KEEP_FREED_MEMORY")
    monkeypatch.setenv("MALLOC_TOP_PAD_", "0")
    assert memory.keep_freed_memory() is False


@pytest.mark.parametrize("n", [2, 3])
def test_all_to_all_reduce_scatter_and_objects_under_mpiexec(n):
    rc, out = run_ranks(n, "alltoall_objects_check.py", "cpu,opencl")
    assert rc == 0, f"mpiexec -n {n} alltoall_objects_check.py exited {rc}:\n{out[-4000:]}"
    for r in range(n):
        assert f"rank {r}: all_to_all and object collectives ok" in out, out[-2000:]
