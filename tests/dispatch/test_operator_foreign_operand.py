"""A Tensor operator given an operand it does not take answers NotImplemented, as PyTorch's do, so
Python asks the operand's own reflected operator (``F.__radd__``) before raising TypeError."""
import operator

import numpy as np
import pytest

import plugtorch as pt


class Foreign:
    """An operand type of its own, answering every reflected operator with its name."""


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
              "lshift", "rshift"):
    setattr(Foreign, f"__r{_name}__", (lambda n: lambda self, other: ("r" + n, other))(_name))


OPS = [(operator.add, "add"), (operator.sub, "sub"), (operator.mul, "mul"), (operator.truediv, "truediv"),
       (operator.floordiv, "floordiv"), (operator.mod, "mod"), (operator.pow, "pow"),
       (operator.matmul, "matmul"), (operator.and_, "and"), (operator.or_, "or"), (operator.xor, "xor"),
       (operator.lshift, "lshift"), (operator.rshift, "rshift")]


@pytest.mark.parametrize("fn, name", OPS)
def test_foreign_operand_gets_its_reflected_operator(fn, name):
    x = pt.arange(3)
    got = fn(x, Foreign())
    assert got[0] == "r" + name and got[1] is x


@pytest.mark.parametrize("fn, name", [(operator.iadd, "add"), (operator.isub, "sub"), (operator.imul, "mul"),
                                      (operator.iand, "and"), (operator.imatmul, "matmul")])
def test_inplace_operator_falls_back_to_the_reflected_one(fn, name):
    x = pt.arange(3)
    got = fn(x, Foreign())             # x += f: __iadd__ and __add__ decline, f.__radd__(x) answers
    assert got[0] == "r" + name and got[1] is x
    assert x.tolist() == [0, 1, 2]      # x untouched


def test_unsupported_operand_is_pythons_type_error_and_the_ops_keep_theirs():
    x = pt.ones(2)
    with pytest.raises(TypeError, match=r"unsupported operand type\(s\) for \+: 'Tensor' and 'str'"):
        x + "a"
    with pytest.raises(TypeError, match=r"unsupported operand type\(s\) for -: 'list' and 'Tensor'"):
        [1] - x
    assert x.__add__("a") is NotImplemented
    with pytest.raises(TypeError, match=r"add\(\): expected a Tensor or a number, got str"):
        pt.add(x, "a")
    w = pt.ones(2, requires_grad=True)   # autograd records through the operator's function
    with pytest.raises(TypeError, match=r"atan2\(\): expected a Tensor or a number, got list"):
        pt.atan2(w, [1])


def test_numbers_arrays_and_numpy_scalars_are_still_taken():
    x = pt.tensor([1.0, 2.0])
    assert (x + np.float32(1)).tolist() == [2.0, 3.0]
    assert (np.float64(3) - x).tolist() == [2.0, 1.0]
    assert (x * True).tolist() == [1.0, 2.0]
    assert (x + np.array([1.0, 1.0], np.float32)).tolist() == [2.0, 3.0]
    assert (x * (1 + 2j)).tolist() == [1 + 2j, 2 + 4j]
    assert (x @ x).item() == 5.0
    assert (pt.tensor([6]) & np.int64(3)).tolist() == [2]
    p = pt.nn.Parameter(pt.tensor([1.0, 1.0]))
    assert (x + p).tolist() == [2.0, 3.0]
