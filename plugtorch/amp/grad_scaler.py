"""``plugtorch.amp.GradScaler``: loss scaling for float16 training, with PyTorch's semantics.

The loss is multiplied by the scale before ``backward`` so small float16 gradients do not
flush to zero; ``step`` divides the gradients by it again and skips ``optimizer.step()`` when
any gradient is inf or NaN; ``update`` halves the scale after such a step and doubles it after
``growth_interval`` clean ones. The check and the division are one registered op per device
and dtype (``_amp_foreach_non_finite_check_and_unscale_``), so the only host read is one
flag per device in ``step``.

>>> import plugtorch as pt
>>> w = pt.nn.Parameter(pt.tensor([1.0]))
>>> opt = pt.optim.SGD([w], lr=0.1)
>>> scaler = pt.amp.GradScaler("cpu", init_scale=4.0, growth_interval=1)
>>> scaler.scale((w * 3).sum()).backward()
>>> w.grad                                   # scaled by 4
tensor([12.])
>>> scaler.step(opt); scaler.update()
>>> w.grad, w.detach(), scaler.get_scale()   # unscaled, stepped, grown after 1 clean step
(tensor([3.]), tensor([0.7000]), 8.0)
"""
from __future__ import annotations

import warnings
from collections import defaultdict
from enum import Enum

from plugtorch import _dtypes
from plugtorch._tensor import Tensor
from plugtorch.amp import ops as amp_ops

__all__ = ["GradScaler", "OptState"]


class OptState(Enum):
    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _fresh_optimizer_state() -> dict:
    return {"stage": OptState.READY, "found_inf_per_device": {}}


class _PerDevice:
    """Copies of one tensor on the devices that ask for it, made once each."""

    def __init__(self, master: Tensor):
        self.master = master
        self.copies = {}

    def get(self, dev) -> Tensor:
        t = self.copies.get(dev)
        if t is None:
            t = self.copies[dev] = self.master.to(dev, copy=True)
        return t


