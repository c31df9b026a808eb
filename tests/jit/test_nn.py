"""Traced and compiled nn layers and training steps give eager's results, forward and backward."""
import pytest

import plugtorch as pt

nn = pt.nn


def _flat(r):
    if isinstance(r, pt.Tensor):
        return [r]
    if isinstance(r, (tuple, list)):
        return [x for y in r for x in _flat(y)]
    return []


LAYERS = {
    "linear": (lambda: nn.Linear(5, 3), lambda: (pt.randn(4, 5),)),
    "conv2d": (lambda: nn.Conv2d(2, 3, 3, padding=1), lambda: (pt.randn(2, 2, 5, 5),)),
    "batchnorm_train": (lambda: nn.BatchNorm2d(3), lambda: (pt.randn(4, 3, 2, 2),)),
    "batchnorm_eval": (lambda: nn.BatchNorm2d(3).eval(), lambda: (pt.randn(4, 3, 2, 2),)),
    "layernorm": (lambda: nn.LayerNorm(5), lambda: (pt.randn(4, 5),)),
    "embedding": (lambda: nn.Embedding(10, 4), lambda: (pt.randint(0, 10, (3, 5)),)),
    "rnn": (lambda: nn.RNN(4, 6, batch_first=True), lambda: (pt.randn(2, 3, 4),)),
    "lstm": (lambda: nn.LSTM(4, 6, num_layers=2), lambda: (pt.randn(3, 2, 4),)),
    "gru": (lambda: nn.GRU(4, 6), lambda: (pt.randn(3, 2, 4),)),
    "multihead_attention": (lambda: nn.MultiheadAttention(8, 2, batch_first=True),
                            lambda: (pt.randn(2, 3, 8), pt.randn(2, 3, 8), pt.randn(2, 3, 8))),
    "transformer_encoder_layer": (lambda: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True),
                                  lambda: (pt.randn(2, 3, 8),)),
    "dropout_eval": (lambda: nn.Dropout(0.5).eval(), lambda: (pt.randn(4, 5),)),
    "dropout_train": (lambda: nn.Dropout(0.5), lambda: (pt.randn(4, 5),)),
}


def _pair(name, dev):
    make, inputs = LAYERS[name]
    pt.manual_seed(1)
    a = make().to(dev)
    pt.manual_seed(1)
    b = make().to(dev)
    pt.manual_seed(2)
    args = tuple(x.to(dev) for x in inputs())
    return a, b, args


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_traced_layer_equals_eager_forward_and_backward(name, dev):
    eager, traced_src, args = _pair(name, dev)
    pt.manual_seed(7)
    tm = pt.jit.trace(traced_src, args, check_trace=False)
    pt.manual_seed(7)
    eager(*args)                       # the same number of forward calls on both (running stats)
    for _ in range(2):
        pt.manual_seed(5)
        e = _flat(eager(*args))
        pt.manual_seed(5)
        t = _flat(tm(*args))
        assert len(e) == len(t)
        for a, b in zip(e, t):
            assert a.dtype is b.dtype and a.shape == b.shape and pt.equal(a, b), name
        fl = [x for x in e if x.dtype.is_floating_point]
        if fl and any(p.requires_grad for p in eager.parameters()):
            sum((x * x).sum() for x in fl).backward()
            sum((x * x).sum() for x in t if x.dtype.is_floating_point).backward()
    for p, q in zip(eager.parameters(), traced_src.parameters()):
        assert (p.grad is None) == (q.grad is None)
        if p.grad is not None:
            assert pt.allclose(p.grad, q.grad, rtol=1e-5, atol=1e-6), name
    for a, b in zip(eager.buffers(), traced_src.buffers()):
        assert pt.equal(a, b), name
    with pt.no_grad():                 # the dispatch-free replay
        pt.manual_seed(5)
        e = _flat(eager(*args))
        pt.manual_seed(5)
        t = _flat(tm(*args))
    assert all(pt.equal(a, b) for a, b in zip(e, t)), name


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_compiled_layer_equals_eager(name, dev):
    eager, src, args = _pair(name, dev)
    c = pt.compile(src)
    for _ in range(3):
        pt.manual_seed(5)
        e = _flat(eager(*args))
        pt.manual_seed(5)
        t = _flat(c(*args))
        assert all(pt.equal(a, b) for a, b in zip(e, t)), name
    assert c._compiled.counters["graph_breaks"] == 0
    assert c._compiled.counters["graphs"] >= 1


