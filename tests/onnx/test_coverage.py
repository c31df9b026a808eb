"""Ops the conformance survey found failing at export (docs/onnx.md, "What exports"): each exports,
runs in onnxruntime and equals plugtorch eager; ops ONNX cannot express are refused by name."""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch.onnx import OnnxExporterError, UnsupportedOperatorError
from tests.onnx.conftest import check_export, op_types, run, session


@pytest.fixture(autouse=True)
def _seed():
    pt.manual_seed(0)


def r(*shape):
    return pt.randn(*shape)


def test_cumprod_every_dim_and_dtype():
    x = r(2, 3, 4)
    x[0, 1, 2] = 0.0
    proto = check_export(lambda x: (x.cumprod(0), x.cumprod(1), x.cumprod(-1), x[0, 0, 0].cumprod(0),
                                    x.double().cumprod(2), x.half().cumprod(1)), (x,))
    assert "ReduceProd" in op_types(proto)
    check_export(lambda i: (i.cumprod(1), (i > 0).cumprod(0), i.cumprod(0, dtype=pt.float32)),
                 (pt.tensor([[1, 2, -3], [4, 0, 2]]),))


def test_cumprod_follows_a_dynamic_scan_axis():
    check_export(lambda x: x.cumprod(1), (r(2, 5),), runs=[(r(3, 2),), (r(1, 7),)], input_names=["x"],
                 dynamic_axes={"x": {0: "batch", 1: "n"}})


def test_cumprod_matches_numpy():
    x = r(3, 6)
    proto = pt.onnx.export(lambda x: x.cumprod(1), (x,), None)
    got = run(session(proto.SerializeToString()), (x,))[0]
    np.testing.assert_allclose(got, np.cumprod(x.numpy(), axis=1), rtol=1e-6, atol=1e-7)


def test_zero_dim_scans_permute_and_nonzero():
    check_export(lambda x: (x.cumsum(0), x.cumprod(0), x.permute(()), x.nonzero(), (x * 0).nonzero()),
                 (pt.tensor(2.5),))


def test_unsqueezed_vector_times_vector():
    # onnx 1.23's shape inference with data propagation rejects Unsqueeze(1-D) * 1-D; ONNX Runtime runs it
    check_export(lambda a, b: (pt.outer(a, b), a.unsqueeze(1) * b), (r(3), r(4)))
    check_export(lambda a, b: pt.outer(a, b), (r(3), r(8)[::2]))


def test_ops_with_only_a_cpu_kernel_are_refused_by_name():
    # (erfc, the example before, exports now as 1 - Erf: gelu computes with it)
    with pytest.raises(UnsupportedOperatorError, match=r"the op 'special_erfcx' traced at .* only a cpu kernel "
                                                       r"computes it .* no decomposition into other ops"):
        pt.onnx.export(lambda x: pt.special.erfcx(x) + 1, (r(3),), None)
    with pytest.raises(UnsupportedOperatorError, match=r"the op 'linalg_inv_ex' \(in the decomposition of "
                                                       r"'linalg_inv'\) .* only a cpu kernel"):
        pt.onnx.export(lambda x: pt.linalg.inv(x), (r(3, 3) + 3 * pt.eye(3),), None)


def test_max_min_and_arg_reductions_propagate_nan():
    nan, inf = float("nan"), float("inf")
    x = pt.tensor([[1.0, nan, 3.0, nan], [-inf, -0.0, 0.0, 2.0], [2.0, 5.0, inf, 1.0]])
    check_export(lambda x: (*x.max(1), *x.min(0, keepdim=True), x.amax(), x.amin((0, 1)), x.argmax(), x.argmin(1),
                            x.argmax(0, keepdim=True), x.half().amax(1), x.double().argmin(0)), (x,))
    check_export(lambda i: (*i.max(1), i.argmin(0), i.amax()), (pt.tensor([[3, 1, 3], [-2, 7, 7]]),))


