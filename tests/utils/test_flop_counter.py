"""plugtorch.utils.flop_counter.FlopCounterMode: PyTorch's FLOP formulas (2*M*K*N per matrix
product, conv_flop_count, attention's two products), forward and backward, computed by hand."""
import pytest

import plugtorch as pt
from plugtorch.utils.flop_counter import FlopCounterMode, conv_flop_count

F = pt.nn.functional


def count(fn):
    with FlopCounterMode(display=False) as fc:
        fn()
    return fc


def test_linear_forward_and_backward():
    pt.manual_seed(0)
    lin = pt.nn.Linear(64, 128)
    fwd = 2 * 32 * 64 * 128
    assert count(lambda: lin(pt.randn(32, 64))).get_total_flops() == fwd
    # backward: grad_input = g @ W and grad_weight = g^T @ x, each one more product of that size
    fc = count(lambda: lin(pt.randn(32, 64, requires_grad=True)).sum().backward())
    assert fc.get_total_flops() == fwd + 2 * fwd
    assert fc.get_flop_counts() == {"Global": {"linear": fwd, "_linear_backward": 2 * fwd}}
    # an input that needs no gradient: only grad_weight
    assert count(lambda: lin(pt.randn(32, 64)).sum().backward()).get_total_flops() == 2 * fwd
    # batch dims are flattened into the rows
    assert count(lambda: lin(pt.randn(3, 8, 64))).get_total_flops() == 2 * 24 * 64 * 128


def test_matrix_products():
    a, b = pt.randn(4, 5, 6), pt.randn(4, 6, 7)
    assert count(lambda: pt.mm(a[0], b[0])).get_flop_counts() == {"Global": {"mm": 2 * 5 * 6 * 7}}
    assert count(lambda: pt.addmm(pt.randn(5, 7), a[0], b[0])).get_total_flops() == 2 * 5 * 6 * 7
    assert count(lambda: pt.bmm(a, b)).get_total_flops() == 2 * 4 * 5 * 6 * 7
    assert count(lambda: pt.baddbmm(pt.randn(4, 5, 7), a, b)).get_total_flops() == 2 * 4 * 5 * 6 * 7
    assert count(lambda: a @ b).get_total_flops() == 2 * 4 * 5 * 6 * 7
    # broadcast batch dims count in full; a 1-D right operand is PyTorch's mv/dot, not counted
    assert count(lambda: pt.randn(2, 4, 5, 6) @ pt.randn(4, 6, 3)).get_total_flops() == 2 * 8 * 5 * 6 * 3
    assert count(lambda: pt.randn(6) @ pt.randn(6, 3)).get_total_flops() == 2 * 6 * 3
    assert count(lambda: pt.randn(5, 6) @ pt.randn(6)).get_total_flops() == 0
    # backward of mm: two products of the forward's size
    x, y = pt.randn(5, 6, requires_grad=True), pt.randn(6, 7, requires_grad=True)
    assert count(lambda: pt.mm(x, y).sum().backward()).get_total_flops() == 3 * 2 * 5 * 6 * 7


def test_convolutions():
    # conv_flop_count: 2 * batch * c_out * c_in * prod(kernel) * prod(output spatial)
    assert conv_flop_count((2, 3, 10, 10), (8, 3, 3, 3), (2, 8, 10, 10)) == 2 * 2 * 8 * 3 * 9 * 100
    fwd = 2 * 2 * 8 * 3 * 9 * 100
    assert count(lambda: F.conv2d(pt.randn(2, 3, 10, 10), pt.randn(8, 3, 3, 3), padding=1)).get_total_flops() == fwd
    # stride 2: a 4x4 output; backward computes grad_input and grad_weight, each the forward's size
    x, w = pt.randn(2, 3, 10, 10, requires_grad=True), pt.randn(8, 3, 3, 3, requires_grad=True)
    fwd2 = 2 * 2 * 8 * 3 * 9 * 16
    assert count(lambda: F.conv2d(x, w, stride=2).sum().backward()).get_total_flops() == 3 * fwd2
    assert count(lambda: F.conv1d(pt.randn(2, 3, 10), pt.randn(4, 3, 3))).get_total_flops() == 2 * 2 * 4 * 3 * 3 * 8
    # transposed: the input's spatial size, weight (c_in, c_out, kh, kw)
    assert count(lambda: F.conv_transpose2d(pt.randn(2, 3, 5, 5), pt.randn(3, 4, 3, 3), stride=2)
                 ).get_total_flops() == 2 * 2 * 3 * 4 * 9 * 25


