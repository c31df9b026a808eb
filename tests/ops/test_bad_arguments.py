"""Arguments PyTorch refuses, on every device: each raises PyTorch's exception type (with a message
naming the op and what is wrong) where plugtorch used to return a silently wrong result. Classes:
negative sizes, negative and out-of-range indices, fractional counts, Python scalars a dtype cannot
hold, invalid probabilities and mismatched index/source sizes. The values PyTorch does return for
the neighbouring valid calls are checked against NumPy."""
import math

import numpy as np
import pytest

import plugtorch as pt

DEVICES = ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))]

nan, inf = math.nan, math.inf


def _t(values, dev, dtype=None):
    return pt.tensor(values, dtype=dtype, device=dev)


def _ar(dev, *shape):
    return pt.arange(float(math.prod(shape)), device=dev).reshape(shape)


# ---- negative sizes -------------------------------------------------------------------------
NEGATIVE_SIZES = [
    ("expand(-2) of a size-1 dim", lambda d: pt.ones(1, device=d).expand(-2), RuntimeError,
     r"expand\(\): the expanded size of the tensor \(-2\) is negative"),
    ("expand(1, -3, 2)", lambda d: pt.ones(1, 2, device=d).expand(1, -3, 2), RuntimeError, r"\(-3\) is negative"),
    ("repeat(-1, 4)", lambda d: pt.ones(2, device=d).repeat(-1, 4), RuntimeError,
     r"repeat\(\): Trying to create tensor with negative dimension -1: \[-1, 8\]"),
    ("repeat(2, -1)", lambda d: pt.ones(2, device=d).repeat(2, -1), RuntimeError, "negative dimension -2"),
    ("tile((-1, 2))", lambda d: pt.ones(2, device=d).tile((-1, 2)), RuntimeError, "negative dimension -1"),
    ("repeat_interleave(-1)", lambda d: pt.ones(3, device=d).repeat_interleave(-1), RuntimeError,
     "Repeats must be non-negative"),
    ("repeat_interleave(negative tensor)", lambda d: pt.ones(3, device=d).repeat_interleave(_t([1, -1, 2], d)),
     RuntimeError, "repeats can not be negative"),
    ("eye(-1)", lambda d: pt.eye(-1, device=d), RuntimeError, r"eye\(\): n must be greater or equal to 0, got -1"),
    ("eye(2, -1)", lambda d: pt.eye(2, -1, device=d), RuntimeError, "m must be greater or equal to 0"),
    ("diff(n=-1)", lambda d: pt.ones(4, device=d).diff(n=-1), RuntimeError, "order must be non-negative but got -1"),
    ("split([5, -1])", lambda d: pt.ones(4, device=d).split([5, -1]), RuntimeError,
     r"split_sizes have only non-negative entries, but got split_sizes=\[5, -1\]"),
    ("multinomial(num_samples=0)", lambda d: pt.multinomial(_t([0.5, 0.5], d), 0), RuntimeError, "n_sample <= 0"),
    ("randperm(-1)", lambda d: pt.randperm(-1, device=d), RuntimeError, "non-negative"),
    ("zeros(2, -1)", lambda d: pt.zeros(2, -1, device=d), RuntimeError, "negative dimension -1"),
    ("full((-1,))", lambda d: pt.full((-1,), 2.0, device=d), RuntimeError, "negative dimension -1"),
    ("rand(-1)", lambda d: pt.rand(-1, device=d), RuntimeError, "negative dimension -1"),
    ("new_zeros(-1)", lambda d: pt.ones(2, device=d).new_zeros(-1), RuntimeError, "negative dimension -1"),
    ("narrow length -1 (checked before start)", lambda d: pt.ones(2, device=d).narrow(0, 3, -1), RuntimeError,
     "length must be non-negative"),
    ("group_norm num_groups -1", lambda d: pt.nn.functional.group_norm(pt.ones(2, 4, 3, device=d), -1), RuntimeError,
     "Expected num groups to be greater than 0, got -1"),
    ("pad leaving a negative size", lambda d: pt.nn.functional.pad(pt.ones(2, device=d), (-3, 1)), RuntimeError,
     "length must be non-negative"),
]

# ---- negative and out-of-range indices --------------------------------------------------------
INDICES = [
    ("gather -1", lambda d: _ar(d, 2, 3).gather(1, _t([[-1]], d)), RuntimeError,
     r"gather\(\): index -1 is out of bounds for dimension 1 with size 3"),
    ("gather 3", lambda d: _ar(d, 2, 3).gather(1, _t([[3]], d)), RuntimeError, "index 3 is out of bounds"),
    ("scatter -1", lambda d: pt.zeros(3, device=d).scatter(0, _t([-1], d), pt.ones(1, device=d)), RuntimeError,
     r"scatter\(\): index -1 is out of bounds for dimension 0 with size 3"),
    ("scatter value -1", lambda d: pt.zeros(3, device=d).scatter(0, _t([-1], d), 1.0), RuntimeError,
     "index -1 is out of bounds"),
    ("scatter_add -1", lambda d: pt.zeros(3, device=d).scatter_add(0, _t([-1], d), pt.ones(1, device=d)),
     RuntimeError, r"scatter_add\(\): index -1 is out of bounds"),
    ("scatter_reduce -1", lambda d: pt.zeros(3, device=d).scatter_reduce(0, _t([-1], d), pt.ones(1, device=d), "sum"),
     RuntimeError, "index -1 is out of bounds"),
    ("take_along_dim -1", lambda d: _ar(d, 2, 3).take_along_dim(_t([[-1]], d), 1), RuntimeError,
     "index -1 is out of bounds"),
    ("index_select -1", lambda d: _ar(d, 6).index_select(0, _t([-1], d)), IndexError,
     r"index_select\(\): index -1 is out of range for dimension 0 with size 6 \(index out of range in self\)"),
    ("index_select -1 of 2-D", lambda d: _ar(d, 2, 3).index_select(1, _t([-1], d)), IndexError,
     "index out of range in self"),
    ("index_add -1", lambda d: pt.zeros(3, device=d).index_add(0, _t([0, -1], d), pt.ones(2, device=d)),
     IndexError, r"index_add\(\): index -1 is out of bounds for dimension 0 with size 3"),
    ("index_add 3", lambda d: pt.zeros(3, device=d).index_add(0, _t([0, 3], d), pt.ones(2, device=d)),
     IndexError, "index out of range in self"),
    ("index_add -1 of 2-D", lambda d: pt.zeros(2, 3, device=d).index_add(1, _t([-1], d), pt.ones(2, 1, device=d)),
     RuntimeError, "index -1 is out of bounds for dimension 1 with size 3"),
    ("index_copy -1", lambda d: pt.zeros(3, device=d).index_copy(0, _t([0, -1], d), pt.ones(2, device=d)),
     IndexError, r"index_copy\(\): index -1 is out of bounds for dimension 0 with size 3"),
    ("index_fill -4", lambda d: pt.zeros(2, 3, device=d).index_fill(1, _t([-4], d), 7.0), IndexError,
     "index -4 is out of bounds for dimension 1 with size 3"),
    ("embedding padding_idx 5", lambda d: pt.nn.functional.embedding(_t([0], d), pt.ones(3, 2, device=d), padding_idx=5),
     AssertionError, "Padding_idx must be within num_embeddings"),
    ("embedding padding_idx -4", lambda d: pt.nn.functional.embedding(_t([0], d), pt.ones(3, 2, device=d),
                                                                      padding_idx=-4), AssertionError, "Padding_idx"),
]