def test_diagonal_offsets_dims_and_a_dynamic_batch():
    x = r(2, 3, 4)
    proto = check_export(lambda x: (x.diagonal(), x.diagonal(1, 1, 2), x.diagonal(-1, -1, 0), x.diagonal(5, 1, 2),
                                    pt.diagonal(x[0], -2), x[0].diag(), x[0].trace(), x.diagonal(0, 2, 1) * 2),
                         (x,))
    assert "Gather" in op_types(proto)
    check_export(lambda x: (x.diagonal(), x.diagonal(1, 0, 2), x.diagonal(-1, -1, -2)), (r(2, 0, 3),))
    check_export(lambda x: x.diagonal(0, 1, 2).sum(-1), (r(2, 3, 3),), runs=[(r(5, 3, 3),)], input_names=["x"],
                 dynamic_axes={"x": {0: "batch"}})


def test_a_write_through_a_diagonal_reaches_its_base():
    def f(x):
        y = x.clone()
        y.diagonal().mul_(0).add_(1)
        return y
    check_export(f, (r(3, 4),))


def test_diagonal_of_a_dynamic_matrix_dim_is_refused():
    with pytest.raises(OnnxExporterError, match=r"op 'diagonal' .* dim 1 of its input follows a dynamic axis"):
        pt.onnx.export(lambda x: x.diagonal(), (r(3, 3),), None, input_names=["x"], dynamic_axes={"x": {1: "n"}})


def test_sizes_and_fills_that_follow_a_dynamic_axis():
    # full((b,), n) and a reshape to a plugtorch.Size holding the batch size
    check_export(lambda x: (pt.full((x.shape[0],), x.shape[0] * 2 + 1), x.reshape(x.shape) + 1,
                            pt.nn.functional.multilabel_margin_loss(x, pt.zeros(x.shape, dtype=pt.int64),
                                                                    reduction="none")),
                 (r(2, 4),), runs=[(r(5, 4),)], input_names=["x"], dynamic_axes={"x": {0: "batch"}})


def test_a_loop_over_a_dynamic_axis_names_the_op_it_is_in():
    with pytest.raises(OnnxExporterError, match=r"the decomposition of 'unbind' \(traced at .*\): the traced program "
                                                r"makes 2 calls on the example and 3 on a probe"):
        pt.onnx.export(lambda x: x.unbind(0), (r(2, 3),), None, input_names=["x"], dynamic_axes={"x": {0: "n"}})


EINSUMS = [("ij,jk->ik", (3, 4), (4, 5)), ("bij,bjk->bik", (2, 3, 4), (2, 4, 2)), ("ii->i", (4, 4)), ("ij->", (3, 5)),
           ("i,j->ij", (3,), (4,)), ("ijk->kji", (2, 3, 4)), ("ij,k->k", (2, 3), (4,)), ("bii->bi", (2, 3, 3)),
           ("b h i d, b h j d -> b h i j", (1, 2, 3, 4), (1, 2, 5, 4)), ("iJ,Jk", (2, 3), (3, 2)),
           ("...ij,...jk->...ik", (2, 2, 3), (2, 3, 2)), ("i,i->", (3,), (3,))]


@pytest.mark.parametrize("eq,shapes", [(e[0], e[1:]) for e in EINSUMS], ids=[e[0] for e in EINSUMS])
def test_einsum_is_one_onnx_einsum(eq, shapes):
    proto = check_export(lambda *ops: pt.einsum(eq, *ops), tuple(r(*s) for s in shapes))
    assert "Einsum" in op_types(proto)


