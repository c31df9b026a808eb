"""Module.register_load_state_dict_pre_hook (hooks edit a copy of the state dict before loading), and a
replaced parameter keeping its place in the state dict."""
import copy

import numpy as np
import pytest

import plugtorch as pt
from plugtorch import nn


def test_pre_hook_renames_keys_and_reports():
    seen = []

    def rename(module, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        seen.append((module, prefix))
        if prefix + "w" in state_dict:
            state_dict[prefix + "weight"] = state_dict.pop(prefix + "w")
    net = nn.Sequential(nn.Linear(2, 2))
    handle = net[0].register_load_state_dict_pre_hook(rename)
    sd = {"0.w": pt.ones(2, 2), "0.bias": pt.zeros(2)}
    assert net.load_state_dict(sd) == ([], [])
    assert seen == [(net[0], "0.")] and list(sd) == ["0.w", "0.bias"]        # the caller's dict is unchanged
    np.testing.assert_array_equal(net[0].weight.detach().numpy(), np.ones((2, 2)))
    clone = copy.deepcopy(net)
    clone.load_state_dict(sd)
    assert seen[-1][0] is clone[0]                                            # the copy's hook gets the copy
    handle.remove()
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["0.weight"] and result.unexpected_keys == ["0.w"]


def test_replaced_parameter_keeps_its_place():
    m = nn.Linear(2, 2)
    m.weight = nn.Parameter(pt.ones(2, 2))                # torch: ['weight', 'bias'], unchanged order
    assert list(m.state_dict()) == ["weight", "bias"]


def test_load_post_hook_sees_and_edits_incompatible_keys():
    net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    calls = []

    def forgive(module, incompatible):
        calls.append((module, list(incompatible.missing_keys)))
        incompatible.missing_keys.clear()
    net[1].register_load_state_dict_post_hook(lambda m, inc: calls.append((m, "child")))
    handle = net.register_load_state_dict_post_hook(forgive)
    sd = net.state_dict()
    del sd["0.bias"]
    result = net.load_state_dict(sd)                      # strict, but the hook forgave the missing key
    assert calls == [(net[1], "child"), (net, ["0.bias"])]
    assert result.missing_keys == [] and repr(result) == "<All keys matched successfully>"
    net.register_load_state_dict_post_hook(lambda m, inc: 5)
    with pytest.raises(AssertionError, match="not expected to return new values"):
        net.load_state_dict(net.state_dict())
    handle.remove()


def test_state_dict_hooks_metadata_and_extra_state():
    class Counter(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(1, 1)
            self.steps = 0

        def get_extra_state(self):
            return {"steps": self.steps}

        def set_extra_state(self, state):
            self.steps = state["steps"]
    m = Counter()
    m.steps = 7
    seen = []
    m.lin.register_state_dict_pre_hook(lambda mod, prefix, keep_vars: seen.append((prefix, keep_vars)))
    m.lin.register_state_dict_post_hook(lambda mod, sd, prefix, meta: sd.__setitem__(prefix + "tag", pt.ones(1)))
    sd = m.state_dict(keep_vars=True)
    assert list(sd) == ["_extra_state", "lin.weight", "lin.bias", "lin.tag"] and seen == [("lin.", True)]
    assert sd["_extra_state"] == {"steps": 7} and sd._metadata["lin"] == {"version": 1}
    m2 = Counter()
    del sd["lin.tag"]
    assert m2.load_state_dict(sd).missing_keys == [] and m2.steps == 7
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "_extra_state"'):
        m2.load_state_dict({"lin.weight": pt.ones(1, 1), "lin.bias": pt.ones(1)})


def test_load_one_element_into_a_scalar_and_set_submodule():
    bn = nn.BatchNorm1d(2)
    sd = bn.state_dict()
    sd["num_batches_tracked"] = pt.tensor([5])          # old checkpoints saved scalars with shape [1]
    bn.load_state_dict(sd)
    assert bn.num_batches_tracked.shape == () and bn.num_batches_tracked.item() == 5
    sd["num_batches_tracked"] = pt.tensor([5, 6])
    with pytest.raises(RuntimeError, match="size mismatch for num_batches_tracked"):
        bn.load_state_dict(sd)
    net = nn.Sequential(nn.Linear(1, 1), nn.Sequential(nn.ReLU(), nn.Tanh()))
    net.set_submodule("1.0", nn.Identity())
    assert [type(x).__name__ for x in net[1]] == ["Identity", "Tanh"]
    with pytest.raises(AttributeError):
        net.set_submodule("1.9", nn.Identity(), strict=True)
    with pytest.raises(ValueError, match="is not an nn.Module"):
        net.set_submodule("0", 3)


def test_batchnorm_checkpoint_without_num_batches_tracked_loads():
    # version-1 checkpoints (and plain dicts, which carry no version) predate num_batches_tracked
    from collections import OrderedDict
    old = OrderedDict([("weight", pt.full((2,), 2.0)), ("bias", pt.zeros(2)),
                       ("running_mean", pt.ones(2)), ("running_var", pt.ones(2))])
    for sd in (dict(old), old):
        bn = nn.BatchNorm1d(2)
        assert bn.load_state_dict(sd).missing_keys == []
        assert bn.num_batches_tracked.item() == 0 and bn.weight.tolist() == [2.0, 2.0]
    assert nn.BatchNorm1d(2).state_dict()._metadata[""] == {"version": 2}
    old._metadata = OrderedDict([("", {"version": 2})])          # a version-2 checkpoint must have it
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "num_batches_tracked"'):
        nn.BatchNorm1d(2).load_state_dict(old)


def test_consume_prefix_of_a_data_parallel_checkpoint():
    from plugtorch.nn.modules.utils import consume_prefix_in_state_dict_if_present
    wrapped = nn.Module()
    wrapped.module = nn.Sequential(nn.Linear(1, 1))
    sd = wrapped.state_dict()
    consume_prefix_in_state_dict_if_present(sd, "module.")
    assert list(sd) == ["0.weight", "0.bias"] and sorted(sd._metadata) == ["", "0"]
    assert nn.Sequential(nn.Linear(1, 1)).load_state_dict(sd).missing_keys == []


def test_subclass_overrides_of_save_and_load_from_state_dict_are_used():
    # quantization-style layers keep extra entries by overriding these two methods, as in PyTorch
    class Scaled(nn.Linear):
        def _save_to_state_dict(self, destination, prefix, keep_vars):
            super()._save_to_state_dict(destination, prefix, keep_vars)
            destination[prefix + "scale"] = pt.tensor(3.0)

        def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                                  unexpected_keys, error_msgs):
            self.scale = float(state_dict.pop(prefix + "scale"))
            super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                          unexpected_keys, error_msgs)
    sd = nn.Sequential(Scaled(2, 2), nn.ReLU()).state_dict()
    assert list(sd) == ["0.weight", "0.bias", "0.scale"]
    net = nn.Sequential(Scaled(2, 2), nn.ReLU())
    result = net.load_state_dict(sd)                     # strict: "0.scale" was consumed, not unexpected
    assert net[0].scale == 3.0 and result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(net[0].weight.detach().numpy(), sd["0.weight"].numpy())


def test_unexpected_keys_are_found_at_every_depth_and_post_hooks_run_children_first():
    net = nn.Sequential(nn.Sequential(nn.Linear(1, 1)))
    sd = {"0.0.weight": pt.ones(1, 1), "0.0.bias": pt.ones(1), "0.0.x": pt.ones(1), "0.y": pt.ones(1),
          "z.w": pt.ones(1)}
    assert sorted(net.load_state_dict(sd, strict=False).unexpected_keys) == ["0.0.x", "0.y", "z.w"]
    order = []
    for name, m in net.named_modules():
        m.register_load_state_dict_post_hook(lambda mod, inc, name=name: order.append(name))
    net.load_state_dict(net.state_dict())
    assert order == ["0.0", "0", ""]
