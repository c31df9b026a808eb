"""The running batch of a packed sequence, step by step: with PackedSequence's batch_sizes
(non-increasing) step t runs the first batch_sizes[t] sequences, so the recurrent state loses the
rows of the sequences that end (or, stepping the other way, gains the rows of those that start).

Shared by ``_rnn_layer`` and its backward: their decompositions (plugtorch/dispatch/ops/rnn.py,
over plugtorch tensors) and the cpu kernels (plugtorch/backends/cpu/rnn_kernels.py, over NumPy
arrays), each passing its own ``rows(x, a, b)`` (rows a:b) and ``cat(list)`` (along rows).

>>> offsets([3, 2, 2, 1])
[0, 3, 5, 7, 8]
"""
from __future__ import annotations


def offsets(bs):
    """The first packed row of each step, and the number of rows last."""
    off = [0]
    for b in bs:
        off.append(off[-1] + b)
    return off


def resize(states, init, parts, m, b, shrink, rows, cat):
    """The states (h, and LSTM's c; None where absent) of a batch of ``m`` sequences made fit for
    a step of ``b``, and that batch size. ``shrink``: the batch only shrinks, and the rows b:m of
    the sequences that leave are appended to ``parts`` (a list per state); else it only grows, and
    the sequences m:b join with their rows of ``init`` (h0, or the final state's gradient)."""
    if shrink and b < m:
        kept = []
        for s, part in zip(states, parts):
            if s is not None:
                part.append(rows(s, b, m))
                s = rows(s, 0, b)
            kept.append(s)
        return kept, b
    if not shrink and b > m:
        return [None if i is None else cat([s, rows(i, m, b)]) if m else rows(i, 0, b)
                for s, i in zip(states, init)], b
    return states, m


def rejoin(states, parts, cat):
    """Each state with the rows ``resize`` set aside in ``parts`` appended back, in batch order
    (the state itself where none were)."""
    return [cat([s] + part[::-1]) if s is not None and part else s for s, part in zip(states, parts)]