OPTIMIZERS = {
    "sgd": lambda p: pt.optim.SGD(p, lr=0.1),
    "sgd_momentum": lambda p: pt.optim.SGD(p, lr=0.1, momentum=0.9),
    "sgd_nesterov": lambda p: pt.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda p: pt.optim.Adam(p, lr=1e-2),
    "adam_amsgrad": lambda p: pt.optim.Adam(p, lr=1e-2, amsgrad=True, weight_decay=1e-3),
    "adamw": lambda p: pt.optim.AdamW(p, lr=1e-2),
    "rmsprop": lambda p: pt.optim.RMSprop(p, lr=1e-2, momentum=0.5, centered=True),
    "adagrad": lambda p: pt.optim.Adagrad(p, lr=1e-1, lr_decay=1e-2),
    "nadam": lambda p: pt.optim.NAdam(p, lr=1e-2, weight_decay=1e-3),
    "nadam_decoupled": lambda p: pt.optim.NAdam(p, lr=1e-2, weight_decay=1e-2, decoupled_weight_decay=True),
    # betas[1] = 0.5 crosses rho_t = 5 at step 3: the switch to rectified steps is inside the graph
    "radam": lambda p: pt.optim.RAdam(p, lr=1e-2, betas=(0.9, 0.5), weight_decay=1e-3),
    "adamax": lambda p: pt.optim.Adamax(p, lr=1e-2, weight_decay=1e-3),
    "adadelta": lambda p: pt.optim.Adadelta(p, lr=1.0, weight_decay=1e-3),
    # t0 = 2: averaging starts mid-run, inside the graph
    "asgd": lambda p: pt.optim.ASGD(p, lr=1e-2, t0=2, weight_decay=1e-3),
    "rprop": lambda p: pt.optim.Rprop(p, lr=1e-2, maximize=False),
    "adafactor": lambda p: pt.optim.Adafactor(p, lr=1e-2, weight_decay=1e-3),
    "sparse_adam": lambda p: pt.optim.SparseAdam(p, lr=1e-2),
    "muon": lambda p: pt.optim.Muon([q for q in p if q.ndim == 2], lr=2e-2),   # (2-d weights only)
}


def _mlp(dev):
    pt.manual_seed(0)
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4)).to(dev)


def _eager_and_compiled(dev, make_opt, loss_fn, xs, ys, amp=False):
    """Train ``_mlp(dev)`` over the batches eagerly and with the step compiled; returns
    ``(eager losses, eager parameters), (compiled losses, compiled parameters, the compiled step)``."""
    results = []
    for compiled in (False, True):
        model = _mlp(dev)
        opt = make_opt(model.parameters())

        def step(x, y):
            opt.zero_grad()
            with pt.autocast("cpu", enabled=amp):
                loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            return loss.detach()
        f = pt.compile(step) if compiled else step
        losses = [f(x, y) for x, y in zip(xs, ys)]
        results.append((losses, [p.detach().clone() for p in model.parameters()], f))
    return results[0][:2], results[1]


@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
def test_compiled_training_step_equals_eager(opt_name, dev):
    pt.manual_seed(3)
    xs = [pt.randn(8, 16).to(dev) for _ in range(6)]
    ys = [pt.randint(0, 4, (8,)).to(dev) for _ in range(6)]
    (le, pe), (lc, pc, f) = _eager_and_compiled(dev, OPTIMIZERS[opt_name], nn.functional.cross_entropy, xs, ys)
    for a, b in zip(le, lc):
        assert pt.equal(a, b), (opt_name, f.counters, pt.compiler.stats()["reasons"], [float(x) for x in le], [float(x) for x in lc])
    for a, b in zip(pe, pc):
        assert pt.equal(a, b), opt_name
    assert f.counters["graph_breaks"] == 0 and f.counters["graphs"] == 1, (f.counters, pt.compiler.stats()["reasons"])
    assert pt.compiler.stats()["compiled_calls"] >= 3     # the step really ran as a graph


