"""DistributedSampler: PyTorch's partition of a dataset among ranks (no process group needed)."""
import pytest

from plugtorch.utils.data import DataLoader, DistributedSampler, TensorDataset
import plugtorch as pt


def shares(n, replicas, **kw):
    return [list(DistributedSampler(range(n), replicas, r, **kw)) for r in range(replicas)]


# known answers from torch 2.13's DistributedSampler (shuffle=False); the same code agreed with
# torch on every (len 0..12, replicas 1..8, drop_last) combination tried
@pytest.mark.parametrize("n, replicas, drop_last, expected", [
    (7, 3, False, [[0, 3, 6], [1, 4, 0], [2, 5, 1]]),       # padded with the head
    (7, 3, True, [[0, 3], [1, 4], [2, 5]]),                   # tail cut
    (6, 3, True, [[0, 3], [1, 4], [2, 5]]),                   # divisible: nothing cut
    (2, 4, False, [[0], [1], [0], [1]]),                       # fewer samples than replicas
    (2, 4, True, [[], [], [], []]),
    (1, 8, False, [[0]] * 8),
    (0, 2, False, [[], []]),
    (10, 1, False, [list(range(10))]),
])
def test_partition_matches_pytorch(n, replicas, drop_last, expected):
    assert shares(n, replicas, shuffle=False, drop_last=drop_last) == expected
    s = DistributedSampler(range(n), replicas, 0, shuffle=False, drop_last=drop_last)
    assert len(s) == len(expected[0]) and s.total_size == len(expected[0]) * replicas


@pytest.mark.parametrize("n, replicas, drop_last", [(10, 3, False), (10, 3, True), (12, 4, False), (3, 5, False)])
def test_shuffle_is_a_shared_permutation_split_by_rank(n, replicas, drop_last):
    parts = shares(n, replicas, shuffle=True, seed=7, drop_last=drop_last)
    per = n // replicas if drop_last else -(-n // replicas)
    assert all(len(p) == per for p in parts)
    # interleaving the shares gives back one permutation, padded with its head / cut at the tail
    merged = [parts[r][i] for i in range(per) for r in range(replicas)]
    if drop_last:
        assert len(set(merged)) == len(merged) and set(merged) <= set(range(n))
    else:
        first = merged[:n]
        assert sorted(first) == list(range(n))
        assert merged[n:] == (first * replicas)[:per * replicas - n]
    assert parts == shares(n, replicas, shuffle=True, seed=7, drop_last=drop_last)   # same on every call
    assert merged[:n] != list(range(n)) or n < 4


def test_seed_and_epoch_change_the_order_and_set_epoch_is_shared():
    s = DistributedSampler(range(20), 2, 0, seed=1)
    e0 = list(s)
    s.set_epoch(1)
    e1 = list(s)
    assert s.epoch == 1 and e0 != e1 and sorted(e0) != e0
    assert list(DistributedSampler(range(20), 2, 0, seed=2)) != e0
    other = DistributedSampler(range(20), 2, 1, seed=1)
    other.set_epoch(1)
    assert sorted(e1 + list(other)) == list(range(20))
    # seed + epoch is the generator's seed, as PyTorch (seed 1 epoch 1 == seed 2 epoch 0)
    assert e1 == list(DistributedSampler(range(20), 2, 0, seed=2))


def test_feeds_a_dataloader():
    ds = TensorDataset(pt.arange(10).float(), pt.arange(10))
    seen = []
    for r in range(2):
        loader = DataLoader(ds, batch_size=2, sampler=DistributedSampler(ds, 2, r, shuffle=False))
        seen.append([y.tolist() for _, y in loader])
    assert seen == [[[0, 2], [4, 6], [8]], [[1, 3], [5, 7], [9]]]


@pytest.mark.parametrize("rank, replicas, bound", [(2, 2, 1), (-1, 3, 2), (5, 1, 0)])
def test_invalid_rank(rank, replicas, bound):
    with pytest.raises(ValueError, match=rf"Invalid rank {rank}, rank should be in the interval \[0, {bound}\]"):
        DistributedSampler(range(4), replicas, rank)


def test_defaults_need_a_process_group():
    # world size and rank default to the default group's (checked under mpiexec in
    # scripts/ddp_checks.py); without one, the process group's own error, as PyTorch
    with pytest.raises(ValueError, match="Default process group has not been initialized, please make sure to "
                                         "call init_process_group"):
        DistributedSampler(range(4))
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedSampler(range(4), num_replicas=2)


def test_defaults_without_a_distributed_package(monkeypatch):
    import plugtorch.distributed as dist
    monkeypatch.setattr(dist, "is_available", lambda: False)     # as without mpi4py
    with pytest.raises(RuntimeError, match="Requires distributed package to be available"):
        DistributedSampler(range(4))
    assert list(DistributedSampler(range(4), 2, 1, shuffle=False)) == [1, 3]   # explicit: no group needed


def test_empty_dataset_shuffled():
    assert [list(DistributedSampler([], 2, r)) for r in (0, 1)] == [[], []]
