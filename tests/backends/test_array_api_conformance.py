"""The whole conformance suite on ArrayAPIBackend over array-api-compat's NumPy and over
array-api-strict: no check may fail (dtypes the library lacks are unsupported, ops the standard
lacks run on cpu), and regressions of the bugs the suite found there."""
import array_api_compat.numpy as compat_numpy
import array_api_strict
import numpy as np
import pytest

import plugtorch as pt
from plugtorch.backends import ArrayAPIBackend
from plugtorch.conformance import FAIL, UNSUPPORTED, opdb, run

NAMESPACES = {"aacompat": compat_numpy, "aastrict": array_api_strict}


@pytest.fixture(scope="module", params=list(NAMESPACES))
def dev(request):
    pt.backends.register(ArrayAPIBackend(NAMESPACES[request.param]), name=request.param)
    yield request.param
    pt.backends.unregister(request.param)


def test_full_conformance_run_has_no_failure(dev):
    # array_api_strict is the strict plug-in's namespace, whose whole conformance run (eager and
    # --jit, more examples) make test does: here it runs the entries the status checks need
    results = run([dev], opdb.select(None if dev == "aacompat" else ["matmul", "bmm", "add"]), max_examples=1)
    failed = [f"{r.op} {r.dtype}: {r.failures[0]}" for r in results if r.status == FAIL]
    assert not failed, "\n\n".join(failed[:5])
    statuses = {(r.op, r.dtype): r.status for r in results}
    assert statuses[("matmul", "float64")] != UNSUPPORTED and statuses[("bmm", "float64")] != UNSUPPORTED
    assert statuses[("add", "bfloat16")] == UNSUPPORTED    # neither library has bfloat16
    assert (statuses[("add", "float16")] == UNSUPPORTED) == (dev == "aastrict")


def test_float64_matmul_stays_float64(dev):
    # NumPy's dtype('float64') == None is True: with no bfloat16 in the dtype table, a lookup of
    # the missing entry matched float64 and sent every float64 matmul through float32
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((2, 4, 5))
    got = pt.tensor(a, device=dev) @ pt.tensor(b, device=dev)
    assert got.dtype == pt.float64
    np.testing.assert_array_equal(got.cpu().numpy(), a @ b)


def test_dtype_table_has_only_the_librarys_dtypes(dev):
    be = pt.backends.get_backend(dev)
    assert pt.bfloat16 not in be._dtypes and None not in be._dtypes.values()
    assert "has no bfloat16" in be.unsupported_dtype(pt.bfloat16, 0)
    with pytest.raises(TypeError, match="bfloat16"):
        pt.ones(2, dtype=pt.bfloat16, device=dev)
    # random fills draw float64 for float64 (not float32 because of a missing table entry)
    pt.manual_seed(5)
    want = pt.empty(4, dtype=pt.float64).uniform_()
    pt.manual_seed(5)
    assert pt.empty(4, dtype=pt.float64, device=dev).uniform_().cpu().tolist() == want.tolist()


INF = float("inf")


@pytest.fixture(scope="module")
def half_devices():
    pt.backends.register(ArrayAPIBackend(compat_numpy), name="aahalf")
    yield ["cpu", "aahalf"]
    pt.backends.unregister("aahalf")


def test_half_mul_and_div_take_only_a_second_scalar_operand_in_float32(half_devices):
    # torch 2.13's values: a 0-d tensor (or Python number) as the second operand of a float16
    # mul/div is taken as a float32; as the first it is cast to float16 (70000 -> inf) first
    for d in half_devices:
        h = pt.tensor([0.5, 2.0], dtype=pt.float16, device=d)
        big = pt.tensor(70000, device=d)
        assert (h * big).tolist() == [35008.0, INF], d
        assert (big * h).tolist() == [INF, INF], d
        assert (big / h).tolist() == [INF, INF], d
        assert (h / pt.tensor(1e-5, device=d)).tolist() == [49984.0, INF], d
        assert (h * 70000).tolist() == [35008.0, INF] and (70000 / h).tolist() == [INF, 35008.0], d


def test_half_unary_ops_and_pow_as_pytorch(half_devices):
    for d in half_devices[1:]:
        s = pt.tensor([-11.1, 0.3], dtype=pt.float16, device=d).sigmoid()
        assert s.tolist() == [1.5079975128173828e-05, 0.57421875], d    # not 0: exp(11.1) overflows in float16
        x = pt.tensor([-0.0, -INF, 4.0], device=d)
        assert str(x.pow(-0.5).tolist()) == "[-inf, nan, 0.5]", d     # rsqrt, not C's pow
        assert str(x.pow(0.5).tolist()) == "[-0.0, nan, 2.0]", d      # sqrt
