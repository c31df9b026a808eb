"""Each optimizer against a NumPy transcription of PyTorch's documented algorithm, over several
steps, for every combination of its options; the plain update functions directly too."""
import itertools

import numpy as np
import pytest

from . import optim_reference as ref
import plugtorch as pt
from plugtorch.optim.adam import adam
from plugtorch.optim.sgd import sgd

STEPS = 6
RNG = np.random.default_rng(0)
THETA = RNG.standard_normal((3, 4))
GRADS = [RNG.standard_normal((3, 4)) for _ in range(STEPS)]


def run_plugtorch(cls, dtype=pt.float64, device="cpu", **opts):
    p = pt.tensor(THETA, dtype=dtype, device=device, requires_grad=True)
    opt = cls([p], **opts)
    out = []
    for g in GRADS:
        p.grad = pt.tensor(g, dtype=dtype, device=device)
        opt.step()
        out.append(p.detach().cpu().numpy().astype(np.float64))
    return out


def assert_trajectory(got, want, rtol=1e-10, atol=1e-12):
    for step, (a, b) in enumerate(zip(got, want), 1):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"after step {step}")


def combos(**choices):
    keys = list(choices)
    return [dict(zip(keys, vals)) for vals in itertools.product(*choices.values())]


SGD_CASES = [c for c in combos(momentum=[0.0, 0.9], dampening=[0.0, 0.3], weight_decay=[0.0, 0.1],
                               nesterov=[False, True], maximize=[False, True])
             if not (c["nesterov"] and (c["momentum"] == 0 or c["dampening"] != 0))]


@pytest.mark.parametrize("opts", SGD_CASES, ids=str)
def test_sgd_matches_reference(opts):
    assert_trajectory(run_plugtorch(pt.optim.SGD, lr=0.05, **opts), ref.sgd(THETA, GRADS, lr=0.05, **opts))


@pytest.mark.parametrize("opts", combos(amsgrad=[False, True], weight_decay=[0.0, 0.1], maximize=[False, True]), ids=str)
def test_adam_matches_reference(opts):
    want = ref.adam(THETA, GRADS, lr=0.01, betas=(0.8, 0.95), **opts)
    assert_trajectory(run_plugtorch(pt.optim.Adam, lr=0.01, betas=(0.8, 0.95), **opts), want)


@pytest.mark.parametrize("opts", combos(amsgrad=[False, True], weight_decay=[0.0, 0.1], maximize=[False, True]), ids=str)
def test_adamw_matches_reference(opts):
    want = ref.adam(THETA, GRADS, lr=0.01, betas=(0.8, 0.95), decoupled=True, **opts)
    assert_trajectory(run_plugtorch(pt.optim.AdamW, lr=0.01, betas=(0.8, 0.95), **opts), want)


def test_adamw_default_weight_decay_is_decoupled_and_1e_2():
    want = ref.adam(THETA, GRADS, lr=0.01, weight_decay=1e-2, decoupled=True)
    assert_trajectory(run_plugtorch(pt.optim.AdamW, lr=0.01), want)


@pytest.mark.parametrize("opts", combos(momentum=[0.0, 0.7], centered=[False, True], weight_decay=[0.0, 0.1],
                                        maximize=[False, True]), ids=str)
def test_rmsprop_matches_reference(opts):
    assert_trajectory(run_plugtorch(pt.optim.RMSprop, lr=0.01, alpha=0.9, **opts),
                      ref.rmsprop(THETA, GRADS, lr=0.01, alpha=0.9, **opts))


@pytest.mark.parametrize("opts", combos(lr_decay=[0.0, 0.1], weight_decay=[0.0, 0.1],
                                        initial_accumulator_value=[0.0, 0.5], maximize=[False, True]), ids=str)
def test_adagrad_matches_reference(opts):
    assert_trajectory(run_plugtorch(pt.optim.Adagrad, lr=0.1, **opts), ref.adagrad(THETA, GRADS, lr=0.1, **opts))



