"""RNN, LSTM and GRU (multi-layer, bidirectional, batch_first, dropout between layers, LSTM proj_size,
PackedSequence inputs).

The input projection of every time step is one matmul per layer and direction; only the
recurrence itself loops over time, in the op ``_rnn_layer`` (plugtorch/dispatch/ops/rnn.py; on cpu
one kernel) for padded and packed inputs, with or without gradients (not under autocast, nor with
mixed dtypes: then the cells step op by op): one autograd node per layer and direction, whose
formula, the op ``_rnn_layer_backward``, runs backpropagation through time with the hidden weight's
gradient as one matmul over all steps.
Gate order and parameter names follow PyTorch (LSTM: i, f, g, o; GRU: r, z, n; ``weight_ih_l0``,
``bias_hh_l1_reverse`` ...).

>>> import plugtorch as pt
>>> out, (h, c) = pt.nn.LSTM(4, 3, num_layers=2)(pt.randn(5, 2, 4))
>>> out.shape, h.shape
(plugtorch.Size([5, 2, 3]), plugtorch.Size([2, 2, 3]))
"""
from __future__ import annotations

import math

import plugtorch as pt
from plugtorch.nn import functional as F
from plugtorch.nn import init
from plugtorch.nn.modules.module import Module
from plugtorch.nn.parameter import Parameter
from plugtorch.nn.utils.rnn import PackedSequence

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def rnn_tanh_cell(xw, h, w_hh_t, b_hh):
    """One step of an Elman RNN. ``xw`` is the precomputed x W_ih^T + b_ih (+ b_hh, folded in by the
    caller for every cell but GRU's), ``w_hh_t`` the transposed hidden weight."""
    return (xw + h @ w_hh_t).tanh()


def rnn_relu_cell(xw, h, w_hh_t, b_hh):
    return F.relu(xw + h @ w_hh_t)


def lstm_cell(xw, state, w_hh_t, b_hh, w_hr_t=None):
    """Gates i, f, g, o: one sigmoid over all four (g's is unused), one tanh for g; with
    ``w_hr_t`` (``proj_size``), the hidden state is projected: h = (o * tanh(c)) W_hr^T."""
    h, c = state
    gates = xw + h @ w_hh_t
    n = gates.shape[-1] // 4
    s = gates.sigmoid()
    i, f, o = s[..., :n], s[..., n:2 * n], s[..., 3 * n:]
    c = f * c + i * gates[..., 2 * n:3 * n].tanh()
    h = o * c.tanh()
    return (h if w_hr_t is None else h @ w_hr_t), c


def gru_cell(xw, h, w_hh_t, b_hh):
    """r, z, n gates; b_hh stays separate because r scales the hidden part of n."""
    hh = h @ w_hh_t
    if b_hh is not None:
        hh = hh + b_hh
    n3 = hh.shape[-1] // 3
    rz = (xw[..., :2 * n3] + hh[..., :2 * n3]).sigmoid()
    r, z = rz[..., :n3], rz[..., n3:]
    n = (xw[..., 2 * n3:] + r * hh[..., 2 * n3:]).tanh()
    return (1 - z) * n + z * h


_CELLS = {"RNN_TANH": rnn_tanh_cell, "RNN_RELU": rnn_relu_cell, "LSTM": lstm_cell, "GRU": gru_cell}


class _Step:
    """One layer and direction's cell as ``step(xw_t, state)``, holding its weights for
    ``_rnn_layer``."""

    __slots__ = ("mode", "w_hh", "b_hh", "w_hr", "_transposed")

    def __init__(self, mode, w_hh, b_hh, w_hr):
        self.mode, self.w_hh, self.b_hh, self.w_hr = mode, w_hh, b_hh, w_hr
        self._transposed = None   # made by the first cell call: the fused _rnn_layer never needs them

    def __call__(self, x, state):
        tr = self._transposed
        if tr is None:   # (a transposed view makes each step's matmul slower)
            tr = self._transposed = (self.w_hh.t().contiguous(),
                                     None if self.w_hr is None else self.w_hr.t().contiguous())
        if tr[1] is not None:
            return lstm_cell(x, state, tr[0], self.b_hh, tr[1])
        return _CELLS[self.mode](x, state, tr[0], self.b_hh)


