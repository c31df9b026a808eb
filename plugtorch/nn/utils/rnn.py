"""Variable-length sequences for the recurrent layers: ``PackedSequence`` and the functions that
pack, pad and unpad batches of them, as ``torch.nn.utils.rnn``.

A packed batch holds its sequences sorted by length, longest first, time step by time step: step t
contributes ``batch_sizes[t]`` rows (the sequences still running). ``batch_sizes`` lives on the
cpu; ``data`` and the two permutations on the data's device. Packing and padding are one gather
(``index_select``) each, with the index built on the host from the lengths, so gradients flow
back to the padded input through the gather's backward on every backend.

>>> import plugtorch as pt
>>> from plugtorch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
>>> seq = pt.tensor([[1, 2, 0], [3, 0, 0], [4, 5, 6]])
>>> packed = pack_padded_sequence(seq, [2, 1, 3], batch_first=True, enforce_sorted=False)
>>> packed.data, packed.batch_sizes
(tensor([4, 1, 3, 5, 2, 6]), tensor([3, 2, 1]))
>>> pad_packed_sequence(packed, batch_first=True)[1]
tensor([2, 1, 3])
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple, Optional

import numpy as np

import plugtorch as pt
from plugtorch.dispatch.meta import LEGACY_NAMES

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "unpad_sequence", "pack_sequence", "unpack_sequence"]


class PackedSequence_(NamedTuple):
    data: pt.Tensor
    batch_sizes: pt.Tensor
    sorted_indices: Optional[pt.Tensor]
    unsorted_indices: Optional[pt.Tensor]


def _bind(t, fn):
    return None if t is None else fn(t)


class PackedSequence(PackedSequence_):
    """The data and ``batch_sizes`` of a packed batch (made by :func:`pack_padded_sequence` or
    :func:`pack_sequence`, not by hand). ``sorted_indices[i]`` is the original index of the i-th
    sequence in length order; ``unsorted_indices`` is its inverse (None when the batch came sorted).
    Conversions (``to``, ``cpu``, ``double`` ...) apply to ``data``; the permutations follow its
    device, ``batch_sizes`` stays on the cpu."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:      # PackedSequence((data, batch_sizes), ...)
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data
        elif batch_sizes.device.type != "cpu":
            raise ValueError("batch_sizes should always be on CPU. Instances of PackedSequence should never be "
                             "created manually. They should be instantiated by functions like pack_sequence and "
                             "pack_padded_sequences in nn.utils.rnn.")
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """``data.to(*args, **kwargs)``; self if that changes nothing, else a copy whose permutations
        moved to the new data's device."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        move = lambda t: t.to(data.device)  # noqa: E731
        return type(self)(data, self.batch_sizes, _bind(self.sorted_indices, move),
                          _bind(self.unsorted_indices, move))

    def cpu(self):
        return self.to(device="cpu")

    def cuda(self, device=None):
        return self.to(device="cuda" if device is None else device)

    def pin_memory(self):
        return type(self)(self.data.pin_memory(), self.batch_sizes,
                          _bind(self.sorted_indices, lambda t: t.pin_memory()),
                          _bind(self.unsorted_indices, lambda t: t.pin_memory()))

    def double(self):
        return self.to(dtype=pt.float64)

    def float(self):
        return self.to(dtype=pt.float32)

    def half(self):
        return self.to(dtype=pt.float16)

    def long(self):
        return self.to(dtype=pt.int64)

    def int(self):
        return self.to(dtype=pt.int32)

    def short(self):
        return self.to(dtype=pt.int16)

    def char(self):
        return self.to(dtype=pt.int8)

    def byte(self):
        return self.to(dtype=pt.uint8)

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def is_pinned(self):
        return self.data.is_pinned()


def invert_permutation(permutation):
    """The inverse of a 1-D permutation tensor (None stays None).

    >>> import plugtorch as pt
    >>> invert_permutation(pt.tensor([2, 0, 1]))
    tensor([1, 2, 0])
    """
    if permutation is None:
        return None
    return pt.empty_like(permutation).scatter_(0, permutation, pt.arange(permutation.numel(),
                                                                         device=permutation.device))


def _cpu_lengths(lengths):
    """``lengths`` as the 1-D cpu int64 tensor PyTorch requires (a list is converted)."""
    if not isinstance(lengths, pt.Tensor):
        return pt.as_tensor(lengths, dtype=pt.int64, device="cpu")
    lengths = lengths.to(dtype=pt.int64)
    if lengths.ndim != 1 or lengths.device.type != "cpu":
        raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got {lengths.ndim}D "
                           f"{lengths.device} {LEGACY_NAMES[lengths.dtype.name]} tensor; pass lengths.cpu() "
                           "or a list of ints")
    return lengths


def _gather_rows(flat, index):
    """Rows ``index`` of ``flat`` (one ``index_select``), the index a host array sent to flat's device."""
    return flat.index_select(0, pt.as_tensor(np.asarray(index, dtype=np.int64), device=flat.device))


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch ``T x B x *`` (``B x T x *`` with ``batch_first``) of sequences of the
    given lengths (a list or a cpu tensor). With ``enforce_sorted`` the lengths must decrease;
    otherwise the batch is sorted here and the permutation kept for :func:`pad_packed_sequence`.

    >>> import plugtorch as pt
    >>> pack_padded_sequence(pt.arange(6).reshape(3, 2), [3, 1]).batch_sizes
    tensor([2, 1, 1])
    """
    if input.ndim < 2:
        raise IndexError(f"pack_padded_sequence: expected a padded input of at least 2 dimensions "
                         f"({'B x T' if batch_first else 'T x B'} x *), got shape {list(input.shape)}")
    lengths = _cpu_lengths(lengths)
    sorted_indices = None
    if not enforce_sorted:
        lengths, sorted_indices = pt.sort(lengths, descending=True, stable=True)
        sorted_indices = sorted_indices.to(input.device)
        input = input.index_select(0 if batch_first else 1, sorted_indices)
    t_len, batch = (input.shape[1], input.shape[0]) if batch_first else (input.shape[0], input.shape[1])
    if input.numel() == 0:
        raise RuntimeError("Cannot pack empty tensors.")
    lens = lengths.tolist()
    if len(lens) != batch:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {len(lens)} "
                           f"(batch_size={batch})")
    if lens[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           "that is <= 0")
    if any(a < b for a, b in zip(lens, lens[1:])):
        raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                           "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                           "sidestep this requirement if you do not need ONNX exportability.")
    if lens[0] > t_len:
        raise RuntimeError(f"pack_padded_sequence: a length of {lens[0]} exceeds the padded input's "
                           f"{t_len} time steps (input shape {list(input.shape)}, batch_first={batch_first}); "
                           "lengths must not exceed the padded length")
    lens = np.asarray(lens)
    steps = np.arange(lens[0])
    batch_sizes = (lens[None, :] > steps[:, None]).sum(1)
    t, b = np.nonzero(lens[None, :] > steps[:, None])     # row-major: time step by time step
    index = b * t_len + t if batch_first else t * batch + b
    data = _gather_rows(input.reshape((t_len * batch,) + tuple(input.shape[2:])), index)
    # (cpu whatever the default device: PackedSequence refuses batch_sizes elsewhere, as PyTorch)
    return PackedSequence(data, pt.as_tensor(batch_sizes, dtype=pt.int64, device="cpu"), sorted_indices, None)


def _padded_index(lens, t_len, batch_first, left=False):
    """For every (t, b) (or (b, t)) of a padded ``t_len`` x batch layout, the row of a packed or
    concatenated source holding it: ``source_row[b][t]`` for a valid step, else the pad row
    (one past the last)."""
    lens = np.asarray(lens, dtype=np.int64)
    steps = np.arange(t_len)[:, None]
    start = (t_len - lens)[None, :] if left else np.zeros_like(lens)[None, :]
    valid = (steps >= start) & (steps < start + lens[None, :])
    return valid, steps - start


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Undo :func:`pack_padded_sequence`: the padded batch (``T x B x *``, or ``B x T x *`` with
    ``batch_first``, T = ``total_length`` or the longest length) and the cpu int64 lengths, both in
    the batch's original order.

    >>> import plugtorch as pt
    >>> p = pack_padded_sequence(pt.tensor([[1., 2.], [3., 0.]]), [2, 1], batch_first=True)
    >>> pad_packed_sequence(p, batch_first=True, padding_value=-1)[0]
    tensor([[ 1.,  2.],
            [ 3., -1.]])
    """
    data, batch_sizes = sequence.data, sequence.batch_sizes
    bs = np.asarray(batch_sizes.tolist(), dtype=np.int64)
    max_len = len(bs)
    if total_length is not None:
        if total_length < max_len:
            raise ValueError("Expected total_length to be at least the length of the longest sequence in input, "
                             f"but got total_length={total_length} and max sequence length being {max_len}")
        max_len = total_length
    if int(bs.sum()) != data.shape[0]:
        raise RuntimeError(f"pad_packed_sequence: data has {data.shape[0]} rows but batch_sizes "
                           f"{bs.tolist()} add up to {int(bs.sum())}")
    batch = int(bs[0]) if len(bs) else 0
    lens = (bs[None, :] > np.arange(batch)[:, None]).sum(1)
    offsets = np.concatenate([[0], np.cumsum(bs)[:-1]]) if len(bs) else bs
    valid, t = _padded_index(lens, max_len, batch_first)
    rows = np.where(valid, offsets[np.minimum(t, max(len(bs) - 1, 0))] + np.arange(batch)[None, :], data.shape[0])
    if batch_first:
        rows = rows.T
    pad = pt.full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    padded = _gather_rows(pt.cat([data, pad]), rows.reshape(-1)).reshape(rows.shape + tuple(data.shape[1:]))
    lengths = pt.as_tensor(lens, dtype=pt.int64, device="cpu")
    if sequence.unsorted_indices is not None:
        return (padded.index_select(0 if batch_first else 1, sequence.unsorted_indices),
                lengths[sequence.unsorted_indices.cpu()])
    return padded, lengths


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack sequences ``L_i x *`` into one ``T x B x *`` tensor (``B x T x *`` with ``batch_first``),
    T the longest length, padding each on ``padding_side`` with ``padding_value``. The result has
    the first sequence's dtype and device.

    >>> import plugtorch as pt
    >>> pad_sequence([pt.tensor([1, 2, 3]), pt.tensor([4])], batch_first=True, padding_side="left")
    tensor([[1, 2, 3],
            [0, 0, 4]])
    """
    if not isinstance(sequences, Iterable):
        raise RuntimeError(f"pad_sequence: Expected iterable for input sequences, but got arg of type: "
                           f"{type(sequences)}")
    sequences = tuple(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    first = sequences[0]
    for i, s in enumerate(sequences):
        if s.ndim == 0:
            raise RuntimeError(f"pad_sequence: expected every sequence to be L x * (at least 1-D), got a 0-d "
                               f"tensor at index {i}")
        if tuple(s.shape[1:]) != tuple(first.shape[1:]):
            raise RuntimeError(f"pad_sequence: every sequence needs the trailing shape of the first, "
                               f"{list(first.shape[1:])}, got {list(s.shape)} at index {i}")
    lens = np.array([s.shape[0] for s in sequences], dtype=np.int64)
    t_len, rest = int(lens.max()), tuple(first.shape[1:])
    pad = pt.full((1,) + rest, padding_value, dtype=first.dtype, device=first.device)
    flat = pt.cat([s.to(device=first.device, dtype=first.dtype) for s in sequences] + [pad])
    valid, t = _padded_index(lens, t_len, batch_first, left=padding_side == "left")
    offsets = np.concatenate([[0], np.cumsum(lens)[:-1]])
    rows = np.where(valid, offsets[None, :] + t, int(lens.sum()))
    if batch_first:
        rows = rows.T
    return _gather_rows(flat, rows.reshape(-1)).reshape(rows.shape + rest)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """Split a padded batch back into its sequences (copies, the first ``lengths[i]`` steps each).
    Unlike PyTorch's, it leaves ``padded_sequences`` as it was (PyTorch's transposes it in place
    when ``batch_first`` is False).

    >>> import plugtorch as pt
    >>> [s.tolist() for s in unpad_sequence(pt.tensor([[1, 2], [3, 0]]), pt.tensor([2, 1]), batch_first=True)]
    [[1, 2], [3]]
    """
    lens = lengths.tolist() if isinstance(lengths, pt.Tensor) else list(lengths)
    batch = padded_sequences.shape[0 if batch_first else 1]
    if len(lens) != batch:
        raise ValueError(f"unpad_sequence: {len(lens)} lengths for a batch of {batch} (padded shape "
                         f"{list(padded_sequences.shape)}, batch_first={batch_first})")
    seqs = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [seqs[b, :n].clone() for b, n in enumerate(lens)]


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of sequences ``L_i x *``: :func:`pad_sequence` then :func:`pack_padded_sequence`.

    >>> import plugtorch as pt
    >>> pack_sequence([pt.tensor([1, 2, 3]), pt.tensor([4, 5]), pt.tensor([6])]).data
    tensor([1, 4, 6, 2, 5, 3])
    """
    lengths = [v.shape[0] for v in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of sequences a :class:`PackedSequence` holds, in their original order.

    >>> import plugtorch as pt
    >>> [s.tolist() for s in unpack_sequence(pack_sequence([pt.tensor([1]), pt.tensor([2, 3])], False))]
    [[1], [2, 3]]
    """
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
