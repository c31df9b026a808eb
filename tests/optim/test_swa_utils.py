"""optim.swa_utils: AveragedModel (SWA and EMA), SWALR's annealing and update_bn, against
running means, closed forms and batch statistics computed with NumPy."""
import math

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.optim import swa_utils as su

nn = pt.nn
RNG = np.random.default_rng(0)
WEIGHTS = [RNG.standard_normal((4, 3)) for _ in range(5)]


def _model():
    pt.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).double()


def _feed(avg, model):
    for w in WEIGHTS:
        with pt.no_grad():
            model[0].weight.copy_(pt.tensor(w))
            model[1].running_mean.add_(1.0)
        avg.update_parameters(model)


def test_swa_is_the_running_mean_and_buffers_follow_the_model():
    model = _model()
    avg = su.AveragedModel(model)
    _feed(avg, model)
    assert int(avg.n_averaged) == 5
    np.testing.assert_allclose(avg.module[0].weight.detach().numpy(), np.mean(WEIGHTS, axis=0), rtol=1e-12)
    assert pt.equal(avg.module[1].running_mean, model[1].running_mean)       # copied, not averaged
    assert pt.equal(avg(pt.ones(2, 3, dtype=pt.float64)), avg.module(pt.ones(2, 3, dtype=pt.float64)))


@pytest.mark.parametrize("multi", [True, False], ids=["multi_avg_fn", "avg_fn"])
def test_ema_with_buffers(multi):
    model = _model()
    rm0 = model[1].running_mean.numpy().copy()
    fn = dict(multi_avg_fn=su.get_ema_multi_avg_fn(0.8)) if multi else dict(avg_fn=su.get_ema_avg_fn(0.8))
    avg = su.AveragedModel(model, use_buffers=True, **fn)
    _feed(avg, model)
    want = WEIGHTS[0]
    for w in WEIGHTS[1:]:
        want = 0.8 * want + 0.2 * w
    np.testing.assert_allclose(avg.module[0].weight.detach().numpy(), want, rtol=1e-12)
    rm = rm0 + 1
    for k in range(2, 6):
        rm = 0.8 * rm + 0.2 * (rm0 + k)
    np.testing.assert_allclose(avg.module[1].running_mean.numpy(), rm, rtol=1e-12)
    # the integer batch counter is averaged too, rounded back to an integer
    assert avg.module[1].num_batches_tracked.dtype is pt.int64


def test_swa_avg_fn_on_one_tensor_and_the_errors():
    f = su.get_swa_avg_fn()
    assert f(pt.tensor(2.0), pt.tensor(5.0), 2).item() == pytest.approx(3.0)
    with pytest.raises(ValueError, match="Only one of avg_fn and multi_avg_fn"):
        su.AveragedModel(_model(), avg_fn=f, multi_avg_fn=su.get_swa_multi_avg_fn())


@pytest.mark.parametrize("strategy, epochs", [("cos", 3), ("linear", 4), ("cos", 0)])
def test_swalr_anneals_to_swa_lr(strategy, epochs):
    opt = pt.optim.SGD([pt.zeros(1, requires_grad=True)], lr=1.0)
    sched = su.SWALR(opt, swa_lr=0.05, anneal_epochs=epochs, anneal_strategy=strategy)
    anneal = (lambda t: (1 - math.cos(math.pi * t)) / 2) if strategy == "cos" else (lambda t: t)
    for e in range(7):
        alpha = anneal(min(1.0, e / epochs)) if epochs else 1.0
        assert opt.param_groups[0]["lr"] == pytest.approx(0.05 * alpha + 1.0 * (1 - alpha), rel=1e-12)
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="anneal_strategy must by one of 'cos' or 'linear', instead got step"):
        su.SWALR(opt, 0.1, anneal_strategy="step")
    with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0, got -1"):
        su.SWALR(opt, 0.1, anneal_epochs=-1)


def test_update_bn_recomputes_the_statistics_over_the_loader():
    model = _model()
    xs = [RNG.standard_normal((6, 3)) for _ in range(3)]
    update_data = [(pt.tensor(x), 0) for x in xs]
    model.eval()
    su.update_bn(update_data, model)
    assert not model.training and model[1].momentum == 0.1
    with pt.no_grad():
        hs = [model[0](pt.tensor(x)).numpy() for x in xs]
    np.testing.assert_allclose(model[1].running_mean.numpy(), np.mean([h.mean(0) for h in hs], axis=0), rtol=1e-10)
    np.testing.assert_allclose(model[1].running_var.numpy(), np.mean([h.var(0, ddof=1) for h in hs], axis=0),
                               rtol=1e-10)
    su.update_bn([], nn.Linear(2, 2))   # no batch norm: nothing to do