# ---- fractional counts: PyTorch's argument parser takes ints only -----------------------------
FRACTIONAL = [
    ("linspace steps 2.5", lambda d: pt.linspace(0, 1, 2.5, device=d), "linspace", "steps"),
    ("linspace steps 2.0", lambda d: pt.linspace(0, 1, 2.0, device=d), "linspace", "steps"),
    ("multinomial num_samples", lambda d: pt.multinomial(_t([0.5, 0.5], d), 1.5, True), "multinomial", "num_samples"),
    ("topk k", lambda d: pt.ones(4, device=d).topk(1.5), "topk", "k"),
    ("chunk chunks", lambda d: pt.ones(4, device=d).chunk(2.0), "chunk", "chunks"),
    ("split sizes", lambda d: pt.ones(4, device=d).split([1.5, 2.5]), "split_with_sizes", "split_sizes"),
    ("repeat_interleave repeats", lambda d: pt.ones(3, device=d).repeat_interleave(1.5), "repeat_interleave",
     "repeats"),
    ("eye n", lambda d: pt.eye(2.5, device=d), "eye", "n"),
    ("eye m", lambda d: pt.eye(2, 2.5, device=d), "eye", "m"),
    ("tril diagonal", lambda d: pt.ones(2, 2, device=d).tril(1.5), "tril", "diagonal"),
    ("triu diagonal", lambda d: pt.ones(2, 2, device=d).triu(1.5), "triu", "diagonal"),
    ("randperm n", lambda d: pt.randperm(2.5, device=d), "randperm", "n"),
    ("randint high", lambda d: pt.randint(2.0, (2,), device=d), "random_", "to"),
    ("random_ from", lambda d: pt.zeros(3, device=d).random_(0.5, 3.5), "random_", "from"),
    ("diff n", lambda d: pt.ones(4, device=d).diff(n=1.5), "diff", "n"),
    ("narrow start", lambda d: pt.ones(4, device=d).narrow(0, 1.5, 1), "narrow", "start"),
    ("one_hot num_classes", lambda d: pt.nn.functional.one_hot(_t([1], d), 2.5), "one_hot", "num_classes"),
    ("pad", lambda d: pt.nn.functional.pad(pt.ones(2, device=d), (1.5, 1)), "pad", "pad"),
    ("embedding padding_idx", lambda d: pt.nn.functional.embedding(_t([0], d), pt.ones(3, 2, device=d), padding_idx=2.5),
     "embedding", "padding_idx"),
    ("select index", lambda d: pt.ones(4, device=d).select(0, 1.5), "select", "index"),
    ("kthvalue k", lambda d: pt.ones(4, device=d).kthvalue(1.5), "kthvalue", "k"),
    ("slice step", lambda d: pt.ones(4, device=d).slice(0, 0, 4, 1.5), "slice", "step"),
    ("roll shifts", lambda d: pt.ones(4, device=d).roll(1.5), "roll", "shifts"),
    ("roll dims", lambda d: pt.ones(4, device=d).roll(1, 0.0), "roll", "dims"),
    ("diagonal offset", lambda d: pt.ones(2, 2, device=d).diagonal(1.5), "diagonal", "offset"),
    ("group_norm num_groups", lambda d: pt.nn.functional.group_norm(pt.ones(2, 4, 3, device=d), 1.5), "group_norm",
     "num_groups"),
    ("max_pool2d kernel_size", lambda d: pt.nn.functional.max_pool2d(pt.ones(1, 1, 4, 4, device=d), 2.5), "max_pool2d",
     "kernel_size"),
    ("avg_pool2d stride", lambda d: pt.nn.functional.avg_pool2d(pt.ones(1, 1, 4, 4, device=d), 2, 1.5), "avg_pool2d",
     "stride"),
    ("conv1d stride", lambda d: pt.nn.functional.conv1d(pt.ones(1, 1, 4, device=d), pt.ones(1, 1, 2, device=d),
                                                        stride=1.5), "conv1d", "stride"),
    ("conv2d padding", lambda d: pt.nn.functional.conv2d(pt.ones(1, 1, 4, 4, device=d), pt.ones(1, 1, 2, 2, device=d),
                                                         padding=(0.5, 0)), "conv2d", "padding"),
    ("adaptive_avg_pool2d output_size", lambda d: pt.nn.functional.adaptive_avg_pool2d(pt.ones(1, 1, 4, 4, device=d), 2.5),
     "adaptive_avg_pool2d", "output_size"),
]