def _loop(step, xw, state, reverse):
    """The recurrence over a padded (seq, batch, gates) projection, one cell call per step, recorded
    by autograd op by op. Returns (output, final state)."""
    lstm = step.mode == "LSTM"
    seq = xw.shape[0]
    steps = [None] * seq
    xs = xw.unbind(0) if seq else ()
    for t in (range(seq - 1, -1, -1) if reverse else range(seq)):
        state = step(xs[t], state)
        steps[t] = state[0] if lstm else state
    return pt.cat(steps).view((seq,) + tuple(steps[0].shape)), state    # (pt.stack, in two dispatches)


def _stack0(ts):
    """pt.stack(ts) of same-shaped tensors in two dispatches (cat, view) instead of stack's one per
    tensor; one tensor is one unsqueeze."""
    if len(ts) == 1:
        return ts[0].unsqueeze(0)
    return pt.cat(ts).view((len(ts),) + tuple(ts[0].shape))


class RNNBase(Module):
    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if hidden_size <= 0 or num_layers <= 0:
            raise ValueError("hidden_size and num_layers must be positive integers")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        gate = _GATES[mode] * hidden_size
        dirs = 2 if bidirectional else 1
        out_size = proj_size or hidden_size    # the size of h (the projection's, with proj_size)
        self._flat_weights_names = []
        for layer in range(num_layers):
            for d in range(dirs):
                in_size = input_size if layer == 0 else out_size * dirs
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                shapes = {"weight_ih": (gate, in_size), "weight_hh": (gate, out_size)}
                if bias:
                    shapes.update(bias_ih=(gate,), bias_hh=(gate,))
                if proj_size:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                for name, shape in shapes.items():
                    setattr(self, name + sfx, Parameter(pt.empty(shape, device=device, dtype=dtype)))
                    self._flat_weights_names.append(name + sfx)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """Does nothing: kept so PyTorch code that calls it runs (PyTorch packs the weights into one
        buffer only for cuDNN; every backend here reads the separate parameters)."""

    @property
    def _flat_weights(self):
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def _all_weights(self):
        """Parameter names per (layer, direction): [["weight_ih_l0", "weight_hh_l0", ...], ...]."""
        names = self._flat_weights_names
        per = len(names) // (self.num_layers * (2 if self.bidirectional else 1))
        return [names[i:i + per] for i in range(0, len(names), per)]

    @property
    def all_weights(self):
        return [[getattr(self, name) for name in group] for group in self._all_weights]

    def _check_input(self, input):
        name = "LSTM" if self.mode == "LSTM" else "GRU" if self.mode == "GRU" else "RNN"
        if input.ndim not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.ndim}D input instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {input.shape[-1]}")
        w = self.weight_ih_l0
        if input.dtype != w.dtype and not pt.is_autocast_enabled(input.device.type):
            raise ValueError(f"{name} input dtype ({input.dtype}) does not match weight dtype ({w.dtype}). Convert "
                             f"input: input.to({w.dtype}), or convert model: model.to({input.dtype})")

    def _weights(self, layer, d):
        sfx = f"_l{layer}" + ("_reverse" if d else "")
        # by attribute, not from _parameters: a parametrized weight (weight_norm) lives elsewhere
        return tuple(getattr(self, name + sfx, None) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh",
                                                                  "weight_hr"))

    def _autocast(self, input, hx):
        """Under autocast, the input and initial state cast to the autocast dtype where the device
        type's list runs this mode's fused op in lower precision (autocast_policy.RNN_MODES: LSTM
        on cpu, LSTM and RNN on cuda, opencl and plug-ins); float64 and other devices' tensors stay."""
        data = input.data if isinstance(input, PackedSequence) else input
        dev = data.device.type if isinstance(data, pt.Tensor) else None
        if dev is None or not pt.is_autocast_enabled(dev):
            return input, hx
        from plugtorch.backends import get_backend
        from plugtorch.dispatch import autocast_policy
        lst = getattr(get_backend(dev), "autocast_list", "cuda")
        if autocast_policy.RNN_MODES.get(self.mode, (None,) * 2)[autocast_policy.LISTS.index(lst)] != autocast_policy.LOWER:
            return input, hx
        low = pt.get_autocast_dtype(dev)

        def cast(t):
            return t.to(low) if (isinstance(t, pt.Tensor) and t.device.type == dev
                                 and t.dtype in (pt.float16, pt.bfloat16, pt.float32)) else t
        if isinstance(input, PackedSequence):
            input = PackedSequence(cast(input.data), input.batch_sizes, input.sorted_indices, input.unsorted_indices)
        else:
            input = cast(input)
        if hx is not None:
            hx = tuple(cast(t) for t in hx) if isinstance(hx, (tuple, list)) else cast(hx)
        return input, hx

    def forward(self, input, hx=None):
        input, hx = self._autocast(input, hx)
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        self._check_input(input)
        batched = input.ndim == 3
        x = input if batched else input.unsqueeze(1)
        if batched and self.batch_first:
            x = x.transpose(0, 1)
        lstm = self.mode == "LSTM"
        if hx is not None and not batched:
            hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1)) if lstm else hx.unsqueeze(1)
        h0, c0 = self._initial_state(x.shape[1], x, hx)
        out, h, c = self._layers(x, h0, c0, self._dense_direction)
        if batched and self.batch_first:
            out = out.transpose(0, 1)
        if not batched:
            out, h = out.squeeze(1), h.squeeze(1)
            c = c.squeeze(1) if c is not None else None
        return (out, (h, c)) if lstm else (out, h)

    def _initial_state(self, batch, x, hx):
        """(h0, c0) for ``batch`` sequences (c0 None but for LSTM), checked against the layer's sizes."""
        lstm = self.mode == "LSTM"
        dirs = 2 if self.bidirectional else 1
        shape = (self.num_layers * dirs, batch, self.proj_size or self.hidden_size)
        c_shape = (self.num_layers * dirs, batch, self.hidden_size)
        if hx is None:
            h0 = pt.zeros(shape, dtype=x.dtype, device=x.device)
            return h0, ((h0 if shape == c_shape else pt.zeros(c_shape, dtype=x.dtype, device=x.device))
                        if lstm else None)
        h0, c0 = hx if lstm else (hx, None)
        if tuple(h0.shape) != shape:
            raise RuntimeError(f"Expected hidden size {tuple(shape)}, got {list(h0.shape)}")
        if lstm and tuple(c0.shape) != c_shape:
            raise RuntimeError(f"Expected hidden[1] size {tuple(c_shape)}, got {list(c0.shape)}")
        return h0, c0

    def _layers(self, x, h0, c0, direction):
        """Every layer and direction over ``x``: ``direction(step, xw, state, reverse)`` runs one
        recurrence and returns its outputs and final state. Returns (output, h_n, c_n)."""
        lstm = self.mode == "LSTM"
        dirs = 2 if self.bidirectional else 1
        h_n, c_n = [], []
        layer_in = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                step, xw = self._layer_step(layer, d, layer_in)
                k = layer * dirs + d
                h0k = h0.select(0, k)    # (one view op: h0[k] goes through Python indexing)
                out, state = direction(step, xw, (h0k, c0.select(0, k)) if lstm else h0k, d == 1)
                outs.append(out)
                h_n.append(state[0] if lstm else state)
                if lstm:
                    c_n.append(state[1])
            layer_in = pt.cat(outs, -1) if dirs == 2 else outs[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, True)
        return layer_in, _stack0(h_n), (_stack0(c_n) if lstm else None)

    def _layer_step(self, layer, d, layer_in):
        """(step, xw): the cell of one layer and direction as ``step(xw_t, state)``, and the input
        projection of every time step at once (one matmul)."""
        w_ih, w_hh, b_ih, b_hh, w_hr = self._weights(layer, d)
        if b_ih is not None and self.mode != "GRU":
            b_ih = b_ih + b_hh                              # one bias add for all steps
        return _Step(self.mode, w_hh, b_hh, w_hr), F.linear(layer_in, w_ih, b_ih)

    def _dense_direction(self, step, xw, state, reverse):
        """One recurrence over a padded (seq, batch, gates) projection."""
        if not xw.shape[0] or not xw.shape[1]:   # no steps, or an empty batch: nothing to run
            return xw[..., :self.proj_size or self.hidden_size], state
        fused = self._fused(step, xw, state, reverse)
        return fused if fused is not None else _loop(step, xw, state, reverse)

    def _fused(self, step, xw, state, reverse, batch_sizes=None):
        """The recurrence as one ``_rnn_layer`` call (dispatch/ops/rnn.py: one autograd node, and on
        cpu one kernel), else None (under autocast, or with mixed dtypes, the cells step op by op)."""
        lstm = self.mode == "LSTM"
        h0, c0 = state if lstm else (state, None)
        b_hh = step.b_hh if self.mode == "GRU" else None     # (LSTM's and RNN's is in xw)
        tensors = (xw, h0, c0, step.w_hh, b_hh, step.w_hr)
        if pt.is_autocast_enabled(xw.device.type) or not all(t is None or t.dtype is xw.dtype for t in tensors):
            return None
        res = pt.ops._rnn_layer(*tensors, self.mode, reverse, *(() if batch_sizes is None else (batch_sizes,)))
        return res[0], (res[1:3] if lstm else res[1])

    def _forward_packed(self, input, hx):
        """The layers over a PackedSequence; h0 comes and h_n goes in the caller's batch order
        (``sorted_indices`` / ``unsorted_indices``), as PyTorch's."""
        data, batch_sizes, sorted_indices, unsorted_indices = input
        if data.ndim != 2:
            raise RuntimeError(f"input must have 2 dimensions, got {data.ndim}")
        if data.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {data.shape[-1]}")
        lstm = self.mode == "LSTM"
        bs = batch_sizes.tolist()
        h0, c0 = self._initial_state(bs[0] if bs else 0, data, hx)
        if sorted_indices is not None and hx is not None:
            h0 = h0.index_select(1, sorted_indices)
            c0 = c0.index_select(1, sorted_indices) if lstm else None
        out, h, c = self._layers(data, h0, c0, lambda *a: self._packed_direction(bs, *a))
        if unsorted_indices is not None:
            h = h.index_select(1, unsorted_indices)
            c = c.index_select(1, unsorted_indices) if lstm else None
        out = PackedSequence(out, batch_sizes, sorted_indices, unsorted_indices)
        return (out, (h, c)) if lstm else (out, h)

    def _packed_direction(self, bs, step, xw, init, reverse):
        """One recurrence over packed rows: step t runs the first ``bs[t]`` (still running)
        sequences of the length-sorted batch, so each one's final state is taken at its own last
        step. Forward, finished rows are set aside as the batch shrinks; in reverse, each sequence
        starts from its h0 at its last step as the batch grows."""
        if bs:
            fused = self._fused(step, xw, init, reverse, tuple(bs))
            if fused is not None:
                return fused
        lstm = self.mode == "LSTM"
        rows = lambda st, a, b: tuple(s[a:b] for s in st) if lstm else st[a:b]  # noqa: E731
        join = lambda parts: tuple(pt.cat(p) for p in zip(*parts)) if lstm else pt.cat(parts)  # noqa: E731
        offsets = [0]
        for b in bs:
            offsets.append(offsets[-1] + b)
        steps = [None] * len(bs)
        if not reverse:
            state, done, n = init, [], bs[0] if bs else 0
            for t, b in enumerate(bs):
                if b < n:                      # sequences b .. n-1 ended at step t-1
                    done.append(rows(state, b, n))
                    state, n = rows(state, 0, b), b
                state = step(xw[offsets[t]:offsets[t + 1]], state)
                steps[t] = state[0] if lstm else state
            state = join([state] + done[::-1]) if done else state
        else:
            state, n = None, 0
            for t in range(len(bs) - 1, -1, -1):
                if bs[t] > n:                  # sequences n .. bs[t]-1 start (at their last step) here
                    state = join([state, rows(init, n, bs[t])]) if n else rows(init, 0, bs[t])
                    n = bs[t]
                state = step(xw[offsets[t]:offsets[t + 1]], state)
                steps[t] = state[0] if lstm else state
        return (pt.cat(steps) if steps else xw[:, :self.proj_size or self.hidden_size]), state

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:   # second, as PyTorch prints it
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None, *, proj_size=0):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, proj_size, device, dtype)