def test_scaled_dot_product_attention():
    q = pt.randn(2, 3, 5, 8, requires_grad=True)
    k = pt.randn(2, 3, 7, 8, requires_grad=True)
    v = pt.randn(2, 3, 7, 4, requires_grad=True)
    fwd = 2 * 6 * 5 * 7 * 8 + 2 * 6 * 5 * 7 * 4        # Q K^T, then A V
    fc = count(lambda: F.scaled_dot_product_attention(q.detach(), k.detach(), v.detach()))
    assert fc.get_flop_counts() == {"Global": {"scaled_dot_product_attention": fwd}}
    # backward: dV = A^T dO, dA = dO V^T, dQ = dS K, dK = dS^T Q
    bwd = 2 * 6 * (7 * 5 * 4 + 5 * 4 * 7 + 5 * 7 * 8 + 7 * 5 * 8)
    assert count(lambda: F.scaled_dot_product_attention(q, k, v).sum().backward()).get_total_flops() == fwd + bwd


def test_einsum_counts_its_pairwise_products():
    assert count(lambda: pt.einsum("bij,bjk->bik", pt.randn(4, 5, 6), pt.randn(4, 6, 7))).get_total_flops() == 1680
    # i and k are summed away first, then one product over j
    assert count(lambda: pt.einsum("ij,jk->", pt.randn(5, 6), pt.randn(6, 7))).get_total_flops() == 2 * 6
    assert count(lambda: pt.einsum("ij,jk,kl->il", pt.randn(2, 3), pt.randn(3, 4), pt.randn(4, 5))
                 ).get_total_flops() == 2 * 2 * 3 * 4 + 2 * 2 * 4 * 5
    assert count(lambda: pt.einsum("ij,ij->ij", pt.randn(5, 6), pt.randn(5, 6))).get_total_flops() == 0


def test_table_and_display(capsys):
    with FlopCounterMode() as fc:      # display=True prints the table on exit
        pt.mm(pt.randn(20, 30), pt.randn(30, 40))
        pt.bmm(pt.randn(3, 20, 30), pt.randn(3, 30, 40))
    table = ("Module        FLOP    % Total\n"
             "--------  --------  ---------\n"
             "Global    192.000K    100.00%\n"
             "- mm       48.000K     25.00%\n"
             "- bmm     144.000K     75.00%")
    assert fc.get_table() == table
    assert capsys.readouterr().out == table + "\n"
    assert count(lambda: None).get_table() == ("Module      FLOP    % Total\n"
                                               "--------  ------  ---------\n"
                                               "Global         0         0%")
    # entering again starts from zero
    with fc:
        pt.mm(pt.randn(2, 3), pt.randn(3, 4))
    assert fc.get_total_flops() == 48


def test_mods_warns_as_in_pytorch_and_custom_mapping():
    with pytest.warns(UserWarning, match="mods argument is not needed anymore"):
        FlopCounterMode(mods=pt.nn.Linear(2, 2), display=False)
    fc = FlopCounterMode(display=False, custom_mapping={"exp": lambda x, out=None: x.numel()})
    with fc:
        pt.randn(3, 4).exp()
    assert fc.get_flop_counts() == {"Global": {"exp": 12}}