def test_compiled_lbfgs_step_breaks_the_graph_and_equals_eager(dev):
    # LBFGS's iterations and line search branch on loss and gradient values read to the host, and
    # it keeps its history (tensors the step computes) in Python state: no graph can stand for a
    # step, which runs eagerly inside the compiled function, with eager's results
    pt.manual_seed(3)
    x, y = pt.randn(8, 16).to(dev), pt.randint(0, 4, (8,)).to(dev)
    results = []
    for compiled in (False, True):
        model = _mlp(dev)
        opt = pt.optim.LBFGS(model.parameters(), lr=0.5, max_iter=4, history_size=3, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            return loss

        def step():
            return opt.step(closure).detach()
        f = pt.compile(step) if compiled else step
        losses = [f() for _ in range(3)]
        results.append((losses, [p.detach().clone() for p in model.parameters()], f))
    (le, pe, _), (lc, pc, f) = results
    for a, b in zip(le + pe, lc + pc):
        assert pt.equal(a, b)
    assert float(le[-1]) < float(le[0])
    assert f.counters["graphs"] == 0, f.counters
    assert any(r.startswith("eager: step: a tensor computed in the call is kept in Python state")
               for r in pt.compiler.stats()["reasons"])


# the losses autocast runs in float32 are composite ops: the graph holds their pieces
LOSSES = {
    "mse_loss": lambda out, y: nn.functional.mse_loss(out, y),
    "l1_loss": lambda out, y: nn.functional.l1_loss(out, y, reduction="sum"),
    "smooth_l1_loss": lambda out, y: nn.functional.smooth_l1_loss(out, y, beta=0.5),
    "huber_loss": lambda out, y: nn.functional.huber_loss(out, y, delta=0.5),
    "kl_div": lambda out, y: nn.functional.kl_div(out.log_softmax(1), y.softmax(1), reduction="batchmean"),
    "binary_cross_entropy": lambda out, y: nn.functional.binary_cross_entropy(out.sigmoid(), y.sigmoid()),
    "binary_cross_entropy_with_logits": lambda out, y: nn.functional.binary_cross_entropy_with_logits(
        out, y.sigmoid(), pos_weight=pt.full((4,), 2.0, device=out.device)),
    "cosine_embedding_loss": lambda out, y: nn.functional.cosine_embedding_loss(
        out, y, pt.tensor([1.0, -1.0] * 4, device=out.device)),
    "margin_ranking_loss": lambda out, y: nn.functional.margin_ranking_loss(out[:, 0], y[:, 0], y[:, 1].sign()),
    "cosine_similarity": lambda out, y: nn.functional.cosine_similarity(out, y).sum(),
    "soft_margin_loss": lambda out, y: nn.functional.soft_margin_loss(out, y.sign()),
    "hinge_embedding_loss": lambda out, y: nn.functional.hinge_embedding_loss(out, y.sign(), margin=0.5),
    "poisson_nll_loss": lambda out, y: nn.functional.poisson_nll_loss(out, y.abs().round(), full=True),
    "triplet_margin_loss": lambda out, y: nn.functional.triplet_margin_loss(out, y, y.flip(0), swap=True),
    "multi_margin_loss": lambda out, y: nn.functional.multi_margin_loss(out, y.argmax(1), p=2),
    "multilabel_margin_loss": lambda out, y: nn.functional.multilabel_margin_loss(out, pt.where(y > 0, y.argsort(1), -1)),
}


@pytest.mark.parametrize("amp", [False, True], ids=["float32", "autocast"])
@pytest.mark.parametrize("loss_name", sorted(LOSSES))
def test_compiled_training_step_with_a_loss_equals_eager(loss_name, amp):
    pt.manual_seed(4)
    xs = [pt.randn(8, 16) for _ in range(4)]
    ys = [pt.randn(8, 4) for _ in range(4)]
    sgd = lambda p: pt.optim.SGD(p, lr=0.1, momentum=0.9)   # noqa: E731
    (le, pe), (lc, pc, f) = _eager_and_compiled("cpu", sgd, LOSSES[loss_name], xs, ys, amp=amp)
    assert all(x.dtype is pt.float32 for x in le + lc)      # the CPU list: float32 losses of bfloat16 outputs
    for a, b in zip(le + pe, lc + pc):
        assert pt.equal(a, b), (loss_name, [float(x) for x in le], [float(x) for x in lc])
    assert f.counters["graph_breaks"] == 0 and f.counters["graphs"] == 1, (f.counters, pt.compiler.stats()["reasons"])
    if amp and loss_name != "cosine_similarity":
        text = str(next(iter(f._cache.values())).traced.graph)
        assert "_to_dtype(" in text and "plugtorch.float32" in text   # the loss's casts are in the graph
