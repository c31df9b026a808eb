"""GradScaler's ops (plugtorch/amp/ops.py): a backend's kernel, or the decomposition, equals cpu.

``_amp_foreach_non_finite_check_and_unscale_`` runs on copies of the gradients (so inputs stay
unchanged) and returns them with the flag; lists mix finite gradients with ones holding inf
and NaN, views and empty tensors. ``_amp_update_scale_`` runs over a scripted sequence of
clean and non-finite steps and returns the scales and trackers it went through.
"""
from __future__ import annotations

import numpy as np

import plugtorch as pt

from ..entry import FLOAT_DTYPES, Entry, ErrorInput, Input, Sample


def _f32(v, on_cpu=False):
    return Input(np.array(v, np.float32), pt.float32, requires_grad=False, on_cpu=on_cpu)


def _unscale(grads, found_inf, inv_scale):
    gs, f = [g.clone() for g in grads], found_inf.clone()
    pt.ops._amp_foreach_non_finite_check_and_unscale_(gs, f, inv_scale)
    return tuple(gs) + (f,)


def _unscale_samples(ctx):
    def grads(profile, shapes=((3, 4), (5,), (), (2, 3, 2), (0, 3))):
        layouts = ("transposed", "stepped", "contiguous", "contiguous", "contiguous")
        return [ctx.input(s, layout=lay, requires_grad=False, profile=profile) for s, lay in zip(shapes, layouts)]
    return [Sample(grads("normal"), _f32(0.0), _f32(2.0 ** -16), name="finite, 2^-16"),
            Sample(grads("normal"), _f32(0.0), _f32(0.1), name="finite, inv_scale 0.1"),
            Sample(grads("special"), _f32(0.0), _f32(0.5), name="inf and nan"),
            Sample(grads("normal"), _f32(1.0), _f32(1.0), name="flag already set"),
            Sample([], _f32(0.0), _f32(0.5), name="no gradients")]


def _unscale_errors(ctx):
    g = [ctx.input((3,), requires_grad=False)]
    return [ErrorInput(Sample(g, _f32([0.0, 0.0]), _f32(0.5)), RuntimeError, "found_inf must be a 1-element tensor"),
            ErrorInput(Sample(g, Input(np.array(0.0), pt.float64, requires_grad=False), _f32(0.5)), RuntimeError,
                       "found_inf must be a float tensor"),
            ErrorInput(Sample([ctx.input((3,), dtype=pt.int32, requires_grad=False)], _f32(0.0), _f32(0.5)),
                       RuntimeError, "only floating point gradients are unscaled")]


def _update(scale, tracker, growth_factor, backoff_factor, growth_interval):
    """Six updates (clean, clean, inf, clean, clean, clean) on copies; the scales and trackers seen."""
    s, t = scale.clone(), tracker.clone()
    seen = []
    for found in (0.0, 0.0, 1.0, 0.0, 0.0, 0.0):
        f = pt.full((), found, dtype=pt.float32, device=s.device)
        pt.ops._amp_update_scale_(s, t, f, growth_factor, backoff_factor, growth_interval)
        seen += [s.clone(), t.clone()]
    return tuple(seen)


def _update_samples(ctx):
    def tracker(v):
        return Input(np.array(v, np.int32), pt.int32, requires_grad=False)
    return [Sample(_f32(2.0 ** 16), tracker(0), 2.0, 0.5, 2, name="grow every 2"),
            Sample(_f32(3.0), tracker(1), 1.5, 0.25, 3, name="grow 1.5 every 3, from tracker 1"),
            Sample(_f32(3e38), tracker(0), 2.0, 0.5, 1, name="growth would overflow: kept")]


def _update_errors(ctx):
    i32 = Input(np.array(0, np.int32), pt.int32, requires_grad=False)
    return [ErrorInput(Sample(Input(np.array(1.0), pt.float64, requires_grad=False), i32, 2.0, 0.5, 2), RuntimeError,
                       "current_scale must be a float tensor"),
            ErrorInput(Sample(_f32(1.0), Input(np.array(0), pt.int64, requires_grad=False), 2.0, 0.5, 2),
                       RuntimeError, "growth_tracker must be an int tensor")]


ENTRIES = [Entry("_amp_foreach_non_finite_check_and_unscale_", samples=_unscale_samples, fn=_unscale,
                 dtypes=FLOAT_DTYPES, differentiable=False, inplace=False, error_inputs=_unscale_errors,
                 doc="GradScaler's fused inf/NaN check and unscale of a list of gradients (plugtorch/amp/ops.py)"),
           Entry("_amp_update_scale_", samples=_update_samples, fn=_update, dtypes=(pt.float32,),
                 differentiable=False, inplace=False, error_inputs=_update_errors,
                 doc="GradScaler's scale update over six scripted steps (plugtorch/amp/ops.py)")]
