"""repr in PyTorch's format."""
import pytest

import plugtorch as pt

CASES = [
    (lambda: pt.tensor([1.0, 2.0]), "tensor([1., 2.])"),
    (lambda: pt.tensor([1.0, 2.0], requires_grad=True), "tensor([1., 2.], requires_grad=True)"),
    (lambda: pt.tensor([1, 2], dtype=pt.int32), "tensor([1, 2], dtype=plugtorch.int32)"),
    (lambda: pt.tensor([1, 2]), "tensor([1, 2])"),
    (lambda: pt.tensor(3.5), "tensor(3.5000)"),
    (lambda: pt.tensor(3), "tensor(3)"),
    (lambda: pt.tensor([True, False]), "tensor([ True, False])"),
    (lambda: pt.tensor([1.5, -2.25, 3.0]), "tensor([ 1.5000, -2.2500,  3.0000])"),
    (lambda: pt.tensor([[1, 2], [30, 4]]), "tensor([[ 1,  2],\n        [30,  4]])"),
    (lambda: pt.tensor([[1.0, 2.5], [3.0, 4.0]]), "tensor([[1.0000, 2.5000],\n        [3.0000, 4.0000]])"),
    (lambda: pt.tensor([1.0, 2.0], dtype=pt.float64), "tensor([1., 2.], dtype=plugtorch.float64)"),
    (lambda: pt.tensor([1.0], dtype=pt.float16), "tensor([1.], dtype=plugtorch.float16)"),
    (lambda: pt.tensor([1.0], dtype=pt.bfloat16), "tensor([1.], dtype=plugtorch.bfloat16)"),
    (lambda: pt.tensor([float("nan"), float("inf"), -float("inf"), 1.0]), "tensor([nan, inf, -inf, 1.])"),
    (lambda: pt.zeros(0), "tensor([])"),
    (lambda: pt.zeros(2, 0), "tensor([], size=(2, 0))"),
    (lambda: pt.zeros(0, dtype=pt.int32), "tensor([], dtype=plugtorch.int32)"),
    (lambda: pt.tensor([1e-5, 1.0]), "tensor([1.0000e-05, 1.0000e+00])"),
    (lambda: pt.tensor([1e10]), "tensor([1.0000e+10])"),
    (lambda: pt.zeros(2, 1, 2), "tensor([[[0., 0.]],\n\n        [[0., 0.]]])"),
    (lambda: pt.tensor([-0.0]), "tensor([-0.])"),
    (lambda: pt.tensor([0.0, 10.0]), "tensor([ 0., 10.])"),
    (lambda: pt.tensor([1.0, 2000.0]), "tensor([1.0000e+00, 2.0000e+03])"),
    (lambda: pt.tensor([0.5, 100.0]), "tensor([  0.5000, 100.0000])"),
    (lambda: pt.tensor([float("nan"), 1.5]), "tensor([   nan, 1.5000])"),
]


@pytest.mark.parametrize("make,text", CASES, ids=[c[1][:30] for c in CASES])
def test_repr(make, text):
    assert repr(make()) == text
    assert str(make()) == text


def test_repr_grad_fn_and_summarised():
    y = pt.tensor([1.0, 2.0], requires_grad=True) * 2
    assert repr(y).startswith("tensor([2., 4.], grad_fn=<Mul")
    big = repr(pt.arange(2000))
    assert big.startswith("tensor([   0,    1,    2,  ...") and big.endswith("1997, 1998, 1999])")


def test_long_rows_wrap():
    text = repr(pt.arange(30.0))
    lines = text.split("\n")
    assert len(lines) > 1 and all(len(line) <= 80 for line in lines)
    assert lines[1].startswith("        ")


def test_set_printoptions():
    try:
        pt.set_printoptions(precision=2)
        assert repr(pt.tensor([1.2345])) == "tensor([1.23])"
    finally:
        pt.set_printoptions(precision=4)
    assert format(pt.tensor(2.5), ".1f") == "2.5"
    assert f"{pt.tensor(-1.0)}" == "-1.0" and f"{pt.tensor(3)}" == "3" and f"{pt.tensor([1.0])}" == "tensor([1.])"


