"""The DataLoader iterator with worker processes (``num_workers > 0``).

The main process sends ``(task id, indices)`` to the workers' index queues round-robin,
keeping ``prefetch_factor * num_workers`` tasks in flight, and reads ``(task id, batch)``
from the one result queue; results that arrive early wait in ``_task_info`` until their turn,
so batches come out in sampler order. Workers are joined when the iterator is exhausted
(unless persistent), garbage-collected, or the program exits.
"""
from __future__ import annotations

import glob
import itertools
import multiprocessing
import os
import pickle
import queue
import sys
import uuid
import warnings
import weakref

from plugtorch.utils.data import _worker
from plugtorch.utils.data._worker import ExceptionWrapper, IterableStop, ResumeIteration

_POLL_S = 5.0   # how often a waiting main process checks that its workers are alive


def _default_context():
    # 'fork' on Linux, as PyTorch: workers start fast and inherit the dataset without pickling
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _warn_if_too_many(num_workers):
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count()
    if cpus is None or num_workers > cpus:
        suggest = (f"Our suggested max number of worker in current system is {cpus}, which is smaller than what this "
                   "DataLoader is going to create." if cpus is not None else
                   "DataLoader is not able to compute a suggested max number of worker in current system.")
        warnings.warn(f"This DataLoader will create {num_workers} worker processes in total. {suggest} Please be "
                      "aware that excessive worker creation might get DataLoader running slow or even freeze, lower "
                      "the worker number to avoid potential slowness/freeze if necessary.", UserWarning, stacklevel=4)


class _InfiniteNone:
    # IterableDataset tasks carry no indices: a batch-sized list of None (or None) each time
    def __init__(self, batch_size):
        self.batch_size = batch_size

    def __iter__(self):
        item = None if self.batch_size is None else [None] * self.batch_size
        return itertools.repeat(item)


