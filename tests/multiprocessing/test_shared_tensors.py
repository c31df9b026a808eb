"""plugtorch.multiprocessing: share_memory_ tensors seen by other processes (Hogwild), copies otherwise."""
import pickle
from multiprocessing.reduction import ForkingPickler

import numpy as np
import pytest

import plugtorch as pt
import plugtorch.multiprocessing as mp


def _sgd_step(rank, model, q):
    opt = pt.optim.SGD(model.parameters(), lr=0.5)
    model(pt.ones(1, 2)).sum().backward()
    opt.step()
    q.put((rank, type(model.weight).__name__, model.weight.is_shared()))


def test_processes_update_a_shared_model_in_place():
    # two spawned processes each take one SGD step of lr 0.5 on d(sum(w.x + b))/dw = x = 1:
    # the parent sees both updates, 0 - 2 * 0.5 = -1 everywhere
    m = pt.nn.Linear(2, 1)
    pt.nn.init.zeros_(m.weight)
    pt.nn.init.zeros_(m.bias)
    assert not m.weight.is_shared()
    m.share_memory()
    assert m.weight.is_shared() and m.bias.is_shared()
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    ps = [ctx.Process(target=_sgd_step, args=(r, m, q)) for r in range(2)]
    for p in ps:
        p.start()
    for p in ps:
        p.join(120)
    assert [p.exitcode for p in ps] == [0, 0]
    assert sorted(q.get() for _ in ps) == [(0, "Parameter", True), (1, "Parameter", True)]
    assert m.weight.tolist() == [[-1.0, -1.0]] and m.bias.tolist() == [-1.0]


def test_a_shared_view_crosses_as_the_same_memory():
    t = pt.arange(12.0).reshape(3, 4).share_memory_()
    v = t[1:, ::2]
    back = ForkingPickler.loads(ForkingPickler.dumps(v))
    np.testing.assert_array_equal(back.numpy(), [[4.0, 6.0], [8.0, 10.0]])
    back.add_(100)
    assert t[1].tolist() == [104.0, 5.0, 106.0, 7.0]


def test_unshared_tensors_cross_as_copies_and_keep_parameter_type():
    p = pt.nn.Parameter(pt.ones(2))
    back = ForkingPickler.loads(ForkingPickler.dumps(p))
    assert type(back) is pt.nn.Parameter and back.requires_grad and back.tolist() == [1.0, 1.0]
    back.data.add_(1)
    assert p.tolist() == [1.0, 1.0]


def test_share_memory_is_idempotent_and_refuses_other_devices():
    t = pt.ones(3)
    assert t.share_memory_() is t and t.share_memory_() is t and t.is_shared()
    assert pt.zeros(0).share_memory_().is_shared()
    with pytest.raises(RuntimeError, match="only cpu tensors can be moved to shared memory"):
        mp.reductions.share_memory_(pt.ones(1, device="opencl"))


def test_spawn_reports_a_failed_process():
    with pytest.raises(RuntimeError, match="process 1 terminated with exit code 1"):
        mp.spawn(_fail_if_odd, nprocs=2)


def _fail_if_odd(i):
    if i % 2:
        raise SystemExit(1)


def test_plain_pickle_of_a_tensor_is_still_refused():
    with pytest.raises(Exception):
        pickle.dumps(pt.ones(1))


