"""A compiled training step's first trace yields its graph: the constants plugtorch caches
itself (nll_loss's class indices, the implicit gradient 1) are captured, not reported as
tensors the call left in Python state (which made every step with nll_loss trace twice).
Optimizer state made by the first step is a genuine reason to trace again and stays one."""
import pytest

import plugtorch as pt
from plugtorch import _caches

nn = pt.nn
F = nn.functional
N, C = 4, 5


def _cls():
    return pt.randint(0, C, (N,))


def _signs():
    return pt.randint(0, 2, (N, C)).float() * 2 - 1


# name -> (criterion, target maker, how the loss is called on the model's output y (N, C))
LOSSES = {
    "mse": (nn.MSELoss, lambda: pt.randn(N, C), None),
    "l1": (nn.L1Loss, lambda: pt.randn(N, C), None),
    "smooth_l1": (nn.SmoothL1Loss, lambda: pt.randn(N, C), None),
    "huber": (nn.HuberLoss, lambda: pt.randn(N, C), None),
    "nll": (nn.NLLLoss, _cls, lambda c, y, t: c(y.log_softmax(1), t)),
    "nll_weight": (lambda: nn.NLLLoss(weight=pt.arange(1.0, C + 1)), _cls, lambda c, y, t: c(y.log_softmax(1), t)),
    "nll_ignore": (lambda: nn.NLLLoss(ignore_index=1), _cls, lambda c, y, t: c(y.log_softmax(1), t)),
    "nll_sum": (lambda: nn.NLLLoss(reduction="sum"), _cls, lambda c, y, t: c(y.log_softmax(1), t)),
    "nll_2d": (nn.NLLLoss, lambda: pt.randint(0, C, (N, 2)),
               lambda c, y, t: c(y.unsqueeze(2).expand(N, C, 2).log_softmax(1), t)),
    "cross_entropy": (nn.CrossEntropyLoss, _cls, None),
    "cross_entropy_smooth": (lambda: nn.CrossEntropyLoss(label_smoothing=0.1), _cls, None),
    "cross_entropy_weight": (lambda: nn.CrossEntropyLoss(weight=pt.arange(1.0, C + 1)), _cls, None),
    "cross_entropy_probs": (nn.CrossEntropyLoss, lambda: pt.rand(N, C).softmax(1), None),
    "bce": (nn.BCELoss, lambda: pt.rand(N, C), lambda c, y, t: c(y.sigmoid(), t)),
    "bce_logits": (lambda: nn.BCEWithLogitsLoss(pos_weight=pt.arange(1.0, C + 1)), lambda: pt.rand(N, C), None),
    "kl_div": (lambda: nn.KLDivLoss(reduction="batchmean"), lambda: pt.rand(N, C).softmax(1),
               lambda c, y, t: c(y.log_softmax(1), t)),
    "soft_margin": (nn.SoftMarginLoss, _signs, None),
    "hinge_embedding": (nn.HingeEmbeddingLoss, _signs, None),
    "poisson_nll": (nn.PoissonNLLLoss, lambda: pt.rand(N, C) * 3, None),
    "multi_margin": (nn.MultiMarginLoss, _cls, None),
    "multilabel_soft_margin": (nn.MultiLabelSoftMarginLoss, lambda: pt.randint(0, 2, (N, C)).float(), None),
    "multilabel_margin": (nn.MultiLabelMarginLoss, lambda: pt.tensor([[1, 3, -1, 0, 0]] * N), None),
    "gaussian_nll": (nn.GaussianNLLLoss, lambda: pt.randn(N, C), lambda c, y, t: c(y, t, y.exp())),
    "cosine_embedding": (nn.CosineEmbeddingLoss, lambda: pt.tensor([1., -1., 1., -1.]),
                         lambda c, y, t: c(y, y.flip(0), t)),
    "margin_ranking": (nn.MarginRankingLoss, lambda: pt.tensor([1., -1., 1., -1.]),
                       lambda c, y, t: c(y[:, 0], y[:, 1], t)),
    "triplet_margin": (nn.TripletMarginLoss, lambda: None, lambda c, y, t: c(y, y.roll(1, 0), y.flip(0))),
    "ctc": (nn.CTCLoss, lambda: None, lambda c, y, t: c(y.reshape(N, 1, C).log_softmax(2), pt.tensor([[1, 2]], device=y.device),
                                                     pt.tensor([N], device=y.device),
                                                     pt.tensor([2], device=y.device))),
}

