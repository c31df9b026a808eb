"""NAdam, RAdam, Adamax, Adadelta, ASGD, Rprop, Adafactor, SparseAdam and LBFGS against NumPy
transcriptions of PyTorch's documented algorithms (optim_reference.py), their state dicts
(plugtorch's and PyTorch's layout), and their argument checks."""
import numpy as np
import pytest

from . import optim_reference as ref
from .test_algorithms import GRADS, THETA, assert_trajectory, combos, run_plugtorch
import plugtorch as pt

O = pt.optim


@pytest.mark.parametrize("opts", combos(weight_decay=[0.0, 0.1], decoupled_weight_decay=[False, True],
                                        maximize=[False, True]), ids=str)
def test_nadam_matches_reference(opts):
    kw = dict(lr=0.05, betas=(0.8, 0.95), momentum_decay=0.05, **opts)
    assert_trajectory(run_plugtorch(O.NAdam, **kw), ref.nadam(THETA, GRADS, **kw))


# betas (0.9, 0.5) cross rho_t = 5 at step 3: the plain steps, then the rectified ones
@pytest.mark.parametrize("opts", combos(betas=[(0.9, 0.5), (0.8, 0.999)], weight_decay=[0.0, 0.1],
                                        decoupled_weight_decay=[False, True], maximize=[False, True]), ids=str)
def test_radam_matches_reference(opts):
    assert_trajectory(run_plugtorch(O.RAdam, lr=0.05, **opts), ref.radam(THETA, GRADS, lr=0.05, **opts))


@pytest.mark.parametrize("opts", combos(weight_decay=[0.0, 0.1], maximize=[False, True]), ids=str)
def test_adamax_matches_reference(opts):
    kw = dict(lr=0.05, betas=(0.8, 0.9), **opts)
    assert_trajectory(run_plugtorch(O.Adamax, **kw), ref.adamax(THETA, GRADS, **kw))


@pytest.mark.parametrize("opts", combos(weight_decay=[0.0, 0.1], maximize=[False, True]), ids=str)
def test_adadelta_matches_reference(opts):
    kw = dict(lr=0.5, rho=0.8, eps=1e-4, **opts)
    assert_trajectory(run_plugtorch(O.Adadelta, **kw), ref.adadelta(THETA, GRADS, **kw))


@pytest.mark.parametrize("opts", combos(weight_decay=[0.0, 0.1], maximize=[False, True]), ids=str)
def test_asgd_matches_reference_and_averages_after_t0(opts):
    kw = dict(lr=0.05, lambd=0.1, alpha=0.6, t0=2, **opts)
    p = pt.tensor(THETA, requires_grad=True)
    opt = O.ASGD([p], **kw)
    want, want_avg = ref.asgd(THETA, GRADS, **kw)
    for g, w, a in zip(GRADS, want, want_avg):
        p.grad = pt.tensor(g)
        opt.step()
        np.testing.assert_allclose(p.detach().numpy(), w, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(opt.state[p]["ax"].numpy(), a, rtol=1e-10, atol=1e-12)
    assert not np.allclose(want_avg[-1], want[-1])   # the average really differs from the iterate


@pytest.mark.parametrize("opts", combos(maximize=[False, True], step_sizes=[(1e-6, 50), (0.02, 0.06)]), ids=str)
def test_rprop_matches_reference(opts):
    grads = [g.copy() for g in GRADS]
    grads[2][0, :2] = 0.0                      # sign(g * prev) == 0: the step size stays
    p = pt.tensor(THETA, requires_grad=True)
    opt = O.Rprop([p], lr=0.05, etas=(0.4, 1.5), **opts)
    want = ref.rprop(THETA, grads, lr=0.05, etas=(0.4, 1.5), **opts)
    for g, w in zip(grads, want):
        p.grad = pt.tensor(g)
        opt.step()
        np.testing.assert_allclose(p.detach().numpy(), w, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4), (5,), ()], ids=str)
@pytest.mark.parametrize("opts", [{}, dict(weight_decay=0.1, maximize=True, eps=(1e-3, 1e-2), d=1.5),
                                  dict(lr=0.5, beta2_decay=-0.5)], ids=str)