class MultiProcessIter:
    def __init__(self, loader):
        from plugtorch.utils.data.dataloader import _base_seed
        self._loader = loader
        self._n = loader.num_workers
        self._prefetch = loader.prefetch_factor
        self._timeout = loader.timeout
        self._persistent = loader.persistent_workers
        self._in_order = loader.in_order
        self._iterable = loader._iterable
        if self._iterable:
            self._index_sampler = _InfiniteNone(loader.batch_size)
        else:
            self._index_sampler = loader.batch_sampler if loader._auto_batch else loader.sampler
        self._shutdown = True    # until the workers exist
        if self._prefetch <= 0:
            raise ValueError(f"prefetch_factor must be positive with num_workers > 0, but got {self._prefetch}")
        _warn_if_too_many(self._n)
        ctx = loader.multiprocessing_context or _default_context()
        self._base_seed = _base_seed(loader.generator)
        self._result_queue = ctx.Queue()
        self._done_event = ctx.Event()
        self._index_queues, self._workers = [], []
        # a finalizer, not __del__: it holds the queues, so when the iterator dies in a reference
        # cycle (a traceback's frames) the queues are not garbage too, with their feeder threads
        # already closed and the workers never told to stop
        self._shm = _shm_location()
        self._finalizer = weakref.finalize(self, _shutdown, os.getpid(), self._workers, self._index_queues,
                                           self._result_queue, self._done_event, self._shm)
        try:
            for wid in range(self._n):
                iq = ctx.Queue()
                iq.cancel_join_thread()   # a worker that exits early must not block on our pending puts
                w = ctx.Process(target=_worker.worker_loop, daemon=True,
                                args=(loader.dataset, self._iterable, iq, self._result_queue, self._done_event,
                                      loader._auto_batch, loader.collate_fn, loader.drop_last, self._base_seed,
                                      loader.worker_init_fn, wid, self._n, ctx.get_start_method() == "fork",
                                      self._shm))
                self._index_queues.append(iq)
                w.start()               # spawn: pickles the dataset and collate_fn here
                self._workers.append(w)
        except BaseException:
            self._finalizer()           # stop the workers already started
            raise
        self._shutdown = False
        self._start_epoch(first=True)

    # --- epochs --------------------------------------------------------------------------------
    def _start_epoch(self, first):
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0
        self._send_idx = self._rcvd_idx = 0
        self._task_info = {}          # task id -> (worker id,) while pending, (worker id, data) when early
        self._outstanding = 0
        self._status = [True] * self._n
        self._cycle = itertools.cycle(range(self._n))
        if not first:   # persistent workers: restart their iterables and drain the last epoch's leftovers
            for q in self._index_queues:
                q.put(ResumeIteration())
            acks = self._n
            while acks:
                idx, _ = self._get()
                if isinstance(idx, ResumeIteration):
                    acks -= 1
        for _ in range(self._prefetch * self._n):
            self._put_index()

    def reset(self):
        if self._shutdown:
            raise RuntimeError("DataLoader: the persistent workers of this loader have been shut down")
        self._start_epoch(first=False)

    def __iter__(self):
        return self

    def __len__(self):
        return len(self._loader)

    # --- sending and receiving -----------------------------------------------------------------
    def _put_index(self):
        try:
            index = next(self._sampler_iter)
        except StopIteration:
            return
        for _ in range(self._n):
            wid = next(self._cycle)
            if self._status[wid]:
                break
        else:
            return
        self._index_queues[wid].put((self._send_idx, index))
        self._task_info[self._send_idx] = (wid,)
        self._outstanding += 1
        self._send_idx += 1

    def _get(self):
        if self._timeout > 0:
            try:
                idx, payload = self._result_queue.get(timeout=self._timeout)
            except queue.Empty:
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds") from None
        else:
            while True:
                try:
                    idx, payload = self._result_queue.get(timeout=_POLL_S)
                    break
                except queue.Empty:
                    dead = [w for wid, w in enumerate(self._workers) if self._status[wid] and not w.is_alive()]
                    if dead:
                        pids = ", ".join(str(w.pid) for w in dead)
                        self._shutdown_workers()
                        raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly") from None
        return idx, (pickle.loads(payload) if isinstance(payload, bytes) else payload)

    def _deliver(self, data):
        self._put_index()
        if isinstance(data, ExceptionWrapper):
            data.reraise()
        self._num_yielded += 1
        return data

    def __next__(self):
        while True:
            while self._rcvd_idx < self._send_idx:
                info = self._task_info.get(self._rcvd_idx)
                if info is not None and (len(info) == 2 or self._status[info[0]]):
                    break
                self._task_info.pop(self._rcvd_idx, None)   # its worker's iterable ended: never coming
                self._rcvd_idx += 1
            else:
                if not self._persistent:
                    self._shutdown_workers()
                raise StopIteration
            info = self._task_info[self._rcvd_idx]
            if len(info) == 2:   # arrived earlier, waited for its turn
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
                return self._deliver(info[1])
            idx, data = self._get()
            self._outstanding -= 1
            if isinstance(data, IterableStop):
                self._status[data.worker_id] = False
                if not self._persistent:
                    self._index_queues[data.worker_id].put(None)
                self._put_index()
                continue
            if idx == self._rcvd_idx or not self._in_order:
                self._task_info.pop(idx, None)
                if idx == self._rcvd_idx:
                    self._rcvd_idx += 1
                return self._deliver(data)
            self._task_info[idx] += (data,)

    # --- shutdown ------------------------------------------------------------------------------
    def _shutdown_workers(self):
        if not self._shutdown:
            self._shutdown = True
            self._finalizer()


def _shm_location():
    # large arrays cross through files in tmpfs, named per iterator so shutdown can remove any
    # that were never read (an epoch cut short)
    if sys.platform.startswith("linux") and os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        return "/dev/shm", f"plugtorch_dl_{os.getpid()}_{uuid.uuid4().hex[:12]}_"
    return None


def _shutdown(owner_pid, workers, index_queues, result_queue, done_event, shm):
    if os.getpid() != owner_pid:   # a forked worker collecting its copy of another iterator
        return
    done_event.set()
    for q in index_queues:
        try:
            q.put(None)
        except (OSError, ValueError):
            pass
    for w in workers:
        w.join(timeout=_POLL_S)
    for q in index_queues:
        q.cancel_join_thread()
        q.close()
    for w in workers:
        if w.is_alive():
            w.terminate()
            w.join()
    result_queue.cancel_join_thread()
    result_queue.close()
    if shm is not None:
        for path in glob.glob(os.path.join(shm[0], glob.escape(shm[1]) + "*")):
            try:
                os.unlink(path)
            except OSError:
                pass
