"""Datasets, samplers, default collation and the DataLoader."""
import collections

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset, IterableDataset,
                                  RandomSampler, SequentialSampler, Subset, SubsetRandomSampler,
                                  TensorDataset, WeightedRandomSampler, default_collate, random_split)


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __getitem__(self, i):
        return {"x": pt.tensor([float(i), float(i * i)]), "i": i, "name": f"s{i}"}

    def __len__(self):
        return self.n


class Count(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


def xy(n=10):
    return TensorDataset(pt.arange(n * 2, dtype=pt.float32).view(n, 2), pt.arange(n))


def test_tensor_dataset_rows_and_size_mismatch():
    ds = xy(4)
    x, y = ds[2]
    assert x.tolist() == [4.0, 5.0] and y.item() == 2 and len(ds) == 4
    with pytest.raises(AssertionError, match=r"Size mismatch between tensors: tensor 0 has 4 rows but tensor 1 has shape \[3\]"):
        TensorDataset(pt.zeros(4, 2), pt.zeros(3))
    with pytest.raises(IndexError, match="tensor 1 has no dimensions"):
        TensorDataset(pt.zeros(4, 2), pt.tensor(3.0))


def test_loader_batches_in_order_and_drop_last():
    loader = DataLoader(xy(10), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert batches[0][0].tolist() == [[0, 1], [2, 3], [4, 5], [6, 7]]
    loader = DataLoader(xy(10), batch_size=4, drop_last=True)
    assert len(loader) == 2 and [b[1].tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_shuffle_with_a_generator_is_reproducible_and_a_permutation():
    def epoch(seed):
        loader = DataLoader(xy(10), batch_size=3, shuffle=True, generator=pt.Generator().manual_seed(seed))
        return [i for _, y in loader for i in y.tolist()]
    a, b, c = epoch(1), epoch(1), epoch(2)
    assert a == b and a != c and sorted(a) == list(range(10))
    # the loader first draws its workers' base seed (one int64) from the generator, as torch's
    # does with or without workers; the permutation comes after it
    g = pt.Generator().manual_seed(1)
    pt.empty((), dtype=pt.int64).random_(generator=g)
    assert a == pt.randperm(10, generator=g).tolist()


def test_shuffle_without_a_generator_follows_manual_seed_and_changes_each_epoch():
    loader = DataLoader(xy(10), batch_size=10, shuffle=True)
    pt.manual_seed(3)
    e1, e2 = [loader_ys(loader) for _ in range(2)]
    pt.manual_seed(3)
    assert loader_ys(loader) == e1 and e1 != e2


def loader_ys(loader):
    return [i for _, y in loader for i in y.tolist()]


def test_tensor_dataset_fast_path_equals_stacking_rows():
    ds = xy(7)
    g = pt.Generator().manual_seed(5)
    fast = list(DataLoader(ds, batch_size=3, shuffle=True, generator=g))
    g = pt.Generator().manual_seed(5)
    slow = list(DataLoader(ds, batch_size=3, shuffle=True, generator=g, collate_fn=lambda b: default_collate(b)))
    for (fx, fy), (sx, sy) in zip(fast, slow):
        assert fx.tolist() == sx.tolist() and fy.tolist() == sy.tolist() and fx.dtype == sx.dtype


def test_default_collate_dicts_numbers_strings():
    batch = next(iter(DataLoader(Squares(5), batch_size=3)))
    assert batch["x"].tolist() == [[0, 0], [1, 1], [2, 4]]
    assert batch["i"].dtype == pt.int64 and batch["i"].tolist() == [0, 1, 2]
    assert batch["name"] == ["s0", "s1", "s2"]


def test_default_collate_tuples_namedtuples_floats_numpy():
    P = collections.namedtuple("P", "a b")
    out = default_collate([(1.5, np.array([1, 2])), (2.5, np.array([3, 4]))])
    assert isinstance(out, list) and out[0].dtype == pt.float64 and out[0].tolist() == [1.5, 2.5]
    assert out[1].dtype == pt.int64 and out[1].tolist() == [[1, 2], [3, 4]]
    nt = default_collate([P(1, True), P(2, False)])
    assert isinstance(nt, P) and nt.a.tolist() == [1, 2] and nt.b.dtype == pt.bool


def test_default_collate_infers_the_dtype_of_numbers_from_the_whole_batch():
    # an int first, then a float: the batch is float (the default dtype), not truncated to [1, 2]
    out = default_collate([1, 2.5])
    assert out.dtype == pt.float32 and out.tolist() == [1.0, 2.5]
    assert default_collate([2.5, 1]).dtype == pt.float64          # a float first: float64
    mixed = default_collate([True, 2])
    assert mixed.dtype == pt.int64 and mixed.tolist() == [1, 2]     # not [True, True]
    assert default_collate([1, 2]).dtype == pt.int64 and default_collate([True, False]).dtype == pt.bool
    # without batching a sample's tuple becomes a list, as PyTorch's default_convert does
    x = pt.arange(4.0).reshape(2, 2)
    first = next(iter(DataLoader(TensorDataset(x, pt.arange(2)), batch_size=None)))
    assert isinstance(first, list) and first[0].tolist() == [0.0, 1.0] and first[1].item() == 0


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found object"):
        default_collate([object(), object()])


def test_custom_collate_fn_and_no_batching():
    loader = DataLoader(Squares(4), batch_size=2, collate_fn=lambda b: [s["i"] for s in b])
    assert list(loader) == [[0, 1], [2, 3]]
    loader = DataLoader(Squares(2), batch_size=None)
    assert [s["i"] for s in loader] == [0, 1] and len(loader) == 2


def test_sampler_and_batch_sampler_options():
    loader = DataLoader(xy(6), batch_size=2, sampler=[5, 0, 3])
    assert loader_ys(loader) == [5, 0, 3]
    loader = DataLoader(xy(6), batch_sampler=[[1, 2], [4]])
    assert [y.tolist() for _, y in loader] == [[1, 2], [4]]


@pytest.mark.parametrize("kw,msg", [
    (dict(sampler=[0], shuffle=True), "sampler option is mutually exclusive with shuffle"),
    (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler option is mutually exclusive with batch_size"),
    (dict(batch_size=None, drop_last=True), "batch_size=None option disables auto-batching and is mutually exclusive with drop_last"),
    (dict(num_workers=-1), "num_workers option should be non-negative"),
    (dict(batch_size=0), "batch_size should be a positive integer value, but got batch_size=0"),
])
def test_loader_option_errors(kw, msg):
    with pytest.raises(ValueError, match=msg):
        DataLoader(xy(3), **kw)


def test_iterable_dataset_batches_and_errors():
    assert [b.tolist() for b in DataLoader(Count(5), batch_size=2)] == [[0, 1], [2, 3], [4]]
    assert [b.tolist() for b in DataLoader(Count(5), batch_size=2, drop_last=True)] == [[0, 1], [2, 3]]
    assert len(DataLoader(Count(5), batch_size=2)) == 3
    with pytest.raises(ValueError, match="DataLoader with IterableDataset: expected unspecified shuffle option, but got shuffle=True"):
        DataLoader(Count(5), shuffle=True)


def test_loader_keeps_the_dataset_device(altcpu):
    ds = TensorDataset(pt.arange(6, device=altcpu).view(3, 2))
    (b,) = next(iter(DataLoader(ds, batch_size=2, shuffle=True, generator=pt.Generator().manual_seed(0))))
    assert b.device == altcpu and b.shape == (2, 2)


def test_samplers():
    assert list(SequentialSampler(range(3))) == [0, 1, 2]
    g = pt.Generator().manual_seed(0)
    perm = list(RandomSampler(range(5), generator=g))
    assert sorted(perm) == [0, 1, 2, 3, 4]
    drawn = list(RandomSampler(range(3), replacement=True, num_samples=40, generator=g))
    assert len(drawn) == 40 and set(drawn) <= {0, 1, 2}
    assert sorted(SubsetRandomSampler([7, 8, 9], generator=g)) == [7, 8, 9]
    w = list(WeightedRandomSampler([0.0, 1.0, 0.0], 5, generator=g))
    assert w == [1] * 5
    assert list(BatchSampler(range(5), 2, drop_last=True)) == [[0, 1], [2, 3]]
    assert len(BatchSampler(range(5), 2, drop_last=False)) == 3
    with pytest.raises(ValueError, match="num_samples should be a positive integer value, but got num_samples=0"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match="replacement should be a boolean value"):
        RandomSampler(range(3), replacement=1)


def test_random_split_lengths_fractions_and_errors():
    g = pt.Generator().manual_seed(0)
    a, b = random_split(range(10), [7, 3], generator=g)
    assert len(a) == 7 and len(b) == 3 and sorted(list(a) + list(b)) == list(range(10))
    assert list(a) == pt.randperm(10, generator=pt.Generator().manual_seed(0)).tolist()[:7]
    parts = random_split(range(10), [0.34, 0.33, 0.33], generator=g)
    assert [len(p) for p in parts] == [4, 3, 3]
    with pytest.raises(ValueError, match="Sum of input lengths does not equal the length of the input dataset"):
        random_split(range(10), [5, 4])


def test_subset_and_concat():
    s = Subset(range(10, 20), [3, 1])
    assert len(s) == 2 and s[0] == 13 and s[1] == 11
    c = ConcatDataset([range(3), range(10, 12)])
    assert len(c) == 5 and [c[i] for i in range(5)] == [0, 1, 2, 10, 11] and c[-1] == 11
    assert len(xy(2) + xy(3)) == 5


@pytest.mark.parametrize("device", [d for d in pt.backends.available() if d != "cpu"])
def test_loader_on_every_available_backend_matches_cpu(device):
    batches = []
    for dev in ("cpu", device):
        ds = TensorDataset(pt.arange(20.0, device=dev).view(10, 2), pt.arange(10, device=dev))
        loader = DataLoader(ds, batch_size=4, shuffle=True, generator=pt.Generator().manual_seed(7))
        got = list(loader)
        assert all(x.device.type == pt.device(dev).type for x, _ in got)
        batches.append([(x.cpu().tolist(), y.cpu().tolist()) for x, y in got])
    assert batches[0] == batches[1]


def test_tensor_dataset_loader_handles_endless_samplers_and_small_gathers():
    class Endless:
        def __iter__(self):
            i = 0
            while True:
                yield i % 5
                i += 1
    loader = DataLoader(xy(5), batch_size=2, sampler=Endless())
    it = iter(loader)
    assert [next(it)[1].tolist() for _ in range(4)] == [[0, 1], [2, 3], [4, 0], [1, 2]]
    batches = list(DataLoader(xy(10), batch_size=3)._iter_tensor_dataset(rows_per_gather=4))
    assert [y.tolist() for _, y in batches] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_tensor_dataset_batches_record_in_place_ops_with_tensors_that_need_grad():
    X, Y = pt.randn(10, 3), pt.arange(10)
    w = pt.full((3,), 2.0, requires_grad=True)
    x, y = next(iter(DataLoader(TensorDataset(X, Y), batch_size=4)))
    x.mul_(w)
    x.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), X[0:4].sum(0).numpy(), rtol=1e-6)


def test_weighted_sampler_checks_replacement_and_empty_weights():
    with pytest.raises(ValueError, match="replacement should be a boolean value, but got replacement=0"):
        WeightedRandomSampler([1.0, 2.0], 2, replacement=0)
    with pytest.raises(RuntimeError, match="sum of probabilities <= 0"):
        list(WeightedRandomSampler([], 2))     # was [-1, -1]: indices into nothing


def test_loader_iterator_has_the_loaders_length_even_after_a_partial_epoch():
    loader = DataLoader(range(5), batch_size=2)
    it = iter(loader)
    assert len(it) == 3 and next(it).tolist() == [0, 1]
    assert len(it) == 3 and [b.tolist() for b in it] == [[2, 3], [4]]
    assert len(iter(DataLoader(Count(5), batch_size=2, drop_last=True))) == 2


def test_tensor_dataset_loader_takes_negative_indices_from_the_end():
    ds = TensorDataset(pt.arange(11) * 10)
    out = [b[0].tolist() for b in DataLoader(ds, batch_size=2, sampler=[-1, 0, -11, 3])]
    assert out == [[100, 0], [0, 30]]     # as ds[-1], ds[0], ds[-11], ds[3]
    with pytest.raises(IndexError, match="index -12 is out of range"):
        list(DataLoader(ds, batch_size=2, sampler=[-12]))


def test_subset_getitems_goes_through_the_datasets_getitems():
    class Batched(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return -i

        def __getitems__(self, idx):
            return [i * 100 for i in idx]
    sub = Subset(Batched(), [4, 1, 3])
    assert sub.__getitems__([0, 2]) == [400, 300]
    assert [b.tolist() for b in DataLoader(sub, batch_size=2)] == [[400, 100], [300]]
    assert Subset(list("abcde"), [4, 1]).__getitems__([1, 0]) == ["b", "e"]


def test_random_split_warns_of_an_empty_split():
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        parts = random_split(range(3), [0.1, 0.1, 0.8], generator=pt.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [1, 0, 2]     # floor(0.3)=0, 0, floor(2.4)=2, remainder 1 to split 0


def test_concat_dataset_errors_are_assertions_as_pytorchs():
    with pytest.raises(AssertionError, match="datasets should not be an empty iterable"):
        ConcatDataset([])
    with pytest.raises(AssertionError, match="does not support IterableDataset .*use ChainDataset"):
        ConcatDataset([range(2), Count(2)])


def test_default_convert_turns_numpy_scalars_into_tensors_and_keeps_container_types():
    from plugtorch.utils.data import default_convert
    t = default_convert(np.float32(1.5))
    assert isinstance(t, pt.Tensor) and t.dtype == pt.float32 and t.shape == () and t.item() == 1.5
    out = default_convert([np.int32(3), 2, "s"])
    assert out[0].dtype == pt.int32 and out[0].item() == 3 and out[1:] == [2, "s"]
    od = default_convert(collections.OrderedDict(a=np.arange(2)))
    assert type(od) is collections.OrderedDict and od["a"].tolist() == [0, 1]
    dd = default_convert(collections.defaultdict(list, a=np.int64(1)))
    assert type(dd) is collections.defaultdict and dd.default_factory is list and dd["a"].item() == 1
    assert default_convert(range(2)) == [0, 1]      # a range can't be rebuilt from a list
    # batch_size=None: each sample is converted
    assert [x.dtype for x in DataLoader([np.float64(2.0), np.arange(2)], batch_size=None)] == [pt.float64, pt.int64]


def test_default_collate_keeps_mapping_types_and_tuple_columns():
    dd = default_collate([collections.defaultdict(int, a=1), collections.defaultdict(int, a=2)])
    assert type(dd) is collections.defaultdict and dd.default_factory is int and dd["a"].tolist() == [1, 2]
    # columns of strings inside lists come out as tuples, as PyTorch's (the transposed rows)
    assert default_collate([["a", "b"], ["c", "d"]]) == [("a", "c"), ("b", "d")]
    assert default_collate(["a", "c"]) == ["a", "c"]
