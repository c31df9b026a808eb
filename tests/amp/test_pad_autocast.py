"""F.pad's reflect and replicate modes under autocast: PyTorch's CPU list runs reflection_pad1d/2d
and replication_pad1d/2d/3d in float32, not reflection_pad3d, circular or constant (torch 2.13 in
``torch.autocast("cpu")``: ``F.pad(x.bfloat16(), (1, 1), mode="reflect").dtype`` is float32, over
3 dims bfloat16). The CUDA list, opencl's, names none of them. Values: NumPy's pad (exact)."""
import numpy as np
import pytest

import plugtorch as pt
import plugtorch.nn.functional as F

OPENCL = pytest.mark.skipif(not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])")
NP_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap", "constant": "constant"}
# (mode, number of padded dims, the result dtype on cpu for bfloat16 input)
CPU = [("reflect", 1, pt.float32), ("reflect", 2, pt.float32), ("reflect", 3, pt.bfloat16),
       ("replicate", 1, pt.float32), ("replicate", 2, pt.float32), ("replicate", 3, pt.float32),
       ("circular", 2, pt.bfloat16), ("constant", 2, pt.bfloat16)]


def _check(dev, dtype, mode, n, want):
    x = pt.tensor(np.random.default_rng(n).standard_normal((2, 3, 4, 5, 3)[:2 + n]).astype(np.float32))
    x = x.to(dtype).to(dev)
    pads = (1, 2, 2, 1, 1, 1)[:2 * n]
    with pt.autocast(dev):
        y = F.pad(x, pads, mode=mode)
    assert y.dtype is want, (mode, n)
    width = [(0, 0)] * 2 + [(pads[2 * k], pads[2 * k + 1]) for k in reversed(range(n))]
    ref = np.pad(x.float().cpu().numpy().astype(np.float64), width, mode=NP_MODE[mode])
    np.testing.assert_array_equal(y.float().cpu().numpy(), ref)      # padding copies values exactly


@pytest.mark.parametrize("mode,n,want", CPU)
def test_cpu_list_pads(mode, n, want):
    _check("cpu", pt.bfloat16, mode, n, want)


@OPENCL
@pytest.mark.parametrize("mode,n", [("reflect", 1), ("replicate", 2), ("replicate", 3)])
def test_cuda_list_pads_keep_float16(mode, n):
    _check("opencl", pt.float16, mode, n, pt.float16)


def test_the_pad_ops_refuse_a_wrong_padding_length():
    with pytest.raises(RuntimeError, match=r"reflection_pad2d\(\): expected padding of length 4 .*got 2"):
        pt.ops.reflection_pad2d(pt.ones(1, 3, 3), [1, 1])
