"""``nn.utils.stateless.functional_call``: call a module with some of its parameters and buffers
replaced for that one call (``plugtorch.func.functional_call`` builds on it).

>>> import plugtorch as pt
>>> lin = pt.nn.Linear(2, 1)
>>> functional_call(lin, {"weight": pt.ones(1, 2), "bias": pt.zeros(1)}, (pt.tensor([[1.0, 2.0]]),)).tolist()
[[3.0]]
"""
from __future__ import annotations

import contextlib

from plugtorch._tensor import Tensor

__all__ = ["functional_call"]

_MISSING = object()


def _owner(module, name):
    """The submodule holding the dotted ``name``, and the last part of the name."""
    prefix, _, attr = name.rpartition(".")
    sub = module
    for part in prefix.split(".") if prefix else ():
        try:
            sub = getattr(sub, part)
        except AttributeError as ex:
            raise AttributeError(f"{sub._get_name()} has no attribute `{part}`") from ex
        if not hasattr(sub, "_parameters"):
            raise TypeError(f"submodule `{prefix}`: {sub} is not an instance of plugtorch.nn.Module")
    return sub, attr


def _swap_tensor(module, name, tensor):
    """Put ``tensor`` (or remove the member, for ``_MISSING``) at ``name``; return what was there."""
    if tensor is not _MISSING and tensor is not None and not isinstance(tensor, Tensor):
        raise TypeError(f"{tensor} is not an instance of plugtorch.Tensor")
    sub, attr = _owner(module, name)
    for store in (sub._parameters, sub._buffers):
        if attr in store:
            orig = store[attr]
            if tensor is _MISSING:
                del store[attr]
            else:
                store[attr] = tensor
            return orig
    orig = getattr(sub, attr) if hasattr(sub, attr) else _MISSING
    if orig is not _MISSING and orig is not None and not isinstance(orig, Tensor):
        raise TypeError(f"attribute `{attr}`: {orig} is not an instance of plugtorch.Tensor")
    if tensor is not _MISSING:
        setattr(sub, attr, tensor)
    elif hasattr(sub, attr):
        delattr(sub, attr)
    return orig


def _named_tensors(module):
    yield from module.named_parameters(remove_duplicate=False)
    yield from module.named_buffers(remove_duplicate=False)


def _untie_named_tensors_map(module, parameters_and_buffers: dict) -> dict:
    """Give every name of a tied tensor (one tensor under several names) the value given for any of them."""
    names_of = {}
    for name, tensor in _named_tensors(module):
        names_of.setdefault(id(tensor), set()).add(name)
    tied = {name: names for names in names_of.values() if len(names) > 1 for name in names}
    given_tied = [name for name in parameters_and_buffers if name in tied]
    for name in given_tied:
        given = tied[name] & set(given_tied)
        if len(given) > 1 and len({id(parameters_and_buffers[n]) for n in given}) != 1:
            raise ValueError(f"functional_call got multiple values for keys {sorted(tied[name])}, which are tied. "
                             "Consider using tie_weights=False")
    untied = dict(parameters_and_buffers)
    for name in given_tied:
        for other in tied[name]:
            untied[other] = parameters_and_buffers[name]
    return untied


@contextlib.contextmanager
def _reparametrize_module(module, parameters_and_buffers: dict, tie_weights: bool = False, strict: bool = False):
    if tie_weights:
        parameters_and_buffers = _untie_named_tensors_map(module, parameters_and_buffers)
    if strict:
        valid = {name for name, _ in _named_tensors(module)}
        missing, unexpected = sorted(valid - set(parameters_and_buffers)), sorted(set(parameters_and_buffers) - valid)
        errors = []
        if unexpected:
            errors.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
        if missing:
            errors.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
        if errors:
            raise RuntimeError("Error(s) in reparametrizing for {}:\n\t{}".format(module._get_name(),
                                                                                 "\n\t".join(errors)))
    originals = {}
    try:
        for name, tensor in parameters_and_buffers.items():
            originals[name] = _swap_tensor(module, name, tensor)
        yield
    finally:
        for name, orig in reversed(list(originals.items())):
            _swap_tensor(module, name, orig)


def _merge_dicts(parameter_and_buffer_dicts) -> dict:
    if isinstance(parameter_and_buffer_dicts, dict):
        return parameter_and_buffer_dicts
    if not isinstance(parameter_and_buffer_dicts, (list, tuple)):
        raise ValueError("Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of dicts, but got "
                         f"{type(parameter_and_buffer_dicts)}")
    merged = {}
    for d in parameter_and_buffer_dicts:
        dup = sorted(set(d) & set(merged))
        if dup:
            raise ValueError(f"{dup} appeared in multiple dictionaries; behavior of functional call is ambiguous")
        merged.update(d)
    return merged


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights: bool = True,
                    strict: bool = False):
    """Call ``module(*args, **kwargs)`` with the parameters and buffers named in
    ``parameter_and_buffer_dicts`` (a dict, or a tuple of dicts, keyed by ``named_parameters``
    names) in place of the module's own, for this call only; gradients flow to the given tensors.

    ``tie_weights``: a tensor the module uses under several names (tied weights) takes the value
    given for any one of them. ``strict``: the dicts must name every parameter and buffer.
    Buffers the call updates in place (BatchNorm's running stats) update the given tensors.
    """
    from plugtorch.nn.parallel import DataParallel
    if isinstance(module, DataParallel):
        raise RuntimeError("The stateless API can't be used with nn.DataParallel module")
    parameters_and_buffers = _merge_dicts(parameter_and_buffer_dicts)
    if kwargs is None:
        kwargs = {}
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with _reparametrize_module(module, parameters_and_buffers, tie_weights=tie_weights, strict=strict):
        return module(*args, **kwargs)
