"""Module.register_load_state_dict_pre_hook (hooks edit a copy of the state dict before loading), and a
replaced parameter keeping its place in the state dict."""
import copy

import numpy as np

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
