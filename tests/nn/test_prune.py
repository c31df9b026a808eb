"""nn.utils.prune: masks against NumPy top-k, repeated pruning, global pruning, remove, errors."""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch import nn
from plugtorch.nn.utils import prune


def linear(i=5, o=4, seed=0):
    m = nn.Linear(i, o).double()
    w = np.random.RandomState(seed).permutation(i * o).reshape(o, i) - i * o / 2 + 0.5   # distinct |w|
    m.weight = nn.Parameter(pt.tensor(w * np.random.RandomState(seed + 1).choice([-1, 1], size=w.shape)))
    return m


def smallest_mask(scores, k):
    mask = np.ones(scores.size)
    mask[np.argsort(np.abs(scores).ravel(), kind="stable")[:k]] = 0
    return mask.reshape(scores.shape)


def test_l1_unstructured_mask_and_hook():
    m = linear()
    w = m.weight.detach().numpy().copy()
    orig = m.weight
    prune.l1_unstructured(m, "weight", amount=0.3)          # round(0.3 * 20) = 6 entries
    assert list(m.state_dict()) == ["bias", "weight_orig", "weight_mask"]
    assert [n for n, _ in m.named_parameters()] == ["bias", "weight_orig"] and m.weight_orig is orig
    np.testing.assert_array_equal(m.weight_mask.numpy(), smallest_mask(w, 6))
    np.testing.assert_array_equal(m.weight.detach().numpy(), w * smallest_mask(w, 6))
    assert prune.is_pruned(nn.Sequential(m))
    with pt.no_grad():
        m.weight_orig.add_(1.0)
    x = pt.randn(3, 5, dtype=pt.float64)
    y = m(x)                                                # the pre-hook re-applies the mask
    np.testing.assert_allclose(y.detach().numpy(), x.numpy() @ ((w + 1) * smallest_mask(w, 6)).T
                               + m.bias.detach().numpy())
    y.sum().backward()
    np.testing.assert_allclose(m.weight_orig.grad.numpy(), np.tile(x.numpy().sum(0), (4, 1)) * smallest_mask(w, 6))
    prune.remove(m, "weight")
    assert list(m.state_dict()) == ["bias", "weight"] and m.weight is orig and not prune.is_pruned(m)
    np.testing.assert_allclose(m.weight.detach().numpy(), (w + 1) * smallest_mask(w, 6))


def test_importance_scores_and_repeated_pruning():
    m = linear()
    w = m.weight.detach().numpy().copy()
    scores = pt.tensor(np.arange(20.0).reshape(4, 5)[::-1].copy())
    prune.l1_unstructured(m, "weight", amount=4, importance_scores=scores)
    np.testing.assert_array_equal(m.weight_mask.numpy(), smallest_mask(scores.numpy(), 4))
    prune.l1_unstructured(m, "weight", amount=3)            # 3 more among the 16 left
    assert isinstance(m._forward_pre_hooks[next(iter(m._forward_pre_hooks))], prune.PruningContainer)
    first = smallest_mask(scores.numpy(), 4)
    left = np.where(first == 1, np.abs(w), np.inf)
    np.testing.assert_array_equal(m.weight_mask.numpy(), first * smallest_mask(left, 3))
    hook = next(iter(m._forward_pre_hooks.values()))
    assert len(hook) == 2 and isinstance(hook[1], prune.L1Unstructured)


def test_ln_structured_and_structured_after_unstructured():
    m = linear()
    w = m.weight.detach().numpy().copy()
    prune.ln_structured(m, "weight", amount=0.5, n=1, dim=0)    # 2 of 4 rows by L1 norm
    keep = np.argsort(-np.abs(w).sum(1))[:2]
    expected = np.zeros_like(w)
    expected[keep] = 1
    np.testing.assert_array_equal(m.weight_mask.numpy(), expected)
    prune.ln_structured(m, "weight", amount=1, n=float("inf"), dim=0)   # one of the 2 rows left
    row = keep[np.argmin(np.abs(w[keep]).max(1))]
    expected[row] = 0
    np.testing.assert_array_equal(m.weight_mask.numpy(), expected)
    c = linear()
    prune.ln_structured(c, "weight", amount=2, n=2, dim=-1)     # columns
    keep = np.sort(np.argsort(-np.linalg.norm(c.weight_orig.detach().numpy(), axis=0))[:3])
    assert np.nonzero(c.weight_mask.numpy().any(0))[0].tolist() == keep.tolist()


def test_random_methods_reproducible():
    def masks(seed):
        pt.manual_seed(seed)
        m = linear()
        prune.random_unstructured(m, "weight", amount=7)
        a = m.weight_mask.numpy().copy()
        prune.random_structured(m, "weight", amount=2, dim=1)
        return a, m.weight_mask.numpy().copy()
    a1, s1 = masks(0)
    a2, s2 = masks(0)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(s1, s2)
    assert (a1 == 0).sum() == 7
    cols = (s1 != 0).any(0) | ((a1 == 0) & True).all(0)
    assert (~(s1 != 0).any(0)).sum() >= 2 and cols.sum() <= 5
    assert np.all(s1 <= a1)                                  # the second mask keeps the first's zeros


def test_global_unstructured_and_custom_mask():
    a, b = linear(3, 3, seed=2), linear(3, 2, seed=4)
    wa, wb = a.weight.detach().numpy().copy(), b.weight.detach().numpy().copy()
    prune.global_unstructured([(a, "weight"), (b, "weight")], pruning_method=prune.L1Unstructured, amount=5)
    both = smallest_mask(np.concatenate([wa.ravel(), wb.ravel()]), 5)
    np.testing.assert_array_equal(a.weight_mask.numpy().ravel(), both[:9])
    np.testing.assert_array_equal(b.weight_mask.numpy().ravel(), both[9:])
    mask = pt.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], dtype=pt.float64)
    c = prune.custom_from_mask(linear(3, 2), "bias", mask=pt.tensor([0.0, 1.0]))
    np.testing.assert_array_equal(c.bias.detach().numpy()[0], 0.0)
    assert prune.Identity().prune(mask).tolist() == mask.tolist()
    with pytest.raises(TypeError, match='Only "unstructured" PRUNING_TYPE supported for the `pruning_method`'):
        prune.global_unstructured([(a, "bias")], pruning_method=prune.LnStructured, amount=1, n=2, dim=0)


def test_errors():
    with pytest.raises(ValueError, match=r"amount=1.5 should either be a float in the range \[0, 1\] "
                                         "or a non-negative integer"):
        prune.L1Unstructured(1.5)
    with pytest.raises(TypeError, match="Invalid type for amount: a. Must be int or float."):
        prune.RandomUnstructured("a")
    m = linear()
    with pytest.raises(ValueError, match="amount=30 should be smaller than the number of parameters to prune=20"):
        prune.l1_unstructured(m, "weight", amount=30)
    assert sorted(m.state_dict()) == ["bias", "weight"] and not m._forward_pre_hooks   # left as it was
    with pytest.raises(ValueError, match="Structured pruning can only be applied to multidimensional tensors"):
        prune.ln_structured(m, "bias", amount=1, n=2, dim=0)
    with pytest.raises(IndexError, match="Invalid index 2 for tensor of size"):
        prune.random_structured(m, "weight", amount=1, dim=2)
    with pytest.raises(ValueError, match="Parameter 'weight' of module .* has to be pruned before pruning "
                                         "can be removed"):
        prune.remove(m, "weight")
