"""Module: registration, iteration, state_dict, modes, conversion, hooks, repr."""
import copy

import numpy as np
import pytest

import plugtorch as pt
from plugtorch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.act = nn.ReLU()
        self.block = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
        self.scale = nn.Parameter(pt.ones(1))
        self.register_buffer("steps", pt.zeros(1))
        self.register_buffer("cache", pt.zeros(2), persistent=False)

    def forward(self, x):
        return self.block(self.act(self.fc1(x))) * self.scale


def test_registration_and_iteration():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "fc1.weight", "fc1.bias", "block.0.weight", "block.0.bias", "block.1.weight",
                     "block.1.bias"]
    assert len(list(net.parameters())) == 7
    assert [n for n, _ in net.named_buffers()] == ["steps", "cache", "block.1.running_mean",
                                                   "block.1.running_var", "block.1.num_batches_tracked"]
    assert [n for n, _ in net.named_children()] == ["fc1", "act", "block"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "act", "block", "block.0", "block.1"]
    assert len(list(net.modules())) == 6
    assert net.get_submodule("block.0") is net.block[0]
    assert net.get_parameter("block.0.bias") is net.block[0].bias


def test_shared_parameters_are_listed_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, lin)
    assert len(list(seq.parameters())) == 2
    assert len(list(seq.named_parameters(remove_duplicate=False))) == 4


def test_assignment_rules():
    m = nn.Module()
    m.w = nn.Parameter(pt.zeros(2))
    assert "w" in m._parameters
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'w'"):
        m.w = pt.zeros(2)
    m.w = None
    assert m.w is None and list(m.parameters()) == []
    m.register_buffer("b", pt.ones(1))
    m.b = pt.zeros(3)
    assert tuple(m.b.shape) == (3,)
    with pytest.raises(TypeError, match="cannot assign 'int' as buffer 'b'"):
        m.b = 3
    del m.b
    assert "b" not in m._buffers
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'nope'"):
        m.nope
    with pytest.raises(KeyError, match="attribute 'forward' already exists"):
        m.register_buffer("forward", pt.ones(1))


def test_assign_before_init_is_an_error():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(pt.ones(1))
    with pytest.raises(AttributeError, match="before Module.__init__"):
        Bad()


def test_state_dict_roundtrip():
    a, b = Net(), Net()
    sd = a.state_dict()
    assert "cache" not in sd and "steps" in sd and "block.1.num_batches_tracked" in sd
    assert not sd["fc1.weight"].requires_grad
    res = b.load_state_dict(sd)
    assert res.missing_keys == [] and res.unexpected_keys == []
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), sd[k].numpy())
    # loaded values are copies, not aliases
    with pt.no_grad():
        a.fc1.weight.add_(1.0)
    assert not np.allclose(a.fc1.weight.detach().numpy(), b.fc1.weight.detach().numpy())


def test_load_state_dict_errors():
    net = Net()
    sd = net.state_dict()
    del sd["fc1.bias"]
    sd["extra.weight"] = pt.zeros(1)
    with pytest.raises(RuntimeError) as e:
        Net().load_state_dict(sd)
    msg = str(e.value)
    assert msg.startswith("Error(s) in loading state_dict for Net:")
    assert 'Missing key(s) in state_dict: "fc1.bias".' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight".' in msg
    res = Net().load_state_dict(sd, strict=False)
    assert res.missing_keys == ["fc1.bias"] and res.unexpected_keys == ["extra.weight"]
    bad = Net().state_dict()
    bad["fc1.weight"] = pt.zeros(5, 3)
    with pytest.raises(RuntimeError, match=r"size mismatch for fc1.weight: copying a param with shape "
                                           r"plugtorch.Size\(\[5, 3\]\) from checkpoint, the shape in current "
                                           r"model is plugtorch.Size\(\[4, 3\]\)"):
        Net().load_state_dict(bad, strict=False)