LAYERS = {
    "embedding": (lambda: nn.Embedding(10, 4, padding_idx=0), lambda: pt.randint(0, 10, (3, 5))),
    "layer_norm": (lambda: nn.LayerNorm(5), lambda: pt.randn(4, 5)),
    "batch_norm": (lambda: nn.BatchNorm2d(3), lambda: pt.randn(4, 3, 2, 2)),
    "dropout": (lambda: nn.Sequential(nn.Linear(5, 5), nn.Dropout(0.3)), lambda: pt.randn(4, 5)),
    "multihead_attention": (lambda: nn.MultiheadAttention(8, 2, batch_first=True), lambda: pt.randn(2, 3, 8)),
    "transformer": (lambda: nn.Transformer(8, 2, 1, 1, 16, dropout=0.1, batch_first=True), lambda: pt.randn(2, 3, 8)),
    "lstm": (lambda: nn.LSTM(4, 6, num_layers=2), lambda: pt.randn(3, 2, 4)),
    "gru": (lambda: nn.GRU(4, 6), lambda: pt.randn(3, 2, 4)),
}


def _run(setup, step, dev, steps=4):
    """(eager losses, compiled losses, compiler.stats() after the compiled step's second call),
    each run from fresh memos (a cache warmed by an earlier test would hide the first trace's)."""
    out = []
    for compiled in (False, True):
        _caches.invalidate()
        pt.compiler.reset()
        args, batches = setup(dev)
        fn = pt.compile(step) if compiled else step
        pt.manual_seed(9)
        losses, st = [], None
        for i, b in enumerate(batches):
            losses.append(fn(*args, *b).item())
            if i == 1:
                st = pt.compiler.stats()
        out.append(losses)
    return out[0], out[1], st


def _close(a, b):
    return all(abs(x - y) <= 1e-5 * (1 + abs(x)) for x, y in zip(a, b))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_training_step_with_loss_traces_once(name, dev):
    make, target, call = LOSSES[name]

    def setup(dev):
        pt.manual_seed(0)
        model, crit = nn.Linear(3, C).to(dev), make().to(dev)
        opt = pt.optim.SGD(model.parameters(), lr=0.1)
        pt.manual_seed(1)
        return (model, crit, opt), [(pt.randn(N, 3).to(dev), None if (t := target()) is None else t.to(dev))
                                    for _ in range(4)]

    def step(model, crit, opt, x, t):
        opt.zero_grad()
        y = model(x)
        loss = crit(y, t) if call is None else call(crit, y, t)
        loss.backward()
        opt.step()
        return loss

    eager, comp, st = _run(setup, step, dev)
    assert st["reasons"] == [] and st["graphs"] == 1 and st["traced_calls"] == 1, st
    assert _close(eager, comp), (eager, comp)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_training_step_with_layer_traces_once(name, dev):
    make, inputs = LAYERS[name]

    def setup(dev):
        pt.manual_seed(0)
        model = make().to(dev)
        opt = pt.optim.SGD(model.parameters(), lr=0.01)
        pt.manual_seed(1)
        return (model, opt), [(inputs().to(dev),) for _ in range(4)]

    def step(model, opt, x):
        opt.zero_grad()
        y = model(x, x, x)[0] if name == "multihead_attention" else model(x, x) if name == "transformer" \
            else model(x)
        y = y[0] if isinstance(y, tuple) else y
        loss = y.pow(2).mean()
        loss.backward()
        opt.step()
        return loss

    eager, comp, st = _run(setup, step, dev)
    assert st["reasons"] == [] and st["graphs"] == 1 and st["traced_calls"] == 1, st
    assert _close(eager, comp), (eager, comp)


OPTIMIZERS = ["SGD", "Adagrad", "Adam", "AdamW", "Adadelta", "Adamax", "ASGD", "NAdam", "RAdam", "RMSprop",
              "Rprop", "Adafactor", "Muon", "SparseAdam"]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_training_step_with_optimizer(name):
    """SGD and Adagrad (state made in __init__) trace once; the others make their state in the
    first step, which a replay would not: that step's trace is the one genuine retrace, and the
    second call's graph stands."""
    kw = {} if name == "Adafactor" else {"lr": 0.01}

    def setup(dev):
        pt.manual_seed(0)
        model = nn.Linear(3, 4, bias=name != "Muon")
        opt = getattr(pt.optim, name)(model.parameters(), **kw)
        pt.manual_seed(1)
        return (model, opt), [(pt.randn(N, 3),) for _ in range(4)]

    def step(model, opt, x):
        opt.zero_grad()
        loss = (model(x) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    eager, comp, st = _run(setup, step, "cpu")
    assert st["graphs"] == 1, st
    if name in ("SGD", "Adagrad"):
        assert st["reasons"] == [] and st["traced_calls"] == 1, st
    else:
        assert st["traced_calls"] == 2 and len(st["reasons"]) == 1 and "(made by full)" in st["reasons"][0], st
    assert _close(eager, comp), (eager, comp)