# ---- Python scalars a dtype cannot hold (PyTorch's checked conversion) ------------------------
I8 = pt.int8
OVERFLOW = r"cannot be converted to type {} without overflow"
SCALAR_CASTS = [
    ("tensor([300], int8)", lambda d: pt.tensor([300], dtype=I8, device=d), OVERFLOW.format("int8")),
    ("tensor([[1, 300.]], int8)", lambda d: pt.tensor([[1, 300.0]], dtype=I8, device=d), "value 300.0"),
    ("tensor(300, int8)", lambda d: pt.tensor(300, dtype=I8, device=d), OVERFLOW.format("int8")),
    ("tensor([127.9], int8)", lambda d: pt.tensor([127.9], dtype=I8, device=d), OVERFLOW.format("int8")),
    ("tensor([-256], uint8)", lambda d: pt.tensor([-256], dtype=pt.uint8, device=d), OVERFLOW.format("uint8")),
    ("tensor([-1.5], uint8)", lambda d: pt.tensor([-1.5], dtype=pt.uint8, device=d), OVERFLOW.format("uint8")),
    ("tensor([1e10], int32)", lambda d: pt.tensor([1e10], dtype=pt.int32, device=d), OVERFLOW.format("int32")),
    ("tensor([nan], int64)", lambda d: pt.tensor([nan], dtype=pt.int64, device=d), OVERFLOW.format("int64")),
    ("tensor([inf], int32)", lambda d: pt.tensor([inf], dtype=pt.int32, device=d), OVERFLOW.format("int32")),
    ("tensor([tensor(300)], int8)", lambda d: pt.tensor([pt.tensor(300)], dtype=I8, device=d), OVERFLOW.format("int8")),
    ("tensor(np.float64(300), int8)", lambda d: pt.tensor(np.float64(300), dtype=I8, device=d), OVERFLOW.format("int8")),
    ("full 300 int8", lambda d: pt.full((2,), 300, dtype=I8, device=d), r"full\(\): value 300 " + OVERFLOW.format("int8")),
    ("full 256 uint8", lambda d: pt.full((2,), 256, dtype=pt.uint8, device=d), OVERFLOW.format("uint8")),
    ("full 1e5 float16", lambda d: pt.full((2,), 1e5, dtype=pt.float16), OVERFLOW.format("float16")),
    ("full 1e300 float32", lambda d: pt.full((2,), 1e300, dtype=pt.float32, device=d), OVERFLOW.format("float32")),
    ("full nan int8", lambda d: pt.full((2,), nan, dtype=I8, device=d), OVERFLOW.format("int8")),
    ("full 2**63", lambda d: pt.full((2,), 2 ** 63, device=d), OVERFLOW.format("int64")),
    ("fill_ 300 int8", lambda d: pt.zeros(2, dtype=I8, device=d).fill_(300), OVERFLOW.format("int8")),
    ("fill_ 1e10 int8", lambda d: pt.zeros(2, dtype=I8, device=d).fill_(1e10), OVERFLOW.format("int8")),
    ("fill_ 1e40 float32", lambda d: pt.zeros(2, device=d).fill_(1e40), OVERFLOW.format("float32")),
    ("new_full 300 int8", lambda d: pt.zeros(2, dtype=I8, device=d).new_full((2,), 300), OVERFLOW.format("int8")),
    ("full_like 300 int8", lambda d: pt.full_like(pt.zeros(2, dtype=I8, device=d), 300), OVERFLOW.format("int8")),
    ("masked_fill 300 int8", lambda d: pt.zeros(3, dtype=I8, device=d).masked_fill(_t([True, False, True], d), 300),
     r"masked_fill\(\): value 300 " + OVERFLOW.format("int8")),
    ("masked_fill tensor(300) int8",
     lambda d: pt.zeros(3, dtype=I8, device=d).masked_fill(_t([True, False, True], d), pt.tensor(300)),
     OVERFLOW.format("int8")),
    ("index_fill 300 int8", lambda d: pt.zeros(3, dtype=I8, device=d).index_fill(0, _t([0], d), 300),
     r"index_fill\(\): value 300 " + OVERFLOW.format("int8")),
    ("scatter value 300 int8", lambda d: pt.zeros(3, dtype=I8, device=d).scatter(0, _t([0], d), 300),
     OVERFLOW.format("int8")),
    ("index_put_ 300 int8", lambda d: pt.zeros(3, dtype=I8, device=d).index_put_((_t([0], d),), 300),
     OVERFLOW.format("int8")),
    ("clamp max 300 int8", lambda d: pt.zeros(3, dtype=I8, device=d).clamp(0, 300), r"clamp\(\): value 300 "),
    ("clamp_min 300 int8", lambda d: pt.zeros(3, dtype=I8, device=d).clamp_min(300), OVERFLOW.format("int8")),
    ("clamp max 1e5 float16", lambda d: pt.zeros(3, dtype=pt.float16).clamp(max=1e5), OVERFLOW.format("float16")),
    ("where scalar 300 int8", lambda d: pt.where(_t([True, False], d), pt.zeros(2, dtype=I8, device=d), 300),
     r"where\(\): value 300 " + OVERFLOW.format("int8")),
    ("x[0] = 300 int8", lambda d: pt.zeros(2, dtype=I8, device=d).__setitem__(0, 300), OVERFLOW.format("int8")),
    ("x[idx] = 300 int8", lambda d: pt.zeros(2, dtype=I8, device=d).__setitem__(_t([0], d), 300),
     OVERFLOW.format("int8")),
    ("x[0] = 300.5 int8", lambda d: pt.zeros(2, dtype=I8, device=d).__setitem__(0, 300.5), OVERFLOW.format("int8")),
]
BIG_INTS = [   # Python ints outside 64 bits: PyTorch's own classes
    ("tensor([2**63])", lambda d: pt.tensor([2 ** 63], device=d), ValueError, "Overflow when unpacking long long"),
    ("tensor([2**63], int64)", lambda d: pt.tensor([2 ** 63], dtype=pt.int64, device=d), ValueError, "Overflow"),
    ("tensor([[1], [2**64]])", lambda d: pt.tensor([[1], [2 ** 64]], device=d), ValueError, "Overflow"),
    ("tensor([-2**63-1])", lambda d: pt.tensor([-2 ** 63 - 1], device=d), ValueError, "Overflow"),
    ("x[0] = 2**63 int64", lambda d: pt.zeros(2, dtype=pt.int64, device=d).__setitem__(0, 2 ** 63), ValueError,
     "Overflow"),
    ("full 2**64", lambda d: pt.full((2,), 2 ** 64, device=d), OverflowError, "too big to convert"),
    ("full 2**70 float32", lambda d: pt.full((2,), 2 ** 70, dtype=pt.float32, device=d), OverflowError, "64 bits"),
    ("randint high 2**63", lambda d: pt.randint(0, 2 ** 63, (2,), device=d), ValueError, "Overflow"),
]