def test_einsum_dtypes_and_the_decompositions_it_leaves():
    a, b = (r(2, 3) * 5), (r(3, 2) * 5)
    for dt in (pt.float64, pt.float16, pt.int64, pt.int32, pt.int8):
        check_export(lambda a, b: (pt.einsum("ij,jk->ik", a, b), pt.einsum("ij->j", a), pt.einsum("ij,jk", [a, b])),
                     (a.to(dt), b.to(dt)))
    # '...' over operands of different ranks (ONNX's shape inference refuses it) decomposes
    proto = check_export(lambda a, b: pt.einsum("...ij,...jk", a, b), (r(2, 2, 3), r(3, 2)))
    assert "Einsum" not in op_types(proto)
    # an index of size 1 in one operand and n in another broadcasts in eager; ONNX's Einsum gave the
    # size-1 shape ([1, 2, 2] for a [4, 2, 2] result): it decomposes
    proto = check_export(lambda a, b: (pt.einsum("bij,bjk->bik", a, b), pt.einsum("ij,jk->ik", a[0, :, :1], b[0])),
                         (r(1, 2, 3), r(4, 3, 2)))
    assert "Einsum" not in op_types(proto)


def test_det_is_onnx_det():
    proto = check_export(lambda a, b: (pt.linalg.det(a), b.det(), pt.linalg.det(b[:0, :0])), (r(2, 3, 4, 4), r(3, 3)))
    assert "Det" in op_types(proto)
    with pytest.raises(UnsupportedOperatorError, match=r"'linalg_det' .* a plugtorch.float64 matrix \(ONNX Runtime's "
                                                       r"Det computes float32 only\)"):
        pt.onnx.export(lambda a: a.det(), (r(3, 3).double(),), None)


def test_bit_shifts_of_every_integer_dtype_and_amounts_out_of_range():
    amounts = pt.tensor([0, 1, 3, 7, 8, 9, 63, 64, 70, -1, -5])
    signed = pt.tensor([5, -5, 127, -128, 1, -1, 0, 100, 33, 2, -77])
    for dt in (pt.int8, pt.uint8, pt.int16, pt.int32, pt.int64):
        x = signed.to(dt) if dt is not pt.uint8 else pt.tensor([5, 200, 255, 0, 1, 128, 7, 64, 3, 9, 100], dtype=dt)
        check_export(lambda x, s: (x << s.to(dt), x >> s.to(dt), x << 2, x >> 1, x.bitwise_left_shift(s),
                                   pt.bitwise_right_shift(x, s)), (x, amounts))
    check_export(lambda x, s: (x << s, x >> s, pt.tensor([True, False]) << 1), (pt.tensor([2 ** 62, -2 ** 63, -3]),
                                                                               pt.tensor([1, 63, 62])))
    # torch's values (2.13) where the bits leave the type
    proto = pt.onnx.export(lambda x: (x << 1, x >> 7), (pt.tensor([127, -128, -1], dtype=pt.int8),), None)
    got = run(session(proto.SerializeToString()), (pt.tensor([127, -128, -1], dtype=pt.int8),))
    assert got[0].tolist() == [-2, 0, -2] and got[1].tolist() == [0, -1, -1]


def test_heaviside_sinc_xlog1py_with_edge_values():
    nan, inf = float("nan"), float("inf")
    x = pt.tensor([nan, -1.0, 0.0, -0.0, 2.0, inf, 0.5, 1e-20])
    y = pt.tensor([nan, -1.0, 1.0, -1.0, 3.0, 0.5, nan, 2.0])
    check_export(lambda x, y: (pt.heaviside(x, pt.tensor(0.5)), pt.heaviside(x, y), pt.sinc(x), pt.sinc(x.double()),
                               pt.special.xlog1py(x.abs(), y), pt.special.xlog1py(x * 0, y)), (x, y))
    check_export(lambda i: (pt.heaviside(i, pt.tensor([7])), pt.sinc(i), pt.special.xlog1py(i, i)),
                 (pt.tensor([0, -1, 2]),))


