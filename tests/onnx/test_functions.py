"""Plain functions exported to ONNX equal plugtorch eager under onnxruntime (1e-4): broadcasting,
views, indexing, cat/stack, where, reductions, matmul, in-place writes, dtypes."""
import pytest

import plugtorch as pt
from tests.onnx.conftest import check_export, op_types


@pytest.fixture(autouse=True)
def _seed():
    pt.manual_seed(0)


def r(*shape):
    return pt.randn(*shape)


def test_broadcasting_arithmetic():
    def f(x, y, z):
        return x + y, x - z, x * y * z, x / (y.abs() + 1), pt.maximum(x, y), pt.minimum(x, z), x ** 2, 2 ** z, \
            x.pow(y.abs())
    check_export(f, (r(2, 3, 4), r(3, 1), r(4)))


def test_scalars_promote_as_eager():
    def f(x, i, b):
        return x * 2.5, i + 1, i * 0.5, i / 2, b & (i > 1), x + i, i.float() - 1, (i * 3).to(pt.int8)
    check_export(f, (r(3), pt.tensor([1, 2, 3]), pt.tensor([True, False, True])))


def test_integer_division_and_modulo_round_as_python():
    a = pt.tensor([[7, -7, 7, -7, 0, 5], [9, -9, 3, -1, 6, -6]])
    b = pt.tensor([[2, 2, -2, -2, 3, 5], [4, 4, -4, 3, -4, 4]])
    check_export(lambda a, b: (a // b, a % b, pt.fmod(a, b), a / b), (a, b))
    x, y = r(3, 4) * 5, r(3, 4).abs() + 0.5
    check_export(lambda x, y: (x // y, x % y, pt.fmod(x, y), x // -y, x % -y), (x, y))


def test_unary_math():
    x = r(3, 5)
    pos = x.abs() + 0.1
    unit = x.tanh() * 0.9

    def f(x, pos, unit):
        return (x.exp(), pos.log(), x.sin(), x.cos(), (unit * 1.2).tan(), unit.asin(), unit.acos(), x.atan(),
                x.sinh(), x.cosh(), x.tanh(), pos.sqrt(), pos.rsqrt(), x.erf(), x.sigmoid(), x.abs(), -x, x.sign(),
                pos.reciprocal(), x.exp2(), x.expm1(), pos.log1p(), pos.log2(), pos.log10(), x.square(),
                (x * 3).floor(), (x * 3).ceil(), (x * 3).round(), (x * 3).trunc(), (x * 3).frac(), x.relu(),
                pt.atan2(x, unit), x.clamp(-0.5, 0.5), x.clamp(min=0.1), pt.lerp(x, pos, 0.3),
                pt.logaddexp(x, unit))
    check_export(f, (x, pos, unit))


def test_inverse_hyperbolic_functions():
    x = r(3, 5)
    check_export(lambda x: (x.asinh(), (x.abs() + 1.1).acosh(), (x.tanh() * 0.9).atanh(), pt.arcsinh(x)), (x,))


def test_rounding_half_to_even():
    x = pt.tensor([0.5, 1.5, 2.5, -0.5, -1.5, 2.4999, -2.6])
    check_export(lambda x: (x.round(), x.trunc(), x.floor(), x.ceil()), (x,))


def test_comparisons_and_logic():
    def f(x, y, i):
        return (x == y, x != y, x < y, x <= y, x > y, x >= y, (x > 0) & (y > 0), (x > 0) | (y > 0), (x > 0) ^ (y > 0),
                ~(x > 0), pt.logical_not(i), pt.logical_and(x, i), pt.logical_or(x > 1, i), pt.logical_xor(x, i), i == 2, i < 2.5, x.isnan(), x.isinf(),
                x.isfinite(), i.isfinite())
    y = r(3, 4)
    x = y.clone()
    x[0] = r(4)
    check_export(f, (x, y, pt.tensor([[0, 1, 2, 3]] * 3)))


def test_special_values():
    x = pt.tensor([float("nan"), float("inf"), -float("inf"), 0.0, -1.0])
    check_export(lambda x: (x.isnan(), x.isinf(), x.isfinite(), pt.nan_to_num(x), pt.nan_to_num(x, 1.0, 2.0, -2.0)),
                 (x,))


def test_where():
    x, y = r(3, 4), r(4)
    check_export(lambda x, y: (pt.where(x > y, x, y), pt.where(x > 0, x, 0.0), pt.where(x > 0, 1, -1),
                               x.masked_fill(x < 0, -9.0)), (x, y))


def test_reductions():
    def f(x):
        return (x.sum(), x.sum(1), x.sum((0, 2), keepdim=True), x.mean(), x.mean(-1), x.prod(1), x.amax(), x.amax((1, 2)),
                x.amin(0), x.max(), x.min(), x.max(1), x.min(2, keepdim=True), x.argmax(), x.argmax(1), x.argmin(2, True),
                x.var(1), x.std(), x.var(0, unbiased=False), x.std_mean(2), x.logsumexp(1), x.norm(), x.norm(dim=1),
                pt.linalg.vector_norm(x, 1, dim=-1), (x > 0).all(), (x > 0).all(1), (x > 0).any(0), x.cumsum(1),
                x.cumsum(0).sum(2), x.count_nonzero(1), x.softmax(1), x.log_softmax(0))
    check_export(f, (r(3, 4, 5),))


def test_integer_reductions():
    i = pt.tensor([[3, -1, 4], [1, -5, 9]])
    check_export(lambda i: (i.sum(), i.sum(0), i.prod(1), i.amax(1), i.min(), i.argmax(1), i.cumsum(1),
                            (i > 0).sum(1), i.float().mean()), (i,))


def test_matmul():
    def f(a, b, v, w, bm):
        return a @ b, v @ a, a @ b[:, 0], v @ w, bm @ b, \
            pt.bmm(bm, bm.transpose(1, 2)), pt.mm(a, b), pt.outer(v, w), pt.dot(v, w), \
            pt.einsum("bij,jk->bik", bm, b)
    check_export(f, (r(3, 4), r(4, 5), r(3), r(3), r(2, 3, 4)))


def test_views():
    def f(x):
        return (x.view(6, 4), x.view(-1), x.reshape(2, -1, 2), x.t() if x.ndim == 2 else x.transpose(0, 2), x.permute(2, 0, 1),
                x.unsqueeze(1), x[:, :1].squeeze(1), x.flatten(1), x.unflatten(2, (2, 2)), x.expand(3, 2, 3, 4),
                x.movedim(0, -1), x.narrow(2, 1, 2), x.unbind(1), x.chunk(2, 2), x.split([1, 3], 2),
                x.diagonal(0, 1, 2), x.flip(0, 2), x.roll(1, 2), x.repeat(1, 2, 1), x.tile((2,)),
                x.contiguous(), x.tril(), x.triu(1), x.mT, pt.broadcast_to(x[:, :1], (2, 3, 4)))
    check_export(f, (r(2, 3, 4),))


def test_indexing():
    def f(x, i, j):
        return (x[1], x[-1], x[:, 2], x[..., 0], x[0, 1:3], x[::2], x[:, 1::2, -3:], x[None, 1], x[i], x[:, i],
                x[i, :, j], x[i, i], x[:, i, j], x[i[:, None], i], x[1:, [0, 2]], x[x > 0], x[x[:, 0, 0] > 0],
                x.index_select(2, j % 4), x.gather(2, (j % 4).expand(2, 3, 2)), pt.take_along_dim(x, (j % 4).view(1, 1, 2), 2))
    check_export(f, (r(2, 3, 4), pt.tensor([1, 0]), pt.tensor([3, -1])))


def test_boolean_mask_follows_the_data():
    f = lambda x: x[x > 0] * 2  # noqa: E731
    check_export(f, (r(3, 4),), runs=[(r(3, 4),), (pt.zeros(3, 4),)])


def test_cat_stack():
    def f(a, b, c):
        return (pt.cat([a, b]), pt.cat([a, b, a], 1), pt.cat([a, c.to(pt.float64)], 0), pt.stack([a, b]),
                pt.stack([a, b], 2), pt.stack([a]), pt.hstack([a, b]),
                pt.cat([a, pt.zeros(0, 4)]), pt.cat([a.long(), c.long()]))
    check_export(f, (r(2, 4), r(2, 4), r(2, 4).double()))


def test_inplace_writes():
    def f(x, i, v):
        y = x.clone()
        y[:, 0] = 0
        y.add_(1)
        y[i] = v
        y[1:, 1:3] *= 2
        z = x * 2
        z.relu_()
        w = x.clone()
        w.index_put_((i,), pt.ones(4), accumulate=True)
        w[i, 1] += 5
        u = pt.zeros(3, 4)
        u.scatter_(1, pt.tensor([[0], [1], [3]]), x[:, :1])
        t = x.clone()
        row = t[1]
        row.mul_(10)              # a view written in place: t changes
        col = t[:, 2]             # a view read after its base changed
        t[0] = -1
        return y, z, w, u, t, row, col
    check_export(f, (r(3, 4), pt.tensor([0, 2]), r(4)))


def test_writes_through_views_of_views():
    def f(x):
        a = x.clone()
        a.diagonal().zero_()
        b = x.clone()
        b.t()[0] = 1.0
        c = x.clone()
        c.view(-1)[::2] = 0.0
        d = x.clone()
        d[:, 1:].transpose(0, 1)[0] = 5.0
        e = x.clone()
        e.chunk(2, 1)[1].mul_(2)            # a view made inside chunk's decomposition
        h = x.clone()
        h.unbind(0)[1].add_(1)
        k = x.clone()
        v = k[1:]
        k.mul_(3)                            # the base written: v reads the new values
        m = x.clone()
        m.masked_fill_(m > 0, 0.0)
        n = x.clone()
        n.clamp_(-0.1, 0.1)
        return a, b, c, d, e, h, k, v * 1, m, n
    check_export(f, (r(4, 4),), runs=[(r(4, 4),)])


def test_scatter_gather():
    def f(x, idx, src):
        return (pt.zeros(3, 5).scatter(1, idx, src), pt.zeros(3, 5).scatter_add(1, idx, src),
                x.scatter(1, idx[:2, :3], 7.0), x.gather(1, idx), pt.ones(3, 5).scatter(1, idx, src, reduce="multiply"))
    idx = pt.tensor([[0, 1, 2], [4, 3, 2], [1, 1, 0]])
    check_export(f, (r(3, 5), idx, r(3, 3)))


def test_sort_topk():
    x = pt.tensor([[3.0, 1.0, 2.0, 1.0, 5.0], [0.0, -1.0, 0.0, 2.0, 2.0]])
    check_export(lambda x: (x.sort(1), x.sort(1, descending=True), x.sort(0, stable=True), x.argsort(1),
                            x.topk(2), x.topk(3, 1, largest=False), x.kthvalue(2, 1)), (x,))


def test_factories_fold_into_constants():
    def f(x):
        return x + pt.arange(4), x * pt.ones(3, 4), pt.full((3, 1), 2.0) - x, pt.eye(4)[1:] @ x.t(), \
            x + pt.linspace(0, 1, 4), x + pt.tensor([1.0, 2.0, 3.0, 4.0])
    proto = check_export(f, (r(3, 4),))
    assert not op_types(proto) & {"Range", "ConstantOfShape", "EyeLike"}


def test_factories_when_folding_is_off():
    def f(x):
        e = pt.empty(3, 4)
        e.copy_(x)
        return x + pt.arange(4), pt.full((3, 1), 2.0) - x, pt.zeros(2, dtype=pt.int64) + 1, e * 2
    proto = check_export(f, (r(3, 4),), do_constant_folding=False)
    assert {"Range", "ConstantOfShape"} <= op_types(proto)


def test_dtypes():
    check_export(lambda x: (x * 2).sum(1).sqrt(), (r(3, 4).double(),))
    check_export(lambda x: ((x * 2 + 1).exp(), x.sum(), x.softmax(0)), (r(3, 4).half(),))
    check_export(lambda x: (x * 3 + 1, x // 2, x.abs(), x.to(pt.int16) * 2), (pt.tensor([1, -5, 100], dtype=pt.int8),))
    check_export(lambda x: (x + 1, x.long() * 300, x.float() / 3), (pt.tensor([0, 7, 255], dtype=pt.uint8),))
    check_export(lambda x: (x * 2, x.sum(), x.cumsum(0)), (pt.tensor([1, 2, 3], dtype=pt.int32),))


def test_bitwise_needs_opset_18_for_integers():
    i = pt.tensor([5, 12, -3])
    check_export(lambda i: (i & 6, i | 1, i ^ 3, ~i), (i,), opset_version=18)
    b = pt.tensor([True, False, True])
    check_export(lambda b: (b & ~b, b | b, b ^ b), (b,))       # bools: And/Or/Xor/Not at opset 17


def test_zero_dim_and_empty():
    check_export(lambda x, s: (x * s, s.exp(), x.sum() + s, s.reshape(1), s.softmax(0)), (r(3), pt.tensor(2.0)))
    check_export(lambda x: (x.sum(0), x.reshape(0, 4), x * 2), (pt.zeros(0, 4),))


def test_functional_nn():
    F = pt.nn.functional

    def f(x, w, b, img, idx):
        return (F.linear(x, w, b), F.relu(x), F.gelu(x), F.silu(x), F.softplus(x), F.elu(x), F.leaky_relu(x, 0.2),
                F.hardtanh(x), F.normalize(x, dim=1), F.cosine_similarity(x, x.flip(0)),
                F.pairwise_distance(x, x.flip(0)), F.pad(img, (1, 2, 0, 1)), F.pad(img, (1, 1, 1, 1), mode="reflect"),
                F.pad(img, (2, 0, 0, 1), mode="replicate"), F.interpolate(img, size=(5, 3), mode="bilinear"),
                F.interpolate(img, scale_factor=2, mode="nearest"), F.one_hot(idx, 5), F.unfold(img, 2),
                F.fold(F.unfold(img, 2), (4, 4), 2), F.max_pool2d(img, 2, 1, 1), F.avg_pool2d(img, 3, 1, 1),
                F.adaptive_max_pool2d(img, 2), F.dropout(x, 0.5, training=False), F.embedding(idx % 4, w.t()),
                F.scaled_dot_product_attention(img, img, img), F.scaled_dot_product_attention(img, img, img,
                                                                                               is_causal=True),
                F.mse_loss(x, x.flip(0)), F.cross_entropy(x, idx[:3] % 3), F.nll_loss(x.log_softmax(1), idx[:3] % 3),
                F.binary_cross_entropy_with_logits(x, x.sigmoid()), F.smooth_l1_loss(x, x * 2))
    check_export(f, (r(3, 4), r(3, 4), r(3), r(1, 2, 4, 4), pt.tensor([0, 3, 1, 4])))