def test_adafactor_matches_reference(shape, opts):
    rng = np.random.default_rng(1)
    theta = rng.standard_normal(shape)
    grads = [rng.standard_normal(shape) for _ in range(5)]
    kw = {"lr": 0.1, **opts}
    p = pt.tensor(theta, requires_grad=True)
    opt = O.Adafactor([p], **kw)
    for g, w in zip(grads, ref.adafactor(theta, grads, **kw)):
        p.grad = pt.tensor(g)
        opt.step()
        np.testing.assert_allclose(p.detach().numpy(), w, rtol=1e-10, atol=1e-12)
    keys = {"row_var", "col_var"} if len(shape) > 1 else {"variance"}
    assert set(opt.state[p]) == {"step"} | keys


@pytest.mark.parametrize("maximize", [False, True])
def test_sparse_adam_moves_only_the_rows_a_gradient_touches(maximize):
    rng = np.random.default_rng(2)
    theta = rng.standard_normal((6, 3))
    grads = []
    for rows in ([0, 2], [2, 5], [1], [0, 2, 4]):
        g = np.zeros((6, 3))
        g[rows] = rng.standard_normal((len(rows), 3))
        grads.append(g)
    p = pt.tensor(theta, requires_grad=True)
    opt = O.SparseAdam([p], lr=0.1, betas=(0.8, 0.9), maximize=maximize)
    for g, w in zip(grads, ref.sparse_adam(theta, grads, lr=0.1, betas=(0.8, 0.9), maximize=maximize)):
        p.grad = pt.tensor(g)
        opt.step()
        np.testing.assert_allclose(p.detach().numpy(), w, rtol=1e-10, atol=1e-12)
    assert p.detach().numpy()[3].tolist() == theta[3].tolist()   # never looked up


def test_sparse_adam_with_a_sparse_embedding():
    pt.manual_seed(0)
    emb = pt.nn.Embedding(10, 4, sparse=True)
    before = emb.weight.detach().clone()
    opt = O.SparseAdam(emb.parameters(), lr=0.1)
    emb(pt.tensor([1, 3, 3])).sum().backward()
    opt.step()
    moved = (emb.weight.detach() != before).any(dim=1).tolist()
    assert moved == [i in (1, 3) for i in range(10)]