@pytest.mark.filterwarnings("ignore:Converting a tensor")
def test_a_model_reading_tensor_data_into_python_is_refused():
    def model(x):
        if x.sum() > 0:          # the file would hold this example's branch
            return x * 2
        return x
    with pytest.raises(OnnxExporterError, match=r"reads tensor data into Python \(bool\) at .*test_coverage.py:\d+; "
                                                r"the exported file would hold the value this example gave"):
        pt.onnx.export(model, (r(3),), None)
    # EmbeddingBag with 1-D bags, histc of the data's range and matrix_exp of an input compute on the
    # device (no read): they export, and other bag layouts, ranges and norms run right
    for mode in ("sum", "mean", "max"):
        check_export(pt.nn.EmbeddingBag(10, 3, mode=mode, padding_idx=2),
                     (pt.tensor([1, 2, 3, 4, 5, 2]), pt.tensor([0, 2, 2])),
                     runs=[(pt.tensor([9, 2, 2, 4, 0, 1]), pt.tensor([0, 0, 5]))])
    check_export(lambda x: pt.histc(x, 5), (r(20),), runs=[(r(20) * 5,), (pt.full((20,), 2.0),)])
    check_export(pt.matrix_exp, (r(3, 3),), runs=[(r(3, 3) * 0.01,), (r(3, 3) * 30,)])
    # a composite op reading its (constant) arguments is folded as before
    w = r(4, 4)
    check_export(lambda x: x @ pt.matrix_exp(w * 0.1), (r(2, 4),))


@pytest.mark.filterwarnings("ignore:Converting a tensor")
def test_a_model_reading_a_value_of_its_parameters_alone_exports():
    # the value is the same for every input (torch's exporters bake it in too): only reads that
    # follow an input, or a random draw, or a buffer an input was written into are refused
    class Scaled(pt.nn.Module):
        def __init__(self):
            super().__init__()
            self.log_t = pt.nn.Parameter(pt.tensor(0.5))
            self.register_buffer("buf", pt.zeros(2, 4))

        def forward(self, x):
            return x * self.log_t + self.log_t.exp().item()

    m = Scaled()
    check_export(m, (r(2, 4),), runs=[(r(2, 4),)])
    assert abs(m.log_t.exp().item() - np.exp(0.5)) < 1e-6

    class CopiesInput(Scaled):
        def forward(self, x):
            self.buf.copy_(x)
            return x * self.buf.sum().item()

    for model in (CopiesInput(), lambda x: x * x[0, 0].item(), lambda x: x * pt.rand(1).item()):
        with pytest.raises(OnnxExporterError, match=r"reads tensor data into Python \(item\)"):
            pt.onnx.export(model, (r(2, 4),), None)


def test_mean_over_no_elements_is_nan_as_eager():
    # onnxruntime's ReduceMean gives 0 for an empty reduction
    check_export(lambda x: (x.mean(), x.mean(0), x.mean(1), x.var(0), pt.nn.functional.mse_loss(x, x),
                            pt.nn.functional.l1_loss(x, x * 2), pt.nn.functional.huber_loss(x, x)), (r(0, 3),))
    check_export(lambda x: x.mean(0, keepdim=True), (r(2, 3),), runs=[(r(0, 3),), (r(4, 3),)], input_names=["x"],
                 dynamic_axes={"x": {0: "n"}})


def test_atan2_and_remainder_at_zeros_infinities_and_nan():
    v = [0.0, -0.0, 1.0, -1.0, float("inf"), float("-inf"), float("nan"), 2.5]
    a, b = pt.tensor([x for x in v for _ in v]), pt.tensor([y for _ in v for y in v])
    proto = pt.onnx.export(lambda a, b: (pt.atan2(a, b), pt.remainder(a, b)), (a, b), None)
    got = run(session(proto.SerializeToString()), (a, b))
    for g, e in zip(got, (pt.atan2(a, b), pt.remainder(a, b))):
        e = e.numpy()
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=0)
        assert (np.signbit(g) == np.signbit(e))[~np.isnan(e)].all()     # atan2(-0.0, -1) is -pi, not pi
    check_export(lambda i, j: (pt.atan2(i, j), pt.remainder(i, j)), (pt.tensor([3, -3, 0, 7]), pt.tensor([2, 2, -5, -2])))


