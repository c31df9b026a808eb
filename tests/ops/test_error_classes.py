"""The exception class of each bad call is PyTorch's, on every backend.

Each row of TABLE is ``(description, call, exception class, message pattern)``. The class of every
row was checked against torch 2.13 (the same call run on torch, its exception's type recorded;
tools/check_error_classes.py re-runs the table on torch in any environment that has it), not written
from memory. PyTorch's rules, from c10/util/Exception.h and the dtype dispatch macros:

* a dtype an op has no kernel for: NotImplementedError (a RuntimeError subclass), from
  ``AT_DISPATCH`` ("abs_cpu" not implemented for 'Bool');
* ops that check a dtype by hand (neg and relu of bool, argmax of bool, topk of bool, nanmean,
  an in-place result that cannot be cast): RuntimeError;
* ``~`` of a float tensor is checked by the Python operator itself: TypeError;
* a dtype a *device* cannot hold (float64 on MPS): TypeError (``TORCH_CHECK_TYPE``), which
  plugtorch's backends raise too (tests/backends/test_registry.py);
* ``float()``/``int()``/``complex()`` of a tensor with other than one element: ValueError;
  ``bool()`` and ``.item()``: RuntimeError;
* IndexError only for a dim or an index out of range, and for reductions without an identity
  over a named empty dim; ``narrow``'s length and ``kthvalue``/``topk``'s k: RuntimeError.
"""
import math
import operator

import pytest

import plugtorch as pt

DEVICES = ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))]


def f32(d, *shape):
    return pt.arange(math.prod(shape), dtype=pt.float32, device=d).reshape(shape) if shape else \
        pt.tensor(2.0, device=d)


def i64(d, *shape):
    return pt.arange(math.prod(shape), dtype=pt.int64, device=d).reshape(shape)


def b(d, *shape):
    return pt.ones(shape, dtype=pt.bool, device=d)


def e(d, *shape):
    return pt.zeros(shape, device=d)


F = pt.nn.functional
# (name, op in the message, argument, call): a list where a tensor belongs was an AttributeError
# from inside the op (x.ndim of a list); PyTorch raises TypeError
NOT_A_TENSOR = [
    ("allclose", "allclose", "input", lambda d: pt.allclose([1.0], f32(d, 1))),
    ("isclose other", "isclose", "other", lambda d: pt.isclose(f32(d, 1), [1.0])),
    ("equal", "equal", "input", lambda d: pt.equal([1.0], f32(d, 1))),
    ("mm", "mm", "input", lambda d: pt.mm([1.0], f32(d, 1, 1))),
    ("bmm mat2", "bmm", "mat2", lambda d: pt.bmm(f32(d, 1, 1, 1), [1.0])),
    ("dot", "dot", "tensor", lambda d: pt.dot(f32(d, 2), [1.0, 2.0])),
    ("outer", "outer", "vec2", lambda d: pt.outer(f32(d, 2), [1.0])),
    ("broadcast_to", "broadcast_to", "input", lambda d: pt.broadcast_to([1.0], (2,))),
    ("count_nonzero", "count_nonzero", "input", lambda d: pt.count_nonzero([1.0])),
    ("diagonal", "diagonal", "input", lambda d: pt.diagonal([[1.0]])),
    ("expand_as", "expand_as", "other", lambda d: f32(d, 1).expand_as([1.0])),
    ("nan_to_num", "nan_to_num", "input", lambda d: pt.nan_to_num([1.0])),
    ("unbind", "unbind", "input", lambda d: pt.unbind([1.0])),
    ("vector_norm", "linalg.vector_norm", "x", lambda d: pt.linalg.vector_norm([1.0])),
    ("masked_fill mask", "masked_fill", "mask", lambda d: f32(d, 2).masked_fill([True, False], 1.0)),
    ("masked_select", "masked_select", "input", lambda d: pt.masked_select([1.0], b(d, 1))),
    ("gather", "gather", "input", lambda d: pt.gather([1.0], 0, i64(d, 1))),
    ("gather index", "gather", "index", lambda d: pt.gather(f32(d, 2), 0, [0])),
    ("scatter index", "scatter", "index", lambda d: f32(d, 2).scatter(0, [0], 1.0)),
    ("index_put", "index_put", "input", lambda d: pt.index_put([1.0], (i64(d, 1),), f32(d))),
    ("square", "square", "input", lambda d: pt.square([1.0])),
    ("diag", "diag", "input", lambda d: pt.diag([1.0])),
    ("trace", "trace", "input", lambda d: pt.trace([[1.0]])),
    ("take", "take", "input", lambda d: pt.take([1.0], i64(d, 1))),
    ("batch_norm", "batch_norm", "input", lambda d: F.batch_norm([1.0], None, None)),
    ("bilinear", "bilinear", "input1", lambda d: F.bilinear([1.0], f32(d, 1, 1), f32(d, 1, 1, 1))),
    ("conv1d", "conv1d", "input", lambda d: F.conv1d([1.0], f32(d, 1, 1, 1))),
    ("conv2d weight", "conv2d", "weight", lambda d: F.conv2d(f32(d, 1, 1, 3, 3), [1.0])),
    ("embedding", "embedding", "input", lambda d: F.embedding([0], f32(d, 2, 2))),
    ("embedding weight", "embedding", "weight", lambda d: F.embedding(i64(d, 1), [1.0])),
    ("conv_transpose2d", "conv_transpose2d", "input", lambda d: F.conv_transpose2d([1.0, 2.0], f32(d, 2, 3, 3, 3))),
    ("conv_transpose2d weight", "conv_transpose2d", "weight", lambda d: F.conv_transpose2d(f32(d, 1, 2, 3, 3), [1.0])),
    ("layer_norm", "layer_norm", "input", lambda d: F.layer_norm([1.0], (1,))),
    ("layer_norm weight", "layer_norm", "weight", lambda d: F.layer_norm(f32(d, 2, 4), (4,), [1.0])),
    ("group_norm weight", "group_norm", "weight", lambda d: F.group_norm(f32(d, 2, 4, 3), 2, [1.0])),
    ("group_norm bias", "group_norm", "bias", lambda d: F.group_norm(f32(d, 2, 4, 3), 2, None, [1.0])),
    ("batch_norm running_mean", "batch_norm", "running_mean",
     lambda d: F.batch_norm(f32(d, 2, 4), [1.0], None, training=True)),
    ("batch_norm weight", "batch_norm", "weight", lambda d: F.batch_norm(f32(d, 2, 4), None, None, [1.0], training=True)),
    ("max_pool2d", "max_pool2d", "input", lambda d: F.max_pool2d([1.0], 2)),
    ("scaled_dot_product_attention", "scaled_dot_product_attention", "query",
     lambda d: F.scaled_dot_product_attention([1.0], f32(d, 2, 2), f32(d, 2, 2))),
    ("dropout", "dropout", "input", lambda d: F.dropout([1.0])),
    ("one_hot", "one_hot", "tensor", lambda d: F.one_hot([1])),
    ("pad", "pad", "input", lambda d: F.pad([1.0], (1, 1))),
    ("silu", "silu", "input", lambda d: F.silu([1.0])),
    ("unfold", "unfold", "input", lambda d: F.unfold([1.0], 2)),
]