# ---- invalid probabilities and distribution parameters ----------------------------------------
PROBABILITIES = [
    ("multinomial negative", lambda d: pt.multinomial(_t([0.5, -0.1, 0.6], d), 1), RuntimeError,
     r"probability tensor contains either `inf`, `nan` or element < 0"),
    ("multinomial nan", lambda d: pt.multinomial(_t([0.5, nan, 0.6], d), 1), RuntimeError, "`nan`"),
    ("multinomial inf", lambda d: pt.multinomial(_t([[0.5, 0.2], [inf, 0.6]], d), 1, True), RuntimeError, "`inf`"),
    ("multinomial all-zero row", lambda d: pt.multinomial(_t([[0.5, 0.5], [0.0, 0.0]], d), 1), RuntimeError,
     r"invalid multinomial distribution \(sum of probabilities <= 0\)"),
    ("multinomial more samples than categories", lambda d: pt.multinomial(_t([0.5, 0.5], d), 3), RuntimeError,
     "cannot sample n_sample > prob_dist.size"),
    ("multinomial int probabilities", lambda d: pt.multinomial(_t([1, 2], d), 1), RuntimeError,
     "only supports floating-point dtypes"),
    ("multinomial 3-D", lambda d: pt.multinomial(pt.ones(2, 2, 2, device=d), 1), RuntimeError, "1 or 2 dim"),
    # without replacement, 3 samples need 3 categories of nonzero probability (a zero one was returned)
    ("multinomial too few nonzero", lambda d: pt.multinomial(_t([0.5, 0.0, 0.5, 0.0], d), 3), RuntimeError,
     r"with replacement=False, not enough non-negative category to sample\): a row has fewer than num_samples=3"),
    ("multinomial too few nonzero, one row", lambda d: pt.multinomial(_t([[1.0, 1.0], [1.0, 0.0]], d), 2),
     RuntimeError, "not enough non-negative category"),
    ("multinomial 0-D", lambda d: pt.multinomial(_t(0.5, d), 1), RuntimeError, "1 or 2 dim"),
    ("bernoulli tensor 1.5", lambda d: pt.bernoulli(_t([0.5, 1.5], d)), RuntimeError, r"p_in >= 0 && p_in <= 1"),
    ("bernoulli tensor nan", lambda d: pt.bernoulli(_t([nan], d)), RuntimeError, r"\[0, 1\]"),
    ("bernoulli p=1.5", lambda d: pt.bernoulli(pt.zeros(2, device=d), 1.5), RuntimeError,
     r"bernoulli_ expects p to be in \[0, 1\], but got p=1.5"),
    ("bernoulli p=nan", lambda d: pt.bernoulli(pt.zeros(2, device=d), nan), RuntimeError, "got p=nan"),
    ("bernoulli_ -1", lambda d: pt.zeros(3, device=d).bernoulli_(-1.0), RuntimeError, r"\[0, 1\]"),
    ("bernoulli_ tensor 1.5", lambda d: pt.zeros(3, device=d).bernoulli_(_t([1.5, 0.0, 0.0], d)), RuntimeError,
     r"\[0, 1\]"),
    ("bernoulli of ints", lambda d: pt.bernoulli(_t([1, 0], d)), NotImplementedError, "int64"),
    ("dropout nan", lambda d: pt.nn.functional.dropout(pt.ones(3, device=d), nan), RuntimeError,
     "dropout probability has to be between 0 and 1, but got nan"),
    ("dropout 1.5", lambda d: pt.nn.functional.dropout(pt.ones(3, device=d), 1.5), ValueError, "got 1.5"),
    ("binary_cross_entropy target 1.5", lambda d: pt.nn.functional.binary_cross_entropy(
        _t([0.5, 0.5], d), _t([1.5, 0.0], d)), RuntimeError, "all elements of target should be between 0 and 1"),
    ("normal std -1", lambda d: pt.normal(0.0, -1.0, (2,), device=d), RuntimeError, "std >= 0.0, but found std -1"),
    ("normal std nan", lambda d: pt.normal(0.0, nan, (2,), device=d), RuntimeError, "found std nan"),
    ("normal tensor std", lambda d: pt.normal(pt.zeros(2, device=d), _t([1.0, -1.0], d)), RuntimeError,
     "all elements of std >= 0.0"),
    ("normal_ std nan", lambda d: pt.zeros(3, device=d).normal_(0, nan), RuntimeError, "std >= 0.0"),
    ("exponential_ -1", lambda d: pt.zeros(3, device=d).exponential_(-1), RuntimeError,
     "exponential_ expects lambda > 0.0, but found lambda=-1"),
    ("exponential_ 0", lambda d: pt.zeros(3, device=d).exponential_(0), RuntimeError, "lambda > 0.0"),
    ("exponential_ of ints", lambda d: pt.zeros(3, dtype=pt.int64, device=d).exponential_(), RuntimeError,
     "Exponential distribution is a continuous probability distribution. dtype must be a floating point but you "
     "specified plugtorch.int64"),
    ("normal(float, float) without size", lambda d: pt.normal(0.0, 1.0), TypeError,
     r"normal\(\): with a float mean and a float std, pass the result's size"),
    ("uniform_ to inf", lambda d: pt.zeros(3, device=d).uniform_(0, inf), RuntimeError, "to is out of bounds"),
    ("uniform_ from nan", lambda d: pt.zeros(3, device=d).uniform_(nan, 1), RuntimeError, "from is out of bounds"),
    ("uniform_ range overflows", lambda d: pt.zeros(3, device=d).uniform_(-3e38, 3e38), RuntimeError,
     "to-from to exceed the limit"),
    ("random_ from below int8", lambda d: pt.zeros(3, dtype=I8, device=d).random_(-129, 0), RuntimeError,
     "from is out of bounds for plugtorch.int8"),
    ("random_ to above int8", lambda d: pt.zeros(3, dtype=I8, device=d).random_(0, 300), RuntimeError,
     "to - 1 is out of bounds"),
    ("random_(300) int8", lambda d: pt.zeros(3, dtype=I8, device=d).random_(300), RuntimeError, "to - 1"),
    ("random_(0) int8", lambda d: pt.zeros(3, dtype=I8, device=d).random_(0), RuntimeError, "from=0 >= to=0"),
    ("random_ bool to 3", lambda d: pt.zeros(3, dtype=pt.bool, device=d).random_(0, 3), RuntimeError, "to - 1"),
    ("randint uint8 257", lambda d: pt.randint(0, 257, (2,), dtype=pt.uint8, device=d), RuntimeError, "to - 1"),
    ("randint uint8 from -1", lambda d: pt.randint(-1, 5, (2,), dtype=pt.uint8, device=d), RuntimeError, "from is"),
    ("randperm 300 int8", lambda d: pt.randperm(300, dtype=I8, device=d), RuntimeError, OVERFLOW.format("int8")),
    ("randperm 2050 float16", lambda d: pt.randperm(2050, dtype=pt.float16), RuntimeError, "greater than 2049"),
]

