"""ChainDataset, StackDataset and get_worker_info, as torch.utils.data's."""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch.utils.data import (ChainDataset, DataLoader, IterableDataset, StackDataset, TensorDataset,
                                  get_worker_info)


class Range(IterableDataset):
    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def __iter__(self):
        return iter(range(self.lo, self.hi))

    def __len__(self):
        return self.hi - self.lo


def test_chain_dataset_items_length_and_add():
    d = ChainDataset([Range(0, 3), Range(10, 12)])
    assert list(d) == [0, 1, 2, 10, 11] and len(d) == 5
    assert list(d) == [0, 1, 2, 10, 11]            # iterable again
    both = Range(0, 2) + Range(5, 6)
    assert isinstance(both, ChainDataset) and list(both) == [0, 1, 5]
    assert [b.tolist() for b in DataLoader(d, batch_size=2)] == [[0, 1], [2, 10], [11]]
    bad = ChainDataset([Range(0, 1), [7, 8]])
    with pytest.raises(AssertionError, match="ChainDataset only supports IterableDataset"):
        list(bad)
    with pytest.raises(AssertionError, match="ChainDataset only supports IterableDataset"):
        len(bad)


def test_stack_dataset_tuple_and_dict():
    x = np.arange(12.0).reshape(4, 3)
    xs = TensorDataset(pt.tensor(x))
    labels = ["a", "b", "c", "d"]
    s = StackDataset(xs, labels)
    assert len(s) == 4
    (row,), lab = s[2]
    assert row.tolist() == x[2].tolist() and lab == "c"
    d = StackDataset(inputs=pt.tensor(x), label=pt.tensor([0, 1, 0, 1]))
    assert d[3]["inputs"].tolist() == x[3].tolist() and d[3]["label"].item() == 1
    batch = next(iter(DataLoader(d, batch_size=3)))
    np.testing.assert_array_equal(batch["inputs"].numpy(), x[:3])
    assert batch["label"].tolist() == [0, 1, 0]
    items = s.__getitems__([3, 1])     # TensorDataset's own __getitems__ serves the first column
    assert [lab for _, lab in items] == ["d", "b"] and items[0][0][0].tolist() == x[3].tolist()


def test_stack_dataset_errors():
    with pytest.raises(ValueError, match="^Size mismatch between datasets$"):
        StackDataset([1, 2], [1])
    with pytest.raises(ValueError, match="^Size mismatch between datasets$"):
        StackDataset(a=[1, 2], b=[1, 2, 3])
    with pytest.raises(ValueError, match="At least one dataset should be passed"):
        StackDataset()
    with pytest.raises(ValueError, match="but both types are given"):
        StackDataset([1], b=[2])


def test_get_worker_info_is_none_in_the_main_process():
    seen = []

    class Probe(IterableDataset):
        def __iter__(self):
            seen.append(get_worker_info())
            return iter([1, 2])

    assert get_worker_info() is None
    assert [b.tolist() for b in DataLoader(Probe(), batch_size=2)] == [[1, 2]]
    assert seen == [None]       # num_workers=0 loads in the main process (workers: tests/utils/test_dataloader_workers.py)
