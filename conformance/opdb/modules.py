"""``plugtorch.nn`` modules as conformance entries: the same module on the device computes what
it computes on cpu, forward and backward.

Each sample carries a ``Build`` (the module's class, constructor arguments, mode and dtype).
The entry's function builds the module on cpu from a fixed seed (parameters then nudged by
seeded noise, so a weight of ones or a bias of zeros can't hide a bug), moves it with
``module.to(device, dtype)`` (parameters and buffers alike), runs forward on the sample's
inputs and returns, in order:

    the forward outputs,
    the gradients of the parameters (``named_parameters`` order) for a fixed grad_output,
    the buffers after the call (``named_buffers`` order: BatchNorm's running statistics).

The runner compares all of them with cpu (a mismatch names which: "gradient of parameter
'weight_hh_l1'", "buffer 'running_var' after the call"), and the gradients of the inputs as for
any op; bad input (wrong channel count, an index out of range) must raise cpu's exception.
Randomness differs between backends, so dropout is checked in eval mode or with p=0.

Every public ``nn.Module`` subclass has an entry named ``nn.<ClassName>``, except the ones in
``NO_FORWARD`` (containers without a forward, abstract bases); tests/conformance checks it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import plugtorch as pt
from plugtorch import nn

from plugtorch import _dtypes
from plugtorch.testing import mismatch_report

from .. import tolerances
from ..entry import Entry, ErrorInput, Input, Sample

MODULE_DTYPES = (pt.float32, pt.float64)
INIT_SEED = 1234
NO_FORWARD = {"Module": "the base class", "RNNBase": "the base of RNN, LSTM and GRU (checked through them)",
              "RNNCellBase": "the base of RNNCell, LSTMCell and GRUCell (checked through them)",
              "ModuleList": "a container without forward", "ModuleDict": "a container without forward",
              "ParameterList": "a container without forward", "ParameterDict": "a container without forward",
              "Container": "the deprecated container without forward"}


@dataclass
class Build:
    """How to make the module: ``cls(*args, **kwargs)`` on cpu, then ``.train(mode == "train")``.

    NumPy arrays among the arguments become cpu tensors (a loss's ``weight``), Builds become
    modules (a TransformerEncoder's layer). ``warm``: one no-grad training-mode forward first,
    so running statistics are not their initial values when checked in eval mode.
    """

    cls: type
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    mode: str = "train"
    dtype: object = pt.float32
    warm: bool = False
    labels: list = field(default_factory=list)    # what each returned value is (set by run_module)

    def make(self):
        def conv(v):
            if isinstance(v, Build):
                return v.make()
            if isinstance(v, np.ndarray):
                return pt.tensor(v, dtype=self.dtype if v.dtype.kind == "f" else None)
            return v
        return self.cls(*[conv(a) for a in self.args], **{k: conv(v) for k, v in self.kwargs.items()})

    def __repr__(self):
        def fmt(v):
            return f"array{list(v.shape)}" if isinstance(v, np.ndarray) else repr(v)
        parts = [fmt(a) for a in self.args] + [f"{k}={fmt(v)}" for k, v in self.kwargs.items()]
        warm = ", warmed up" if self.warm else ""
        return f"{self.cls.__name__}({', '.join(parts)}) [{self.mode}{warm}, {self.dtype.name}]"


def _tensors(v):
    if isinstance(v, pt.Tensor):
        yield v
    elif isinstance(v, (list, tuple)):
        for x in v:
            yield from _tensors(x)


def _nudge(module):
    rng = np.random.default_rng(INIT_SEED)
    with pt.no_grad():
        for _, p in module.named_parameters():
            noise = pt.tensor(0.1 * rng.standard_normal(tuple(p.shape)), dtype=p.dtype)
            p.data = p.data + noise


def build_module(module: Build, device, *args, **forward_kwargs):
    """The module of a sample on ``device``, as ``run_module`` builds it (``args`` and
    ``forward_kwargs``: the sample's inputs, for the warm-up forward)."""
    pt.manual_seed(INIT_SEED)
    m = module.make()
    if getattr(m, "has_uninitialized_params", None) and m.has_uninitialized_params():
        # a lazy layer: its first call initialises the weights, on cpu from the seed as for the others
        # (a device draws other random numbers); the call on the device then runs the eager layer
        with pt.no_grad():
            m(*[a.detach().cpu().float() if isinstance(a, pt.Tensor) and a.dtype.is_floating_point else a
                for a in args])
    _nudge(m)
    m.to(device=device, dtype=module.dtype)
    if module.warm:
        m.train()
        with pt.no_grad():
            m(*args, **forward_kwargs)
    m.train(module.mode == "train")
    return m


def run_module(*args, module: Build, _instance=None, **forward_kwargs):
    """The entries' function: see the module docstring. ``_instance``: run this module (one
    ``build_module`` made, or its traced form: the jit mode) instead of building one."""
    m = _instance if _instance is not None else build_module(module, next(_tensors(args)).device, *args,
                                                             **forward_kwargs)
    out = m(*args, **forward_kwargs)
    outs = [o for o in _tensors(out) if o.requires_grad]
    params = [p for p in m.parameters() if p.requires_grad]
    grads = ()
    if outs and params:
        rng = np.random.default_rng(INIT_SEED)
        gos = [pt.tensor(rng.standard_normal(tuple(o.shape)), dtype=o.dtype, device=o.device) for o in outs]
        # the history is kept only for a backward through ``out`` to inputs requiring grad (the
        # runner's input gradients): kept for none (nn.Embedding's int indices), plugtorch.compile
        # of this call would be a graph break, as it must for a returned tensor whose kept history
        # a second backward could use
        keep = any(t.requires_grad for t in _tensors((args, tuple(forward_kwargs.values()))))
        grads = pt.autograd.grad(outs, params, gos, retain_graph=keep, allow_unused=True)
    buffers = tuple(b.detach() for _, b in m.named_buffers())
    n_out = len(_flat(out))
    module.labels = ([f"forward output {i}" for i in range(n_out)] if n_out > 1 else ["forward output"]) + \
        [f"gradient of parameter '{n}'" for n, p in m.named_parameters() if p.requires_grad and grads] + \
        [f"buffer '{n}' after the call" for n, _ in m.named_buffers()]
    return out, tuple(grads), buffers


def _flat(v):
    return [x for o in v for x in _flat(o)] if isinstance(v, (list, tuple)) else [v]


def compare(actual, expected, sample):
    """The runner's value check, naming what differs (a parameter's gradient, a running statistic)."""
    from ..compare import magnitude
    labels = sample.kwargs["module"].labels
    for i, (a, b) in enumerate(zip(actual, expected)):
        if not isinstance(b, np.ndarray):
            continue     # None gradients and Python values: the runner compares them
        dtype = _dtypes.from_numpy_dtype(b.dtype)
        entry = ENTRY_BY_CLASS[sample.kwargs["module"].cls]
        rtol, atol = tolerances.for_sample(entry, dtype, sample=sample, magnitude=magnitude(sample))
        report = mismatch_report(a, b, rtol, atol, equal_nan=True)
        if report is not None:
            with np.errstate(all="ignore"):
                err = np.nanmax(np.abs(a.astype(np.float64) - b.astype(np.float64))) if a.size else 0.0
            what = labels[i] if i < len(labels) else f"output {i}"
            return f"{what} (max error {err:.3g}): {report}"
    return None


# ---- samples ------------------------------------------------------------------------------
def _s(ctx, cls, inputs, *a, train=True, warm=False, n=None, name="", fwd=None, **kw):
    """A sample: ``inputs`` to forward, ``cls(*a, **kw)`` in training mode or not; ``n`` the longest sum
    (forward or a parameter's gradient over the batch) for the tolerance."""
    b = Build(cls, a, kw, "train" if train else "eval", ctx.dtype, warm)
    return Sample(*inputs, module=b, name=name, reduction_length=n, **(fwd or {}))


def _x(ctx, shape, layout="contiguous", **kw):
    return ctx.input(shape, layout=layout, **kw)


def _small(ctx, shape, layout="contiguous", **kw):
    return ctx.input(shape, layout=layout, low=-2.0, high=2.0, **kw)


def _ints(ctx, shape, n, values=None):
    v = ctx.rng.integers(0, n, size=shape) if values is None else ctx.rng.choice(values, size=shape)
    return Input(np.asarray(v, dtype=np.int64), pt.int64, requires_grad=False)


def _fixed(ctx, shape, low, high):
    return Input(ctx.values(shape, low=low, high=high), ctx.dtype, requires_grad=False)


def _flag(ctx, shape):
    return Input(ctx.rng.integers(0, 2, size=shape).astype(bool), pt.bool, requires_grad=False)


def _one(cls, *a, shape=(2, 3, 4), layout="contiguous", **kw):
    """Samples for a pointwise module: a contiguous and a strided input."""
    return lambda ctx: [_s(ctx, cls, [_x(ctx, shape)], *a, **kw),
                        _s(ctx, cls, [_x(ctx, (3, 5), "transposed")], *a, **kw)]


LAYERS = {
    nn.Identity: lambda ctx: [_s(ctx, nn.Identity, [_x(ctx, (2, 3), "transposed")])],
    nn.Linear: lambda ctx: [_s(ctx, nn.Linear, [_x(ctx, (5, 3))], 3, 4, n=5),
                            _s(ctx, nn.Linear, [_x(ctx, (2, 3, 4), "transposed")], 4, 2, bias=False, n=6)],
    nn.Bilinear: lambda ctx: [_s(ctx, nn.Bilinear, [_x(ctx, (4, 3)), _x(ctx, (4, 5), "stepped")], 3, 5, 2, n=15)],
    nn.Flatten: lambda ctx: [_s(ctx, nn.Flatten, [_x(ctx, (2, 3, 2, 2))]),
                             _s(ctx, nn.Flatten, [_x(ctx, (2, 3, 4), "transposed")], 0, 1)],
    nn.Unflatten: lambda ctx: [_s(ctx, nn.Unflatten, [_x(ctx, (2, 6))], 1, (2, 3))],
    nn.Conv1d: lambda ctx: [_s(ctx, nn.Conv1d, [_x(ctx, (2, 3, 8))], 3, 4, 3, padding=1, n=16),
                            _s(ctx, nn.Conv1d, [_x(ctx, (1, 4, 9), "stepped")], 4, 2, 3, stride=2, dilation=2,
                               groups=2, bias=False, padding="valid", n=6)],
    nn.Conv2d: lambda ctx: [_s(ctx, nn.Conv2d, [_x(ctx, (2, 3, 5, 5))], 3, 4, 3, padding="same", n=50),
                            _s(ctx, nn.Conv2d, [_x(ctx, (1, 4, 5, 7), "transposed")], 4, 2, 2, stride=2, groups=2,
                               n=12)],
    nn.ConvTranspose2d: lambda ctx: [_s(ctx, nn.ConvTranspose2d, [_x(ctx, (2, 3, 4, 4))], 3, 2, 3, stride=2,
                                        padding=1, output_padding=1, n=128)],
    nn.Unfold: lambda ctx: [_s(ctx, nn.Unfold, [_x(ctx, (2, 3, 4, 4))], 2, padding=1)],
    nn.Fold: lambda ctx: [_s(ctx, nn.Fold, [_x(ctx, (2, 12, 12))], (4, 5), 2, n=4)],
    nn.Upsample: lambda ctx: [_s(ctx, nn.Upsample, [_x(ctx, (1, 2, 3, 4))], scale_factor=2),
                              _s(ctx, nn.Upsample, [_x(ctx, (1, 2, 3, 4), "transposed")], size=(5, 7),
                                 mode="bilinear", align_corners=False, n=4)],
    nn.Embedding: lambda ctx: [_s(ctx, nn.Embedding, [_ints(ctx, (2, 5), 10)], 10, 3, n=10),
                               _s(ctx, nn.Embedding, [_ints(ctx, (7,), 6)], 6, 4, padding_idx=0, max_norm=1.0, n=7)],
    nn.Sequential: lambda ctx: [_s(ctx, nn.Sequential, [_x(ctx, (2, 3, 4, 4))],
                                   Build(nn.Conv2d, (3, 4, 3), dict(padding=1)), Build(nn.BatchNorm2d, (4,)),
                                   Build(nn.ReLU), Build(nn.MaxPool2d, (2,)), Build(nn.Flatten),
                                   Build(nn.Linear, (16, 3)), n=64)],
}

POOLING = {
    nn.MaxPool1d: lambda ctx: [_s(ctx, nn.MaxPool1d, [_x(ctx, (2, 3, 8), unique=True)], 2),
                               _s(ctx, nn.MaxPool1d, [_x(ctx, (1, 2, 9), "stepped", unique=True)], 3, 2, 1, dilation=2,
                                  return_indices=True, ceil_mode=True)],
    nn.MaxPool2d: lambda ctx: [_s(ctx, nn.MaxPool2d, [_x(ctx, (2, 3, 6, 6), unique=True)], 2),
                               _s(ctx, nn.MaxPool2d, [_x(ctx, (1, 2, 7, 5), "transposed", unique=True)], 3, 2, 1,
                                  return_indices=True)],
    nn.AvgPool1d: lambda ctx: [_s(ctx, nn.AvgPool1d, [_x(ctx, (2, 3, 8))], 2, n=2),
                               _s(ctx, nn.AvgPool1d, [_x(ctx, (1, 2, 7), "stepped")], 3, 2, 1, n=3)],
    nn.AvgPool2d: lambda ctx: [_s(ctx, nn.AvgPool2d, [_x(ctx, (2, 3, 6, 6))], 2, n=4),
                               _s(ctx, nn.AvgPool2d, [_x(ctx, (1, 2, 7, 5), "transposed")], 3, 2, 1, ceil_mode=True,
                                  count_include_pad=False, n=9)],
    nn.AdaptiveAvgPool1d: lambda ctx: [_s(ctx, nn.AdaptiveAvgPool1d, [_x(ctx, (2, 3, 7))], 3, n=3)],
    nn.AdaptiveAvgPool2d: lambda ctx: [_s(ctx, nn.AdaptiveAvgPool2d, [_x(ctx, (1, 2, 5, 7), "transposed")], (2, 3),
                                          n=12)],
    nn.AdaptiveMaxPool2d: lambda ctx: [_s(ctx, nn.AdaptiveMaxPool2d, [_x(ctx, (1, 2, 5, 7), unique=True)], (3, 4),
                                          return_indices=True)],
}

NORMALIZATION = {
    nn.BatchNorm1d: lambda ctx: [_s(ctx, nn.BatchNorm1d, [_x(ctx, (4, 3))], 3, n=4, name="train"),
                                 _s(ctx, nn.BatchNorm1d, [_x(ctx, (4, 3, 5), "stepped")], 3, momentum=None,
                                    train=False, warm=True, n=20, name="eval")],
    nn.BatchNorm2d: lambda ctx: [_s(ctx, nn.BatchNorm2d, [_x(ctx, (2, 3, 2, 3))], 3, n=12, name="train"),
                                 _s(ctx, nn.BatchNorm2d, [_x(ctx, (2, 3, 3, 2), "transposed")], 3, train=False,
                                    warm=True, n=12, name="eval")],
    nn.LayerNorm: lambda ctx: [_s(ctx, nn.LayerNorm, [_x(ctx, (2, 3, 4))], 4, n=6),
                               _s(ctx, nn.LayerNorm, [_x(ctx, (2, 3, 4), "transposed")], (3, 4),
                                  elementwise_affine=False, n=12)],
    nn.GroupNorm: lambda ctx: [_s(ctx, nn.GroupNorm, [_x(ctx, (2, 4, 3, 3))], 2, 4, n=18)],
    nn.InstanceNorm2d: lambda ctx: [_s(ctx, nn.InstanceNorm2d, [_x(ctx, (2, 3, 3, 3))], 3, n=9),
                                    _s(ctx, nn.InstanceNorm2d, [_x(ctx, (2, 3, 3, 3))], 3, affine=True,
                                       track_running_stats=True, n=18)],
}

DROPOUT = {
    nn.Dropout: lambda ctx: [_s(ctx, nn.Dropout, [_x(ctx, (3, 4))], 0.5, train=False),
                             _s(ctx, nn.Dropout, [_x(ctx, (3, 4), "transposed")], 0.0)],
    nn.Dropout2d: lambda ctx: [_s(ctx, nn.Dropout2d, [_x(ctx, (2, 3, 2, 2))], 0.5, train=False),
                               _s(ctx, nn.Dropout2d, [_x(ctx, (2, 3, 2, 2))], 0.0)],
    nn.AlphaDropout: lambda ctx: [_s(ctx, nn.AlphaDropout, [_x(ctx, (3, 4))], 0.5, train=False)],
}

ACTIVATIONS = {
    nn.ReLU: _one(nn.ReLU), nn.ReLU6: _one(nn.ReLU6), nn.LeakyReLU: _one(nn.LeakyReLU, 0.2),
    nn.PReLU: lambda ctx: [_s(ctx, nn.PReLU, [_x(ctx, (2, 3, 4))], 3, n=8),
                           _s(ctx, nn.PReLU, [_x(ctx, (3, 5), "transposed")], n=15)],
    nn.ELU: _one(nn.ELU, 0.7), nn.CELU: _one(nn.CELU, 1.5), nn.SELU: _one(nn.SELU),
    nn.GELU: lambda ctx: [_s(ctx, nn.GELU, [_x(ctx, (2, 3, 4))]),
                          _s(ctx, nn.GELU, [_x(ctx, (3, 5), "transposed")], approximate="tanh")],
    nn.GLU: lambda ctx: [_s(ctx, nn.GLU, [_x(ctx, (2, 4, 3))], 1)],
    nn.SiLU: _one(nn.SiLU), nn.Mish: _one(nn.Mish), nn.Softplus: _one(nn.Softplus, 2.0, 5.0),
    nn.Hardtanh: _one(nn.Hardtanh, -2.0, 3.0), nn.Hardswish: _one(nn.Hardswish), nn.Hardsigmoid: _one(nn.Hardsigmoid),
    nn.Tanh: _one(nn.Tanh), nn.Sigmoid: _one(nn.Sigmoid), nn.LogSigmoid: _one(nn.LogSigmoid),
    nn.Softsign: _one(nn.Softsign), nn.Tanhshrink: _one(nn.Tanhshrink), nn.Threshold: _one(nn.Threshold, 0.5, -1.0),
    nn.Softmax: _one(nn.Softmax, dim=1), nn.Softmin: _one(nn.Softmin, dim=-1),
    nn.LogSoftmax: _one(nn.LogSoftmax, dim=0),
}


def _rnn(cls):
    def samples(ctx):
        h = 4
        state = [_small(ctx, (4, 2, h))]
        if cls is nn.LSTM:
            state = [(state[0], _small(ctx, (4, 2, h)))]
        out = [_s(ctx, cls, [_small(ctx, (5, 2, 3))], 3, h, num_layers=2, bidirectional=True, n=20),
               _s(ctx, cls, [_small(ctx, (2, 5, 3), "transposed"), *state], 3, h, num_layers=2, bidirectional=True,
                  batch_first=True, n=20, name="batch_first, initial state")]
        if cls is nn.LSTM:   # the projected hidden state (h of size 2, c of size 4)
            out.append(_s(ctx, cls, [_small(ctx, (4, 2, 3)), (_small(ctx, (4, 2, 2)), _small(ctx, (4, 2, h)))], 3, h,
                          num_layers=2, bidirectional=True, proj_size=2, n=20, name="proj_size"))
        return out
    return samples


def _mha(ctx):
    e = 8
    return [_s(ctx, nn.MultiheadAttention, [_small(ctx, (2, 3, e)), _small(ctx, (2, 4, e)), _small(ctx, (2, 4, e))],
               e, 2, batch_first=True, n=16),
            _s(ctx, nn.MultiheadAttention, [_small(ctx, (4, 2, e))] * 3, e, 2, n=16, name="self, masks",
               fwd=dict(attn_mask=_causal(4), average_attn_weights=False)),
            _s(ctx, nn.MultiheadAttention, [_small(ctx, (3, 2, e)), _small(ctx, (4, 2, 5)), _small(ctx, (4, 2, 6))],
               e, 2, kdim=5, vdim=6, add_bias_kv=True, add_zero_attn=True, n=16, name="kdim, vdim, key padding",
               fwd=dict(key_padding_mask=Input(np.array([[0, 0, 1, 0], [0, 1, 1, 0]], bool), pt.bool,
                                               requires_grad=False)))]


def _causal(n):
    return Input(np.triu(np.ones((n, n), bool), 1), pt.bool, requires_grad=False)


def _encoder_layer(**kw):
    return Build(nn.TransformerEncoderLayer, (8, 2), dict(dim_feedforward=16, dropout=0.0, batch_first=True, **kw))


TRANSFORMER = {
    nn.RNN: _rnn(nn.RNN), nn.LSTM: _rnn(nn.LSTM), nn.GRU: _rnn(nn.GRU), nn.MultiheadAttention: _mha,
    nn.TransformerEncoderLayer: lambda ctx: [
        _s(ctx, nn.TransformerEncoderLayer, [_small(ctx, (2, 3, 8))], 8, 2, dim_feedforward=16, dropout=0.0,
           batch_first=True, n=16),
        _s(ctx, nn.TransformerEncoderLayer, [_small(ctx, (3, 2, 8))], 8, 2, dim_feedforward=16, norm_first=True,
           activation="gelu", train=False, n=16, name="norm_first, eval",
           fwd=dict(src_key_padding_mask=Input(np.array([[0, 0, 0], [0, 1, 0]], bool), pt.bool, requires_grad=False)))],
    nn.TransformerEncoder: lambda ctx: [
        _s(ctx, nn.TransformerEncoder, [_small(ctx, (2, 3, 8))], _encoder_layer(), 2, norm=Build(nn.LayerNorm, (8,)),
           n=16, fwd=dict(mask=_causal(3)))],
}


def _pair(cls, **kw):
    return lambda ctx: [_s(ctx, cls, [_x(ctx, (3, 4)), _x(ctx, (3, 4))], n=12, **kw),
                        _s(ctx, cls, [_x(ctx, (3, 4), "transposed"), _x(ctx, (3, 4))], reduction="sum", n=12),
                        _s(ctx, cls, [_x(ctx, (5,)), _x(ctx, (5,), "stepped")], reduction="none")]


def _ce(ctx):
    return [_s(ctx, nn.CrossEntropyLoss, [_x(ctx, (4, 5)), _ints(ctx, (4,), 5)], n=20),
            _s(ctx, nn.CrossEntropyLoss, [_x(ctx, (3, 5, 2), "transposed"), _ints(ctx, (3, 2), 5)],
               weight=ctx.values((5,), low=0.5, high=2.0), ignore_index=1, label_smoothing=0.1, n=30),
            _s(ctx, nn.CrossEntropyLoss, [_x(ctx, (4, 5)), _fixed(ctx, (4, 5), 0.0, 1.0)], reduction="sum",
               n=20, name="probabilities")]


LOSSES = {
    nn.MSELoss: _pair(nn.MSELoss), nn.L1Loss: _pair(nn.L1Loss), nn.SmoothL1Loss: _pair(nn.SmoothL1Loss, beta=2.0),
    nn.HuberLoss: _pair(nn.HuberLoss, delta=2.0),
    nn.CrossEntropyLoss: _ce,
    nn.NLLLoss: lambda ctx: [_s(ctx, nn.NLLLoss, [_x(ctx, (4, 5)), _ints(ctx, (4,), 5)], n=4),
                             _s(ctx, nn.NLLLoss, [_x(ctx, (6, 5), "stepped"), _ints(ctx, (6,), 5)],
                                weight=ctx.values((5,), low=0.5, high=2.0), reduction="sum", n=6)],
    nn.BCELoss: lambda ctx: [_s(ctx, nn.BCELoss, [_x(ctx, (3, 4), low=0.05, high=0.95),
                                                  _fixed(ctx, (3, 4), 0.0, 1.0)], n=12),
                             _s(ctx, nn.BCELoss, [_x(ctx, (4,), low=0.05, high=0.95), _fixed(ctx, (4,), 0.0, 1.0)],
                                weight=ctx.values((4,), low=0.5, high=2.0), reduction="none")],
    nn.BCEWithLogitsLoss: lambda ctx: [
        _s(ctx, nn.BCEWithLogitsLoss, [_x(ctx, (3, 4)), _fixed(ctx, (3, 4), 0.0, 1.0)], n=12),
        _s(ctx, nn.BCEWithLogitsLoss, [_x(ctx, (3, 4), "transposed"), _fixed(ctx, (3, 4), 0.0, 1.0)],
           pos_weight=ctx.values((4,), low=0.5, high=3.0), reduction="sum", n=12)],
    nn.KLDivLoss: lambda ctx: [
        _s(ctx, nn.KLDivLoss, [_x(ctx, (3, 4), high=-0.1), _fixed(ctx, (3, 4), 0.05, 1.0)], reduction="batchmean",
           n=12),
        _s(ctx, nn.KLDivLoss, [_x(ctx, (3, 4), "transposed", high=-0.1), _x(ctx, (3, 4), low=-3.0, high=0.0)],
           reduction="sum", log_target=True, n=12)],
    nn.CosineEmbeddingLoss: lambda ctx: [
        _s(ctx, nn.CosineEmbeddingLoss, [_x(ctx, (4, 5)), _x(ctx, (4, 5), "stepped"), _ints(ctx, (4,), 0, [1, -1])],
           margin=0.2, n=20)],
    nn.MarginRankingLoss: lambda ctx: [
        _s(ctx, nn.MarginRankingLoss, [_x(ctx, (6,)), _x(ctx, (6,)), _fixed(ctx, (6,), -1.0, 1.0)], margin=0.5, n=6)],
    nn.SoftMarginLoss: lambda ctx: [
        _s(ctx, nn.SoftMarginLoss, [_x(ctx, (3, 4), "transposed"), _ints(ctx, (3, 4), 0, [1, -1])], n=12)],
    nn.HingeEmbeddingLoss: lambda ctx: [
        _s(ctx, nn.HingeEmbeddingLoss, [_x(ctx, (3, 4)), _ints(ctx, (3, 4), 0, [1, -1])], margin=0.5, n=12)],
    nn.PoissonNLLLoss: lambda ctx: [
        _s(ctx, nn.PoissonNLLLoss, [_x(ctx, (3, 4), "stepped"), _fixed(ctx, (3, 4), 0.0, 5.0)], full=True, n=12),
        _s(ctx, nn.PoissonNLLLoss, [_x(ctx, (3, 4), low=0.1, high=3.0), _fixed(ctx, (3, 4), 0.0, 5.0)],
           log_input=False, reduction="sum", n=12)],
    nn.MultiMarginLoss: lambda ctx: [
        _s(ctx, nn.MultiMarginLoss, [_x(ctx, (4, 5), "transposed"), _ints(ctx, (4,), 5)], p=2, margin=0.5, n=5),
        _s(ctx, nn.MultiMarginLoss, [_x(ctx, (4, 5)), _ints(ctx, (4,), 5)], weight=ctx.values((5,), low=0.5, high=2.0),
           reduction="none", n=5)],
    nn.MultiLabelMarginLoss: lambda ctx: [
        _s(ctx, nn.MultiLabelMarginLoss, [_x(ctx, (2, 4)), Input(np.array([[3, 0, -1, 1], [1, 2, 3, 0]]), pt.int64,
                                                                 requires_grad=False)], n=16)],
    nn.TripletMarginLoss: lambda ctx: [
        _s(ctx, nn.TripletMarginLoss, [_x(ctx, (4, 5)), _x(ctx, (4, 5), "transposed"), _x(ctx, (4, 5))],
           margin=2.0, swap=True, n=5)],
}

def _pad_samples(cls, value=None):
    """A batched sample with uneven (and, for constant padding, negative) sides, an unbatched one."""
    nd, extra = cls._nd, () if value is None else (value,)
    sides = (2, 1, 0, 2, 1, 0) if value is None else (2, -1, 0, 2, 1, 0)
    return lambda ctx: [_s(ctx, cls, [_x(ctx, (2, 3, 4, 3, 4)[:2 + nd])], sides[:2 * nd], *extra),
                        _s(ctx, cls, [_x(ctx, (3, 4, 3, 4)[:1 + nd], "transposed")], 1, *extra)]


PADDING = {
    **{cls: _pad_samples(cls) for cls in (nn.ReflectionPad1d, nn.ReflectionPad2d, nn.ReflectionPad3d,
                                          nn.ReplicationPad1d, nn.ReplicationPad2d, nn.ReplicationPad3d,
                                          nn.CircularPad1d, nn.CircularPad2d, nn.CircularPad3d,
                                          nn.ZeroPad1d, nn.ZeroPad2d, nn.ZeroPad3d)},
    **{cls: _pad_samples(cls, 1.5) for cls in (nn.ConstantPad1d, nn.ConstantPad2d, nn.ConstantPad3d)},
}

CONV_3D = {
    nn.Conv3d: lambda ctx: [_s(ctx, nn.Conv3d, [_x(ctx, (2, 2, 3, 4, 4))], 2, 3, 2, padding="same", n=32),
                            _s(ctx, nn.Conv3d, [_x(ctx, (1, 4, 4, 3, 5), "transposed")], 4, 2, (2, 1, 3), stride=2,
                               padding=1, groups=2, padding_mode="reflect", n=12)],
    nn.ConvTranspose1d: lambda ctx: [_s(ctx, nn.ConvTranspose1d, [_x(ctx, (2, 4, 5))], 4, 2, 3, stride=2, padding=1,
                                        output_padding=1, groups=2, n=10)],
    nn.ConvTranspose3d: lambda ctx: [_s(ctx, nn.ConvTranspose3d, [_x(ctx, (1, 2, 2, 3, 2), "stepped")], 2, 4, 2,
                                        stride=(2, 1, 1), padding=(1, 0, 0), output_padding=(1, 0, 0), n=24)],
}


def _unpool_sample(ctx, cls, nd):
    """Values of shape (1, 2, *spatial) with distinct indices into each channel's output of kernel 2."""
    shape = (1, 2) + (2, 3, 2)[:nd]
    m = int(np.prod(shape[2:]))
    volume = int(np.prod([(v - 1) * 2 + 2 for v in shape[2:]]))
    idx = np.broadcast_to((np.arange(m) * (volume // m)).reshape(shape[2:]), shape).copy()
    return _s(ctx, cls, [_x(ctx, shape), Input(idx, pt.int64, requires_grad=False)], 2)


POOLING_3D = {
    nn.MaxPool3d: lambda ctx: [_s(ctx, nn.MaxPool3d, [_x(ctx, (1, 2, 4, 4, 5), unique=True)], 2),
                               _s(ctx, nn.MaxPool3d, [_x(ctx, (1, 2, 5, 4, 5), "transposed", unique=True)], (3, 2, 3),
                                  (2, 1, 2), 1, return_indices=True, ceil_mode=True)],
    nn.AvgPool3d: lambda ctx: [_s(ctx, nn.AvgPool3d, [_x(ctx, (1, 2, 4, 4, 4))], 2, n=8),
                               _s(ctx, nn.AvgPool3d, [_x(ctx, (1, 2, 5, 4, 5), "stepped")], 3, 2, 1, ceil_mode=True,
                                  count_include_pad=False, n=27)],
    nn.AdaptiveAvgPool3d: lambda ctx: [_s(ctx, nn.AdaptiveAvgPool3d, [_x(ctx, (1, 2, 5, 4, 7))], (2, None, 3), n=10)],
    nn.AdaptiveMaxPool1d: lambda ctx: [_s(ctx, nn.AdaptiveMaxPool1d, [_x(ctx, (2, 3, 7), unique=True)], 3,
                                          return_indices=True)],
    nn.AdaptiveMaxPool3d: lambda ctx: [_s(ctx, nn.AdaptiveMaxPool3d, [_x(ctx, (1, 2, 5, 4, 7), unique=True)], (2, 3, 3),
                                          return_indices=True)],
    nn.MaxUnpool1d: lambda ctx: [_unpool_sample(ctx, nn.MaxUnpool1d, 1)],
    nn.MaxUnpool2d: lambda ctx: [_unpool_sample(ctx, nn.MaxUnpool2d, 2)],
    nn.MaxUnpool3d: lambda ctx: [_unpool_sample(ctx, nn.MaxUnpool3d, 3)],
    nn.LPPool1d: lambda ctx: [_s(ctx, nn.LPPool1d, [_x(ctx, (2, 3, 8), low=0.5, high=2.0)], 2, 3, 2, n=3)],
    nn.LPPool2d: lambda ctx: [_s(ctx, nn.LPPool2d, [_x(ctx, (1, 2, 5, 6), "transposed", low=0.5, high=2.0)], 1.5,
                                 (2, 3), n=6)],
    nn.LPPool3d: lambda ctx: [_s(ctx, nn.LPPool3d, [_x(ctx, (1, 2, 4, 4, 4), low=0.5, high=2.0)], 3, 2, n=8)],
    nn.FractionalMaxPool2d: lambda ctx: [_s(ctx, nn.FractionalMaxPool2d, [_x(ctx, (2, 2, 7, 9), unique=True)], (2, 3),
                                            output_size=(4, 5), return_indices=True,
                                            _random_samples=np.array([[[0.1, 0.7], [0.5, 0.2]],
                                                                      [[0.9, 0.3], [0.0, 0.6]]]))],
    nn.FractionalMaxPool3d: lambda ctx: [_s(ctx, nn.FractionalMaxPool3d, [_x(ctx, (1, 2, 5, 6, 5), unique=True)], 2,
                                            output_size=(3, 4, 3),
                                            _random_samples=np.array([[[0.2, 0.5, 0.8], [0.6, 0.1, 0.4]]]))],
}


RESAMPLING = {
    nn.PixelShuffle: lambda ctx: [_s(ctx, nn.PixelShuffle, [_x(ctx, (2, 8, 2, 3))], 2),
                                  _s(ctx, nn.PixelShuffle, [_x(ctx, (9, 2, 2), "transposed")], 3)],
    nn.PixelUnshuffle: lambda ctx: [_s(ctx, nn.PixelUnshuffle, [_x(ctx, (2, 2, 4, 6))], 2)],
    nn.ChannelShuffle: lambda ctx: [_s(ctx, nn.ChannelShuffle, [_x(ctx, (2, 6, 3), "stepped")], 3)],
    nn.UpsamplingNearest2d: lambda ctx: [_s(ctx, nn.UpsamplingNearest2d, [_x(ctx, (1, 2, 3, 4))], scale_factor=2)],
    nn.UpsamplingBilinear2d: lambda ctx: [_s(ctx, nn.UpsamplingBilinear2d, [_x(ctx, (1, 2, 3, 4), "transposed")],
                                             size=(5, 7), n=4)],
}


NORM_ACT_EXTRAS = {
    nn.BatchNorm3d: lambda ctx: [_s(ctx, nn.BatchNorm3d, [_x(ctx, (2, 3, 2, 2, 3))], 3, n=24, name="train"),
                                 _s(ctx, nn.BatchNorm3d, [_x(ctx, (2, 3, 2, 3, 2), "transposed")], 3, train=False,
                                    warm=True, n=24, name="eval")],
    nn.InstanceNorm1d: lambda ctx: [_s(ctx, nn.InstanceNorm1d, [_x(ctx, (2, 3, 5))], 3, affine=True, n=10)],
    nn.InstanceNorm3d: lambda ctx: [_s(ctx, nn.InstanceNorm3d, [_x(ctx, (2, 3, 2, 2, 3), "transposed")], 3,
                                       affine=True, track_running_stats=True, n=24)],
    nn.SyncBatchNorm: lambda ctx: [_s(ctx, nn.SyncBatchNorm, [_x(ctx, (2, 3, 2, 3))], 3, n=12, name="train"),
                                   _s(ctx, nn.SyncBatchNorm, [_x(ctx, (4, 3), "transposed")], 3, train=False, warm=True,
                                      n=4, name="eval")],
    nn.DataParallel: lambda ctx: [_s(ctx, nn.DataParallel, [_x(ctx, (5, 3))], Build(nn.Linear, (3, 4)), n=3)],
    nn.CrossMapLRN2d: lambda ctx: [_s(ctx, nn.CrossMapLRN2d, [_x(ctx, (2, 5, 2, 3))], 3, 0.5, 0.75, 1.0, n=4)],
    nn.LocalResponseNorm: lambda ctx: [_s(ctx, nn.LocalResponseNorm, [_x(ctx, (2, 5, 3))], 3, 0.5, 0.75, 1.0, n=3),
                                       _s(ctx, nn.LocalResponseNorm, [_x(ctx, (1, 4, 2, 2, 2), "transposed")], 2,
                                          n=2)],
    nn.Hardshrink: _one(nn.Hardshrink, 0.7), nn.Softshrink: _one(nn.Softshrink, 0.6),
    nn.RReLU: lambda ctx: [_s(ctx, nn.RReLU, [_x(ctx, (2, 3, 4))], 0.1, 0.3, train=False)],
    nn.Softmax2d: lambda ctx: [_s(ctx, nn.Softmax2d, [_x(ctx, (2, 3, 2, 2))]),
                               _s(ctx, nn.Softmax2d, [_x(ctx, (3, 2, 4), "transposed")])],
    nn.Dropout1d: lambda ctx: [_s(ctx, nn.Dropout1d, [_x(ctx, (2, 3, 4))], 0.5, train=False),
                               _s(ctx, nn.Dropout1d, [_x(ctx, (3, 4))], 0.0)],
    nn.Dropout3d: lambda ctx: [_s(ctx, nn.Dropout3d, [_x(ctx, (2, 3, 2, 2, 2))], 0.5, train=False)],
    nn.FeatureAlphaDropout: lambda ctx: [_s(ctx, nn.FeatureAlphaDropout, [_x(ctx, (2, 3, 4))], 0.5, train=False)],
}


LAZY = {
    nn.LazyLinear: lambda ctx: [_s(ctx, nn.LazyLinear, [_x(ctx, (4, 3))], 2, n=3)],
    nn.LazyConv1d: lambda ctx: [_s(ctx, nn.LazyConv1d, [_x(ctx, (2, 3, 6))], 4, 3, n=9)],
    nn.LazyConv2d: lambda ctx: [_s(ctx, nn.LazyConv2d, [_x(ctx, (1, 2, 4, 4), "transposed")], 2, 3, padding=1,
                                   n=18)],
    nn.LazyConv3d: lambda ctx: [_s(ctx, nn.LazyConv3d, [_x(ctx, (1, 2, 3, 3, 3))], 2, 2, n=16)],
    nn.LazyConvTranspose1d: lambda ctx: [_s(ctx, nn.LazyConvTranspose1d, [_x(ctx, (2, 2, 4))], 3, 3, stride=2,
                                            n=8)],
    nn.LazyConvTranspose2d: lambda ctx: [_s(ctx, nn.LazyConvTranspose2d, [_x(ctx, (1, 2, 3, 3))], 2, 2, n=9)],
    nn.LazyConvTranspose3d: lambda ctx: [_s(ctx, nn.LazyConvTranspose3d, [_x(ctx, (1, 2, 2, 2, 2))], 2, 2, n=8)],
    nn.LazyBatchNorm1d: lambda ctx: [_s(ctx, nn.LazyBatchNorm1d, [_x(ctx, (4, 3))], n=4)],
    nn.LazyBatchNorm2d: lambda ctx: [_s(ctx, nn.LazyBatchNorm2d, [_x(ctx, (2, 3, 2, 3))], n=12)],
    nn.LazyBatchNorm3d: lambda ctx: [_s(ctx, nn.LazyBatchNorm3d, [_x(ctx, (2, 3, 2, 2, 2), "transposed")], n=16)],
    nn.LazyInstanceNorm1d: lambda ctx: [_s(ctx, nn.LazyInstanceNorm1d, [_x(ctx, (2, 3, 5))], affine=True, n=5)],
    nn.LazyInstanceNorm2d: lambda ctx: [_s(ctx, nn.LazyInstanceNorm2d, [_x(ctx, (2, 3, 3, 3))], affine=True,
                                           track_running_stats=True, n=9)],
    nn.LazyInstanceNorm3d: lambda ctx: [_s(ctx, nn.LazyInstanceNorm3d, [_x(ctx, (1, 2, 2, 2, 3))], affine=True,
                                           n=12)],
}


def _err(cls, shapes, *a, error=RuntimeError, match=None, ints=None, **kw):
    """An ErrorInput: ``cls(*a, **kw)`` applied to inputs of ``shapes`` (``ints``: int64 values) raises ``error``."""
    def make(ctx):
        inputs = [_x(ctx, sh) for sh in shapes] + [Input(np.array(v, np.int64), pt.int64, requires_grad=False)
                                                    for v in ints or ()]
        return [ErrorInput(_s(ctx, cls, inputs, *a, **kw), error, match)]
    return make


def _decoder_layer(**kw):
    return Build(nn.TransformerDecoderLayer, (8, 2), dict(dim_feedforward=16, dropout=0.0, batch_first=True, **kw))


def _lengths(v):
    return Input(np.asarray(v, np.int64), pt.int64, requires_grad=False)


# the sequence and attention side added with the cells and the decoder (few samples each)
SEQUENCE = {
    nn.RNNCell: lambda ctx: [_s(ctx, nn.RNNCell, [_small(ctx, (3, 4)), _small(ctx, (3, 5))], 4, 5, n=9),
                             _s(ctx, nn.RNNCell, [_small(ctx, (4,))], 4, 5, nonlinearity="relu", bias=False,
                                name="unbatched, relu")],
    nn.LSTMCell: lambda ctx: [_s(ctx, nn.LSTMCell, [_small(ctx, (3, 4)), (_small(ctx, (3, 5)), _small(ctx, (3, 5)))],
                                 4, 5, n=9)],
    nn.GRUCell: lambda ctx: [_s(ctx, nn.GRUCell, [_small(ctx, (3, 4), "transposed"), _small(ctx, (3, 5))], 4, 5,
                                n=9)],
    nn.TransformerDecoderLayer: lambda ctx: [
        _s(ctx, nn.TransformerDecoderLayer, [_small(ctx, (2, 3, 8)), _small(ctx, (2, 4, 8))], 8, 2,
           dim_feedforward=16, dropout=0.0, batch_first=True, n=16, fwd=dict(tgt_mask=_causal(3))),
        _s(ctx, nn.TransformerDecoderLayer, [_small(ctx, (3, 2, 8)), _small(ctx, (4, 2, 8))], 8, 2,
           dim_feedforward=16, norm_first=True, activation="gelu", train=False, n=16, name="norm_first, eval",
           fwd=dict(memory_key_padding_mask=Input(np.array([[0, 0, 1, 0], [0, 1, 1, 0]], bool), pt.bool,
                                                  requires_grad=False)))],
    nn.TransformerDecoder: lambda ctx: [
        _s(ctx, nn.TransformerDecoder, [_small(ctx, (2, 3, 8)), _small(ctx, (2, 4, 8))], _decoder_layer(), 2,
           norm=Build(nn.LayerNorm, (8,)), n=16, fwd=dict(tgt_is_causal=True))],
    nn.Transformer: lambda ctx: [
        _s(ctx, nn.Transformer, [_small(ctx, (2, 4, 8)), _small(ctx, (2, 3, 8))], 8, 2, 1, 1, 16, dropout=0.0,
           batch_first=True, n=16, fwd=dict(tgt_mask=_causal(3)))],
    nn.RMSNorm: lambda ctx: [_s(ctx, nn.RMSNorm, [_x(ctx, (2, 3, 4))], 4, n=4),
                             _s(ctx, nn.RMSNorm, [_x(ctx, (2, 3, 4), "transposed")], (3, 4), eps=1e-3,
                                elementwise_affine=False, n=12)],
    nn.EmbeddingBag: lambda ctx: [
        _s(ctx, nn.EmbeddingBag, [_ints(ctx, (7,), 10), _lengths([0, 2, 2, 5])], 10, 3, mode="max", padding_idx=0,
           n=7),
        _s(ctx, nn.EmbeddingBag, [_ints(ctx, (2, 4), 10)], 10, 3, mode="sum", n=8, name="2-D bags")],
    nn.PairwiseDistance: lambda ctx: [_s(ctx, nn.PairwiseDistance, [_x(ctx, (3, 4)), _x(ctx, (3, 4), "stepped")],
                                         p=1.0, n=4)],
    nn.CosineSimilarity: lambda ctx: [_s(ctx, nn.CosineSimilarity, [_x(ctx, (3, 4)), _x(ctx, (3, 4), "transposed")],
                                         n=4)],
    nn.GaussianNLLLoss: lambda ctx: [
        _s(ctx, nn.GaussianNLLLoss, [_x(ctx, (3, 4)), _x(ctx, (3, 4)), _x(ctx, (3,), low=0.2, high=2.0)], full=True,
           n=12)],
    nn.MultiLabelSoftMarginLoss: lambda ctx: [
        _s(ctx, nn.MultiLabelSoftMarginLoss, [_x(ctx, (3, 4)), _fixed(ctx, (3, 4), 0.0, 1.0)],
           weight=ctx.values((4,), low=0.5, high=2.0), n=12)],
    nn.TripletMarginWithDistanceLoss: lambda ctx: [
        _s(ctx, nn.TripletMarginWithDistanceLoss, [_x(ctx, (4, 5)), _x(ctx, (4, 5), "transposed"), _x(ctx, (4, 5))],
           margin=2.0, swap=True, n=5)],
    nn.CTCLoss: lambda ctx: [
        _s(ctx, nn.CTCLoss, [_x(ctx, (5, 2, 4), low=-3.0, high=-0.1), _lengths([[1, 2], [3, 3]]), _lengths([5, 4]),
                             _lengths([2, 2])], n=10)],
    # head of 4 words + 2 clusters, tails of 4 and 2 words (the targets fall in all three)
    nn.AdaptiveLogSoftmaxWithLoss: lambda ctx: [
        _s(ctx, nn.AdaptiveLogSoftmaxWithLoss, [_x(ctx, (6, 8)), _ints(ctx, (6,), 10, [0, 3, 4, 7, 8, 9])], 8, 10,
           [4, 8], div_value=2.0, n=8)],
    nn.NLLLoss2d: lambda ctx: [_s(ctx, nn.NLLLoss2d, [_x(ctx, (2, 3, 2, 2)), _ints(ctx, (2, 2, 2), 3)], n=8)],
}

ERRORS = {
    nn.Linear: _err(nn.Linear, [(2, 5)], 3, 4, match="expected input with 3 features"),
    nn.Conv2d: _err(nn.Conv2d, [(1, 4, 5, 5)], 3, 4, 3, match="expected input with 3 channels, got 4"),
    nn.Conv1d: _err(nn.Conv1d, [(1, 3, 2)], 3, 4, 3, match="too small"),
    nn.MaxPool2d: _err(nn.MaxPool2d, [(1, 1, 3, 3)], 4, match="too small"),
    nn.BatchNorm1d: _err(nn.BatchNorm1d, [(4, 2)], 3, match="expected input with 3 channels, got 2"),
    nn.BatchNorm2d: _err(nn.BatchNorm2d, [(1, 3, 1, 1)], 3, error=ValueError, match="more than 1 value per channel"),
    nn.LayerNorm: _err(nn.LayerNorm, [(2, 3)], 4, match="normalized_shape"),
    nn.GroupNorm: _err(nn.GroupNorm, [(2, 3, 5)], 2, 4, match="divisible by num_groups"),
    nn.Unflatten: _err(nn.Unflatten, [(2, 6)], 1, (2, 4), match="invalid for input of size 6"),
    nn.LSTM: _err(nn.LSTM, [(5, 2, 4)], 3, 4, match="Expected 3, got 4"),
    nn.MultiheadAttention: _err(nn.MultiheadAttention, [(3, 2, 6)] * 3, 8, 2, error=AssertionError,
                                match="embedding dimension of 8"),
    nn.Embedding: _err(nn.Embedding, [], 5, 3, ints=[[1, 5]], error=IndexError, match="index out of range"),
    nn.CrossEntropyLoss: _err(nn.CrossEntropyLoss, [(2, 3)], ints=[[0, 3]], error=IndexError, match="out of bounds"),
    nn.NLLLoss: _err(nn.NLLLoss, [(2, 3)], ints=[[0, -1]], error=IndexError, match="out of bounds"),
}

SAMPLES = {**LAYERS, **POOLING, **NORMALIZATION, **DROPOUT, **ACTIVATIONS, **TRANSFORMER, **LOSSES, **PADDING,
           **CONV_3D, **POOLING_3D,
           **RESAMPLING, **NORM_ACT_EXTRAS, **LAZY,
           **SEQUENCE}

ENTRY_BY_CLASS = {cls: Entry(f"nn.{cls.__name__}", samples=samples, fn=run_module, dtypes=MODULE_DTYPES,
                             differentiable=True, inplace=False, compare=compare, error_inputs=ERRORS.get(cls),
                             doc=f"nn.{cls.__name__}: outputs, parameter gradients and buffers")
                  for cls, samples in SAMPLES.items()}
ENTRIES = list(ENTRY_BY_CLASS.values())