# ---- mismatched index / source sizes and dtypes ----------------------------------------------
MISMATCHED = [
    ("index_add source longer than index", lambda d: pt.zeros(2, device=d).index_add(0, _t([0, 1], d),
                                                                                      pt.ones(3, device=d)),
     RuntimeError, r"index_add\(\): Number of indices \(2\) should be equal to source.size\(dim\): \(3\)"),
    ("index_add 2-D source longer", lambda d: pt.zeros(2, 3, device=d).index_add(1, _t([0, 1], d),
                                                                                 pt.ones(2, 3, device=d)),
     RuntimeError, "Number of indices"),
    ("index_add other dims differ", lambda d: pt.zeros(2, 3, device=d).index_add(1, _t([0, 1], d),
                                                                                  pt.ones(1, 2, device=d)),
     RuntimeError, "source tensor shape must match self tensor shape"),
    ("index_add fewer source dims", lambda d: pt.zeros(2, 3, device=d).index_add(1, _t([0, 1], d),
                                                                                  pt.ones(2, device=d)),
     RuntimeError, "dimensionality differs"),
    ("index_add 0-d source", lambda d: pt.zeros(3, device=d).index_add(0, _t([0], d), _t(5.0, d)), RuntimeError,
     "dimensionality differs"),
    ("index_add dtype", lambda d: pt.zeros(2, 3, device=d).index_add(1, _t([0, 1], d),
                                                                      pt.ones(2, 2, dtype=pt.int32, device=d)),
     RuntimeError, "must have the same scalar type"),
    ("index_add float index", lambda d: pt.zeros(3, device=d).index_add(0, _t([0.0], d), pt.ones(1, device=d)),
     RuntimeError, "int32/int64 for index"),
    ("index_add 2-D index", lambda d: pt.zeros(2, 3, device=d).index_add(1, _t([[0, 1]], d), pt.ones(2, 2, device=d)),
     IndexError, "Index is supposed to be a vector"),
    ("index_copy source longer", lambda d: pt.zeros(3, device=d).index_copy(0, _t([0, 1], d), pt.ones(3, device=d)),
     IndexError, r"index_copy\(\): Number of indices \(2\)"),
    ("index_copy other dims differ", lambda d: pt.zeros(2, 3, device=d).index_copy(1, _t([0, 1], d),
                                                                                    pt.ones(3, 2, device=d)),
     RuntimeError, "must match self tensor shape"),
    ("index_copy dtype", lambda d: pt.zeros(3, device=d).index_copy(0, _t([0], d), pt.ones(1, dtype=pt.int32, device=d)),
     RuntimeError, "same scalar type"),
    ("index_copy int32 index", lambda d: pt.zeros(3, device=d).index_copy(0, _t([0], d, pt.int32), pt.ones(1, device=d)),
     RuntimeError, "int64 for index"),
    ("index_fill int32 index", lambda d: pt.zeros(3, device=d).index_fill(0, _t([0], d, pt.int32), 1.0), IndexError,
     "int64 for index"),
    ("index_fill 2-D index", lambda d: pt.zeros(2, 3, device=d).index_fill(1, _t([[0, 1]], d), 1.0), RuntimeError,
     "vector"),
    ("index_fill 1-D value", lambda d: pt.zeros(3, device=d).index_fill(0, _t([0], d), pt.ones(1, device=d)),
     RuntimeError, "0-dimensional value tensor"),
    ("index_put value longer", lambda d: pt.zeros(3, device=d).index_put_((_t([0, 1], d),), _t([1.0, 2, 3], d)),
     RuntimeError, r"shape mismatch: value tensor of shape \[3\] cannot be broadcast to indexing result of shape \[2\]"),
    ("index_put accumulate value longer",
     lambda d: pt.zeros(3, device=d).index_put_((_t([0, 1], d),), _t([1.0, 2, 3], d), accumulate=True),
     RuntimeError, "shape mismatch"),
    ("index_put 2-D value", lambda d: pt.zeros(3, 2, device=d).index_put_((_t([0, 1], d),), pt.ones(2, 3, device=d)),
     RuntimeError, r"shape \[2, 3\] cannot be broadcast to indexing result of shape \[2, 2\]"),
    ("index_put separated indices", lambda d: pt.zeros(3, 4, 5, device=d).index_put_(
        (_t([0, 1], d), None, _t([1, 2], d)), pt.ones(4, 2, device=d)), RuntimeError, r"result of shape \[2, 4\]"),
    ("index_put dtype", lambda d: pt.zeros(3, device=d).index_put_((_t([0, 1], d),), _t([1, 2], d)), RuntimeError,
     "Index put requires the source and destination dtypes match"),
    ("x[idx] = longer", lambda d: pt.zeros(3, device=d).__setitem__(_t([0, 1], d), _t([1.0, 2, 3], d)), RuntimeError,
     "shape mismatch"),
    ("x[mask] = shorter", lambda d: pt.zeros(2, 3, device=d).__setitem__(
        _t([[True, False, True], [False, False, True]], d), _t([1.0, 2], d)), RuntimeError, "shape mismatch"),
    ("scatter src dtype", lambda d: pt.zeros(3, device=d).scatter(0, _t([0], d), pt.ones(1, dtype=pt.float64, device=d)),
     RuntimeError, "Expected self.dtype to be equal to src.dtype"),
    ("scatter_add src dtype", lambda d: pt.zeros(3, device=d).scatter_add(0, _t([0], d), _t([1], d)), RuntimeError,
     "src.dtype"),
    ("scatter src dims", lambda d: pt.zeros(3, 2, device=d).scatter(0, _t([[0]], d), pt.ones(1, 1, 1, device=d)),
     RuntimeError, "same number of dimensions as src"),
    ("scatter index larger than src", lambda d: pt.zeros(3, device=d).scatter(0, _t([0, 1], d), pt.ones(1, device=d)),
     RuntimeError, "to be smaller than src"),
    ("take_along_dim shapes", lambda d: _ar(d, 2, 3).take_along_dim(_t([[0, 1]], d), 0), RuntimeError,
     "not broadcastable"),
    ("take_along_dim dims", lambda d: _ar(d, 2, 3).take_along_dim(_t([0], d), 1), RuntimeError,
     "same number of dimensions"),
    ("take_along_dim int16", lambda d: _ar(d, 2, 3).take_along_dim(_t([[0]], d, pt.int16), 1), RuntimeError,
     "int32 or int64"),
]