def test_load_state_dict_unexpected_keys_past_a_leaf_or_at_a_child():
    # a key that goes on past a parameter ("fc1.weight.x"), or names a child module itself
    # ("block"), or a non-persistent buffer ("cache"), loads nothing: it is unexpected, and a strict
    # load refuses it (it used to pass silently)
    sd = dict(Net().state_dict())
    sd.update({"fc1.weight.x": pt.zeros(1), "block": pt.zeros(1), "block.0.bias.y": pt.zeros(1),
               "cache": pt.zeros(2), "block.2.weight": pt.zeros(1)})
    res = Net().load_state_dict(sd, strict=False)
    assert res.missing_keys == []
    assert sorted(res.unexpected_keys) == ["block", "block.0.bias.y", "block.2.weight", "cache", "fc1.weight.x"]
    with pytest.raises(RuntimeError, match='Unexpected key\\(s\\) in state_dict: .*"fc1.weight.x"'):
        Net().load_state_dict({**Net().state_dict(), "fc1.weight.x": pt.zeros(1)})


def test_a_failed_load_state_dict_keeps_what_it_copied_as_documented():
    # PyTorch's behaviour, documented in load_state_dict: the entries that matched are loaded
    # before the error is raised; the mismatched one keeps its previous value
    net = Net()
    old_fc1_weight = net.fc1.weight.detach().clone()
    sd = {k: pt.full(v.shape, 7.0) for k, v in net.state_dict().items()}
    sd["fc1.weight"] = pt.zeros(5, 3)
    with pytest.raises(RuntimeError, match="size mismatch for fc1.weight"):
        net.load_state_dict(sd)
    assert pt.equal(net.fc1.weight.detach(), old_fc1_weight)
    assert all(bool((v == 7.0).all()) for k, v in net.state_dict().items() if k != "fc1.weight")


def test_train_eval_apply_requires_grad():
    net = Net()
    assert net.training and net.block[1].training
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and seen[0] == "Linear"
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_zero_grad():
    net = nn.Linear(2, 2)
    net(pt.ones(1, 2)).sum().backward()
    assert net.weight.grad is not None
    held = net.weight.grad
    net.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(net.weight.grad.numpy(), np.zeros((2, 2)))
    # in place: the same tensor, so a reference held to it reads zeros too (it kept the old values)
    assert net.weight.grad is held
    np.testing.assert_array_equal(held.numpy(), np.zeros((2, 2)))
    net.zero_grad()
    assert net.weight.grad is None
    # a grad that carries a graph (backward with create_graph) is detached, then zeroed
    net(pt.ones(1, 2)).pow(2).sum().backward(create_graph=True)
    assert net.weight.grad.grad_fn is not None
    net.zero_grad(set_to_none=False)
    assert net.weight.grad.grad_fn is None and not net.weight.grad.requires_grad
    np.testing.assert_array_equal(net.weight.grad.numpy(), np.zeros((2, 2)))


def test_dtype_conversion_keeps_parameter_objects():
    net = Net()
    w = net.fc1.weight
    net.double()
    assert net.fc1.weight is w and w.dtype is pt.float64 and isinstance(w, nn.Parameter)
    assert net.steps.dtype is pt.float64
    assert net.block[1].num_batches_tracked.dtype is pt.int64   # integer buffers keep their dtype
    net.to(pt.float32)
    assert w.dtype is pt.float32
    net.half()
    assert w.dtype is pt.float16
    net.float().to("cpu")
    assert w.device == pt.device("cpu")
    out = net(pt.ones(5, 3))
    assert out.dtype is pt.float32
    with pytest.raises(TypeError, match="only accepts floating point dtypes"):
        net.to(pt.int64)


def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: calls.append(out.shape) or out + 1)
    out = lin(pt.ones(1, 2))
    np.testing.assert_allclose(out.detach().numpy(), (lin.bias + 1).detach().numpy()[None], rtol=1e-6)
    assert calls == [pt.Size([1, 2])]
    h1.remove()
    h2.remove()
    out = lin(pt.ones(1, 2))
    np.testing.assert_allclose(out.detach().numpy(), (pt.ones(1, 2) @ lin.weight.T + lin.bias).detach().numpy(), rtol=1e-6)
    kw_seen = []
    lin.register_forward_pre_hook(lambda m, args, kwargs: kw_seen.append(kwargs), with_kwargs=True)
    lin(input=pt.ones(1, 2))
    assert list(kw_seen[0]) == ["input"]


