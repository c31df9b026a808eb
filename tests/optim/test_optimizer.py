"""The Optimizer base: parameter groups, zero_grad, closures, state dicts, errors, devices."""
import numpy as np
import pytest

import plugtorch as pt


def quadratic_grad(p, target):
    (p - target).square().sum().backward()


def train(p, opt, n, target=(1.0, -2.0, 3.0)):
    """``n`` steps of ``opt`` on the quadratic ``|p - target|^2``."""
    for _ in range(n):
        opt.zero_grad()
        quadratic_grad(p, pt.tensor(list(target)))
        opt.step()


def test_param_groups_take_defaults_and_their_own_options():
    a, b = pt.zeros(2, requires_grad=True), pt.zeros(2, requires_grad=True)
    opt = pt.optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[1]["params"] == [b] and opt.param_groups[1]["momentum"] == 0.9
    a.grad, b.grad = pt.ones(2), pt.ones(2)
    opt.step()
    assert a.tolist() == pytest.approx([-0.1, -0.1]) and b.tolist() == [-0.5, -0.5]


def test_add_param_group():
    a, b = pt.zeros(1, requires_grad=True), pt.zeros(1, requires_grad=True)
    opt = pt.optim.Adam([a], lr=0.1)
    opt.add_param_group({"params": [b], "lr": 0.01})
    assert len(opt.param_groups) == 2 and opt.param_groups[1]["betas"] == (0.9, 0.999)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [a]})



def test_named_parameters_as_pytorch_26():
    # Adam(model.named_parameters()) raised TypeError ("one of the params is tuple"); PyTorch takes
    # ("name", tensor) pairs, optimizes the tensors and keeps the names as the group's param_names
    lin = pt.nn.Linear(2, 1)
    lin.weight.data.fill_(0.5)
    lin.bias.data.fill_(0.0)
    opt = pt.optim.SGD(lin.named_parameters(), lr=0.1)
    assert opt.param_groups[0]["params"] == [lin.weight, lin.bias]
    assert opt.param_groups[0]["param_names"] == ["weight", "bias"]
    lin(pt.tensor([[1.0, 2.0]])).sum().backward()           # d/dw = x, d/db = 1
    opt.step()
    assert lin.weight.tolist()[0] == pytest.approx([0.4, 0.3]) and lin.bias.tolist() == pytest.approx([-0.1])
    sd = opt.state_dict()
    assert list(sd["param_groups"][0]) == ["param_names", "lr", "momentum", "dampening", "weight_decay",
                                           "nesterov", "maximize", "foreach", "fused", "params"]
    assert sd["param_groups"][0]["param_names"] == ["weight", "bias"] and sd["param_groups"][0]["params"] == [0, 1]
    # names per group; a state dict with names loads into an optimizer without them
    a, b = pt.zeros(1, requires_grad=True), pt.zeros(1, requires_grad=True)
    opt = pt.optim.Adam([{"params": [("a", a)]}, {"params": [("b", b)], "lr": 0.5}], lr=0.1)
    assert [g["param_names"] for g in opt.param_groups] == [["a"], ["b"]]
    plain = pt.optim.Adam([{"params": [a]}, {"params": [b]}], lr=0.1)
    plain.load_state_dict(opt.state_dict())
    assert [g["param_names"] for g in plain.param_groups] == [["a"], ["b"]]
    assert [g["lr"] for g in plain.param_groups] == [0.1, 0.5]


def test_named_and_unnamed_parameters_do_not_mix():
    a, b = pt.zeros(1, requires_grad=True), pt.zeros(1, requires_grad=True)
    with pytest.raises(ValueError, match="all optimizer params should be with/without names. Some param names are missing"):
        pt.optim.SGD([("a", a), b], lr=0.1)
    with pytest.raises(ValueError, match="cannot add param group without names to the optimizer"):
        pt.optim.SGD([{"params": [("a", a)]}, {"params": [b]}], lr=0.1)
    opt = pt.optim.SGD([a], lr=0.1)
    with pytest.raises(ValueError, match="cannot add param group with names to the optimizer"):
        opt.add_param_group({"params": [("b", b)]})
    with pytest.raises(TypeError, match="one of the params is str"):
        pt.optim.SGD([{"params": ["a"]}], lr=0.1)

@pytest.mark.parametrize("params,exc,msg", [
    ([], ValueError, "optimizer got an empty parameter list"),
    (pt.zeros(2), TypeError, "should be an iterable of Tensors or dicts, but got Tensor"),
    ([1.0], TypeError, "optimizer can only optimize Tensors, but one of the params is float"),
    ([{"params": {pt.zeros(1)}}], TypeError, "ordering of tensors in sets"),
])
def test_bad_params(params, exc, msg):
    with pytest.raises(exc, match=msg):
        pt.optim.SGD(params, lr=0.1)