OTHERS = [
    ("arange int64 step truncates to 0", lambda d: pt.arange(0, 1, 0.3, dtype=pt.int64, device=d), ValueError,
     r"arange\(\): step must be nonzero"),
    ("clip_grad_norm_ bogus norm without grads",
     lambda d: pt.nn.utils.clip_grad_norm_([pt.nn.Parameter(pt.ones(2, device=d))], 1.0, norm_type="bogus"),
     ValueError, "could not convert string to float: 'bogus'"),
    ("clip_grad_norm_ bogus max_norm", lambda d: pt.nn.utils.clip_grad_norm_([], "x"), ValueError, "'x'"),
]


def _cases(table, exc=None):
    return [pytest.param(fn, exc or e[0], e[-1], id=name) for name, fn, *e in table]


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("fn,exc,match", _cases(NEGATIVE_SIZES) + _cases(INDICES) + _cases(BIG_INTS)
                         + _cases(PROBABILITIES) + _cases(MISMATCHED) + _cases(OTHERS))
def test_refused(dev, fn, exc, match):
    with pytest.raises(exc, match=match):
        fn(dev)


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("fn,op,name", [pytest.param(fn, op, name, id=i) for i, fn, op, name in FRACTIONAL])
def test_fractional_counts(dev, fn, op, name):
    with pytest.raises(TypeError, match=rf"{op}\(\): argument '{name}' must be (int|tuple of ints)"):
        fn(dev)


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("fn,match", [pytest.param(fn, m, id=name) for name, fn, m in SCALAR_CASTS])
def test_scalar_out_of_range(dev, fn, match):
    with pytest.raises(RuntimeError, match=match):
        fn(dev)


# ---- the values PyTorch returns for the valid neighbours -------------------------------------
def _np(t):
    return t.cpu().numpy()


@pytest.mark.parametrize("dev", DEVICES)
def test_scalar_casts_that_pytorch_accepts(dev):
    u8 = pt.uint8
    assert _np(pt.tensor([-1, -255, 255], dtype=u8, device=dev)).tolist() == [255, 1, 255]   # ints wrap down to -255
    assert _np(pt.full((2,), -1, dtype=u8, device=dev)).tolist() == [255, 255]
    assert _np(pt.zeros(2, dtype=u8, device=dev).fill_(-255)).tolist() == [1, 1]
    assert _np(pt.full((2,), 1.5, dtype=pt.int64, device=dev)).tolist() == [1, 1]
    assert _np(pt.full((1,), inf, device=dev)).tolist() == [inf]
    assert _np(pt.full((1,), 2 ** 63 - 1, device=dev)).tolist() == [2 ** 63 - 1]
    assert _np(pt.tensor([300], dtype=pt.bool, device=dev)).tolist() == [True]
    assert _np(pt.tensor([1e40], dtype=pt.float32, device=dev)).tolist() == [inf]    # tensor() does not check floats
    assert _np(pt.tensor(np.array([300]), dtype=pt.int8, device=dev)).tolist() == [44]   # arrays are cast as they are
    assert _np(pt.tensor(pt.tensor([300]), dtype=pt.int8, device=dev)).tolist() == [44]
    assert _np(pt.zeros(2, dtype=pt.int8, device=dev) + 300).tolist() == [44, 44]     # arithmetic wraps
    assert _np(pt.zeros(2, dtype=pt.int8, device=dev).add_(300)).tolist() == [44, 44]
    assert _np(pt.where(_t([True, False], dev), pt.zeros(2, dtype=u8, device=dev), -1)).tolist() == [0, 255]
    x = pt.zeros(2, dtype=pt.float32, device=dev)
    x[0] = 1e40                                                                      # as PyTorch: inf, no error
    assert _np(x).tolist() == [inf, 0.0]
    y = pt.zeros(3, dtype=pt.int8, device=dev).index_fill(0, _t([-1], dev), -128)
    assert _np(y).tolist() == [0, 0, -128]


