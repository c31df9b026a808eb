"""Arguments that do not bind to an op: a TypeError naming the op (as PyTorch's), never the
internal function the op runs (its meta or decomposition)."""
import pytest

import plugtorch as pt

x = pt.ones(3)
y = pt.ones(3)
m = pt.ones(2, 2)

CASES = [
    # (call, expected message): functions, methods and in-place methods; core and composite ops
    (lambda: pt.relu(x, out=y), "relu() got an unexpected keyword argument 'out'"),
    (lambda: pt.exp(x, bar=2), "exp() got an unexpected keyword argument 'bar'"),
    (lambda: pt.ops.add(x, y, bad=1), "add() got an unexpected keyword argument 'bad'"),
    (lambda: pt.ops.sum(x, foo=1), "sum() got an unexpected keyword argument 'foo'"),
    (lambda: x.sum(foo=1), "sum() got an unexpected keyword argument 'foo'"),
    (lambda: x.sin(foo=1), "sin() got an unexpected keyword argument 'foo'"),
    (lambda: x.add_(y, bad=1), "add_() got an unexpected keyword argument 'bad'"),
    (lambda: x.mul_(y, z=1), "mul_() got an unexpected keyword argument 'z'"),
    (lambda: pt.relu(x, y), "relu() takes 1 positional argument but 2 were given"),
    (lambda: pt.sin(x, 1, 2), "sin() takes 1 positional argument but 3 were given"),
    (lambda: x.exp(1), "exp() takes 1 positional argument but 2 were given"),
    (lambda: x.sin_(3), "sin_() takes 1 positional argument but 2 were given"),
    (lambda: pt.relu(), "relu() missing 1 required positional argument: 'input'"),
    (lambda: pt.mm(m), "mm() missing 1 required positional argument: 'mat2'"),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_bad_arguments_name_the_op(case):
    call, message = CASES[case]
    with pytest.raises(TypeError) as info:
        call()
    assert str(info.value) == message
    assert "<locals>" not in str(info.value) and "meta" not in str(info.value)


def test_bad_arguments_under_autograd_name_the_op():
    w = pt.ones(3, requires_grad=True)
    with pytest.raises(TypeError, match=r"^relu\(\) got an unexpected keyword argument 'foo'$"):
        pt.relu(w, foo=2)
    with pytest.raises(TypeError, match=r"^mul\(\) takes 2 positional arguments but 3 were given$"):
        pt.ops.mul(w, w, w)


def test_type_errors_from_inside_an_op_keep_their_message():
    # the arguments bind: the op's own TypeError stands, unrenamed
    with pytest.raises(TypeError, match=r"^uniform_\(\): argument 'from' must be float, not str$"):
        pt.empty(2).uniform_("a")
    with pytest.raises(TypeError, match=r"^chunk\(\): argument 'chunks' must be int, not float$"):
        pt.ones(4).chunk(2.5)
