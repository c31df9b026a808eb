"""DataLoader with worker processes (num_workers > 0), as torch.utils.data's."""
import gc
import os
import pickle
import random
import time
import warnings

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset, get_worker_info


def xy(n):
    return TensorDataset(pt.arange(2 * n).float().view(n, 2), pt.arange(n))


def as_lists(loader):
    return [[t.tolist() for t in b] for b in loader]


def first_draw(seed):
    # the base seed a loader draws from a generator seeded with `seed`
    return int(pt.empty((), dtype=pt.int64).random_(generator=pt.Generator().manual_seed(seed)).item())


@pytest.mark.parametrize("drop_last", [False, True])
def test_same_batches_as_the_main_process_with_shuffle_and_a_seeded_generator(drop_last):
    def run(workers):
        loader = DataLoader(xy(11), batch_size=3, shuffle=True, drop_last=drop_last, num_workers=workers,
                            generator=pt.Generator().manual_seed(5))
        return len(loader), as_lists(loader)
    n0, main = run(0)
    n2, workers = run(2)
    assert workers == main and n2 == n0 == len(main) == (3 if drop_last else 4)
    labels = [i for _, y in main for i in y]
    assert len(labels) == len(set(labels)) == (9 if drop_last else 11)


class Sleepy(Dataset):
    # even indices are slow: worker 0 (tasks 0, 2, ...) falls behind worker 1
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i % 2 == 0:
            time.sleep(0.05)
        return i


def test_order_is_the_samplers_with_workers_of_uneven_speed():
    loader = DataLoader(Sleepy(), batch_size=1, num_workers=2)
    assert [b.tolist() for b in loader] == [[i] for i in range(8)]
    unordered = [b.item() for b in DataLoader(Sleepy(), batch_size=1, num_workers=2, in_order=False)]
    assert sorted(unordered) == list(range(8))


_init_ids = []


def record_init(worker_id):
    _init_ids.append(worker_id)       # this worker's own copy of the list


