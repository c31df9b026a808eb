"""plugtorch.nn.attention: SDPBackend and sdpa_kernel. plugtorch has only the math kernel, so a
block that leaves SDPBackend.MATH out makes attention raise at the call (as PyTorch does when
none of the allowed backends can run); one that allows it runs it."""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch.nn.attention import SDPBackend, sdpa_kernel, _cur_sdpa_kernel_backends

F = pt.nn.functional
ALL = [SDPBackend.MATH, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
       SDPBackend.CUDNN_ATTENTION, SDPBackend.OVERRIDEABLE]


def _qkv():
    rng = np.random.default_rng(0)
    return [rng.standard_normal((2, 3, 4)).astype(np.float32) for _ in range(3)]


def _numpy_attention(q, k, v):
    s = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])
    p = np.exp(s - s.max(-1, keepdims=True))
    return (p / p.sum(-1, keepdims=True)) @ v


def test_enum_has_pytorchs_names_and_values():
    assert [(b.name, b.value) for b in SDPBackend] == [
        ("ERROR", -1), ("MATH", 0), ("FLASH_ATTENTION", 1), ("EFFICIENT_ATTENTION", 2),
        ("CUDNN_ATTENTION", 3), ("OVERRIDEABLE", 4)]
    assert repr(SDPBackend.MATH) == "<SDPBackend.MATH: 0>" and str(SDPBackend.MATH) == "SDPBackend.MATH"
    assert int(SDPBackend.FLASH_ATTENTION) == 1 and SDPBackend(2) is SDPBackend.EFFICIENT_ATTENTION
    assert pt.nn.attention.SDPBackend is SDPBackend


@pytest.mark.parametrize("backends", [SDPBackend.MATH, [SDPBackend.MATH],
                                      [SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH],
                                      [SDPBackend.FLASH_ATTENTION, SDPBackend.MATH, SDPBackend.CUDNN_ATTENTION]])
def test_blocks_that_allow_math_run_it(backends):
    q, k, v = _qkv()
    with sdpa_kernel(backends) as ctx:
        assert ctx == {}
        assert SDPBackend.MATH in _cur_sdpa_kernel_backends()
        out = F.scaled_dot_product_attention(pt.tensor(q), pt.tensor(k), pt.tensor(v))
    np.testing.assert_allclose(out.numpy(), _numpy_attention(q, k, v), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backends", [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
                                      SDPBackend.CUDNN_ATTENTION, SDPBackend.OVERRIDEABLE, SDPBackend.ERROR,
                                      [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION], []])
def test_blocks_without_math_raise_at_the_call(backends):
    q = pt.ones(1, 2, 4)
    with sdpa_kernel(backends):          # entering is fine: the call is what has no kernel
        with pytest.raises(RuntimeError, match=r"No viable backend for scaled_dot_product_attention was found: "
                                               r"sdpa_kernel\(\) allows only \[.*\].*add SDPBackend.MATH"):
            F.scaled_dot_product_attention(q, q, q)
    np.testing.assert_allclose(F.scaled_dot_product_attention(q, q, q).numpy(), np.ones((1, 2, 4)))


def test_the_message_names_the_allowed_backends():
    q = pt.ones(1, 2, 4)
    with sdpa_kernel([SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION]):
        with pytest.raises(RuntimeError, match=r"allows only \[FLASH_ATTENTION, CUDNN_ATTENTION\]"):
            F.scaled_dot_product_attention(q, q, q)
    with sdpa_kernel([]):
        with pytest.raises(RuntimeError, match=r"allows only \[none\]"):
            F.scaled_dot_product_attention(q, q, q)


def test_multihead_attention_follows_it_when_it_would_run_sdpa():
    pt.manual_seed(0)
    mha = pt.nn.MultiheadAttention(4, 2, batch_first=True)
    x = pt.randn(1, 3, 4)
    ref = mha(x, x, x, need_weights=False)[0].detach().numpy()
    with sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION):
        with pytest.raises(RuntimeError, match="No viable backend"):
            mha(x, x, x, need_weights=False)
        out, w = mha(x, x, x, need_weights=True)          # explicit weights: no SDPA (as PyTorch)
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w.sum(-1).detach().numpy(), np.ones((1, 3)), rtol=1e-6)


def test_state_nests_and_is_restored():
    assert _cur_sdpa_kernel_backends() == ALL
    with sdpa_kernel(SDPBackend.MATH):
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            assert _cur_sdpa_kernel_backends() == [SDPBackend.FLASH_ATTENTION]
        assert _cur_sdpa_kernel_backends() == [SDPBackend.MATH]
    assert _cur_sdpa_kernel_backends() == ALL
    with pytest.raises(ValueError):
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            raise ValueError
    assert _cur_sdpa_kernel_backends() == ALL


def test_set_priority_orders_the_backends():
    default = _cur_sdpa_kernel_backends(with_priority=True)
    assert default == [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH,
                       SDPBackend.CUDNN_ATTENTION, SDPBackend.OVERRIDEABLE]
    with sdpa_kernel([SDPBackend.MATH, SDPBackend.CUDNN_ATTENTION, SDPBackend.MATH], set_priority=True):
        assert _cur_sdpa_kernel_backends(with_priority=True) == [SDPBackend.MATH, SDPBackend.CUDNN_ATTENTION]
        with sdpa_kernel(ALL):
            assert _cur_sdpa_kernel_backends(with_priority=True)[:3] == [
                SDPBackend.MATH, SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION]
    assert _cur_sdpa_kernel_backends(with_priority=True) == default


def test_as_a_decorator():
    @sdpa_kernel(SDPBackend.FLASH_ATTENTION)
    def f():
        return _cur_sdpa_kernel_backends()
    assert f() == [SDPBackend.FLASH_ATTENTION]
    assert _cur_sdpa_kernel_backends() == ALL


@pytest.mark.parametrize("bad, name", [("math", "str"), (0, "int"), (None, "NoneType"), ((SDPBackend.MATH,), "tuple")])
def test_bad_backends_are_refused(bad, name):
    with pytest.raises(AssertionError, match=f"Backend must be an instance of SDPBackend or a list of SDPBackend "
                                             f"instances, got {name}"):
        with sdpa_kernel(bad):
            pass
    with pytest.raises(AssertionError, match="got a list holding str 'math'"):
        with sdpa_kernel([SDPBackend.MATH, "math"]):
            pass
    assert _cur_sdpa_kernel_backends() == ALL