@pytest.mark.parametrize("cls,flags,ref_fn,keys", [
    (pt.optim.RMSprop, dict(capturable=False, foreach=False, differentiable=False), ref.rmsprop,
     ["lr", "momentum", "alpha", "eps", "centered", "weight_decay", "capturable", "foreach", "maximize",
      "differentiable"]),
    (pt.optim.Adagrad, dict(foreach=True, differentiable=False), ref.adagrad,
     ["lr", "lr_decay", "eps", "weight_decay", "initial_accumulator_value", "foreach", "maximize",
      "differentiable", "fused"]),
    (pt.optim.Adagrad, dict(fused=True), ref.adagrad, None),
], ids=["rmsprop", "adagrad-foreach", "adagrad-fused"])
def test_rmsprop_and_adagrad_take_pytorchs_implementation_flags(cls, flags, ref_fn, keys):
    # RMSprop(..., foreach=False) and Adagrad(..., fused=True) raised TypeError (unexpected keyword);
    # the flags pick an implementation in PyTorch and never change the update, which stays the
    # documented one; the param groups carry PyTorch's keys, so state dicts line up
    assert_trajectory(run_plugtorch(cls, lr=0.05, maximize=True, **flags),
                      ref_fn(THETA, GRADS, lr=0.05, maximize=True))
    opt = cls([pt.zeros(2, requires_grad=True)], **flags)
    if keys is not None:
        assert [k for k in opt.param_groups[0] if k != "params"] == keys
    with pytest.raises(NotImplementedError, match="differentiable=True is not supported"):
        cls([pt.zeros(1, requires_grad=True)], differentiable=True)


def test_rmsprop_refuses_capturable_and_adagrad_foreach_with_fused():
    with pytest.raises(NotImplementedError, match="capturable=True"):
        pt.optim.RMSprop([pt.zeros(1, requires_grad=True)], capturable=True)
    with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be `True` together."):
        pt.optim.Adagrad([pt.zeros(1, requires_grad=True)], foreach=True, fused=True)

def test_float32_parameters_stay_float32_and_close():
    got = run_plugtorch(pt.optim.Adam, dtype=pt.float32, lr=0.01)
    assert_trajectory(got, ref.adam(THETA, GRADS, lr=0.01), rtol=1e-5, atol=1e-6)


def test_plain_functions_can_be_called_directly():
    p = pt.tensor(THETA)
    bufs = [None]
    for g in GRADS[:3]:
        sgd([p], [pt.tensor(g)], bufs, lr=0.1, momentum=0.9, nesterov=True)
    assert_trajectory([p.numpy()], ref.sgd(THETA, GRADS[:3], lr=0.1, momentum=0.9, nesterov=True)[-1:])
    assert bufs[0] is not None

    p = pt.tensor(THETA)
    m, v, vmax, step = pt.zeros(3, 4, dtype=pt.float64), pt.zeros(3, 4, dtype=pt.float64), pt.zeros(3, 4, dtype=pt.float64), pt.zeros(())
    for g in GRADS:
        adam([p], [pt.tensor(g)], [m], [v], [vmax], [step], amsgrad=True, lr=0.01)
    assert step.item() == STEPS
    assert_trajectory([p.numpy()], ref.adam(THETA, GRADS, lr=0.01, amsgrad=True)[-1:])


def test_parameters_without_grad_are_left_alone():
    a = pt.ones(2, requires_grad=True)
    b = pt.ones(2, requires_grad=True)
    opt = pt.optim.Adam([a, b], lr=0.1)
    a.grad = pt.ones(2)
    opt.step()
    assert b.tolist() == [1.0, 1.0] and b not in opt.state
    assert a.tolist() != [1.0, 1.0]


def test_step_updates_in_place_and_records_no_history():
    p = pt.ones(3, requires_grad=True)
    data_before = p
    opt = pt.optim.SGD([p], lr=0.5, momentum=0.9)
    (p * 2).sum().backward()
    opt.step()
    assert p is data_before and p.is_leaf and p.grad_fn is None and p.requires_grad
    assert p.tolist() == [0.0, 0.0, 0.0]
    assert p._version > 0


def test_adam_with_decoupled_weight_decay_is_adamw():
    want = ref.adam(THETA, GRADS, lr=0.01, weight_decay=0.1, decoupled=True)
    assert_trajectory(run_plugtorch(pt.optim.Adam, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True), want)