class GradScaler:
    """Scale the loss, unscale and check the gradients, and adapt the scale (see the module doc).

    Args:
        device: the device type whose gradients are scaled ("cuda", "opencl", "cpu" ...).
        init_scale: the first scale. growth_factor / backoff_factor: what ``update`` multiplies
            it by after ``growth_interval`` clean steps in a row / after a step with inf or NaN.
        enabled: False makes every method a no-op and ``step`` a plain ``optimizer.step()``.
    """

    def __init__(self, device: str = "cuda", init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True):
        if not isinstance(device, str):
            device = getattr(device, "type", device)
        self._device = device
        self._enabled = enabled
        if enabled and device != "cpu":
            from plugtorch import backends
            try:
                be = backends.get_backend(device)
                why = None if be.is_available() else be.unavailable_reason()
            except RuntimeError as e:
                why = str(e)
            if why is not None:
                warnings.warn(f"plugtorch.amp.GradScaler is enabled, but device type '{device}' is not available "
                              f"({why}).  Disabling.", UserWarning, stacklevel=2)
                self._enabled = False
        if self._enabled:
            if growth_factor <= 1.0:
                raise AssertionError(f"The growth factor must be > 1.0 (got {growth_factor}).")
            if backoff_factor >= 1.0:
                raise AssertionError(f"The backoff factor must be < 1.0 (got {backoff_factor}).")
            self._init_scale = init_scale
            self._scale = None             # 0-d float32 on the first scaled output's device
            self._growth_factor = growth_factor
            self._backoff_factor = backoff_factor
            self._growth_interval = growth_interval
            self._init_growth_tracker = 0
            self._growth_tracker = None    # 0-d int32 beside the scale
            self._per_optimizer_states = defaultdict(_fresh_optimizer_state)

    def _check_scale_growth_tracker(self, funcname: str):
        fix = "This may indicate your script did not use scaler.scale(loss or outputs) earlier in the iteration."
        if self._scale is None:
            raise AssertionError(f"Attempted {funcname} but _scale is None.  " + fix)
        if self._growth_tracker is None:
            raise AssertionError(f"Attempted {funcname} but _growth_tracker is None.  " + fix)
        return self._scale, self._growth_tracker

    def _lazy_init_scale_growth_tracker(self, dev) -> None:
        import plugtorch as pt
        self._scale = pt.full((), self._init_scale, dtype=_dtypes.float32, device=dev)
        self._growth_tracker = pt.full((), self._init_growth_tracker, dtype=_dtypes.int32, device=dev)

    # ---- the four steps -----------------------------------------------------------------
    def scale(self, outputs):
        """``outputs`` (a tensor, or an iterable of them) times the current scale."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            if self._scale is None:
                self._lazy_init_scale_growth_tracker(outputs.device)
            return outputs * self._scale.to(outputs.device)
        copies = []

        def apply_scale(val):
            if isinstance(val, Tensor):
                if not copies:
                    if self._scale is None:
                        self._lazy_init_scale_growth_tracker(val.device)
                    copies.append(_PerDevice(self._scale))
                return val * copies[0].get(val.device)
            if isinstance(val, (list, tuple)):
                return type(val)(map(apply_scale, val))
            if hasattr(val, "__iter__"):
                return map(apply_scale, val)
            raise ValueError("outputs must be a Tensor or an iterable of Tensors")
        return apply_scale(outputs)

    def _unscale_grads_(self, optimizer, inv_scale, found_inf, allow_fp16: bool) -> dict:
        import plugtorch as pt
        per_device_inv_scale = _PerDevice(inv_scale)
        per_device_found_inf = _PerDevice(found_inf)
        # one op call per device and dtype: the check and the division in one pass over the list
        groups = defaultdict(lambda: defaultdict(list))
        with pt.no_grad():
            for group in optimizer.param_groups:
                for param in group["params"]:
                    g = param.grad
                    if g is None:
                        continue
                    if not allow_fp16 and g.dtype is _dtypes.float16:
                        raise ValueError("Attempting to unscale FP16 gradients: the parameters are float16 "
                                         f"(shape {tuple(param.shape)}). Keep the parameters in float32 and let "
                                         "plugtorch.autocast run the ops in float16.")
                    groups[g.device][g.dtype].append(g)
            for dev, per_dtype in groups.items():
                for grads in per_dtype.values():
                    amp_ops.non_finite_check_and_unscale_(grads, per_device_found_inf.get(dev),
                                                          per_device_inv_scale.get(dev))
        return per_device_found_inf.copies

    def unscale_(self, optimizer) -> None:
        """Divide ``optimizer``'s gradients by the scale in place (for clipping them before
        ``step``), recording for ``step`` whether any is inf or NaN. Once per ``update``."""
        if not self._enabled:
            return
        self._check_scale_growth_tracker("unscale_")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        inv_scale = _reciprocal(self._scale)
        import plugtorch as pt
        found_inf = pt.full((), 0.0, dtype=_dtypes.float32, device=self._scale.device)
        state["found_inf_per_device"] = self._unscale_grads_(optimizer, inv_scale, found_inf, False)
        state["stage"] = OptState.UNSCALED

    def step(self, optimizer, *args, **kwargs):
        """Unscale ``optimizer``'s gradients (unless ``unscale_`` did) and run ``optimizer.step()``
        unless one of them is inf or NaN; returns what ``optimizer.step`` returned (or None)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        self._check_scale_growth_tracker("step")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] is OptState.READY:
            self.unscale_(optimizer)
        if len(state["found_inf_per_device"]) == 0:
            raise AssertionError("No inf checks were recorded for this optimizer: none of its parameters has "
                                 "a gradient (call backward on the scaled loss first).")
        retval = None
        # the one host read of the step: a flag per device
        if not sum(v.item() for v in state["found_inf_per_device"].values()):
            retval = optimizer.step(*args, **kwargs)
        state["stage"] = OptState.STEPPED
        return retval

    def update(self, new_scale=None) -> None:
        """Back the scale off if any optimizer's step found inf or NaN, else count a clean step
        (growing the scale every ``growth_interval``); or set it to ``new_scale``."""
        if not self._enabled:
            return
        scale, tracker = self._check_scale_growth_tracker("update")
        if new_scale is not None:
            if isinstance(new_scale, float):
                scale.fill_(new_scale)
            else:
                reason = ("new_scale should be a float or a 1-element plugtorch float tensor with "
                          f"requires_grad=False on a '{self._device}' device.")
                if not isinstance(new_scale, Tensor) or new_scale.device.type != self._device:
                    raise AssertionError(reason)
                if new_scale.numel() != 1 or new_scale.requires_grad:
                    raise AssertionError(reason)
                scale.copy_(new_scale.reshape(()))
        else:
            found_infs = [f.to(scale.device) for state in self._per_optimizer_states.values()
                          for f in state["found_inf_per_device"].values()]
            if not found_infs:
                raise AssertionError("No inf checks were recorded prior to update.")
            found = found_infs[0]
            for f in found_infs[1:]:
                found = found + f
            amp_ops.update_scale(scale, tracker, found, self._growth_factor, self._backoff_factor,
                                 self._growth_interval)
        self._per_optimizer_states = defaultdict(_fresh_optimizer_state)

    # ---- getters, setters and state ------------------------------------------------------
    def get_scale(self) -> float:
        """The current scale as a Python float (reads it from the device)."""
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else self._scale.item()

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        self._growth_factor = new_factor

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        self._backoff_factor = new_factor

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        self._growth_interval = new_interval

    def _get_growth_tracker(self) -> int:
        if not self._enabled:
            return 0
        return self._init_growth_tracker if self._growth_tracker is None else int(self._growth_tracker.item())

    def is_enabled(self) -> bool:
        return self._enabled

    def state_dict(self) -> dict:
        """scale, growth_factor, backoff_factor, growth_interval and _growth_tracker as Python
        numbers (empty when disabled); save it after ``update``."""
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._get_growth_tracker()}

    def load_state_dict(self, state_dict: dict) -> None:
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved from a disabled "
                               "instance of GradScaler.")
        self._init_scale = state_dict["scale"]
        if self._scale is not None:
            self._scale.fill_(state_dict["scale"])
        self._growth_factor = state_dict["growth_factor"]
        self._backoff_factor = state_dict["backoff_factor"]
        self._growth_interval = state_dict["growth_interval"]
        self._init_growth_tracker = state_dict["_growth_tracker"]
        if self._growth_tracker is not None:
            self._growth_tracker.fill_(state_dict["_growth_tracker"])

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        if self._enabled:
            if len(self._per_optimizer_states) != 0:
                raise AssertionError("A GradScaler instance may only be pickled at the beginning of an iteration, "
                                   "or at the end after scaler.update().")
            state["_init_scale"] = self.get_scale()
            state["_init_growth_tracker"] = self._get_growth_tracker()
            state["_scale"] = None
            state["_growth_tracker"] = None
            state["_per_optimizer_states"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self._enabled:
            self._per_optimizer_states = defaultdict(_fresh_optimizer_state)


def _reciprocal(scale: Tensor) -> Tensor:
    """1 / scale in float32, computed in float64 where the device has it (as PyTorch does)."""
    be = scale._backend()
    if be.unsupported_dtype(_dtypes.float64, scale.device.index) is None:
        return scale.double().reciprocal().float()
    return scale.reciprocal()