def test_complex_repr_matches_pytorch():
    # PyTorch 2.x's output for the same tensors
    assert repr(pt.tensor([1 + 2j, 3.5 - 1j])) == "tensor([1.0000+2.j, 3.5000-1.j])"
    assert repr(pt.tensor([1 + 2j], dtype=pt.complex128)) == "tensor([1.+2.j], dtype=plugtorch.complex128)"
    assert repr(pt.tensor(-0.5j)) == "tensor(-0.-0.5000j)"
    assert repr(pt.tensor([1e-5 + 2j, 3.5 - 1e6j])) == "tensor([1.0000e-05+2.0000e+00j, 3.5000e+00-1.0000e+06j])"
    assert repr(pt.tensor([[1 + 2j, 3.5 - 1j], [float("nan") + 1j, 0]])) == (
        "tensor([[1.0000+2.j, 3.5000-1.j],\n        [   nan+1.j, 0.0000+0.j]])")


def test_a_huge_expanded_tensor_prints_its_edges_without_copying_it():
    # 3 x 2**40 elements over 3 stored ones: summarising used np.take, which copied the view whole
    # (MemoryError: 12 TiB); the edge items are gathered alone now
    x = pt.arange(3.0).reshape(3, 1).expand(3, 2 ** 40)
    assert repr(x) == ("tensor([[0., 0., 0.,  ..., 0., 0., 0.],\n"
                       "        [1., 1., 1.,  ..., 1., 1., 1.],\n"
                       "        [2., 2., 2.,  ..., 2., 2., 2.]])")
    y = pt.arange(2000.0).reshape(1000, 2).t()     # a strided view summarises as before
    assert repr(y).startswith("tensor([[0.0000e+00, 2.0000e+00, 4.0000e+00,  ..., 1.9940e+03")


def test_forced_fixed_notation_takes_the_fixed_width():
    # sci_mode=False: the width is that of the fixed-point numbers, not of their sci form
    try:
        pt.set_printoptions(sci_mode=False)
        assert repr(pt.tensor([1e-5, 1.0])) == "tensor([0.0000, 1.0000])"
        assert repr(pt.tensor([1e-8, 1e8])) == "tensor([        0.0000, 100000000.0000])"
    finally:
        pt.set_printoptions(profile="default")


def test_empty_tensors_name_every_dtype_but_the_default():
    assert repr(pt.zeros(0, dtype=pt.bool)) == "tensor([], dtype=plugtorch.bool)"
    assert repr(pt.zeros(0, dtype=pt.int64)) == "tensor([], dtype=plugtorch.int64)"
    assert repr(pt.zeros(0, dtype=pt.complex64)) == "tensor([], dtype=plugtorch.complex64)"
    assert repr(pt.zeros(0, 2, dtype=pt.int64)) == "tensor([], size=(0, 2), dtype=plugtorch.int64)"


def test_complex_elements_per_line():
    # "1.+2.j": element length 2 + 2 + 3 = 7 with ", " and "j"; (30 - 7) // 7 = 3 per line
    try:
        pt.set_printoptions(linewidth=30)
        assert repr(pt.tensor([1 + 2j] * 8)) == ("tensor([1.+2.j, 1.+2.j, 1.+2.j,\n"
                                                 "        1.+2.j, 1.+2.j, 1.+2.j,\n"
                                                 "        1.+2.j, 1.+2.j])")
    finally:
        pt.set_printoptions(profile="default")


def test_suffixes_past_the_line_width_start_a_new_line():
    # 67 characters, then ", requires_grad=True" would pass 80
    assert repr(pt.arange(12.0).requires_grad_()) == (
        "tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11.],\n"
        "       requires_grad=True)")
    assert repr(pt.arange(10.0, dtype=pt.float64).requires_grad_()) == (
        "tensor([0., 1., 2., 3., 4., 5., 6., 7., 8., 9.], dtype=plugtorch.float64,\n"
        "       requires_grad=True)")
    try:
        pt.set_printoptions(linewidth=20)
        assert repr(pt.tensor([1, 2], dtype=pt.int32)) == "tensor([1, 2],\n       dtype=plugtorch.int32)"
    finally:
        pt.set_printoptions(profile="default")


def test_edgeitems_zero_shows_the_size_only():
    try:
        pt.set_printoptions(threshold=3, edgeitems=0)
        assert repr(pt.arange(10)) == "tensor([...], size=(10,))"
        assert repr(pt.arange(10.0).reshape(2, 5)) == "tensor([...], size=(2, 5))"
    finally:
        pt.set_printoptions(profile="default")