class LSTM(RNNBase):
    """Long short-term memory; returns ``output, (h_n, c_n)``."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)


class GRU(RNNBase):
    """Gated recurrent unit; returns ``output, h_n``."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None, *, proj_size=0):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)


class RNNCellBase(Module):
    """One time step of a recurrence: ``weight_ih`` (num_chunks * hidden_size, input_size),
    ``weight_hh`` (num_chunks * hidden_size, hidden_size), ``bias_ih`` and ``bias_hh``, all
    uniform(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) as PyTorch's. The step itself is the
    same function the sequence layers above loop over."""

    _mode = None

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        fk = {"device": device, "dtype": dtype}
        self.weight_ih = Parameter(pt.empty((num_chunks * hidden_size, input_size), **fk))
        self.weight_hh = Parameter(pt.empty((num_chunks * hidden_size, hidden_size), **fk))
        if bias:
            self.bias_ih = Parameter(pt.empty((num_chunks * hidden_size,), **fk))
            self.bias_hh = Parameter(pt.empty((num_chunks * hidden_size,), **fk))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _check(self, input, states):
        """Shapes as PyTorch checks them; returns whether the input is batched."""
        name = type(self).__name__
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[-1]} expected {self.input_size}")
        for k, h in enumerate(states):
            if h is None:
                continue
            if h.ndim != input.ndim:
                what = "hx" if len(states) == 1 else f"hx[{k}]"
                raise ValueError(f"{name}: Expected {what} to be {input.ndim}D like the input (shape "
                                 f"{list(input.shape)}), got {h.ndim}D of shape {list(h.shape)}")
            if h.shape[-1] != self.hidden_size:
                raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got {h.shape[-1]}, expected "
                                   f"{self.hidden_size}")
            if input.ndim == 2 and h.shape[0] != input.shape[0]:
                raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match hidden{k} batch size "
                                   f"{h.shape[0]}")
        return input.ndim == 2

    def _step(self, input, state):
        b_ih = self.bias_ih
        if b_ih is not None and self._mode != "GRU":
            b_ih = b_ih + self.bias_hh
        return _CELLS[self._mode](F.linear(input, self.weight_ih, b_ih), state, self.weight_hh.t(), self.bias_hh)

    def _zeros(self, input):
        return pt.zeros(tuple(input.shape[:-1]) + (self.hidden_size,), dtype=input.dtype, device=input.device)