def test_non_leaf_and_duplicate_params():
    a = pt.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        pt.optim.SGD([a * 2], lr=0.1)
    with pytest.raises(ValueError, match="duplicate parameters"):
        pt.optim.SGD([a, a], lr=0.1)


@pytest.mark.parametrize("make,msg", [
    (lambda p: pt.optim.SGD(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: pt.optim.SGD(p, lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5"),
    (lambda p: pt.optim.SGD(p, lr=0.1, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    (lambda p: pt.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "zero dampening"),
    (lambda p: pt.optim.Adam(p, betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
    (lambda p: pt.optim.AdamW(p, betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (lambda p: pt.optim.Adam(p, eps=-1e-8), "Invalid epsilon value: -1e-08"),
    (lambda p: pt.optim.RMSprop(p, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda p: pt.optim.RMSprop(p, alpha=-0.1), "Invalid alpha value: -0.1"),
    (lambda p: pt.optim.Adagrad(p, lr_decay=-1), "Invalid lr_decay value: -1"),
])
def test_bad_options(make, msg):
    with pytest.raises(ValueError, match=msg):
        make([pt.zeros(1, requires_grad=True)])


def test_zero_grad_set_to_none_and_to_zero():
    p = pt.ones(2, requires_grad=True)
    opt = pt.optim.SGD([p], lr=0.1)
    (p * 3).sum().backward()
    g = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is g and p.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert p.grad is None


def test_step_with_closure_returns_loss_and_runs_with_grad():
    p = pt.tensor([3.0], requires_grad=True)
    opt = pt.optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with pt.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 9.0 and p.tolist() == [1.5]


@pytest.mark.parametrize("cls,opts", [
    (pt.optim.SGD, dict(lr=0.1, momentum=0.9)), (pt.optim.Adam, dict(lr=0.1, amsgrad=True)),
    (pt.optim.AdamW, dict(lr=0.1)), (pt.optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
    (pt.optim.Adagrad, dict(lr=0.1, initial_accumulator_value=0.1)),
])
def test_state_dict_round_trip_continues_identically(cls, opts):
    a = pt.zeros(3, requires_grad=True)
    opt_a = cls([a], **opts)
    train(a, opt_a, 3)
    sd = opt_a.state_dict()
    assert list(sd["state"]) == [0] and sd["param_groups"][0]["params"] == [0]

    b = a.detach().clone().requires_grad_()
    opt_b = cls([b], **{**opts, "lr": 123.0})
    opt_b.load_state_dict(sd)
    assert opt_b.param_groups[0]["lr"] == opts["lr"] and opt_b.param_groups[0]["params"] == [b]
    train(a, opt_a, 3)
    train(b, opt_b, 3)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


@pytest.mark.parametrize("cls,opts", [
    (pt.optim.Adam, dict(lr=0.1)), (pt.optim.AdamW, dict(lr=0.1, amsgrad=True)), (pt.optim.RMSprop, dict(lr=0.01)),
    (pt.optim.Adagrad, dict(lr=0.1, lr_decay=0.1)), (pt.optim.Adadelta, dict()), (pt.optim.Adamax, dict(lr=0.1)),
    (pt.optim.NAdam, dict(lr=0.1)), (pt.optim.RAdam, dict(lr=0.1)), (pt.optim.ASGD, dict(lr=0.1, t0=1)),
    (pt.optim.Rprop, dict(lr=0.1)),
], ids=lambda x: getattr(x, "__name__", ""))
def test_a_state_dict_with_python_number_steps_resumes_identically(cls, opts):
    # checkpoints from PyTorch before 1.12 count 'step' with an int (ASGD's eta and mu, NAdam's
    # mu_product are floats): loaded, they become the 0-d float32 tensors the updates count with;
    # before, the next step raised AttributeError ('int' object has no attribute 'add_')
    a = pt.zeros(3, requires_grad=True)
    opt_a = cls([a], **opts)
    train(a, opt_a, 3)
    sd = opt_a.state_dict()
    old = {k: (v.item() if k in ("eta", "mu", "mu_product") else int(v.item()))
           if k in ("step", "eta", "mu", "mu_product") else v for k, v in sd["state"][0].items()}
    assert type(old["step"]) is int and old["step"] == 3
    b = a.detach().clone().requires_grad_()
    opt_b = cls([b], **opts)
    opt_b.load_state_dict({"state": {0: old}, "param_groups": sd["param_groups"]})
    for k in ("step", "eta", "mu", "mu_product"):
        if k in old:
            st = opt_b.state[b][k]
            assert st.dtype == pt.float32 and st.shape == () and st.item() == pytest.approx(old[k], rel=1e-7)
    train(a, opt_a, 3)
    train(b, opt_b, 3)
    assert opt_b.state[b]["step"].item() == 6
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


@pytest.mark.parametrize("cls,opts", [
    (pt.optim.Adam, dict(lr=0.1)), (pt.optim.AdamW, dict(lr=0.1, amsgrad=True)), (pt.optim.NAdam, dict(lr=0.1)),
    (pt.optim.ASGD, dict(lr=0.1, t0=1)), (pt.optim.RMSprop, dict(lr=0.01)),
], ids=lambda x: getattr(x, "__name__", ""))
def test_a_checkpoint_mapped_to_another_device_resumes_on_cpu(tmp_path, altcpu, cls, opts):
    # map_location sends every tensor, 'step' too, to the device; loaded into a cpu optimizer the
    # counters return to cpu, where a new optimizer keeps them. Before, Adam's next step raised
    # "_fused_adam_(): step 0 must be a 0-d floating point tensor on cpu ..., got tensor(1., device='altcpu:0')"
    a = pt.zeros(3, requires_grad=True)
    opt_a = cls([a], **opts)
    train(a, opt_a, 3)
    pt.save(opt_a.state_dict(), tmp_path / "opt.pt")
    saved = pt.load(tmp_path / "opt.pt", map_location=altcpu)
    assert saved["state"][0]["step"].device == altcpu
    b = a.detach().clone().requires_grad_()
    opt_b = cls([b], **opts)
    opt_b.load_state_dict(saved)
    assert all(v.device.type == "cpu" for v in opt_b.state[b].values() if isinstance(v, pt.Tensor))
    train(a, opt_a, 3)
    train(b, opt_b, 3)
    assert opt_b.state[b]["step"].item() == 6
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_load_state_dict_casts_state_to_the_parameter():
    a = pt.zeros(2, requires_grad=True)
    opt = pt.optim.Adam([a])
    a.grad = pt.ones(2)
    opt.step()
    b = pt.zeros(2, dtype=pt.float64, requires_grad=True)
    opt_b = pt.optim.Adam([b])
    opt_b.load_state_dict(opt.state_dict())
    st = opt_b.state[b]
    assert st["exp_avg"].dtype == pt.float64 and st["step"].dtype == pt.float32 and st["step"].item() == 1
    assert st["exp_avg"] is not opt.state[a]["exp_avg"]


def test_load_state_dict_casts_tensors_inside_lists_of_state():
    # LBFGS keeps its history as lists of tensors: they follow the parameter's dtype (and
    # device) too, as PyTorch's; before, they stayed float32 and the next step raised in matmul
    x = pt.tensor([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]])
    y = pt.tensor([1.0, -2.0, 0.25])
    a = pt.zeros(2, requires_grad=True)
    opt = pt.optim.LBFGS([a], history_size=3, max_iter=3)

    def closure(w, opt):
        def f():
            opt.zero_grad()
            loss = ((x.to(w.dtype) @ w - y.to(w.dtype)) ** 2).sum()
            loss.backward()
            return loss
        return f
    for _ in range(2):
        opt.step(closure(a, opt))
    saved = opt.state[a]
    assert len(saved["old_dirs"]) > 0
    b = a.detach().double().requires_grad_()
    opt_b = pt.optim.LBFGS([b], history_size=3, max_iter=3)
    opt_b.load_state_dict(opt.state_dict())
    st = opt_b.state[b]
    for k in ("old_dirs", "old_stps"):
        assert type(st[k]) is list and all(t.dtype == pt.float64 for t in st[k])
        assert [t.tolist() for t in st[k]] == [t.tolist() for t in saved[k]]    # float32 -> float64 is exact
        assert all(t is not u for t, u in zip(st[k], saved[k]))
    assert st["ro"] == saved["ro"] and st["n_iter"] == saved["n_iter"]
    opt_b.step(closure(b, opt_b))
    # the least-squares solution of x @ w = y, which LBFGS has reached
    np.testing.assert_allclose(b.detach().numpy(), np.linalg.lstsq(x.numpy().astype(np.float64),
                                                                    y.numpy().astype(np.float64), rcond=None)[0],
                               rtol=1e-5, atol=1e-6)


def test_load_state_dict_mismatch_errors():
    a, b = pt.zeros(2, requires_grad=True), pt.zeros(2, requires_grad=True)
    sd = pt.optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        pt.optim.SGD([a], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        pt.optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(sd)


def test_repr_lists_groups():
    r = repr(pt.optim.SGD([pt.zeros(1, requires_grad=True)], lr=0.1))
    assert r.startswith("SGD (\nParameter Group 0\n") and "    lr: 0.1" in r


@pytest.mark.parametrize("cls,opts", [
    (pt.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    (pt.optim.Adam, dict(lr=0.1, amsgrad=True, weight_decay=0.1)), (pt.optim.AdamW, dict(lr=0.1)),
    (pt.optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True)), (pt.optim.Adagrad, dict(lr=0.1)),
])
def test_step_on_another_device_equals_cpu_and_stays_there(altcpu, cls, opts):
    results = []
    for dev in ("cpu", altcpu):
        p = pt.tensor([0.5, -1.0, 2.0], device=dev, requires_grad=True)
        opt = cls([p], **opts)
        for _ in range(4):
            opt.zero_grad()
            quadratic_grad(p, pt.tensor([1.0, 2.0, 3.0], device=dev))
            opt.step()
        assert p.device == pt.device(dev)
        assert all(s.device == pt.device(dev) for k, s in opt.state[p].items() if k != "step")
        results.append(p.detach().cpu().numpy())
    np.testing.assert_array_equal(results[0], results[1])


OTHER_DEVICES = [d for d in pt.backends.available() if d != "cpu"]


@pytest.mark.parametrize("device", OTHER_DEVICES)
@pytest.mark.parametrize("cls,opts", [
    (pt.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    (pt.optim.Adam, dict(lr=0.1, amsgrad=True, weight_decay=0.1)), (pt.optim.AdamW, dict(lr=0.1)),
    (pt.optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
    (pt.optim.Adagrad, dict(lr=0.1, lr_decay=0.01)),
], ids=lambda v: v.__name__ if isinstance(v, type) else None)
def test_step_on_every_available_backend_matches_cpu(device, cls, opts):
    """The conformance check for optimizers: a few steps on a backend equal the steps on cpu."""
    results = []
    for dev in ("cpu", device):
        p = pt.tensor([[0.5, -1.0, 2.0], [0.0, 3.0, -2.0]], device=dev, requires_grad=True)
        opt = cls([p], **opts)
        for _ in range(4):
            opt.zero_grad()
            quadratic_grad(p, pt.tensor([1.0, 2.0, 3.0], device=dev))
            opt.step()
        assert p.device.type == device if dev == device else True
        results.append(p.detach().cpu().numpy())
    np.testing.assert_allclose(results[1], results[0], rtol=1e-5, atol=1e-6)


def test_state_prints_as_a_defaultdict_and_copies_keep_plain_state_dicts():
    # opt.state printed OptimizerState(<class 'dict'>, {...}) where PyTorch's is a defaultdict
    # and prints so; state_dict()["state"] and its entries are plain dicts, copies included.
    # SGD lr 0.1 momentum 0.9 on sum(w * w), w = [1, 2]: the buffer is the gradient 2w = [2, 4]
    import copy
    w = pt.nn.Parameter(pt.tensor([1.0, 2.0]))
    opt = pt.optim.SGD([w], lr=0.1, momentum=0.9)
    assert repr(opt.state) == str(opt.state) == "defaultdict(<class 'dict'>, {})"
    (w * w).sum().backward()
    opt.step()
    buf = opt.state[w]["momentum_buffer"]
    assert repr(opt.state) == f"defaultdict(<class 'dict'>, {{{w!r}: {{'momentum_buffer': {buf!r}}}}})"
    assert repr(opt.state[w]) == f"{{'momentum_buffer': {buf!r}}}"
    np.testing.assert_array_equal(buf.numpy(), [2.0, 4.0])
    sd = opt.state_dict()
    for d in (sd, copy.copy(sd), copy.deepcopy(sd)):
        assert type(d["state"]) is dict and type(d["state"][0]) is dict
        np.testing.assert_array_equal(d["state"][0]["momentum_buffer"].numpy(), [2.0, 4.0])
    for o in (copy.copy(opt), copy.deepcopy(opt)):
        assert repr(o.state).startswith("defaultdict(<class 'dict'>, {")
        assert type(o.state_dict()["state"]) is dict
        np.testing.assert_array_equal(next(iter(o.state.values()))["momentum_buffer"].numpy(), [2.0, 4.0])
