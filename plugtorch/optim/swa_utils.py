"""Stochastic weight averaging and exponential moving averages of a model, as ``torch.optim.swa_utils``.

``AveragedModel`` keeps a copy of a model whose parameters are the running average (SWA, the
default) or an exponential moving average (``multi_avg_fn=get_ema_multi_avg_fn(decay)``) of
the model's; ``SWALR`` anneals each group's lr to a constant ``swa_lr``; ``update_bn``
recomputes batch-norm statistics for the averaged weights with one pass over the data.

>>> import plugtorch as pt
>>> model = pt.nn.Linear(2, 1)
>>> swa = AveragedModel(model)
>>> with pt.no_grad():
...     _ = model.weight.add_(1.0)
>>> swa.update_parameters(model); int(swa.n_averaged)
1
"""
from __future__ import annotations

import copy
import itertools
import math

from plugtorch import _dtypes
from plugtorch import _ops_public as P
from plugtorch.autograd.grad_mode import no_grad
from plugtorch.nn.modules.module import Module
from plugtorch.optim.lr_scheduler import LRScheduler, _per_group

__all__ = ["AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn", "get_swa_multi_avg_fn",
           "get_ema_avg_fn", "get_swa_avg_fn"]


def get_ema_multi_avg_fn(decay: float = 0.999):
    """``avg = decay * avg + (1 - decay) * current`` over lists of tensors, in place."""
    @no_grad()
    def ema_update(ema_param_list, current_param_list, _):
        for e, c in zip(ema_param_list, current_param_list):
            if e.dtype.is_floating_point:
                e.lerp_(c, 1 - decay)
            else:
                e.copy_(e * decay + c * (1 - decay))
    return ema_update


def get_swa_multi_avg_fn():
    """The running mean over lists of tensors, in place: ``avg += (current - avg) / (n + 1)``."""
    @no_grad()
    def swa_update(averaged_param_list, current_param_list, num_averaged):
        for a, c in zip(averaged_param_list, current_param_list):
            n1 = num_averaged + 1
            if hasattr(n1, "to"):   # a 0-d tensor (AveragedModel's n_averaged)
                n1 = n1.to(a.dtype if a.dtype.is_floating_point else _dtypes.float32)
            a.copy_(a + (c - a) / n1)
    return swa_update


def get_ema_avg_fn(decay: float = 0.999):
    """The exponential moving average of one tensor: returns ``decay * avg + (1 - decay) * current``."""
    @no_grad()
    def ema_update(ema_param, current_param, num_averaged):
        return decay * ema_param + (1 - decay) * current_param
    return ema_update


def get_swa_avg_fn():
    """The running mean of one tensor: returns ``avg + (current - avg) / (n + 1)``."""
    @no_grad()
    def swa_update(averaged_param, current_param, num_averaged):
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)
    return swa_update


class AveragedModel(Module):
    """A copy of ``model`` whose parameters (and, with ``use_buffers``, buffers) average the
    model's over the calls to ``update_parameters``; ``n_averaged`` counts them.

    ``avg_fn(avg, current, n)`` returns one averaged tensor; ``multi_avg_fn(avgs, currents, n)``
    updates lists in place; without either, the equal-weight running mean (SWA).
    """

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise ValueError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", P.tensor(0, dtype=_dtypes.int64, device=device))
        self.avg_fn, self.multi_avg_fn, self.use_buffers = avg_fn, multi_avg_fn, use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    @no_grad()
    def update_parameters(self, model) -> None:
        """Fold ``model``'s current parameters into the average (the first call copies them)."""
        mine = (itertools.chain(self.module.parameters(), self.module.buffers()) if self.use_buffers
                else self.module.parameters())
        theirs = (itertools.chain(model.parameters(), model.buffers()) if self.use_buffers
                  else model.parameters())
        avgs, currents = [], []
        first = int(self.n_averaged) == 0
        for a, c in zip(mine, theirs):
            c = c.detach().to(a.device)
            avgs.append(a.detach())
            currents.append(c)
            if first:
                a.detach().copy_(c)
        if not first:
            if self.avg_fn is not None:
                for a, c in zip(avgs, currents):
                    a.copy_(self.avg_fn(a, c, self.n_averaged.to(a.device)))
            else:
                fn = self.multi_avg_fn or get_swa_multi_avg_fn()
                by_device: dict = {}
                for a, c in zip(avgs, currents):
                    lists = by_device.setdefault((a.device, a.dtype), ([], []))
                    lists[0].append(a)
                    lists[1].append(c)
                for (dev, _), (a_list, c_list) in by_device.items():
                    fn(a_list, c_list, self.n_averaged.to(dev))
        if not self.use_buffers:   # buffers follow the source model
            for b_avg, b_model in zip(self.module.buffers(), model.buffers()):
                b_avg.detach().copy_(b_model.detach().to(b_avg.device))
        self.n_averaged += 1


@no_grad()
def update_bn(loader, model, device=None) -> None:
    """Recompute every batch norm's running statistics with one pass of ``model`` over ``loader``
    (a cumulative average over the batches; a batch that is a list or tuple gives its first item).

    >>> update_bn(train_loader, swa_model)   # doctest: +SKIP
    """
    from plugtorch.nn.modules.normalization import _BatchNorm
    momenta = {}
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            m.reset_running_stats()
            momenta[m] = m.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for m in momenta:
        m.momentum = None
    for batch in loader:
        if isinstance(batch, (list, tuple)):
            batch = batch[0]
        if device is not None:
            batch = batch.to(device)
        model(batch)
    for m, momentum in momenta.items():
        m.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's lr to ``swa_lr`` over ``anneal_epochs`` epochs (``cos`` or ``linear``),
    then hold it there: the schedule for the SWA phase of training."""

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos", last_epoch=-1):
        for lr, group in zip(_per_group(swa_lr, optimizer.param_groups, "swa_lr"), optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must by one of 'cos' or 'linear', instead got {anneal_strategy}")
        self.anneal_func = self._cosine_anneal if anneal_strategy == "cos" else self._linear_anneal
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t):
        return t

    @staticmethod
    def _cosine_anneal(t):
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        return swa_lr if alpha == 1 else (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self):
        # recover the lr the annealing started from out of the current one, then take one step
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        groups = self.optimizer.param_groups
        prev_lrs = [self._get_initial_lr(g["lr"], g["swa_lr"], prev_alpha) for g in groups]
        alpha = self.anneal_func(max(0, min(1, step / max(1, self.anneal_epochs))))
        return [g["swa_lr"] * alpha + lr * (1 - alpha) for g, lr in zip(groups, prev_lrs)]

    def state_dict(self):
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "anneal_func")} | {
            "anneal_strategy": "cos" if self.anneal_func == self._cosine_anneal else "linear"}

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        strategy = state_dict.pop("anneal_strategy", None)
        self.__dict__.update(state_dict)
        if strategy is not None:
            self.anneal_func = self._cosine_anneal if strategy == "cos" else self._linear_anneal