@pytest.mark.parametrize("dev", DEVICES)
def test_integer_arange_truncates_as_pytorch(dev):
    cases = [((0, 2.5, 1), pt.int64, [0, 1]), ((-2.5, 2, 1), pt.int64, [-2, -1, 0, 1]), ((2.9,), pt.int64, [0, 1]),
             ((0.5, 3.7, 1.9), pt.int64, [0, 1, 2]), ((0.5, 3.7, 1.9), pt.int32, [0, 1]),
             ((0.5, 3, 1.5), pt.int32, [0, 1]), ((-0.5, -3, -1.5), pt.int16, [0, -1]),
             ((1.7, 9.2, 2.9), pt.uint8, [1, 3, 5]), ((0, 2.5), pt.int32, [0, 1, 2]), ((3.5, 0, -1.5), pt.int64, [3, 2, 1])]
    for args, dt, want in cases:
        got = pt.arange(*args, dtype=dt, device=dev)
        assert got.dtype is dt and _np(got).tolist() == want, (args, dt)


@pytest.mark.parametrize("dev", DEVICES)
def test_floor_divide_is_the_floor_of_the_exact_quotient(dev):
    a = [0.3, 1.0, -0.3, 7.0, inf, -1.0, 1.0, 5.0, -5.0, 0.0, -0.0, -0.0, nan]
    b = [0.1, 0.1, 0.1, 0.7, 2.0, inf, -inf, 0.0, 0.0, 0.0, 3.0, -3.0, 1.0]
    rng = np.random.default_rng(0)
    ra, rb = rng.uniform(-100, 100, 4000), rng.uniform(-10, 10, 4000)
    dtypes = [pt.float32, pt.float64, pt.bfloat16] + ([pt.float16] if dev == "cpu" else [])
    for dt in dtypes:
        for x, y in ((a, b), (ra, rb)):
            tx, ty = pt.tensor(x, dtype=dt, device=dev), pt.tensor(y, dtype=dt, device=dev)
            x64, y64 = tx.cpu().double().numpy(), ty.cpu().double().numpy()
            with np.errstate(all="ignore"):   # NumPy's float // is Python's: the floor of the exact quotient
                want = pt.tensor(np.floor_divide(x64, y64), dtype=dt).double().numpy()
            for got in (pt.floor_divide(tx, ty), tx // ty, pt.div(tx, ty, rounding_mode="floor")):
                np.testing.assert_array_equal(got.cpu().double().numpy(), want, err_msg=str(dt))
    got = pt.floor_divide(pt.tensor([1.0, -0.3], device=dev), 0.1)    # a Python scalar divisor
    assert _np(got).tolist() == [9.0, -4.0]


@pytest.mark.parametrize("dev", DEVICES)
def test_index_add_copy_fill_values(dev):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    src = rng.standard_normal((4, 3)).astype(np.float32)
    idx = np.array([4, 0, 4])
    want = x.copy()
    np.add.at(want, (slice(None), idx), 2 * src)
    got = pt.tensor(x, device=dev).index_add(1, _t(idx, dev), pt.tensor(src, device=dev), alpha=2)
    np.testing.assert_allclose(_np(got), want, rtol=1e-6)
    want = x.copy()
    want[:, [3, 1]] = src[:, :2]
    got = pt.tensor(x, device=dev).index_copy(1, _t([3, 1], dev), pt.tensor(src[:, :2], device=dev))
    np.testing.assert_array_equal(_np(got), want)
    want = x.copy()
    want[[-1, 0]] = 7
    np.testing.assert_array_equal(_np(pt.tensor(x, device=dev).index_fill(0, _t([-1, 0], dev), 7.0)), want)
    # alpha is taken in the input's dtype; 0-d index and 0-d input, as PyTorch allows them
    got = pt.zeros(3, dtype=pt.int64, device=dev).index_add(0, _t([0, 1], dev), _t([1, 1], dev), alpha=2.5)
    assert _np(got).tolist() == [2, 2, 0]
    assert _np(pt.zeros(2, 3, device=dev).index_add(1, _t(0, dev), pt.ones(2, 1, device=dev))).tolist() == \
        [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]
    assert _np(_t(1.0, dev).index_add(0, _t(0, dev), _t(5.0, dev))).tolist() == 6.0
    assert _np(_t(1.0, dev).index_copy(0, _t([0], dev), _t([5.0], dev))).tolist() == 5.0


@pytest.mark.parametrize("dev", DEVICES)
def test_take_along_dim_broadcasts(dev):
    x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    t = pt.tensor(x, device=dev)
    np.testing.assert_array_equal(_np(t.take_along_dim(_t([[0]], dev), 1)), np.take_along_axis(x, np.array([[0], [0]]), 1))
    np.testing.assert_array_equal(_np(t.take_along_dim(_t([[2], [1]], dev), 1)), [[2.0], [4.0]])
    np.testing.assert_array_equal(_np(t.take_along_dim(_t([5, 0], dev))), [5.0, 0.0])   # dim=None: flattened


@pytest.mark.parametrize("dev", DEVICES)
def test_index_put_broadcasts_values(dev):
    x = pt.zeros(3, 4, 5, device=dev).index_put_((None, _t([0, 1], dev), _t([[1], [2]], dev)), pt.ones(2, 2, device=dev))
    want = np.zeros((3, 4, 5), np.float32)
    want[:, [0, 1], [[1], [2]]] = 1.0
    np.testing.assert_array_equal(_np(x), want)
    x = pt.zeros(3, 2, device=dev).index_put_((_t([0, 1], dev),), pt.ones(2, 1, device=dev))
    assert _np(x).tolist() == [[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]]


@pytest.mark.parametrize("dev", DEVICES)
def test_bernoulli_keeps_the_input_dtype(dev):
    for dt in (pt.int64, pt.bool, pt.float32):
        x = pt.zeros(64, dtype=dt, device=dev)
        assert pt.bernoulli(x, 1.0).dtype is dt and bool(pt.bernoulli(x, 1.0).all())
        assert not bool(pt.bernoulli(x, 0.0).any())


@pytest.mark.parametrize("dev", DEVICES)
def test_kl_div_of_a_negative_target_is_nan(dev):
    # PyTorch: xlogy(target, target) - target * input; a zero target contributes 0, a negative one nan
    x, y = _t([0.5, 0.5, 0.5], dev), _t([0.25, 0.0, -1.0], dev)
    got = _np(pt.nn.functional.kl_div(x, y, reduction="none"))
    np.testing.assert_allclose(got[:2], [0.25 * (np.log(0.25) - 0.5), 0.0], rtol=1e-6)
    assert np.isnan(got[2])


def test_grad_assignment_checks_dtype_shape_and_device():
    p = pt.nn.Parameter(pt.ones(2))
    with pytest.raises(RuntimeError, match="assigned grad has data of a different type"):
        p.grad = pt.ones(2, dtype=pt.int64)
    with pytest.raises(RuntimeError, match="different type"):
        p.grad = pt.ones(2, dtype=pt.float64)
    with pytest.raises(RuntimeError, match="different size: expected \\[2\\], got \\[3\\]"):
        p.grad = pt.ones(3)
    with pytest.raises(RuntimeError, match="can't assign Variable as its own grad"):
        p.grad = p
    assert p.grad is None
    p.grad = pt.full((2,), 3.0)
    assert p.grad.tolist() == [3.0, 3.0]
    if pt.opencl.is_available():
        with pytest.raises(RuntimeError, match="different device"):
            p.grad = pt.ones(2, device="opencl")


# ---- the valid neighbours of the fuzzer's findings (tests/fuzz; the refused calls are rows of
# tests/ops/test_error_classes.py, checked against torch 2.13) --------------------------------
@pytest.mark.parametrize("dev", DEVICES)
def test_all_any_over_an_empty_dim_list_reduce_nothing(dev):
    a = np.array([[0.0, 1.0, nan], [2.0, 0.0, -3.0]], np.float32)
    x = pt.tensor(a, device=dev)
    for f, name in ((pt.all, "all"), (pt.any, "any")):
        for dim in ([], ()):
            got = f(x, dim)
            assert got.dtype is pt.bool and _np(got).tolist() == (a != 0).tolist(), (name, dim)
        assert _np(getattr(x.t(), name)([], keepdim=True)).tolist() == (a.T != 0).tolist()
        assert _np(f(x.to(pt.uint8), [])).tolist() == [[0, 1, 0], [1, 0, 1]]   # uint8 stays uint8
        assert tuple(f(pt.zeros(0, 3, device=dev), []).shape) == (0, 3)
        assert _np(f(x, [0, 1])).tolist() == (a != 0).__getattribute__(name)()  # a dim list still reduces
        assert _np(f(x, None)).tolist() == (a != 0).__getattribute__(name)()


@pytest.mark.parametrize("dev", DEVICES)
def test_zero_dim_shape_ops_that_pytorch_accepts(dev):
    x = pt.tensor(2.5, device=dev)
    assert _np(x.flatten(-1, 0)).tolist() == [2.5] and _np(x.flatten()).tolist() == [2.5]
    assert _np(x.transpose(0, -1)).tolist() == 2.5
    for y in (x.permute(()), pt.permute(x, ()), pt.permute(x, []), x.view(()), x.expand(()), x.reshape(()),
              pt.reshape(x, ()), x.T, x.H, x.mT, x.mH, x.view_as(x), x.reshape_as(x)):
        assert tuple(y.shape) == () and _np(y).tolist() == 2.5
    assert _np(pt.permute(_ar(dev, 2, 3), (1, 0))).tolist() == np.arange(6.0).reshape(2, 3).T.tolist()
    assert _np(_ar(dev, 2, 3).T).tolist() == np.arange(6.0).reshape(2, 3).T.tolist()


@pytest.mark.parametrize("dev", DEVICES)
def test_int_arguments_take_numpy_and_tensor_ints(dev):
    x = _ar(dev, 3, 4)
    for sizes in ((2, np.int64(2)), pt.Size([2, 2]), [pt.tensor(2), -1]):
        assert _np(x.unflatten(1, sizes)).tolist() == np.arange(12.0).reshape(3, 2, 2).tolist()
    logp = pt.tensor([[-1.0, -2.0, -3.0], [-4.0, -5.0, -6.0]], device=dev)
    target = pt.tensor([0, 1], device=dev)
    for ignore in (np.int64(0), pt.tensor(0)):   # sample 0 ignored: the mean is over sample 1 alone
        assert F_nll(logp, target, ignore) == 5.0
    w = pt.ones(2, 2, 3, device=dev)
    inp = pt.ones(1, 4, 9, device=dev)
    want = _np(pt.nn.functional.conv1d(inp, w, groups=2))
    assert np.array_equal(_np(pt.nn.functional.conv1d(inp, w, groups=np.int64(2))), want)
    assert want.tolist() == np.full((1, 2, 7), 6.0).tolist()


def F_nll(logp, target, ignore):
    return pt.nn.functional.nll_loss(logp, target, ignore_index=ignore).item()


@pytest.mark.parametrize("dev", DEVICES)
def test_integer_arange_within_int64(dev):
    got = pt.arange(0, 3e9, 1e9, dtype=pt.int32, device=dev)   # each value fits int64, the results fit int32
    assert got.dtype is pt.int32 and _np(got).tolist() == [0, 1_000_000_000, 2_000_000_000]
    assert _np(pt.arange(2 ** 62, 2 ** 62 + 2, device=dev)).tolist() == [2 ** 62, 2 ** 62 + 1]
    assert _np(pt.arange(0, 1, inf, device=dev)).tolist() == []   # a float range with an infinite step is empty