NIE = NotImplementedError
TABLE = [
    # -- a dtype an op has no kernel for: NotImplementedError -----------------------------
    ("bitwise_and float", lambda d: f32(d, 2).bitwise_and(1), NIE, r"bitwise_and\(\): not implemented for dtype plugtorch.float32 \('Float'\)"),
    ("| float", lambda d: f32(d, 2) | f32(d, 2), NIE, r"bitwise_or\(\).*float32"),
    ("^ float", lambda d: f32(d, 2) ^ f32(d, 2), NIE, r"bitwise_xor\(\).*float32"),
    ("bitwise_not float", lambda d: f32(d, 2).bitwise_not(), NIE, r"bitwise_not\(\).*float32"),
    ("<< float", lambda d: f32(d, 2) << 1, NIE, r"bitwise_left_shift\(\).*float32"),
    (">> bool", lambda d: b(d, 2) >> b(d, 2), NIE, r"bitwise_right_shift\(\).*bool \('Bool'\)"),
    ("abs bool", lambda d: b(d, 2).abs(), NIE, r"abs\(\): not implemented for dtype plugtorch.bool \('Bool'\)"),
    ("abs_ bool", lambda d: b(d, 2).abs_(), NIE, r"abs\(\).*bool"),
    ("floor bool", lambda d: b(d, 2).floor(), NIE, r"floor\(\).*bool"),
    ("ceil bool", lambda d: b(d, 2).ceil(), NIE, r"ceil\(\).*bool"),
    ("round bool", lambda d: b(d, 2).round(), NIE, r"round\(\).*bool"),
    ("trunc bool", lambda d: b(d, 2).trunc(), NIE, r"trunc\(\).*bool"),
    ("frac int64", lambda d: i64(d, 2).frac(), NIE, r"frac\(\).*int64 \('Long'\)"),
    ("frac bool", lambda d: b(d, 2).frac(), NIE, r"frac\(\).*bool"),
    ("pow bool", lambda d: b(d, 2) ** b(d, 2), NIE, r"pow\(\).*bool"),
    ("remainder bool", lambda d: b(d, 2) % b(d, 2), NIE, r"remainder\(\).*bool"),
    ("fmod bool", lambda d: b(d, 2).fmod(b(d, 2)), NIE, r"fmod\(\).*bool"),
    ("floor_divide bool", lambda d: b(d, 2) // b(d, 2), NIE, r"floor_divide\(\).*bool"),
    ("softmax int64", lambda d: i64(d, 2).softmax(0), NIE, r"softmax\(\).*int64.*dtype="),
    ("log_softmax int64", lambda d: i64(d, 2).log_softmax(0), NIE, r"log_softmax\(\).*int64"),
    ("lerp int64", lambda d: i64(d, 2).lerp(i64(d, 2), 0.5), NIE, r"lerp\(\).*int64"),
    ("hypot int64", lambda d: pt.hypot(i64(d, 2), i64(d, 2)), NIE, r"hypot\(\).*int64"),
    ("logaddexp int64", lambda d: pt.logaddexp(i64(d, 2), i64(d, 2)), NIE, r"logaddexp\(\).*int64"),
    ("matmul bool", lambda d: b(d, 2, 2) @ b(d, 2, 2), NIE, r"matmul\(\).*bool"),
    ("linear bool", lambda d: pt.nn.functional.linear(b(d, 2, 2), b(d, 2, 2)), NIE, r"linear\(\).*bool"),
    ("uniform_ int64", lambda d: i64(d, 2).uniform_(), NIE, r"uniform_\(\).*int64"),
    ("normal_ int64", lambda d: i64(d, 2).normal_(), NIE, r"normal_\(\).*int64"),
    ("rand int64", lambda d: pt.rand(2, dtype=pt.int64, device=d), NIE, r"rand\(\).*int64"),
    ("randn int64", lambda d: pt.randn(2, dtype=pt.int64, device=d), NIE, r"randn\(\).*int64"),
    ("median bool", lambda d: b(d, 3).median(), NIE, r"median\(\).*bool"),
    ("kthvalue bool", lambda d: b(d, 3).kthvalue(1), NIE, r"kthvalue\(\).*bool"),
    ("bincount float", lambda d: f32(d, 3).bincount(), NIE, r"bincount\(\).*float32"),
    ("cross_entropy int64", lambda d: pt.nn.functional.cross_entropy(i64(d, 2, 3), i64(d, 2)), NIE,
     r"cross_entropy\(\): expected a floating point input"),
    # -- ops that check the dtype by hand: RuntimeError ------------------------------------
    ("neg bool", lambda d: b(d, 2).neg(), RuntimeError, r"neg\(\): Negation, the `-` operator, on a bool tensor"),
    ("- bool", lambda d: -b(d, 2), RuntimeError, "Negation.*logical_not"),
    ("neg_ bool", lambda d: b(d, 2).neg_(), RuntimeError, "Negation"),
    ("relu bool", lambda d: pt.relu(b(d, 2)), RuntimeError, r"relu\(\): Boolean inputs not supported"),
    ("sub bool", lambda d: b(d, 2) - b(d, 2), RuntimeError, "Subtraction.*logical_xor"),
    ("argmax bool", lambda d: b(d, 3).argmax(), RuntimeError, r"argmax\(\): does not support bool"),
    ("argmin bool", lambda d: b(d, 3).argmin(0), RuntimeError, r"argmin\(\): does not support bool"),
    ("topk bool", lambda d: b(d, 3).topk(1), RuntimeError, r"topk\(\): does not support bool"),
    ("exp_ int64", lambda d: i64(d, 2).exp_(), RuntimeError, "can't be cast to the desired output type"),
    ("sin_ int64", lambda d: i64(d, 3).sin_(), RuntimeError, "can't be cast to the desired output type"),
    ("nanmean int64", lambda d: i64(d, 2).nanmean(), RuntimeError, r"nanmean\(\): expected input to have floating point"),
    ("lerp end dtype", lambda d: f32(d, 2).lerp(i64(d, 2), 0.5), RuntimeError, r"lerp\(\): expected dtype plugtorch.float32 for `end`"),
    ("vector_norm int64", lambda d: i64(d, 2).norm(), RuntimeError, "floating point"),
    # -- the ~ operator checks its operand in Python: TypeError ----------------------------
    ("~ float", lambda d: ~f32(d, 2), TypeError, r"~ \(operator.invert\) is only implemented on integer and Boolean"),
    # -- Python conversions ----------------------------------------------------------------
    ("float() of 2 elements", lambda d: float(f32(d, 2)), ValueError, "only one element tensors can be converted to Python scalars.*float"),
    ("int() of 2 elements", lambda d: int(i64(d, 2)), ValueError, "only one element tensors.*int"),
    ("complex() of 2 elements", lambda d: complex(f32(d, 2)), ValueError, "only one element tensors.*complex"),
    ("float() of no elements", lambda d: float(e(d, 0)), ValueError, "only one element tensors.*0 elements"),
    ("bool() of 2 elements", lambda d: bool(f32(d, 2)), RuntimeError, "Boolean value of Tensor with more than one value is ambiguous"),
    ("bool() of no elements", lambda d: bool(e(d, 0)), RuntimeError, "Boolean value of Tensor with no values is ambiguous"),
    ("item() of 2 elements", lambda d: f32(d, 2).item(), RuntimeError, "2 elements cannot be converted to Scalar"),
    ("index() of a float", lambda d: operator.index(f32(d, 1)), TypeError, "only integer tensors of a single element"),
    # -- IndexError only where PyTorch raises it -------------------------------------------
    ("narrow start out of range", lambda d: f32(d, 3).narrow(0, -5, 1), IndexError, r"narrow\(\): start out of range \(expected to be in range of \[-3, 3\], but got -5\)"),
    ("narrow negative length", lambda d: f32(d, 3).narrow(0, 1, -1), RuntimeError, r"narrow\(\): length must be non-negative"),
    ("narrow past the end", lambda d: f32(d, 2, 3).narrow(1, 2, 2), RuntimeError, r"start \(2\) \+ length \(2\) exceeds dimension size \(3\)"),
    ("narrow 0-d", lambda d: f32(d).narrow(0, 0, 1), RuntimeError, r"narrow\(\) cannot be applied to a 0-dim tensor"),
    ("index_select 2-d index", lambda d: f32(d, 3).index_select(0, i64(d, 1, 1)), IndexError, "Index is supposed to be a vector"),
    ("index_select float index", lambda d: f32(d, 3).index_select(0, f32(d, 1)), RuntimeError, "Expected dtype int32 or int64 for index"),
    ("kthvalue k too large", lambda d: f32(d, 3).kthvalue(4), RuntimeError, r"kthvalue\(\): selected number k=4 out of range"),
    ("kthvalue k=0", lambda d: f32(d, 3).kthvalue(0), RuntimeError, "selected number k=0 out of range"),
    ("kthvalue 0-d k=2", lambda d: f32(d).kthvalue(2), RuntimeError, "out of range"),
    ("topk k too large", lambda d: f32(d, 3).topk(4), RuntimeError, "k=4 out of range"),
    ("select out of range", lambda d: f32(d, 3).select(0, 3), IndexError, "index 3 out of range"),
    ("dim out of range", lambda d: f32(d, 2, 3).sum(2), IndexError, "Dimension out of range"),
    ("index with a float", lambda d: f32(d, 2, 3)[0.5], IndexError, "only integers, slices"),
    ("index with a str", lambda d: f32(d, 2, 3)["a"], TypeError, "invalid index 'a'"),
    ("index with None and a str", lambda d: f32(d, 2, 3)[None, "a"], TypeError, "invalid index 'a'"),
    ("assign at a str", lambda d: f32(d, 2, 3).__setitem__("a", 1.0), TypeError, "invalid index 'a'"),
    ("movedim 0-d dim 1", lambda d: f32(d).movedim(0, 1), IndexError, "Dimension out of range"),
    # -- reductions without an identity over empty input -----------------------------------
    ("amax() of nothing", lambda d: e(d, 0, 3).amax(), RuntimeError, r"amax\(\): Expected reduction dim to be specified for input.numel\(\) == 0"),
    ("amin(dim=()) of nothing", lambda d: e(d, 0, 3).amin(dim=()), RuntimeError, "Expected reduction dim to be specified"),
    ("max() of nothing", lambda d: e(d, 0).max(), RuntimeError, r"max\(\): Expected reduction dim to be specified"),
    ("min() of nothing", lambda d: e(d, 0).min(), RuntimeError, r"min\(\): Expected reduction dim to be specified"),
    ("amax over an empty dim", lambda d: e(d, 0, 3).amax(0), IndexError, r"amax\(\): Expected reduction dim 0 to have non-zero size"),
    ("max over an empty dim", lambda d: e(d, 0, 3).max(0), IndexError, r"max\(\): Expected reduction dim 0 to have non-zero size"),
    ("argmax() of nothing", lambda d: e(d, 0).argmax(), IndexError, r"argmax\(\): Expected reduction dim to be specified"),
    ("argmin over an empty dim", lambda d: e(d, 3, 0).argmin(1), IndexError, r"argmin\(\): Expected reduction dim 1 to have non-zero size"),
    ("aminmax() of nothing", lambda d: e(d, 0).aminmax(), RuntimeError, r"aminmax\(\): cannot compute aminmax over an empty dimension"),
    ("aminmax over an empty dim", lambda d: e(d, 0, 3).aminmax(dim=0), IndexError, "aminmax.*dim 0 to have non-zero size"),
    ("median over an empty dim", lambda d: e(d, 0, 3).median(0), IndexError, r"median\(\): Expected reduction dim 0 to have non-zero size"),
    ("kthvalue over an empty dim", lambda d: e(d, 3, 0).kthvalue(1), IndexError, "kthvalue.*dim 1 to have non-zero size"),
    ("inf-norm of nothing", lambda d: e(d, 0, 3).norm(float("inf")), RuntimeError, "cannot compute the inf norm on an empty tensor"),
    ("-inf-norm over an empty dim", lambda d: e(d, 3, 0).norm(float("-inf"), dim=1), RuntimeError, "-inf norm on the dimension 1"),
    # -- errors that used to escape from inside plugtorch ----------------------------------
    ("tril 1-d", lambda d: f32(d, 2).tril(), RuntimeError, "tril: input tensor must have at least 2 dimensions"),
    ("triu 0-d", lambda d: f32(d).triu(), RuntimeError, "triu: input tensor must have at least 2 dimensions"),
    ("hstack []", lambda d: pt.hstack([]), RuntimeError, "hstack expects a non-empty TensorList"),
    ("vstack []", lambda d: pt.vstack([]), RuntimeError, "vstack expects a non-empty TensorList"),
    ("dstack []", lambda d: pt.dstack([]), RuntimeError, "dstack expects a non-empty TensorList"),
    ("column_stack []", lambda d: pt.column_stack([]), RuntimeError, "column_stack expects a non-empty TensorList"),
    ("stack []", lambda d: pt.stack([]), RuntimeError, "stack expects a non-empty TensorList"),
    ("cat []", lambda d: pt.cat([]), ValueError, r"cat\(\): expected a non-empty list of Tensors"),
    ("chunk 0-d", lambda d: f32(d).chunk(2), RuntimeError, "chunk expects at least a 1-dimensional tensor"),
    ("split 0-d", lambda d: f32(d).split(1), RuntimeError, "split expects at least a 1-dimensional tensor"),
    ("split negative size", lambda d: f32(d, 2).split(-1), RuntimeError, "split_size be non-negative"),
    ("split size 0", lambda d: f32(d, 2).split(0), RuntimeError, "split_size can only be 0 if dimension size is 0"),
    ("diff 0-d", lambda d: f32(d).diff(), RuntimeError, "diff expects input to be at least one-dimensional"),
    ("stack of numbers", lambda d: pt.stack([1, 2]), TypeError, r"stack\(\): expected a list of Tensors, but element 0 is a int"),
    ("stack of a tensor", lambda d: pt.stack(f32(d, 2)), TypeError, r"stack\(\): argument 'tensors' must be a tuple or list"),
    ("cat with a number", lambda d: pt.cat([f32(d, 2), 1]), TypeError, "element 1 is a int"),
    ("hstack of a tensor", lambda d: pt.hstack(f32(d, 2)), TypeError, r"hstack\(\): argument 'tensors' must be a tuple or list"),
    ("atleast_1d of a number", lambda d: pt.atleast_1d([1]), TypeError, "atleast_1d.*element 0"),
    *[(f"{name} of a list", call, TypeError, f"{op}\\(\\): argument '{arg}' must be Tensor, not list")
      for name, op, arg, call in NOT_A_TENSOR],
    # a flag must be a bool, as PyTorch's argument parser requires (a str or int was taken as its truth value)
    ("sum keepdim='yes'", lambda d: f32(d, 2, 3).sum(0, keepdim="yes"), TypeError, r"sum\(\): argument 'keepdim' must be bool, not str"),
    ("amax keepdim=1", lambda d: f32(d, 2, 3).amax(0, keepdim=1), TypeError, "argument 'keepdim' must be bool, not int"),
    ("argmin keepdim=1", lambda d: f32(d, 2, 3).argmin(0, keepdim=1), TypeError, r"argmin\(\): argument 'keepdim'"),
    ("mean keepdim='y'", lambda d: f32(d, 2, 3).mean(0, keepdim="y"), TypeError, r"mean\(\): argument 'keepdim'"),
    ("std unbiased='y'", lambda d: f32(d, 2, 3).std(0, unbiased="y"), TypeError, r"std\(\): argument 'unbiased'"),
    ("max keepdim='y'", lambda d: f32(d, 2, 3).max(0, keepdim="y"), TypeError, r"max\(\): argument 'keepdim'"),
    ("aminmax keepdim='y'", lambda d: f32(d, 2, 3).aminmax(dim=0, keepdim="y"), TypeError, "aminmax.*'keepdim'"),
    ("median keepdim='y'", lambda d: f32(d, 2, 3).median(0, keepdim="y"), TypeError, r"median\(\): argument 'keepdim'"),
    ("logsumexp keepdim='y'", lambda d: f32(d, 2, 3).logsumexp(0, keepdim="y"), TypeError, "logsumexp.*'keepdim'"),
    ("norm keepdim='y'", lambda d: f32(d, 2, 3).norm(dim=0, keepdim="y"), TypeError, "vector_norm.*'keepdim'"),
    ("sort descending=1", lambda d: f32(d, 3).sort(0, descending=1), TypeError, r"sort\(\): argument 'descending'"),
    ("topk largest='y'", lambda d: f32(d, 3).topk(1, largest="y"), TypeError, r"topk\(\): argument 'largest'"),
    ("multinomial replacement='y'", lambda d: pt.multinomial(pt.ones(3, device=d), 2, replacement="y"), TypeError,
     "multinomial.*'replacement'"),
    ("index_put accumulate='y'", lambda d: f32(d, 2).index_put((i64(d, 1),), f32(d), accumulate="y"), TypeError,
     "index_put.*'accumulate'"),
    ("isclose equal_nan='y'", lambda d: f32(d, 2).isclose(f32(d, 2), equal_nan="y"), TypeError, "isclose.*'equal_nan'"),
    ("sdpa is_causal='y'", lambda d: F.scaled_dot_product_attention(f32(d, 2, 2), f32(d, 2, 2), f32(d, 2, 2),
                                                                      is_causal="y"), TypeError, "'is_causal' must be bool"),
    ("ones_like list", lambda d: pt.ones_like([1, 2]), TypeError, r"ones_like\(\): argument 'input' \(position 1\) must be Tensor, not list"),
    ("zeros_like int", lambda d: pt.zeros_like(3), TypeError, r"zeros_like\(\).*not int"),
    ("full_like list", lambda d: pt.full_like([1], 2), TypeError, r"full_like\(\).*not list"),
    ("empty_like list", lambda d: pt.empty_like([1]), TypeError, r"empty_like\(\).*not list"),
    ("rand_like list", lambda d: pt.rand_like([1.0]), TypeError, r"rand_like\(\).*not list"),
    ("einsum output subscript not in the inputs", lambda d: pt.einsum("ij,jk->il", f32(d, 2, 3), f32(d, 3, 2)), RuntimeError,
     "einsum.*output subscript l does not appear in the equation for any input operand"),
    ("einsum ij->k", lambda d: pt.einsum("ij->k", f32(d, 2, 3)), RuntimeError, "output subscript k does not appear"),
    ("einsum repeated output subscript", lambda d: pt.einsum("ij->jii", f32(d, 2, 3)), RuntimeError, "output subscript i appears more than once"),
    ("einsum digit subscript", lambda d: pt.einsum("i1->i", f32(d, 2, 3)), RuntimeError, "subscripts must be in \\[a-zA-Z\\]"),
    ("einsum two arrows", lambda d: pt.einsum("ij->i->j", f32(d, 2, 3)), RuntimeError, "einsum"),
    ("einsum stray dot", lambda d: pt.einsum("i..j->ij", f32(d, 2, 3)), RuntimeError, "found '.' for operand 0 that is not part of any ellipsis"),
    ("einsum subscripts vs dims", lambda d: pt.einsum("i->i", f32(d, 2, 3)), RuntimeError, r"number of subscripts in the equation \(1\) does not match the number of dimensions \(2\)"),
    ("einsum too many operands", lambda d: pt.einsum("ij->ij", f32(d, 2, 3), f32(d, 2, 3)), RuntimeError, "more operands were provided"),
    ("einsum too few operands", lambda d: pt.einsum("ij,jk->ik", f32(d, 2, 3)), RuntimeError, "fewer operands were provided"),
    ("arange to inf", lambda d: pt.arange(0, float("inf"), device=d), RuntimeError, r"arange\(\): unsupported range: 0 -> inf"),
    ("arange to nan", lambda d: pt.arange(0, float("nan"), device=d), RuntimeError, "unsupported range: 0 -> nan"),
    ("arange from -inf", lambda d: pt.arange(float("-inf"), 0, device=d), RuntimeError, "unsupported range"),
    ("arange of 1e30 values", lambda d: pt.arange(0, 1e30, device=d), RuntimeError, r"arange\(\): Storage size calculation overflowed"),
    ("zeros(2**62)", lambda d: pt.zeros(2 ** 62, device=d), RuntimeError, r"zeros\(\): Storage size calculation overflowed with sizes=\[4611686018427387904\]"),
    ("empty(2**31, 2**31, 2**31)", lambda d: pt.empty(2 ** 31, 2 ** 31, 2 ** 31, device=d), RuntimeError, "Storage size calculation overflowed"),
    ("empty of 1 EiB", lambda d: pt.empty(2 ** 60, dtype=pt.int8, device=d), RuntimeError, "out of memory"),
    ("repeat to 8 TiB", lambda d: f32(d, 2).repeat(2 ** 40), RuntimeError, "out of memory"),
    ("expand to 2**64 elements", lambda d: f32(d, 2).expand(2 ** 62, 2), RuntimeError, r"expand\(\): numel: integer multiplication overflow"),
    ("movedim source/destination lengths", lambda d: f32(d, 2, 3).movedim((0, 1), (1,)), RuntimeError, "movedim: Invalid source or destination dims"),
    ("movedim repeated source", lambda d: f32(d, 2, 3).movedim((0, 0), (1, 0)), RuntimeError, r"movedim: repeated dim in `source` \(\[0, 0\]\)"),
    ("roll without shifts", lambda d: f32(d, 3).roll((), ()), RuntimeError, "`shifts` required"),
    ("var with unbiased and correction", lambda d: f32(d, 3).var(unbiased=True, correction=0), TypeError, r"var\(\): got both unbiased=True and correction=0"),
    ("std(True, correction=0)", lambda d: f32(d, 3).std(True, correction=0), TypeError, r"std\(\): the first argument True is the 'unbiased' flag"),
    ("view()", lambda d: f32(d, 3).view(), TypeError, r"view\(\) missing 1 required positional argument"),
    ("permute() of 0-d", lambda d: f32(d).permute(), TypeError, r"permute\(\) missing 1 required positional argument"),
    ("repeat()", lambda d: f32(d, 3).repeat(), TypeError, r"repeat\(\) missing"),
    ("flip()", lambda d: f32(d, 3).flip(), TypeError, r"flip\(\) missing"),
    ("flip repeated dim", lambda d: f32(d, 3).flip(0, 0), RuntimeError, "flip.*duplicates"),
    ("zeros()", lambda d: pt.zeros(device=d), TypeError, r"zeros\(\): missing the required argument 'size'"),
    ("tile()", lambda d: f32(d, 3).tile(), TypeError, r"tile\(\) missing"),
    ("norm p='bogus'", lambda d: f32(d, 2, 3).norm(p="bogus"), RuntimeError, "Order bogus not supported"),
    ("unique over dim with another empty dim", lambda d: e(d, 0, 3).unique(dim=1), RuntimeError, "There are 0 sized dimensions"),
    ("tensor_split 0 sections", lambda d: f32(d, 3).tensor_split(0), RuntimeError, "number of sections must be larger than 0"),
    ("hsplit not divisible", lambda d: f32(d, 3, 4).hsplit(3), RuntimeError, "hsplit attempted to split along dimension 1"),
    ("vsplit of 1-d", lambda d: f32(d, 4).vsplit(2), RuntimeError, "vsplit requires a tensor with at least 2 dimension"),
    ("fliplr of 1-d", lambda d: f32(d, 4).fliplr(), RuntimeError, r"fliplr\(\): Input must be >= 2-d"),
    # -- bad arguments the fuzzer found passing (tests/fuzz) -------------------------------
    ("bool - 2", lambda d: pt.sub(b(d, 2), 2), RuntimeError,
     r"sub\(\): Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to invert a mask, use the `~` or `logical_not\(\)`"),
    ("bool - 1.5", lambda d: b(d, 2) - 1.5, RuntimeError, "with a bool tensor is not supported"),
    ("1 - bool", lambda d: 1 - b(d, 2), RuntimeError, "with a bool tensor is not supported"),
    ("float - bool", lambda d: f32(d, 2) - b(d, 2), RuntimeError, "with a bool tensor is not supported"),
    ("int64 - True", lambda d: i64(d, 2) - True, RuntimeError, "with a bool tensor is not supported"),
    ("bool - True", lambda d: b(d, 2) - True, RuntimeError, "with two bool tensors.*logical_xor"),
    ("conv2d bool", lambda d: F.conv2d(b(d, 1, 2, 6, 6), b(d, 3, 2, 3, 3)), NIE,
     r"conv2d\(\): not implemented for dtype plugtorch.bool \('Bool'\)"),
    ("conv2d bool input, float weight", lambda d: F.conv2d(b(d, 1, 2, 6, 6), f32(d, 3, 2, 3, 3)), NIE, r"conv2d\(\).*'Bool'"),
    ("conv1d bool", lambda d: F.conv1d(b(d, 1, 2, 6), b(d, 3, 2, 3)), NIE, r"conv1d\(\).*'Bool'"),
    ("conv_transpose2d bool", lambda d: F.conv_transpose2d(b(d, 1, 2, 6, 6), b(d, 2, 3, 3, 3)), NIE,
     r"conv_transpose2d\(\).*'Bool'"),
    ("conv1d groups=2.5", lambda d: F.conv1d(f32(d, 1, 4, 9), f32(d, 2, 2, 3), groups=2.5), TypeError,
     r"conv1d\(\): argument 'groups' must be int, not float"),
    ("conv2d groups='2'", lambda d: F.conv2d(f32(d, 1, 2, 6, 6), f32(d, 2, 1, 3, 3), groups="2"), TypeError,
     r"conv2d\(\): argument 'groups' must be int, not str"),
    ("conv2d groups=True", lambda d: F.conv2d(f32(d, 1, 2, 6, 6), f32(d, 2, 2, 3, 3), groups=True), TypeError,
     "'groups' must be int, not bool"),
    ("conv_transpose2d groups=2.5", lambda d: F.conv_transpose2d(f32(d, 1, 4, 5, 5), f32(d, 4, 1, 3, 3), groups=2.5),
     TypeError, r"conv_transpose2d\(\): argument 'groups' must be int, not float"),
    ("conv2d groups=0", lambda d: F.conv2d(f32(d, 1, 2, 6, 6), f32(d, 2, 2, 3, 3), groups=0), RuntimeError,
     "non-positive groups is not supported"),
    ("avg_pool2d ceil_mode='yes'", lambda d: F.avg_pool2d(f32(d, 1, 2, 6, 6), 2, ceil_mode="yes"), TypeError,
     r"avg_pool2d\(\): argument 'ceil_mode' must be bool, not str"),
    ("avg_pool2d count_include_pad=1", lambda d: F.avg_pool2d(f32(d, 1, 2, 6, 6), 2, count_include_pad=1), TypeError,
     "argument 'count_include_pad' must be bool, not int"),
    ("max_pool2d ceil_mode='yes'", lambda d: F.max_pool2d(f32(d, 1, 2, 6, 6), 2, ceil_mode="yes"), TypeError,
     r"max_pool2d\(\): argument 'ceil_mode' must be bool, not str"),
    ("avg_pool1d ceil_mode='yes'", lambda d: F.avg_pool1d(f32(d, 1, 2, 6), 2, ceil_mode="yes"), TypeError,
     r"avg_pool1d\(\): argument 'ceil_mode'"),
    ("max_pool1d ceil_mode='yes'", lambda d: F.max_pool1d(f32(d, 1, 2, 6), 2, ceil_mode="yes"), TypeError,
     r"max_pool1d\(\): argument 'ceil_mode'"),
    ("nll_loss ignore_index=0.5", lambda d: F.nll_loss(f32(d, 2, 3), i64(d, 2), ignore_index=0.5), TypeError,
     r"nll_loss\(\): argument 'ignore_index' must be int, not float"),
    ("nll_loss ignore_index=True", lambda d: F.nll_loss(f32(d, 2, 3), i64(d, 2), ignore_index=True), TypeError,
     "'ignore_index' must be int, not bool"),
    ("cross_entropy ignore_index=0.5", lambda d: F.cross_entropy(f32(d, 2, 3), i64(d, 2), ignore_index=0.5), TypeError,
     r"cross_entropy\(\): argument 'ignore_index' must be int, not float"),
    ("flatten 0-d end_dim=4", lambda d: f32(d).flatten(0, 4), IndexError,
     r"flatten\(\): Dimension out of range \(expected to be in range of \[-1, 0\], but got 4\)"),
    ("flatten 0-d start_dim=1", lambda d: f32(d).flatten(1), IndexError, r"range of \[-1, 0\], but got 1"),
    ("flatten 0-d end_dim=-1.0", lambda d: f32(d).flatten(0, -1.0), TypeError, r"flatten\(\): dim must be an int, got float"),
    ("transpose 0-d dim0=-5", lambda d: f32(d).transpose(-5, 0), IndexError,
     r"transpose\(\): Dimension out of range \(expected to be in range of \[-1, 0\], but got -5\)"),
    ("transpose 0-d dim1=1", lambda d: f32(d).transpose(0, 1), IndexError, r"range of \[-1, 0\], but got 1"),
    ("transpose 0-d dim0=0.0", lambda d: f32(d).transpose(0.0, -1), TypeError, r"transpose\(\): dim must be an int"),
    ("softmax of nothing, dim 5", lambda d: e(d, 0, 3).softmax(5), IndexError,
     r"softmax\(\): Dimension out of range \(expected to be in range of \[-2, 1\], but got 5\)"),
    ("softmax of nothing, dim 0.0", lambda d: pt.softmax(e(d, 0), 0.0), TypeError, r"softmax\(\): dim must be an int"),
    ("softmax dim 1.0", lambda d: pt.softmax(f32(d, 2, 3), 1.0), TypeError, r"softmax\(\): dim must be an int"),
    ("log_softmax of nothing, dim 5", lambda d: e(d, 0, 3).log_softmax(5), IndexError, r"log_softmax\(\): Dimension out of range"),
    ("index_put indices=None", lambda d: pt.index_put(f32(d, 3, 4), None, f32(d, 2, 4)), TypeError,
     r"index_put\(\): argument 'indices' must be tuple of Tensors, not NoneType"),
    ("index_put indices=5", lambda d: f32(d, 3, 4).index_put(5, f32(d, 2, 4)), TypeError, "tuple of Tensors, not int"),
    ("index_put indices=Tensor", lambda d: f32(d, 3, 4).index_put(i64(d, 2), f32(d)), TypeError,
     "must be tuple of Tensors, not Tensor"),
    ("index_put_ indices=None", lambda d: f32(d, 3, 4).index_put_(None, f32(d, 2, 4)), TypeError, "tuple of Tensors"),
    ("unflatten sizes (1, 3.5)", lambda d: f32(d, 3, 4).unflatten(1, (1, 3.5)), TypeError,
     r"unflatten\(\): argument 'sizes' must be tuple of ints, but found element of type float at pos 1"),
    ("unflatten sizes 4", lambda d: f32(d, 3, 4).unflatten(1, 4), TypeError, "'sizes' must be tuple of ints, not int"),
    ("unflatten sizes ()", lambda d: f32(d, 3, 1).unflatten(1, ()), RuntimeError, r"unflatten\(\): sizes must be non-empty"),
    ("arange int32 step inf", lambda d: pt.arange(0, 1, float("inf"), dtype=pt.int32, device=d), RuntimeError,
     r"arange\(\): value inf cannot be converted to type int64 without overflow"),
    ("arange int64 step 1e30", lambda d: pt.arange(0, 3, 1e30, dtype=pt.int64, device=d), RuntimeError,
     "value 1e\\+30 cannot be converted"),
    ("arange int32 end 1e30", lambda d: pt.arange(0, 1e30, 1e29, dtype=pt.int32, device=d), RuntimeError,
     "without overflow"),
    ("arange past int64", lambda d: pt.arange(2 ** 63, 2 ** 63 + 2, device=d), RuntimeError, "without overflow"),
    ("arange step sign", lambda d: pt.arange(0, 1, -1, device=d), RuntimeError,
     "upper bound and lower bound inconsistent with step sign"),
    ("reshape() of 0-d", lambda d: f32(d).reshape(), TypeError, r"reshape\(\) missing 1 required positional argument"),
    ("plugtorch.reshape of 0-d, no shape", lambda d: pt.reshape(f32(d)), TypeError, r"reshape\(\) missing 1 required"),
    ("expand() of 0-d", lambda d: f32(d).expand(), TypeError, r"expand\(\) missing 1 required positional argument"),
    ("view() of 0-d", lambda d: f32(d).view(), TypeError, r"view\(\) missing 1 required positional argument"),
    ("mT of 1-d", lambda d: f32(d, 3).mT, RuntimeError, "tensor.mT is only supported on matrices"),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("desc,call,exc,match", TABLE, ids=[t[0] for t in TABLE])
def test_exception_class_is_pytorchs(device, desc, call, exc, match):
    with pytest.raises(exc, match=match) as info:
        call(device)
    assert type(info.value) is exc, f"{desc}: got {type(info.value).__name__}, PyTorch raises {exc.__name__}"