_SHARE_AND_DIE = """
import os, signal, sys
import plugtorch as pt
t = pt.arange(1000.0).share_memory_()
m = pt.nn.Linear(100, 100).share_memory()
assert t.is_shared() and m.weight.is_shared()
print("shared", flush=True)
if sys.argv[1] == "raise":
    raise ValueError("boom")
if sys.argv[1] == "sigkill":
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGKILL"), reason="POSIX signals")
@pytest.mark.parametrize("how", ["exit", "raise", "sigkill"])
def test_shared_memory_leaves_no_file_behind_however_its_process_ends(tmp_path, how):
    # the memory was a named file in /dev/shm removed by an atexit hook: a process killed by
    # SIGKILL left its files there for good (3 for a tensor and a Linear). Now the file has no
    # name once mapped (as PyTorch's file_descriptor strategy): nothing to leak
    import os
    import subprocess
    import sys
    import tempfile
    dirs = [d for d in ("/dev/shm", tempfile.gettempdir()) if os.path.isdir(d)]

    def ours():
        return {(d, f) for d in dirs for f in os.listdir(d) if f.startswith("plugtorch_shm_")}
    before = ours()
    run = subprocess.run([sys.executable, "-c", _SHARE_AND_DIE, how], capture_output=True, text=True, timeout=120)
    assert run.stdout == "shared\n", run.stderr
    assert run.returncode == {"exit": 0, "raise": 1, "sigkill": -9}[how]
    assert ours() - before == set()


def test_shared_memory_has_no_name_while_in_use():
    # no file another user could open: the memory is reached only through this process's descriptor
    import os
    from plugtorch.multiprocessing.reductions import _shared_memory, _SharedMap
    t = pt.zeros(3).share_memory_()
    memory, offset = _shared_memory(t._data)
    assert isinstance(memory, _SharedMap) and offset == 0
    assert os.fstat(memory.fd).st_nlink == 0


def test_module_share_memory_puts_all_its_tensors_in_one_file():
    # one descriptor for a whole model (a descriptor per tensor would run out of them on big models)
    from plugtorch.multiprocessing.reductions import _shared_memory
    m = pt.nn.Sequential(pt.nn.Linear(3, 5), pt.nn.BatchNorm1d(5))
    m.share_memory()
    tensors = list(m.parameters()) + list(m.buffers())
    places = [_shared_memory(t._data) for t in tensors]
    assert len({id(mem) for mem, _ in places}) == 1
    assert all(off % 64 == 0 for _, off in places) and len({off for _, off in places}) == len(tensors)
    back = [ForkingPickler.loads(ForkingPickler.dumps(t)) for t in tensors]
    for b, t in zip(back, tensors):
        b.data.fill_(7)
        np.testing.assert_array_equal(t.detach().numpy(), np.full(t.shape, 7, t.detach().numpy().dtype))


def test_an_empty_shared_tensor_crosses_shared():
    for shape in [(0,), (2, 0, 3)]:
        back = ForkingPickler.loads(ForkingPickler.dumps(pt.zeros(*shape).share_memory_()))
        assert tuple(back.shape) == shape and back.is_shared()


def test_bfloat16_shared_tensor_crosses_as_the_same_memory():
    t = pt.tensor([1.5, -2.0, 3.0], dtype=pt.bfloat16).share_memory_()
    back = ForkingPickler.loads(ForkingPickler.dumps(t))
    assert back.dtype == pt.bfloat16 and back.is_shared() and back.tolist() == [1.5, -2.0, 3.0]
    back.mul_(2)
    assert t.tolist() == [3.0, -4.0, 6.0]


def test_a_copy_on_write_or_read_only_memmap_is_not_shared(tmp_path):
    # np.load(mmap_mode="c") / "r": the other process would map the file itself, read-write, and
    # write the user's file on disk (or miss this process's private writes): such a tensor is not
    # shared and crosses as a copy
    f = tmp_path / "a.npy"
    np.save(f, np.arange(4, dtype=np.float32))
    for mode in ("c", "r"):
        t = pt.from_numpy(np.load(f, mmap_mode=mode))
        assert not t.is_shared()
        back = ForkingPickler.loads(ForkingPickler.dumps(t))
        assert back.tolist() == [0.0, 1.0, 2.0, 3.0] and not back.is_shared()
        back.add_(10)
    np.testing.assert_array_equal(np.load(f), [0.0, 1.0, 2.0, 3.0])


def test_views_made_before_share_memory_stay_views():
    # share_memory_ moves the whole memory block, as PyTorch moves the storage: a view made before
    # (w[:2], a strided view, .data, detach()) keeps aliasing the moved tensor, and sharing a view
    # moves the tensor it views. Before: w.add_(1) left v at [1, 1] and w.is_shared() False.
    w = pt.arange(6.0)
    v, r, d, a = w[:2], w.view(3, 2)[:, 1], w.data, w.detach()
    w.share_memory_()
    w.add_(10)
    assert v.tolist() == [10.0, 11.0] and r.tolist() == [11.0, 13.0, 15.0]
    assert d.tolist() == a.tolist() == [10.0, 11.0, 12.0, 13.0, 14.0, 15.0]
    assert all(t.is_shared() for t in (w, v, r, d, a))
    base = pt.zeros(2, 3)
    col = base[:, 1]
    col.share_memory_()
    col.add_(1)
    assert base.is_shared() and base.tolist() == [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]
    back = ForkingPickler.loads(ForkingPickler.dumps(col))
    back.mul_(5)
    assert base[:, 1].tolist() == [5.0, 5.0]


def test_module_share_memory_keeps_aliases_and_gradients():
    m = pt.nn.Linear(2, 2, bias=False)
    pt.nn.init.ones_(m.weight)
    alias = m.weight.detach()
    m(pt.ones(1, 2)).sum().backward()
    m.share_memory()
    assert m.weight.is_shared() and m.weight.grad.is_shared()
    with pt.no_grad():
        m.weight.sub_(m.weight.grad)            # gradient of sum(W @ 1) is all ones
    assert alias.tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_where_descriptors_cannot_cross_a_named_file_is_used(monkeypatch):
    # (Windows) the memory is a named owner-only file, mapped by name in the receiver
    import os
    import stat
    from plugtorch.multiprocessing import reductions
    monkeypatch.setattr(reductions, "_BY_FD", False)
    t = pt.arange(6.0).share_memory_()
    path, offset = reductions._shared_file(t._data)
    assert offset == 0 and stat.S_IMODE(os.stat(path).st_mode) == 0o600 and path in reductions._made
    back = ForkingPickler.loads(ForkingPickler.dumps(t[2:]))
    back.add_(1)
    assert back.is_shared() and t.tolist() == [0.0, 1.0, 3.0, 4.0, 5.0, 6.0]
    del t, back
    reductions._remove_made()
    assert not os.path.exists(path)


@pytest.mark.filterwarnings("ignore:TypedStorage is deprecated")
def test_the_storage_of_a_shared_tensor_is_shared():
    # Storage.is_shared() was always False: a shared tensor's storage said it was not
    t = pt.arange(4.0)
    assert not t.untyped_storage().is_shared() and not t.storage().is_shared()
    t.share_memory_()
    assert t.untyped_storage().is_shared() and t.storage().is_shared() and t[1:].untyped_storage().is_shared()
    assert not pt.ones(2).untyped_storage().is_shared()
