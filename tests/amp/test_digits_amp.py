"""The digits CNN trained with autocast + GradScaler reaches the float32 test accuracy within 0.5
points: on cpu in bfloat16, and on opencl in float16 where the device has float16.

Both runs of a pair use the same seed and 6 epochs (the full 15 take twice as long and end the
same way: 0.9833 in float32, 0.9861 with --amp on cpu). One test image is 0.28 points.
"""
import importlib.util
import os

import pytest

import plugtorch as pt

pytest.importorskip("sklearn")
pytest.importorskip("tqdm")

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")
EPOCHS = "6"


def cnn():
    spec = importlib.util.spec_from_file_location("digits_cnn", os.path.join(EXAMPLES, "digits_cnn.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def train_pair(device, capsys, *amp_args):
    example = cnn()
    base = ["--device", device, "--epochs", EPOCHS, "--no-progress"]
    full = example.main(base)
    mixed = example.main(base + ["--amp", *amp_args])
    return full, mixed, capsys.readouterr().out


def test_cpu_bfloat16_matches_float32(capsys):
    full, mixed, out = train_pair("cpu", capsys)
    assert "digits CNN on cpu (autocast bfloat16 + GradScaler)" in out
    assert full > 0.95
    assert abs(mixed - full) <= 0.005, (full, mixed)


def opencl_float16():
    """None if the opencl device runs float16, else why not."""
    try:
        if not pt.opencl.is_available():
            return "plugtorch.opencl is unavailable (no OpenCL device or pyopencl)"
    except Exception as e:   # pragma: no cover
        return f"plugtorch.opencl is unavailable ({e})"
    be = pt.backends.get_backend("opencl")
    if pt.float16 not in be.supported_dtypes(0):
        return (f"opencl:0 ({be.device_name(0)}) does not support float16: {be.unsupported_dtype(pt.float16, 0)}; "
                f"its dtypes are {[d.name for d in be.supported_dtypes(0)]}")
    return None


@pytest.mark.skipif(opencl_float16() is not None, reason=str(opencl_float16()))
def test_opencl_float16_matches_float32(capsys):
    full, mixed, out = train_pair("opencl", capsys, "--amp-dtype", "float16")
    assert "digits CNN on opencl (autocast float16 + GradScaler)" in out
    assert full > 0.95
    assert abs(mixed - full) <= 0.005, (full, mixed)