def test_forward_pre_hook_with_kwargs_must_return_args_and_kwargs():
    lin = nn.Linear(2, 2)
    with pt.no_grad():
        lin.weight.copy_(pt.tensor([[1.0, 0.0], [0.0, 2.0]]))
        lin.bias.zero_()
    h = lin.register_forward_pre_hook(lambda m, args, kwargs: ((args[0] * 3,), kwargs), with_kwargs=True)
    assert lin(pt.ones(1, 2)).tolist() == [[3.0, 6.0]]
    h.remove()
    lin.register_forward_pre_hook(lambda m, args, kwargs: (args,), with_kwargs=True)
    with pytest.raises(RuntimeError, match=r"must return None or a tuple of \(new_args, new_kwargs\)"):
        lin(pt.ones(1, 2))


def test_repr():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(inplace=True), nn.Flatten(),
                        nn.Linear(8, 2, bias=False))
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n"
        "  (1): ReLU(inplace=True)\n"
        "  (2): Flatten(start_dim=1, end_dim=-1)\n"
        "  (3): Linear(in_features=8, out_features=2, bias=False)\n"
        ")")
    assert repr(nn.Tanh()) == "Tanh()"


def test_deepcopy_is_independent():
    net = Net()
    dup = copy.deepcopy(net)
    assert dup.fc1.weight is not net.fc1.weight
    assert isinstance(dup.fc1.weight, nn.Parameter)
    np.testing.assert_array_equal(dup.fc1.weight.detach().numpy(), net.fc1.weight.detach().numpy())


def test_missing_forward():
    with pytest.raises(NotImplementedError, match='missing the required "forward" function'):
        nn.Module()(1)


def test_always_call_forward_hook_runs_when_forward_fails():
    lin = nn.Linear(2, 2)
    seen = []
    lin.register_forward_hook(lambda m, args, out: seen.append(out), always_call=True)
    with pytest.raises(RuntimeError, match="expected input with 2 features"):
        lin(pt.ones(1, 3))
    assert seen == [None]


def test_state_dict_through_save_and_load(tmp_path):
    a, b = Net(), Net()
    pt.save(a.state_dict(), str(tmp_path / "net.pt"))
    b.load_state_dict(pt.load(str(tmp_path / "net.pt")))
    np.testing.assert_array_equal(b.fc1.weight.detach().numpy(), a.fc1.weight.detach().numpy())


@pytest.mark.parametrize("dtype,tol", [(pt.float16, 5e-3), (pt.bfloat16, 5e-2), (pt.float64, 1e-6)])
def test_low_and_high_precision_models_train(dtype, tol):
    m = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                      nn.Linear(16, 5), nn.LayerNorm(5))
    x = pt.randn(2, 3, 4, 4)
    ref = m(x).detach().numpy()
    m2 = copy.deepcopy(m).to(dtype)
    out = m2(x.to(dtype))
    assert out.dtype is dtype and m2[1].running_mean.dtype is dtype
    np.testing.assert_allclose(out.detach().float().numpy(), ref, atol=tol * 10, rtol=tol)
    out.float().sum().backward()
    assert m2[0].weight.grad.dtype is dtype


def test_module_to_refuses_what_tensor_to_refuses():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"invalid combination of arguments - got \(int\)"):
        m.to(5)
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['copy'\]"):
        m.to("cpu", copy=True)
    with pytest.raises(TypeError, match="only accepts floating point dtypes"):
        m.to(pt.int32)


def test_to_empty_and_share_memory_keep_the_parameter_objects():
    net = pt.nn.Sequential(pt.nn.Linear(2, 3), pt.nn.BatchNorm1d(3))
    w = net[0].weight
    assert net.to_empty(device="cpu") is net and net[0].weight is w
    assert w.shape == (3, 2) and w.requires_grad and net[1].running_mean.shape == (3,)
    inner = pt.nn.Sequential(pt.nn.Sequential(pt.nn.Linear(1, 1)))
    before = inner[0][0].weight.detach().numpy().copy()
    inner.to_empty(device="cpu", recurse=False)          # no parameters of its own: nothing changes
    assert inner[0][0].weight.detach().numpy().tolist() == before.tolist()
    lin = pt.nn.Linear(2, 2)
    values = lin.weight.detach().numpy().copy()
    assert lin.share_memory() is lin
    assert lin.weight.detach().numpy().tolist() == values.tolist()