class Probe(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        info = get_worker_info()
        return {"id": info.id, "n": info.num_workers, "seed": info.seed, "same": info.dataset is self,
                "init": list(_init_ids), "py": random.random(), "pt": pt.rand(()).item()}


def test_worker_init_fn_get_worker_info_and_seeds():
    assert get_worker_info() is None
    loader = DataLoader(Probe(), batch_size=None, num_workers=2, worker_init_fn=record_init,
                        generator=pt.Generator().manual_seed(3))
    out = list(loader)
    base = first_draw(3)
    assert [o["id"] for o in out] == [0, 1, 0, 1]
    assert all(o["n"] == 2 and o["same"] for o in out)
    assert [o["seed"] for o in out] == [base, base + 1, base, base + 1]
    assert [o["init"] for o in out] == [[0], [1], [0], [1]]
    # each worker seeds Python's random and plugtorch with base_seed + worker_id, as torch
    for o in out[:2]:
        assert o["py"] == random.Random(o["seed"]).random()
        pt.manual_seed(o["seed"])
        assert o["pt"] == pt.rand(()).item()
    # the same generator seed repeats exactly; another seed differs
    assert list(DataLoader(Probe(), batch_size=None, num_workers=2, worker_init_fn=record_init,
                           generator=pt.Generator().manual_seed(3))) == out
    assert list(DataLoader(Probe(), batch_size=None, num_workers=2,
                           generator=pt.Generator().manual_seed(4)))[0]["py"] != out[0]["py"]


def test_without_a_generator_the_base_seed_follows_manual_seed():
    pt.manual_seed(11)
    a = [b["seed"] for b in DataLoader(Probe(), batch_size=None, num_workers=2)]
    pt.manual_seed(11)
    b = [b["seed"] for b in DataLoader(Probe(), batch_size=None, num_workers=2)]
    assert a == b and a[1] == a[0] + 1


class Shard(IterableDataset):
    def __init__(self, n, shard=True):
        self.n, self.shard = n, shard

    def __iter__(self):
        info = get_worker_info()
        if info is None or not self.shard:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


def test_iterable_dataset_sharded_by_worker_id():
    # batches alternate between the workers; each worker batches its own shard
    assert [b.tolist() for b in DataLoader(Shard(9), batch_size=2, num_workers=2)] == \
        [[0, 2], [1, 3], [4, 6], [5, 7], [8]]
    assert [b.tolist() for b in DataLoader(Shard(9), batch_size=2, num_workers=2, drop_last=True)] == \
        [[0, 2], [1, 3], [4, 6], [5, 7]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # 3 workers may exceed the cpus: warned, as torch
        assert list(DataLoader(Shard(5), batch_size=None, num_workers=3)) == [0, 1, 2, 3, 4]
    # without sharding every worker yields the whole stream (the user shards, as with torch)
    assert sorted(DataLoader(Shard(3, shard=False), batch_size=None, num_workers=2)) == \
        [0, 0, 1, 1, 2, 2]


class Failing(Dataset):
    def __init__(self, exc):
        self.exc = exc

    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 2:
            raise self.exc
        return i


def test_worker_exception_reraised_with_type_worker_id_and_traceback():
    loader = DataLoader(Failing(ValueError("index 2 is bad")), batch_size=1, num_workers=2)
    it = iter(loader)
    assert next(it).tolist() == [0] and next(it).tolist() == [1]
    with pytest.raises(ValueError, match="Caught ValueError in DataLoader worker process 0") as e:
        next(it)
    text = str(e.value)
    assert "Original Traceback (most recent call last)" in text and "ValueError: index 2 is bad" in text
    assert "__getitem__" in text
    with pytest.raises(KeyError, match="Caught KeyError in DataLoader worker process 0"):
        list(DataLoader(Failing(KeyError("k")), batch_size=1, num_workers=2))


def bad_init(worker_id):
    raise RuntimeError(f"init of worker {worker_id} failed")


def test_worker_init_fn_exception_reraised():
    with pytest.raises(RuntimeError, match=r"(?s)Caught RuntimeError in DataLoader worker process 0.*init of worker 0"):
        list(DataLoader(Failing(ValueError()), num_workers=1, worker_init_fn=bad_init))


class Slow(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        time.sleep(1)
        return i


def test_timeout_raises_runtime_error():
    with pytest.raises(RuntimeError, match=r"^DataLoader timed out after 0.2 seconds$"):
        next(iter(DataLoader(Slow(), num_workers=1, timeout=0.2)))


class Pid(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return os.getpid()


def test_persistent_workers_are_reused_across_epochs():
    loader = DataLoader(Pid(), batch_size=None, num_workers=2, persistent_workers=True)
    first, second = list(loader), list(loader)
    assert first == second and len(set(first)) == 2 and os.getpid() not in first
    it = loader._iterator
    assert all(w.is_alive() for w in it._workers)
    half = iter(loader)
    next(half)
    assert list(loader) == first          # an epoch cut short: the next one starts clean
    it._shutdown_workers()
    assert not any(w.is_alive() for w in it._workers)
    # without persistence each epoch has its own processes, joined when it ends
    plain = DataLoader(Pid(), batch_size=None, num_workers=2)
    it = iter(plain)
    pids = list(it)
    assert len(set(pids)) == 2 and not any(w.is_alive() for w in it._workers)


def test_workers_shut_down_when_the_iterator_is_garbage_collected():
    it = iter(DataLoader(Pid(), batch_size=None, num_workers=2))
    next(it)
    workers = it._workers
    del it
    gc.collect()
    assert not any(w.is_alive() for w in workers)


def test_persistent_iterable_dataset_restarts_each_epoch():
    loader = DataLoader(Shard(5), batch_size=2, num_workers=2, persistent_workers=True)
    assert [b.tolist() for b in loader] == [[0, 2], [1, 3], [4]]
    assert [b.tolist() for b in loader] == [[0, 2], [1, 3], [4]]
    loader._iterator._shutdown_workers()


class Grad(Dataset):
    def __len__(self):
        return 1

    def __getitem__(self, i):
        return pt.ones(2, requires_grad=True) * 2


def test_tensors_cross_as_numpy_and_grad_history_is_refused():
    ds = TensorDataset(pt.tensor([[1.5, 2.5], [3.5, 4.5]], dtype=pt.bfloat16), pt.tensor([True, False]))
    (x, y), = DataLoader(ds, batch_size=2, num_workers=1)
    assert x.dtype == pt.bfloat16 and y.dtype == pt.bool and x.device.type == "cpu"
    np.testing.assert_array_equal(x.float().numpy(), [[1.5, 2.5], [3.5, 4.5]])
    with pytest.raises(RuntimeError, match="Cowardly refusing to serialize non-leaf tensor which requires_grad"):
        list(DataLoader(Grad(), num_workers=1))
    with pytest.raises(TypeError, match="plugtorch tensors are not picklable"):
        pickle.dumps(pt.ones(1))        # only multiprocessing's pickler carries tensors


def test_non_cpu_tensor_refused_naming_the_fix():
    from plugtorch.utils.data._worker import _reduce_tensor

    class FakeDevice:
        type = "opencl"

        def __str__(self):
            return "opencl:0"

    class FakeTensor:
        device = FakeDevice()

    with pytest.raises(RuntimeError, match=r"tensor on opencl:0.*move each batch in the main process "
                                           r"\(batch.to\('opencl'\)\), or use num_workers=0"):
        _reduce_tensor(FakeTensor())


def test_spawn_context_with_a_picklable_dataset():
    loader = DataLoader(xy(5), batch_size=2, num_workers=1, multiprocessing_context="spawn")
    assert as_lists(loader) == as_lists(DataLoader(xy(5), batch_size=2))


def test_pin_memory_is_accepted_and_changes_nothing():
    assert as_lists(DataLoader(xy(3), batch_size=2, pin_memory=True, num_workers=1)) == \
        as_lists(DataLoader(xy(3), batch_size=2))


@pytest.mark.parametrize("kwargs,exc,msg", [
    (dict(timeout=-1), ValueError, "timeout option should be non-negative"),
    (dict(prefetch_factor=2), ValueError, "prefetch_factor option could only be specified in multiprocessing"),
    (dict(num_workers=1, prefetch_factor=-1), ValueError, "prefetch_factor option should be non-negative"),
    (dict(persistent_workers=True), ValueError, "persistent_workers option needs num_workers > 0"),
    (dict(multiprocessing_context="fork"), ValueError,
     "multiprocessing_context can only be used with multi-process loading"),
    (dict(num_workers=1, multiprocessing_context="bogus"), ValueError, "should specify a valid start method"),
    (dict(num_workers=1, multiprocessing_context=3), TypeError, "should be a valid context object"),
])
def test_bad_options(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        DataLoader(xy(2), **kwargs)


def test_defaults():
    assert DataLoader(xy(2)).prefetch_factor is None
    loader = DataLoader(xy(2), num_workers=2)
    assert loader.prefetch_factor == 2 and loader.timeout == 0 and not loader.persistent_workers


def test_spawn_with_an_unpicklable_collate_fn_fails_at_start_and_leaves_no_workers():
    import multiprocessing
    before = set(multiprocessing.active_children())
    with pytest.raises((AttributeError, TypeError, pickle.PicklingError), match="pickle"):
        iter(DataLoader(xy(4), batch_size=2, num_workers=2, multiprocessing_context="spawn",
                        collate_fn=lambda b: b))
    assert set(multiprocessing.active_children()) <= before


class Dies(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 1:
            os._exit(3)
        return i


def test_a_worker_that_dies_is_reported(monkeypatch):
    from plugtorch.utils.data import _multiprocess
    monkeypatch.setattr(_multiprocess, "_POLL_S", 0.1)
    with pytest.raises(RuntimeError, match=r"^DataLoader worker \(pid\(s\) \d+\) exited unexpectedly$"):
        list(DataLoader(Dies(), batch_size=None, num_workers=2))


class FakeCudaError(Exception):
    pass


FakeCudaError.__module__ = "cupy_backends.cuda.api.runtime"


class UsesCuda(Dataset):
    def __len__(self):
        return 1

    def __getitem__(self, i):
        raise FakeCudaError("cudaErrorInitializationError: initialization error")


def test_cuda_errors_in_forked_workers_name_the_fix():
    # CuPy in a forked child fails with its runtime error: torch's message and the fix replace it
    with pytest.raises(RuntimeError, match=r"(?s)Caught RuntimeError in DataLoader worker process 0.*"
                                           r"Cannot re-initialize CUDA in forked subprocess.*"
                                           r"multiprocessing_context='spawn'"):
        list(DataLoader(UsesCuda(), num_workers=1))


def test_more_workers_than_cpus_warns(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    with pytest.warns(UserWarning, match="This DataLoader will create 2 worker processes in total. Our suggested "
                                         "max number of worker in current system is 1"):
        assert list(DataLoader(Pid(), batch_size=None, num_workers=2))[0] != os.getpid()


def shm_files():
    return {f for f in os.listdir("/dev/shm") if f.startswith(f"plugtorch_dl_{os.getpid()}_")} \
        if os.path.isdir("/dev/shm") else set()


class Big(Dataset):
    # 64 x 64 x 16 float32 = 256 KiB a sample: above the size that crosses through tmpfs files
    def __len__(self):
        return 6

    def __getitem__(self, i):
        x = np.arange(64 * 64 * 16, dtype=np.float32).reshape(64, 64, 16) + i
        return pt.from_numpy(x).transpose(0, 2)[::1, ::2], pt.from_numpy(x).to(pt.bfloat16)   # non-contiguous


def test_large_tensors_cross_intact_and_leave_no_files():
    expected = as_lists(DataLoader(Big(), batch_size=None))
    assert as_lists(DataLoader(Big(), batch_size=None, num_workers=2)) == expected
    batches = list(DataLoader(Big(), batch_size=3, num_workers=2))
    assert batches[1][1].dtype == pt.bfloat16 and tuple(batches[1][0].shape) == (3, 16, 32, 64)
    assert batches[1][0].tolist() == [expected[i][0] for i in (3, 4, 5)]
    assert shm_files() == set()
    it = iter(DataLoader(Big(), batch_size=1, num_workers=2))   # cut short: results never read
    next(it)
    time.sleep(0.2)
    del it
    gc.collect()
    assert shm_files() == set()


_KILLED_MID_EPOCH = """
import os, signal, sys
import numpy as np
import plugtorch as pt
from plugtorch.utils.data import DataLoader, Dataset
class Big(Dataset):
    def __len__(self):
        return 40
    def __getitem__(self, i):
        return pt.zeros(64 * 1024)       # 256 KiB: crosses through a /dev/shm file
it = iter(DataLoader(Big(), batch_size=1, num_workers=2, prefetch_factor=4))
next(it)
while len([f for f in os.listdir("/dev/shm") if f.startswith(f"plugtorch_dl_{os.getpid()}_")]) < 4:
    pass                                 # batches the workers wrote and this process never read
print(os.getpid(), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.skipif(not os.path.isdir("/dev/shm") or not hasattr(__import__("signal"), "SIGKILL"),
                    reason="batch files in /dev/shm, POSIX signals")
def test_a_main_process_killed_mid_epoch_leaves_no_batch_files():
    # SIGKILL of the main process ran no shutdown: the prefetched batch files stayed in /dev/shm for
    # good (4 here). The orphaned workers notice their parent is gone and remove what they wrote
    import subprocess
    import sys
    run = subprocess.run([sys.executable, "-c", _KILLED_MID_EPOCH], capture_output=True, text=True, timeout=120)
    assert run.returncode == -9, run.stderr
    prefix = f"plugtorch_dl_{int(run.stdout)}_"
    deadline = time.monotonic() + 60      # the workers check on their parent once a second
    while any(f.startswith(prefix) for f in os.listdir("/dev/shm")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [f for f in os.listdir("/dev/shm") if f.startswith(prefix)] == []
