"""The pointwise entries' always-present samples: mixed dtypes and Python scalars for every binary
op, where and clamp, integer zero divisors as error inputs, and each dtype's edge values, at every
seed (not drawn by luck)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.conformance import opdb
from plugtorch.conformance.entry import Input
from plugtorch.conformance.opdb.pointwise_samples import PARTNERS, edge_values
from plugtorch.conformance.samples import SampleContext

BINARY = ["add", "sub", "mul", "div", "floor_divide", "remainder", "fmod", "pow", "atan2", "maximum", "minimum",
          "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor", "bitwise_and",
          "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift", "true_divide", "rsub",
          "logaddexp", "where"]


def _samples(op, dtype, seed):
    entry = opdb.get(op)
    return list(entry.samples(SampleContext(dtype, seed=seed, max_examples=0, key=op)))


@pytest.mark.parametrize("seed", [0, 7])
@pytest.mark.parametrize("op", BINARY)
def test_every_binary_op_mixes_dtypes_at_every_seed(op, seed):
    entry = opdb.get(op)
    for d in entry.dtypes:
        samples = _samples(op, d, seed)
        mixed = [s for s in samples if len({i.dtype for i in s.inputs() if not (op == "where" and i is s.args[0])}) > 1]
        assert mixed, f"{op} {d}: no sample mixes dtypes"
        zero_dim = [s for s in mixed if any(i.shape == () for i in s.inputs())]
        on_cpu = [s for s in zero_dim if any(i.on_cpu for i in s.inputs())]
        assert zero_dim and on_cpu, f"{op} {d}: no 0-d tensor of another dtype (on the device and on cpu)"
        if op != "logaddexp":   # (PyTorch's logaddexp takes tensors only)
            kinds = {type(a) for s in samples for a in s.args if isinstance(a, (bool, int, float))}
            assert kinds & {int, float, bool}, f"{op} {d}: no Python scalar"


def test_the_promotion_pairs_the_issue_names_are_present():
    pairs = {(d, p) for d, ps in PARTNERS.items() for p in ps}
    for a, b in [(pt.int8, pt.int16), (pt.uint8, pt.int8), (pt.float16, pt.bfloat16), (pt.bool, pt.uint8),
                 (pt.int16, pt.float32)]:
        assert (a, b) in pairs
    names = {s.name for s in _samples("add", pt.int8, 0)}
    assert {"int8 and int16", "int16 and int8", "int8 and 0-d int64", "int8 and 0-d float32 on cpu",
            "int8 and Python bool", "int8 and Python int", "int8 and Python float"} <= names


@pytest.mark.parametrize("op", ["floor_divide", "remainder", "fmod"])
def test_integer_zero_divisors_are_error_inputs_for_every_integer_dtype(op):
    entry = opdb.get(op)
    for d in (pt.uint8, pt.int8, pt.int16, pt.int32, pt.int64):
        errs = list(entry.error_inputs(SampleContext(d, key=op)))
        zero = [e for e in errs if e.match == "ZeroDivisionError"]
        assert len(zero) >= 8 and all(e.error is RuntimeError for e in zero)
        divisors = [e.sample.args[1] for e in zero]
        assert 0 in divisors and any(v is False for v in divisors)
        assert any(isinstance(v, Input) and v.shape == () and v.on_cpu for v in divisors)


@pytest.mark.parametrize("dtype", [pt.float16, pt.bfloat16, pt.float32, pt.float64])
def test_edge_values_hold_overflow_thresholds_subnormals_and_signed_zeros(dtype):
    v = np.array(edge_values(dtype), dtype=np.float64)
    fi = pt.finfo(dtype)
    ln_max = math.log(float(fi.max))
    assert np.any((v > ln_max - 0.05) & (v < ln_max)) and np.any(v > ln_max)   # exp just below and above overflow
    assert np.any((v != 0) & (np.abs(v) < float(fi.tiny)))                     # subnormals
    assert np.any((v == 0) & np.signbit(v)) and -0.4 in v and np.isnan(v).any() and np.isinf(v).sum() == 2
    for op in ("exp", "expm1", "sigmoid", "tanh", "neg", "round", "abs", "sign"):
        names = {s.name for s in _samples(op, dtype, 3)}
        assert "edge values" in names, op
