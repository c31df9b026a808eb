"""plugtorch.testing: assert_close with PyTorch's semantics and tolerances, make_tensor."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.testing import assert_close, default_tolerances, make_tensor


@pytest.mark.parametrize("dtype, rtol, atol", [(pt.float16, 1e-3, 1e-5), (pt.bfloat16, 1.6e-2, 1e-5),
                                               (pt.float32, 1.3e-6, 1e-5), (pt.float64, 1e-7, 1e-7),
                                               (pt.int32, 0.0, 0.0), (pt.bool, 0.0, 0.0)])
def test_default_tolerances_are_pytorchs_table(dtype, rtol, atol):
    assert default_tolerances(dtype) == (rtol, atol)


def test_default_tolerances_take_the_loosest_dtype():
    assert default_tolerances(pt.float32, pt.float16) == (1e-3, 1e-5)


def test_float32_within_and_beyond_default_tolerance():
    assert_close(pt.tensor([1.0, 100.0]), pt.tensor([1.0 + 1e-6, 100.0 + 1e-4]))
    with pytest.raises(AssertionError) as e:
        assert_close(pt.tensor([1.0, 100.0]), pt.tensor([1.0, 100.01]))
    msg = str(e.value)
    assert "Tensor-likes are not close!" in msg
    assert "Mismatched elements: 1 / 2 (50.0%)" in msg
    assert "Greatest absolute difference: " in msg and "at index (1,) (up to 1e-05 allowed)" in msg
    assert "(up to 1.3e-06 allowed)" in msg


def test_float64_is_stricter_than_float32():
    a, b = pt.tensor([1.0], dtype=pt.float64), pt.tensor([1.0 + 1e-6], dtype=pt.float64)
    with pytest.raises(AssertionError, match="not close"):
        assert_close(a, b)
    assert_close(a.float(), b.float())


def test_integers_and_bools_compare_exactly():
    assert_close(pt.tensor([1, 2, 3]), pt.tensor([1, 2, 3]))
    with pytest.raises(AssertionError, match="not equal") as e:
        assert_close(pt.tensor([1, 2, 3]), pt.tensor([1, 2, 4]))
    assert "Mismatched elements: 1 / 3" in str(e.value)
    with pytest.raises(AssertionError, match="not equal"):
        assert_close(pt.tensor([True]), pt.tensor([False]))


def test_explicit_tolerances_and_both_or_neither():
    assert_close(pt.tensor([1.0]), pt.tensor([1.1]), rtol=0.2, atol=0.0)
    with pytest.raises(ValueError, match="Both 'rtol' and 'atol' must be either specified or omitted"):
        assert_close(pt.tensor([1.0]), pt.tensor([1.0]), rtol=0.1)


def test_nan_needs_equal_nan_and_inf_must_match():
    x = pt.tensor([float("nan"), 1.0])
    with pytest.raises(AssertionError):
        assert_close(x, x.clone())
    assert_close(x, x.clone(), equal_nan=True)
    assert_close(pt.tensor([math.inf]), pt.tensor([math.inf]))
    with pytest.raises(AssertionError):
        assert_close(pt.tensor([math.inf]), pt.tensor([-math.inf]))
    with pytest.raises(AssertionError):
        assert_close(pt.tensor([1.0]), pt.tensor([float("nan")]), equal_nan=True)


def test_shape_dtype_device_mismatches_name_the_attribute():
    with pytest.raises(AssertionError, match=r"attribute 'shape' do not match: plugtorch.Size\(\[2\]\) != plugtorch.Size\(\[3\]\)"):
        assert_close(pt.zeros(2), pt.zeros(3))
    with pytest.raises(AssertionError, match="attribute 'dtype' do not match: plugtorch.float32 != plugtorch.float64"):
        assert_close(pt.zeros(2), pt.zeros(2, dtype=pt.float64))
    assert_close(pt.zeros(2), pt.zeros(2, dtype=pt.float64), check_dtype=False)


def test_stride_check_is_opt_in():
    x = pt.arange(6.0).reshape(2, 3)
    y = x.t().contiguous().t()
    assert_close(x, y)
    with pytest.raises(AssertionError, match="stride"):
        assert_close(x, y, check_stride=True)


def test_sequences_mappings_and_scalars():
    assert_close([pt.ones(2), {"a": pt.zeros(1)}], [pt.ones(2), {"a": pt.zeros(1)}])
    with pytest.raises(AssertionError, match=r"at \[1\]\['a'\]"):
        assert_close([pt.ones(2), {"a": pt.zeros(1)}], [pt.ones(2), {"a": pt.ones(1)}])
    with pytest.raises(AssertionError, match="length of the sequences"):
        assert_close([1.0], [1.0, 2.0])
    assert_close(1.0, 1.0 + 1e-9)
    with pytest.raises(AssertionError, match="Scalars are not close"):
        assert_close(1.0, 1.1)
    with pytest.raises(AssertionError, match="attribute 'type'"):
        assert_close(1, 1.0)
    with pytest.raises(AssertionError, match="both inputs must be tensors"):
        assert_close(pt.ones(1), 1.0)


def test_msg_replaces_or_rewrites_the_message():
    with pytest.raises(AssertionError, match="^while checking relu$"):
        assert_close(pt.ones(1), pt.zeros(1), msg="while checking relu")
    with pytest.raises(AssertionError, match="^relu: Tensor-likes are not close!") as e:
        assert_close(pt.ones(1), pt.zeros(1), msg=lambda m: "relu: " + m)
    assert "Mismatched elements: 1 / 1" in str(e.value)


@pytest.mark.parametrize("dtype, lo, hi", [(pt.float32, -9, 9), (pt.int64, -9, 9), (pt.uint8, 0, 9),
                                           (pt.bfloat16, -9, 9)])
def test_make_tensor_default_ranges(dtype, lo, hi):
    pt.manual_seed(0)
    t = make_tensor(40, 5, dtype=dtype, device="cpu")
    v = t.float().numpy()
    assert t.shape == (40, 5) and t.dtype is dtype
    assert v.min() >= lo and v.max() <= hi
    assert len(np.unique(v)) > 5


def test_make_tensor_low_high_bool_and_exclude_zero():
    pt.manual_seed(1)
    v = make_tensor((200,), dtype=pt.float64, device="cpu", low=2.0, high=3.0).numpy()
    assert v.min() >= 2.0 and v.max() <= 3.0
    b = make_tensor(100, dtype=pt.bool, device="cpu").numpy()
    assert set(np.unique(b)) == {False, True}
    z = make_tensor(500, dtype=pt.int8, device="cpu", low=-1, high=1, exclude_zero=True).numpy()
    assert (z != 0).all()


def test_make_tensor_is_reproducible_under_manual_seed():
    pt.manual_seed(3)
    a = make_tensor(4, 4, dtype=pt.float32, device="cpu")
    pt.manual_seed(3)
    assert_close(a, make_tensor(4, 4, dtype=pt.float32, device="cpu"), rtol=0, atol=0)


def test_make_tensor_noncontiguous_and_requires_grad():
    t = make_tensor(3, 4, dtype=pt.float32, device="cpu", noncontiguous=True, requires_grad=True)
    assert not t.is_contiguous() and t.shape == (3, 4)
    assert t.requires_grad and t.is_leaf
    with pytest.raises(ValueError, match="requires_grad=True is not supported for dtype plugtorch.int64"):
        make_tensor(2, dtype=pt.int64, device="cpu", requires_grad=True)
    with pytest.raises(ValueError, match="low=3 must be less than or equal to high=1"):
        make_tensor(2, dtype=pt.float32, device="cpu", low=3, high=1)


def test_assert_allclose_warns_and_uses_its_own_tolerances():
    from plugtorch.testing import assert_allclose
    with pytest.warns(FutureWarning, match=r"assert_allclose\(\)` is deprecated since 1.12.*use "
                                           r"`plugtorch.testing.assert_close\(\)`"):
        assert_allclose(pt.tensor([1.0]), pt.tensor([1.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        # float32: rtol 1e-4, atol 1e-5 (assert_close's would be 1.3e-6, 1e-5)
        assert_allclose(pt.tensor([1.0]), pt.tensor([1.00009]))
        with pytest.raises(AssertionError, match="Tensor-likes are not close"):
            assert_allclose(pt.tensor([1.0]), pt.tensor([1.000115]))
        assert_allclose(pt.tensor([1.0], dtype=pt.float16), pt.tensor([1.0019], dtype=pt.float16))
        assert_allclose(pt.tensor([1.0], dtype=pt.float64), pt.tensor([1.000009], dtype=pt.float64))
        with pytest.raises(AssertionError):
            assert_allclose(pt.tensor([1.0], dtype=pt.float64), pt.tensor([1.00002], dtype=pt.float64))
        with pytest.raises(AssertionError):          # bfloat16 is not in its table: exact
            assert_allclose(pt.tensor([1.0], dtype=pt.bfloat16), pt.tensor([1.0078], dtype=pt.bfloat16))
        # NaNs equal by default, dtypes not checked, numbers and lists made tensors
        assert_allclose(pt.tensor([math.nan, 1.0]), pt.tensor([math.nan, 1.0]))
        with pytest.raises(AssertionError):
            assert_allclose(pt.tensor([math.nan]), pt.tensor([math.nan]), equal_nan=False)
        assert_allclose(pt.tensor([1, 2]), pt.tensor([1.0, 2.0]))
        assert_allclose([1.0, 2.0], pt.tensor([1.0, 2.0]))
        assert_allclose(pt.tensor([1.0, 2.0]), [1.00001, 2.0])
        assert_allclose(pt.tensor([1.0]), pt.tensor([1.0009]), rtol=0, atol=1e-3)
        with pytest.raises(AssertionError, match="^custom$"):
            assert_allclose(pt.tensor([1.0]), pt.tensor([2.0]), msg="custom")
        with pytest.raises(AssertionError, match="'shape' do not match"):
            assert_allclose(pt.tensor([1.0, 2.0]), pt.tensor([1.0]))