class RNNCell(RNNCellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu); input (N, input_size) or (input_size,).

    >>> import plugtorch as pt
    >>> pt.nn.RNNCell(3, 4)(pt.randn(2, 3)).shape
    plugtorch.Size([2, 4])
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self._mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"

    def forward(self, input, hx=None):
        self._check(input, (hx,))
        return self._step(input, self._zeros(input) if hx is None else hx)


class LSTMCell(RNNCellBase):
    """Gates i, f, g, o as nn.LSTM's; returns ``(h', c')``.

    >>> import plugtorch as pt
    >>> h, c = pt.nn.LSTMCell(3, 4)(pt.randn(2, 3))
    >>> h.shape, c.shape
    (plugtorch.Size([2, 4]), plugtorch.Size([2, 4]))
    """

    _mode = "LSTM"

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"LSTMCell: expected hx to be a tuple (h_0, c_0) of two tensors, got "
                            f"{type(hx).__name__}")
        self._check(input, (None, None) if hx is None else tuple(hx))
        if hx is None:
            hx = (self._zeros(input),) * 2
        return self._step(input, tuple(hx))


class GRUCell(RNNCellBase):
    """Gates r, z, n as nn.GRU's; returns h'.

    >>> import plugtorch as pt
    >>> pt.nn.GRUCell(3, 4)(pt.randn(3)).shape
    plugtorch.Size([4])
    """

    _mode = "GRU"

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        self._check(input, (hx,))
        return self._step(input, self._zeros(input) if hx is None else hx)
