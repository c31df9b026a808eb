"""Export a model, run the file with onnxruntime, compare with plugtorch eager (1e-4)."""
import io

import numpy as np
import pytest

import plugtorch as pt

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

TOL = 1e-4
# float16 results may differ from eager by rounding once: one ulp (2**-10 relative)
TOL_FLOAT16 = 2 ** -10


def flat(r):
    """The tensors of a (nested) result, in order, None left out (as the export does)."""
    if isinstance(r, pt.Tensor):
        return [r]
    out = []
    for x in r:
        if x is not None:
            out += flat(x)
    return out


def session(data):
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def leaves(a):
    """The tensors of nested arguments in the order the export flattens them."""
    if isinstance(a, pt.Tensor):
        return [a]
    if isinstance(a, dict):
        a = list(a.values())
    out = []
    for x in a:
        out += leaves(x) if isinstance(x, (pt.Tensor, list, tuple, dict)) else []
    return out


def run(sess, args, kwargs=None):
    tensors = leaves(list(args) + [kwargs or {}])
    return sess.run(None, {i.name: t.numpy() for i, t in zip(sess.get_inputs(), tensors)})


def assert_matches(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        e = e.detach().numpy()
        assert g.shape == e.shape, (g.shape, e.shape)
        assert g.dtype == e.dtype, (g.dtype, e.dtype)
        if e.dtype.kind in "fc":
            tol = TOL_FLOAT16 if e.dtype == np.float16 else TOL
            np.testing.assert_allclose(g, e, rtol=tol, atol=tol)
        else:
            np.testing.assert_array_equal(g, e)


def check_export(model, args, runs=(), kwargs=None, **options):
    """Export ``model`` on ``args`` (and keyword arguments ``kwargs``); onnxruntime on the file
    must equal eager on ``args`` and on each tuple of ``runs`` (other inputs, other dynamic
    sizes). Returns the ModelProto."""
    if isinstance(model, pt.nn.Module):
        model.eval()
    buf = io.BytesIO()
    proto = pt.onnx.export(model, args, buf, kwargs=kwargs, **options)
    sess = session(buf.getvalue())
    for a in [args, *runs]:
        with pt.no_grad():
            expected = flat(model(*a, **(kwargs or {}) if a is args else {}))
        assert_matches(run(sess, a, kwargs if a is args else None), expected)
    return proto


def op_types(proto):
    return {n.op_type for n in proto.graph.node}
