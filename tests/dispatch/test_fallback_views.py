"""The cpu fallback and view ops: a view cannot run on cpu and be copied back (the copy would not
share the base's memory), so a missing view kernel is refused up front, with one error naming the
op, the backend and the fix, and no "running on cpu" warning first, whether fallback is on or off."""
import warnings

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.backends.cpu import CPUBackend
from plugtorch.dispatch import dispatcher
from plugtorch.dispatch.dispatcher import record_fallbacks
from plugtorch.dispatch.registry import OPS, OUT_VIEW

# the core view ops (the complex views view_as_real/view_as_complex are composite: their
# decomposition refuses a backend without their kernel, tested below)
VIEW_OPS = sorted(n for n, op in OPS.items() if op.out_kind == OUT_VIEW and op.meta is not None and op.is_core)


class NoViews(CPUBackend):
    """cpu's kernels on a private 'device', without the view kernels (and without sqrt)."""

    def __init__(self, fallback_ops=()):
        super().__init__()
        self.kernels = {k: v for k, v in self.kernels.items() if k not in VIEW_OPS and k != "sqrt"}
        self.fallback_ops = frozenset(fallback_ops)

    def from_numpy(self, array, index=None):
        return np.array(array, copy=True)


@pytest.fixture
def noviews():
    def make(**kw):
        pt.backends.register(NoViews(**kw), name="noviews")
        return "noviews"
    yield make
    dispatcher.set_cpu_fallback(None)
    pt.backends.unregister("noviews")
    dispatcher.invalidate_caches()


CALLS = {"permute": lambda x: x.permute(1, 0), "view": lambda x: x.view(3), "expand": lambda x: x.expand(4, 3),
         "slice": lambda x: x[:, 1:], "select": lambda x: x[0]}      # each on a (1, 3) tensor


def test_the_view_ops_are_the_five_documented():
    assert VIEW_OPS == ["expand", "permute", "select", "slice", "view"] == sorted(CALLS)


@pytest.mark.parametrize("fallback", [True, False])
@pytest.mark.parametrize("op", sorted(CALLS))
def test_a_missing_view_kernel_is_refused_up_front(noviews, op, fallback):
    dev = noviews()
    dispatcher._fallback_warned.discard(op)
    pt.set_cpu_fallback(fallback)
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no "running it on cpu" warning before the error
        x = pt.tensor([[0.0, 1.0, 2.0]], device=dev)
        with pytest.raises(NotImplementedError,
                           match=rf"view operator '{op}' is not implemented for the 'noviews' backend, and views "
                                 rf"cannot run through the cpu fallback .*Implement the '{op}' kernel"):
            CALLS[op](x)
    assert op not in dispatcher._fallback_warned


def test_a_view_op_declared_in_fallback_ops_is_refused_the_same_way(noviews):
    dev = noviews(fallback_ops=("permute",))
    x = pt.ones(2, 3, device=dev)
    with pytest.raises(NotImplementedError, match="view operator 'permute'.*'noviews'.*cannot run through the cpu fallback"):
        x.permute(1, 0)


def test_other_ops_still_fall_back_and_are_recorded(noviews):
    dev = noviews()
    dispatcher._fallback_warned.discard("sqrt")
    pt.set_cpu_fallback(True)
    x = pt.tensor([4.0, 9.0], device=dev)
    with record_fallbacks() as outer:
        with record_fallbacks() as inner, pytest.warns(RuntimeWarning, match="'sqrt' is not implemented on 'noviews'"):
            y = x.sqrt() + x.exp()
        x.sqrt()
    assert y.device.type == "noviews"
    np.testing.assert_allclose(y.cpu().numpy(), np.sqrt([4.0, 9.0]) + np.exp([4.0, 9.0]))
    assert inner == {"sqrt"} and outer == {"sqrt"}          # exp has a kernel: not recorded
    assert dispatcher._fallback_records == []
    with record_fallbacks() as after:
        x.exp()
    assert after == set()


@pytest.mark.parametrize("fallback", [True, False])
def test_a_missing_complex_view_kernel_is_refused(noviews, fallback):
    dev = noviews()
    pt.set_cpu_fallback(fallback)
    be = pt.backends.get_backend(dev)
    be.kernels = {k: v for k, v in be.kernels.items() if k not in ("view_as_real", "view_as_complex")}
    dispatcher.invalidate_caches()
    with pytest.raises(NotImplementedError, match="view_as_real\\(\\): the 'noviews' backend has no kernel for this view"):
        pt.view_as_real(pt.tensor([1j], device=dev))
    with pytest.raises(NotImplementedError, match="view_as_complex\\(\\): the 'noviews' backend has no kernel"):
        pt.view_as_complex(pt.tensor([[1.0, 2.0]], device=dev))