def test_gather_and_index_select_of_0d_tensors():
    x, i0, i1 = r(5), pt.tensor(2), pt.tensor([0])
    check_export(lambda x, i0, i1: (x.index_select(0, i0), x[0].index_select(0, i1), x[0].index_select(-1, i0 * 0),
                                    pt.gather(x[0], 0, i0 * 0), pt.gather(x[0], -1, pt.zeros(3, dtype=pt.int64))),
                 (x, i0, i1))


def test_a_decomposition_that_cannot_be_traced_is_refused_by_name():
    with pytest.raises(UnsupportedOperatorError, match=r"op 'view_as_complex' .* its decomposition cannot be traced "
                                                       r"at export \(view_as_complex\(\)"):
        pt.onnx.export(lambda x: pt.view_as_complex(x.contiguous()).abs(), (r(3, 2),), None)


def test_integer_bitwise_not_before_opset_18():
    for dt in (pt.int8, pt.uint8, pt.int16, pt.int32, pt.int64):
        x = pt.tensor([0, 1, 5, 127, 100]).to(dt) if dt is pt.uint8 else pt.tensor([0, -1, 5, 127, -128]).to(dt)
        proto = check_export(lambda x: (~x, pt.bitwise_not(x), ~(x > 1)), (x,))
        assert "BitwiseNot" not in op_types(proto)
    x = pt.tensor([0, 255, 7], dtype=pt.uint8)
    got = run(session(pt.onnx.export(lambda x: ~x, (x,), None).SerializeToString()), (x,))[0]
    assert got.tolist() == [255, 0, 248]


def _scatter_amax_reference(x, index, src, reduce, include_self):
    """scatter_reduce(x, 0, index, src, reduce) in NumPy: a Python max/min that keeps NaN."""
    out = x.copy()
    pick = max if reduce == "amax" else min
    seen = set()
    for i in range(index.shape[0]):
        for j in range(index.shape[1]):
            k = (index[i, j], j)
            cur = out[k] if include_self or k in seen else None
            seen.add(k)
            v = src[i, j]
            out[k] = v if cur is None else (np.nan if np.isnan(cur) or np.isnan(v) else pick(cur, v))
    return out


def test_scatter_reduce_amax_amin_map_at_opset_18_and_keep_nan():
    # (these crashed the export with KeyError: 'amax'; onnxruntime's max/min reductions skip NaN, eager
    # keeps it)
    nan = float("nan")
    index = pt.tensor([[0, 2], [0, 0], [1, 1]])
    cases = [(pt.tensor([[1.0, nan], [2.0, 3.0], [4.0, 5.0]]), pt.tensor([[nan, 1.0], [0.0, 9.0], [7.0, -1.0]])),
             (pt.tensor([[1, 2], [3, 4], [5, 6]]), pt.tensor([[0, 7], [8, -9], [1, 1]])),
             (pt.tensor([[1, 2], [3, 4], [5, 6]], dtype=pt.int32), pt.tensor([[0, 7], [8, -9], [1, 1]], dtype=pt.int32))]
    for x, src in cases:
        for reduce in ("amax", "amin"):
            for include_self in (True, False):
                def f(x, src):
                    return x.scatter_reduce(0, index, src, reduce, include_self=include_self)
                expected = _scatter_amax_reference(x.numpy(), index.numpy(), src.numpy(), reduce, include_self)
                np.testing.assert_array_equal(f(x, src).numpy(), expected)
                check_export(f, (x, src), opset_version=18)
                got = run(session(pt.onnx.export(f, (x, src), None, opset_version=18).SerializeToString()),
                          (x, src))[0]
                np.testing.assert_array_equal(got, expected)
    with pytest.raises(UnsupportedOperatorError, match=r"'scatter' \(in the decomposition of 'scatter_reduce'\) .*"
                                                       r"tried opset 17 .*reduce='amax' .*opset_version=18"):
        pt.onnx.export(lambda x, s: x.scatter_reduce(0, index, s, "amax"), cases[0], None)