def rosenbrock(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_minimises_rosenbrock(line_search_fn):
    x = pt.tensor([-1.2, 1.0], dtype=pt.float64, requires_grad=True)   # the classic start, in 2-d
    opt = O.LBFGS([x], lr=1 if line_search_fn else 0.5, max_iter=200, history_size=10,
                  line_search_fn=line_search_fn, tolerance_grad=1e-12, tolerance_change=1e-15)

    def closure():
        opt.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        return loss
    for _ in range(5):
        opt.step(closure)
    np.testing.assert_allclose(x.detach().numpy(), np.ones(2), atol=1e-6)
    st = opt.state[x]
    assert st["n_iter"] <= 1000 and st["func_evals"] >= st["n_iter"]


def test_lbfgs_first_iterations_by_hand():
    # on a quadratic 0.5 x'Ax - b'x, the first iteration moves along -g with t = min(1, 1/|g|_1) * lr;
    # the second uses the curvature pair (H_diag = y's / y'y) from the first
    A = np.array([[3.0, 0.5], [0.5, 1.0]]); b = np.array([1.0, -2.0])
    x0 = np.array([0.3, 0.7])
    At, bt = pt.tensor(A), pt.tensor(b)
    x = pt.tensor(x0, requires_grad=True)
    opt = O.LBFGS([x], lr=0.8, max_iter=2, max_eval=10)

    def closure():
        opt.zero_grad()
        loss = 0.5 * (x @ (At @ x)) - bt @ x
        loss.backward()
        return loss
    opt.step(closure)
    g0 = A @ x0 - b
    x1 = x0 - min(1.0, 1 / np.abs(g0).sum()) * 0.8 * g0
    g1 = A @ x1 - b
    s, y = x1 - x0, g1 - g0
    rho = 1 / (y @ s)
    alpha = rho * (s @ -g1)
    q = -g1 - alpha * y
    r = (y @ s) / (y @ y) * q
    r = r + s * (alpha - rho * (y @ r))
    np.testing.assert_allclose(x.detach().numpy(), x1 + 0.8 * r, rtol=1e-12)


def test_lbfgs_refuses_groups_and_unknown_line_searches():
    a, b = pt.zeros(2, requires_grad=True), pt.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
        O.LBFGS([{"params": [a]}, {"params": [b]}])
    opt = O.LBFGS([a], line_search_fn="backtracking")
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(lambda: (a * a).sum())
    with pytest.raises(RuntimeError, match="requires a closure"):
        opt.step(None)


MAKERS = {
    "NAdam": lambda p: O.NAdam(p, lr=0.05, weight_decay=0.1),
    "RAdam": lambda p: O.RAdam(p, lr=0.05, betas=(0.9, 0.5)),
    "Adamax": lambda p: O.Adamax(p, lr=0.05),
    "Adadelta": lambda p: O.Adadelta(p, lr=0.5),
    "ASGD": lambda p: O.ASGD(p, lr=0.05, t0=2),
    "Rprop": lambda p: O.Rprop(p, lr=0.05),
    "Adafactor": lambda p: O.Adafactor(p, lr=0.05),
    "SparseAdam": lambda p: O.SparseAdam(p, lr=0.05),
}


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_state_dict_round_trip_continues_the_same_trajectory(name):
    make = MAKERS[name]
    p = pt.tensor(THETA, requires_grad=True)
    opt = make([p])
    for g in GRADS[:3]:
        p.grad = pt.tensor(g)
        opt.step()
    sd = opt.state_dict()
    q = p.detach().clone().requires_grad_()
    opt2 = make([q])
    opt2.load_state_dict(sd)
    assert set(opt2.state[q]) == set(opt.state[p])
    for g in GRADS[3:]:
        p.grad = pt.tensor(g)
        q.grad = pt.tensor(g)
        opt.step()
        opt2.step()
    assert pt.equal(p, q), name


def test_loading_a_torch_shaped_state_dict():
    # the layout torch.optim.NAdam / ASGD save: 0-d float32 'step', 'mu_product', 'eta', 'mu'
    p = pt.tensor(THETA, requires_grad=True)
    opt = O.NAdam([p], lr=0.05)
    f32 = lambda v: pt.tensor(v, dtype=pt.float32)   # noqa: E731
    sd = {"state": {0: {"step": f32(3.0), "mu_product": f32(0.7), "exp_avg": pt.zeros(3, 4, dtype=pt.float32),
                        "exp_avg_sq": pt.ones(3, 4, dtype=pt.float32)}},
          "param_groups": [{"lr": 0.05, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0, "momentum_decay": 0.004,
                            "maximize": False, "foreach": None, "capturable": False, "differentiable": False,
                            "decoupled_weight_decay": False, "params": [0]}]}
    opt.load_state_dict(sd)
    st = opt.state[p]
    assert st["exp_avg"].dtype is pt.float64 and st["step"].dtype is pt.float32 and st["step"].item() == 3.0
    p.grad = pt.tensor(GRADS[0])
    opt.step()
    assert st["step"].item() == 4.0
    mu4 = 0.9 * (1 - 0.5 * 0.96 ** (4 * 0.004))
    assert st["mu_product"].item() == pytest.approx(0.7 * mu4, rel=1e-6)

    # SparseAdam's PyTorch state counts steps with a Python int
    p = pt.tensor(THETA, requires_grad=True)
    opt = O.SparseAdam([p])
    opt.load_state_dict({"state": {0: {"step": 2, "exp_avg": pt.zeros(3, 4), "exp_avg_sq": pt.zeros(3, 4)}},
                         "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "maximize": False,
                                           "params": [0]}]})
    p.grad = pt.tensor(GRADS[0])
    opt.step()
    assert opt.state[p]["step"].item() == 3.0


