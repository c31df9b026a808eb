"""Bad input: PyTorch's exception type and a message naming the op, the shapes/dtypes and the fix."""
import pytest

import plugtorch as pt

x23 = pt.zeros(2, 3)

ERRORS = [
    # broadcasting and shapes
    ("broadcast", lambda: pt.ones(2, 3) * pt.ones(2), RuntimeError, r"mul\(\): the shapes \(2, 3\) and \(2,\) are not broadcastable"),
    ("broadcast names the last conflicting dim", lambda: pt.ones(4, 3, 2) * pt.ones(4, 3), RuntimeError,
     r"mul\(\): the shapes \(4, 3, 2\) and \(4, 3\) are not broadcastable: size 2 and size 3 differ at "
     r"non-singleton dimension 2$"),
    ("broadcast where", lambda: pt.where(pt.ones(2) > 0, pt.ones(3), 0.0), RuntimeError, "where.*not broadcastable"),
    ("broadcast_shapes", lambda: pt.broadcast_shapes((2,), (3,)), RuntimeError, r"\(2,\) and \(3,\) are not broadcastable"),
    ("view non-contiguous", lambda: x23.t().view(6), RuntimeError, r"Use \.reshape\(\.\.\.\) instead"),
    ("view size", lambda: x23.view(4), RuntimeError, r"shape '\[4\]' is invalid for input of size 6"),
    ("expand", lambda: x23.expand(3, 3), RuntimeError, r"expanded size of the tensor \(3\) must match the existing size \(2\)"),
    ("cat dims", lambda: pt.cat([x23, pt.zeros(3)]), RuntimeError, "Tensors must have same number of dimensions"),
    ("matmul", lambda: x23 @ x23, RuntimeError, r"\(2x3 and 2x3\)"),
    ("split", lambda: x23.split([1, 1], 1), RuntimeError, "split_sizes to sum exactly to 3"),
    ("chunk", lambda: x23.chunk(0), RuntimeError, "chunk expects `chunks` to be greater than 0"),
    ("roll", lambda: x23.roll((1, 2), 0), RuntimeError, "shifts and dimensions must align"),
    ("permute repeat", lambda: x23.permute(0, 0), RuntimeError, "repeated dim"),
    ("unflatten", lambda: pt.zeros(6).unflatten(0, (4, 2)), RuntimeError, r"shape '\[4, 2\]' is invalid for input of size 6"),
    ("negative size", lambda: pt.empty(-2), RuntimeError, "negative dimension -2"),
    ("item", lambda: x23.item(), RuntimeError, "6 elements cannot be converted to Scalar"),
    ("sub bool", lambda: pt.tensor([True]) - pt.tensor([True]), RuntimeError, "logical_xor"),
    ("int pow", lambda: pt.tensor([2]) ** -1, RuntimeError, "negative integer powers"),
    ("mean int", lambda: pt.tensor([1, 2]).mean(), RuntimeError, "Got: Long"),
    ("std int", lambda: pt.tensor([1, 2]).std(), RuntimeError, "Got: Long"),
    ("inplace cast", lambda: pt.tensor([1, 2]).mul_(1.5), RuntimeError, r"mul_\(\): result type Float\w* can't be cast to the desired output type (Long|Int64)"),
    ("requires_grad int", lambda: pt.tensor([1]).requires_grad_(), RuntimeError, "floating point and complex dtype can require gradients"),
    ("gather index dtype", lambda: x23.gather(0, pt.tensor([[0]], dtype=pt.int16)), RuntimeError, "int32/int64 for index"),
    ("topk", lambda: pt.ones(3).topk(4), RuntimeError, "k=4 out of range"),
    ("where cond", lambda: pt.where(pt.ones(2), 1.0, 0.0), RuntimeError, "bool"),
    ("div mode", lambda: pt.div(x23, 2, rounding_mode="up"), RuntimeError, "rounding_mode"),
    ("int zero division", lambda: pt.tensor([4]) // 0, RuntimeError, "ZeroDivisionError"),
    # indices
    ("index", lambda: x23[2], IndexError, "index 2 is out of bounds for dimension 0 with size 2"),
    ("index neg", lambda: x23[-3], IndexError, "index -3 is out of bounds for dimension 0 with size 2"),
    ("index list", lambda: x23[:, [0, 3]], IndexError, "index 3 is out of bounds for dimension 1 with size 3"),
    ("dim", lambda: x23.sum(2), IndexError, r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"),
    ("dim neg", lambda: x23.unsqueeze(-4), IndexError, r"\[-3, 2\], but got -4"),
    ("too many", lambda: x23[0, 0, 0], IndexError, "too many indices for tensor of dimension 2"),
    ("select", lambda: x23.select(1, 5), IndexError, "index 5 out of range"),
    ("amax empty", lambda: pt.zeros(0).amax(), RuntimeError, r"amax\(\): Expected reduction dim to be specified"),
    ("amax empty dim", lambda: pt.zeros(0, 3).amax(0), IndexError, "amax.*dim 0 to have non-zero size"),
    ("float index", lambda: x23[pt.tensor([1.0])], IndexError, "long, int, byte or bool"),
    ("narrow", lambda: x23.narrow(1, 2, 2), RuntimeError, r"start \(2\) \+ length \(2\) exceeds dimension size \(3\)"),
    # argument types
    ("add str", lambda: x23 + "a", TypeError, r"unsupported operand type\(s\) for \+: 'Tensor' and 'str'"),
    ("pt.add str", lambda: pt.add(x23, "a"), TypeError, "add.*str"),
    ("add list", lambda: pt.add(x23, [1]), TypeError, "add.*list"),
    ("exp list", lambda: pt.exp([1.0]), TypeError, r"exp\(\): argument 'input' must be Tensor, not list"),
    ("sum list", lambda: pt.sum([1.0]), TypeError, r"sum\(\): argument 'input' must be Tensor, not list"),
    ("dim float", lambda: x23.sum(0.5), TypeError, "dim must be an int, got float"),
    ("size float", lambda: pt.zeros(2.0), TypeError, "size must be a sequence of ints, got float"),
    ("dtype", lambda: pt.zeros(2, dtype="int128"), TypeError, "expected a plugtorch dtype"),
    ("complex scalar", lambda: x23 < 1j, NotImplementedError, r"lt\(\): not supported for complex"),
    ("bitwise float", lambda: x23 | x23, NotImplementedError, "bitwise_or.*not implemented for dtype plugtorch.float32"),
    ("neg bool", lambda: -pt.tensor([True]), RuntimeError, "neg.*bool"),
    ("floor bool", lambda: pt.tensor([True]).floor(), NotImplementedError, "floor.*bool"),
    ("cat not list", lambda: pt.cat(x23), TypeError, "must be a tuple or list of Tensors"),
    ("cat elements", lambda: pt.cat([x23, 1]), TypeError, "expected a list of Tensors"),
    ("matmul arg", lambda: pt.matmul(x23, 2), TypeError, "argument 'other' must be Tensor"),
    ("to arg", lambda: x23.to(5), TypeError, "invalid combination of arguments"),
    ("device", lambda: pt.zeros(2, device=5.0), TypeError, "expected a str or device"),
    ("from_numpy", lambda: pt.from_numpy([1]), TypeError, "expected np.ndarray"),
    ("grad assign", lambda: setattr(pt.zeros(2), "grad", [1, 2]), TypeError, "assigned grad expected to be a Tensor"),
]


@pytest.mark.parametrize("desc,fn,exc,match", ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_input(desc, fn, exc, match):
    with pytest.raises(exc, match=match):
        fn()
