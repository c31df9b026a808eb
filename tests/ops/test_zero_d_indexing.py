"""Indexing a 0-d tensor as PyTorch 2.13 does (shapes and exception classes checked against it)."""
import pytest

import plugtorch as pt


@pytest.mark.parametrize("key, shape", [
    (None, (1,)), (Ellipsis, ()), (True, (1,)), (False, (0,)), ((), ()), ((None, Ellipsis), (1,)),
    ((True, None), (1, 1)), ((Ellipsis, None), (1,)), ((False, None), (0, 1)),
    ((True, True), (1,)), ((True, False), (0,)), ((True, True, True), (1,)), ((None, True, None, True), (1, 1, 1)),
])
def test_zero_d_keys_give_torchs_shapes(key, shape):
    t = pt.tensor(5.0)
    r = t[key]
    assert tuple(r.shape) == shape
    assert r.reshape(-1).tolist() == [5.0] * r.numel()


@pytest.mark.parametrize("key, shape", [((True, True), (1, 2, 3)), ((True, False), (0, 2, 3)),
                                        ((True, 0, True), (1, 3)), ((None, True, True), (1, 1, 2, 3)),
                                        ((True, False, True), (0, 2, 3))])
def test_scalar_bools_share_one_dim(key, shape):
    assert tuple(pt.arange(6.0).reshape(2, 3)[key].shape) == shape


@pytest.mark.parametrize("key, want", [
    ((True, [0, 1]), [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]), (([0, 1], True), [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]),
    ((True, slice(None), [0, 1]), [[0.0, 3.0], [1.0, 4.0]]), ((slice(None), "B"), [[[0.0, 1.0, 2.0]], [[3.0, 4.0, 5.0]]]),
    (("B", True), [[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]]), (("B", 0), [[0.0, 1.0, 2.0]]),
])
def test_scalar_bools_are_advanced_indices_as_torch(key, want):
    # torch 2.13: a scalar bool (or 0-d bool tensor) is a new dim indexed by [0], broadcast with the
    # other advanced indices
    key = tuple(pt.tensor(True) if k == "B" else k for k in key)
    assert pt.arange(6.0).reshape(2, 3)[key].tolist() == want


def test_bool_keys_give_a_copy_as_torch():
    s = pt.tensor(5.0)
    v = s[True]
    v[0] = 7.0
    assert s.item() == 5.0
    t = pt.arange(6.0).reshape(2, 3)
    t[True, 0] = 9.0
    assert t.tolist() == [[9.0, 9.0, 9.0], [3.0, 4.0, 5.0]]
    assert tuple(pt.tensor(5.0)[pt.tensor(True), True].shape) == (1,)


def test_zero_d_setitem_with_empty_keys():
    for key, want in [(None, 7.0), (Ellipsis, 7.0), (True, 7.0), (False, 5.0), ((), 7.0)]:
        t = pt.tensor(5.0)
        t[key] = 7.0
        assert t.item() == want


@pytest.mark.parametrize("key, match", [
    (0, "invalid index of a 0-dim tensor"), (-1, "invalid index of a 0-dim tensor"),
    (slice(None), r"slice\(\) cannot be applied to a 0-dim tensor"),
    (slice(0, 1), r"slice\(\) cannot be applied to a 0-dim tensor"),
    ((Ellipsis, 0), "too many indices for tensor of dimension 0"), ((None, 0), "too many indices"),
    ([0], "too many indices"),
])
def test_zero_d_bad_keys_are_index_errors(key, match):
    t = pt.tensor(5.0)
    with pytest.raises(IndexError, match=match):
        t[key]
    with pytest.raises(IndexError, match=match):
        t[key] = 1.0


def test_zero_d_index_ops_as_torch():
    t = pt.tensor(5.0)
    assert pt.index_select(t, 0, pt.tensor([0])).tolist() == 5.0
    with pytest.raises(RuntimeError, match=r"index_select\(\): Index to scalar can have only 1 value, got 2"):
        pt.index_select(t, 0, pt.tensor([0, 0]))
    with pytest.raises(IndexError, match=r"take_along_dim\(\): Dimension specified as 0 but tensor has no dimensions"):
        pt.take_along_dim(t, pt.tensor(0), 0)
    assert pt.take_along_dim(t, pt.tensor([0])).tolist() == [5.0]
    with pytest.raises(IndexError, match=r"unbind\(\): Dimension specified as 0 but tensor has no dimensions"):
        t.unbind(0)


def test_gather_from_a_zero_d_tensor_repeats_its_element():
    t = pt.tensor(5.0)
    assert pt.gather(t, -1, pt.tensor([0, 0, 0])).tolist() == [5.0, 5.0, 5.0]     # torch: tensor([5., 5., 5.])
    assert pt.gather(t, 0, pt.tensor(0)).tolist() == 5.0
    with pytest.raises(RuntimeError, match="index 1 is out of bounds for dimension 0 with size 1"):
        pt.gather(t, 0, pt.tensor([1]))