@pytest.mark.parametrize("make, message", [
    (lambda p: O.NAdam(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: O.NAdam(p, momentum_decay=-0.1), "Invalid momentum_decay value: -0.1"),
    (lambda p: O.NAdam(p, betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
    (lambda p: O.RAdam(p, eps=-1), "Invalid epsilon value: -1"),
    (lambda p: O.RAdam(p, betas=(0.9, 1.5)), "Invalid beta parameter at index 1: 1.5"),
    (lambda p: O.Adamax(p, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda p: O.Adadelta(p, rho=1.5), "Invalid rho value: 1.5"),
    (lambda p: O.Adadelta(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: O.ASGD(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: O.ASGD(p, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda p: O.Rprop(p, etas=(1.5, 1.2)), "Invalid eta values: 1.5, 1.2"),
    (lambda p: O.Rprop(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: O.Adafactor(p, lr=-1), "Learning rate should be >= 0 but is: -1"),
    (lambda p: O.Adafactor(p, beta2_decay=0.5), "beta2_decay should be <= 0 but is: 0.5"),
    (lambda p: O.Adafactor(p, eps=(-1, 1e-3)), "epsilon1 should be >= 0 but is: -1"),
    (lambda p: O.Adafactor(p, d=0.5), "Clipping threshold d should be >= 1 but is: 0.5"),
    (lambda p: O.SparseAdam(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: O.LBFGS(p, lr=-1), "Invalid learning rate: -1"),
])
def test_bad_hyper_parameters_raise_value_error(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make([pt.zeros(2, requires_grad=True)])


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_float32_parameters_stay_float32_and_close_to_float64(name):
    def run(dtype):
        p = pt.tensor(THETA, dtype=dtype, requires_grad=True)
        opt = MAKERS[name]([p])
        for g in GRADS:
            p.grad = pt.tensor(g, dtype=dtype)
            opt.step()
        assert p.dtype is dtype and all(t.dtype in (dtype, pt.float32) for t in opt.state[p].values())
        return p.detach().numpy().astype(np.float64)
    np.testing.assert_allclose(run(pt.float32), run(pt.float64), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape, opts", [((3, 5), {}), ((6, 4), dict(nesterov=False, weight_decay=0.0)),
                                         ((4, 4), dict(adjust_lr_fn="match_rms_adamw", momentum=0.5))], ids=str)
def test_muon_matches_reference(shape, opts):
    rng = np.random.default_rng(3)
    theta = rng.standard_normal(shape)
    grads = [rng.standard_normal(shape) for _ in range(4)]
    p = pt.tensor(theta, dtype=pt.float32, requires_grad=True)
    opt = O.Muon([p], lr=0.02, **opts)
    for g, w in zip(grads, ref.muon(theta, grads, lr=0.02, **opts)):
        p.grad = pt.tensor(g, dtype=pt.float32)
        opt.step()
        # (float32 sums in another order could round a product to the other bfloat16 neighbour)
        np.testing.assert_allclose(p.detach().numpy(), w, atol=1e-6)


def test_muon_orthogonalises_and_refuses_other_shapes():
    from plugtorch.optim.muon import zeropower_via_newtonschulz
    g = pt.randn(4, 9)
    s = np.linalg.svd(zeropower_via_newtonschulz(g, (3.4445, -4.7750, 2.0315), 5, 1e-7).float().numpy(),
                      compute_uv=False)
    assert ((s > 0.5) & (s < 1.5)).all(), s
    with pytest.raises(ValueError, match=r"Muon only supports 2D parameters whereas we found a parameter with size"):
        O.Muon([pt.zeros(3, requires_grad=True)])
    with pytest.raises(ValueError, match="Adjust learning rate function cubic is not supported"):
        O.Muon([pt.zeros(3, 3, requires_grad=True)], adjust_lr_fn="cubic")
    with pytest.raises(ValueError, match="Learning rate should be >= 0 but is: -1"):
        O.Muon([pt.zeros(3, 3, requires_grad=True)], lr=-1)
