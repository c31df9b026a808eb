"""nn.utils.rnn: packing, padding and unpadding against NumPy references, round trips, gradients
by finite differences and PyTorch's errors, on cpu and opencl."""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch.nn.utils.rnn import (PackedSequence, invert_permutation, pack_padded_sequence, pack_sequence,
                                    pad_packed_sequence, pad_sequence, unpack_sequence, unpad_sequence)

from .helpers import scalar_gradcheck, t64

rng = np.random.default_rng(11)
DEVICES = ["cpu"] + [d for d in ("opencl",) if d in pt.backends.available()]


def ref_pack(x, lengths, batch_first=False):
    """Packed rows in order (time step, then sequence in descending length), the batch sizes and
    the sorted order (a stable descending sort of the lengths)."""
    order = sorted(range(len(lengths)), key=lambda b: -lengths[b])
    seqs = [(x[b] if batch_first else x[:, b])[:lengths[b]] for b in order]
    rows, sizes = [], []
    for t in range(max(lengths)):
        running = [s[t] for s in seqs if len(s) > t]
        rows += running
        sizes.append(len(running))
    return np.stack(rows), np.array(sizes), np.array(order)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_padded_matches_reference_and_pads_back(device, batch_first):
    lengths = [3, 5, 1, 3]
    x = rng.standard_normal((4, 5, 2, 3) if batch_first else (5, 4, 2, 3))
    p = pack_padded_sequence(pt.tensor(x, device=device), lengths, batch_first=batch_first, enforce_sorted=False)
    want, sizes, order = ref_pack(x, lengths, batch_first)
    assert isinstance(p, PackedSequence) and p._fields == ("data", "batch_sizes", "sorted_indices",
                                                            "unsorted_indices")
    np.testing.assert_array_equal(p.data.cpu().numpy(), want)
    assert p.batch_sizes.device.type == "cpu" and p.batch_sizes.dtype == pt.int64
    assert p.batch_sizes.tolist() == sizes.tolist()
    assert p.data.device.type == device and p.sorted_indices.device.type == device
    assert p.sorted_indices.tolist() == order.tolist() == [1, 0, 3, 2]
    assert p.unsorted_indices.tolist() == np.argsort(order).tolist()
    padded, lens = pad_packed_sequence(p, batch_first=batch_first, padding_value=-7.0, total_length=6)
    assert lens.device.type == "cpu" and lens.dtype == pt.int64 and lens.tolist() == lengths
    ref = np.full((4, 6, 2, 3), -7.0)
    xb = x if batch_first else x.transpose(1, 0, 2, 3)
    for b, n in enumerate(lengths):
        ref[b, :n] = xb[b, :n]
    np.testing.assert_array_equal(padded.cpu().numpy(), ref if batch_first else ref.transpose(1, 0, 2, 3))
    assert padded.device.type == device


def test_known_answers_sorted_batches_and_integer_data():
    seq = pt.tensor([[1, 2, 0], [3, 0, 0], [4, 5, 6]])   # PyTorch's docstring example
    p = pack_padded_sequence(seq, [2, 1, 3], batch_first=True, enforce_sorted=False)
    assert p.data.tolist() == [4, 1, 3, 5, 2, 6] and p.batch_sizes.tolist() == [3, 2, 1]
    assert p.sorted_indices.tolist() == [2, 0, 1] and p.unsorted_indices.tolist() == [1, 2, 0]
    padded, lens = pad_packed_sequence(p, batch_first=True, padding_value=-1.7)    # cast as PyTorch: -1
    assert padded.dtype == pt.int64 and padded.tolist() == [[1, 2, -1], [3, -1, -1], [4, 5, 6]]
    assert lens.tolist() == [2, 1, 3]
    s = pack_padded_sequence(pt.arange(6.).reshape(3, 2), pt.tensor([3.0, 1.0]))   # float lengths: int64
    assert s.sorted_indices is None and s.unsorted_indices is None
    assert s.data.tolist() == [0., 1., 2., 4.] and s.batch_sizes.tolist() == [2, 1, 1]
    assert pad_packed_sequence(s)[0].tolist() == [[0., 1.], [2., 0.], [4., 0.]]
    same = pack_padded_sequence(pt.ones(2, 5), (2, 2, 1, 2, 1), enforce_sorted=False)   # ties keep their order
    assert same.sorted_indices.tolist() == [0, 1, 3, 2, 4]


@pytest.mark.parametrize("device", DEVICES)
def test_pad_sequence_unpad_and_pack_sequence(device):
    seqs_np = [rng.standard_normal((n, 2)) for n in (2, 4, 1)]
    seqs = [pt.tensor(s, device=device) for s in seqs_np]
    for side in ("right", "left"):
        ref = np.full((3, 4, 2), 0.5)
        for b, s in enumerate(seqs_np):
            if side == "right":
                ref[b, :len(s)] = s
            else:
                ref[b, 4 - len(s):] = s
        got = pad_sequence(seqs, batch_first=True, padding_value=0.5, padding_side=side)
        assert got.device.type == device
        np.testing.assert_array_equal(got.cpu().numpy(), ref)
        np.testing.assert_array_equal(pad_sequence(seqs, padding_value=0.5, padding_side=side).cpu().numpy(),
                                      ref.transpose(1, 0, 2))
    mixed = pad_sequence([pt.tensor([1, 2]), pt.tensor([0.5, 1.5, 2.5])])   # the first sequence's dtype
    assert mixed.dtype == pt.int64 and mixed.tolist() == [[1, 0], [2, 1], [0, 2]]
    assert pad_sequence(pt.ones(2, 3)).tolist() == [[1., 1.]] * 3              # a tensor is its rows
    padded = pad_sequence(seqs)
    before = padded.cpu().numpy().copy()
    back = unpad_sequence(padded, pt.tensor([2, 4, 1]))
    for s, r in zip(back, seqs_np):
        np.testing.assert_array_equal(s.cpu().numpy(), r)
    np.testing.assert_array_equal(padded.cpu().numpy(), before)                  # left as it was
    packed = pack_sequence(seqs, enforce_sorted=False)
    want, sizes, order = ref_pack(np.stack([np.pad(s, ((0, 4 - len(s)), (0, 0))) for s in seqs_np], 1), [2, 4, 1])
    np.testing.assert_array_equal(packed.data.cpu().numpy(), want)
    assert packed.batch_sizes.tolist() == sizes.tolist()
    for s, r in zip(unpack_sequence(packed), seqs_np):
        np.testing.assert_array_equal(s.cpu().numpy(), r)
    assert invert_permutation(pt.tensor([2, 0, 3, 1], device=device)).tolist() == [1, 3, 0, 2]
    assert invert_permutation(None) is None


def test_packed_sequence_conversions_and_construction():
    p = pack_padded_sequence(pt.randn(3, 2, 2), [3, 2], enforce_sorted=False)
    assert p.to(pt.float32) is p and p.float() is p and p.cpu() is p and not p.is_cuda
    d = p.double()
    assert type(d) is PackedSequence and d.data.dtype == pt.float64 and d.batch_sizes is p.batch_sizes
    assert d.sorted_indices.tolist() == [0, 1] and p.long().data.dtype == pt.int64
    q = PackedSequence((p.data, p.batch_sizes), sorted_indices=pt.tensor([1, 0]))
    assert q.batch_sizes is p.batch_sizes and q.unsorted_indices.tolist() == [1, 0]
    data, batch_sizes, sorted_indices, unsorted_indices = p
    assert data is p.data and sorted_indices is p.sorted_indices
    if "opencl" in DEVICES:
        o = p.to("opencl")
        assert o.data.device.type == o.sorted_indices.device.type == o.unsorted_indices.device.type == "opencl"
        assert o.batch_sizes.device.type == "cpu" and o.cpu().data.device.type == "cpu"
        with pytest.raises(ValueError, match="batch_sizes should always be on CPU"):
            PackedSequence(p.data, p.batch_sizes.to("opencl"))


def test_gradients_through_pack_pad_and_pad_sequence():
    x = t64(rng.standard_normal((4, 3, 2)), True)
    scalar_gradcheck(lambda x: pack_padded_sequence(x, [2, 4, 3], enforce_sorted=False).data, x)
    scalar_gradcheck(lambda x: pad_packed_sequence(pack_padded_sequence(x, [3, 3, 2, 1], batch_first=True),
                                                   batch_first=True, total_length=5)[0], x)
    a, b = t64(rng.standard_normal((3, 2)), True), t64(rng.standard_normal((1, 2)), True)
    scalar_gradcheck(lambda a, b: pad_sequence([a, b], padding_side="left", padding_value=2.0), a, b)
    # the gradient of the padded input is the packed gradient scattered back, zero in the padding
    pack_padded_sequence(x, [2, 4, 3], enforce_sorted=False).data.sum().backward()
    mask = np.zeros((4, 3, 2))
    for b, n in enumerate([2, 4, 3]):
        mask[:n, b] = 1
    np.testing.assert_array_equal(x.grad.numpy(), mask)


def test_errors():
    x = pt.randn(4, 3, 2)
    with pytest.raises(RuntimeError, match="`lengths` array must be sorted in decreasing order when "
                                           "`enforce_sorted` is True. You can pass `enforce_sorted=False`"):
        pack_padded_sequence(x, [2, 3, 1])
    with pytest.raises(RuntimeError, match="Length of all samples has to be greater than 0, but found an "
                                           "element in 'lengths' that is <= 0"):
        pack_padded_sequence(x, pt.tensor([3, -1, 2]), enforce_sorted=False)
    with pytest.raises(RuntimeError, match=r"Expected `len\(lengths\)` to be equal to batch_size, but got 2 "
                                           r"\(batch_size=3\)"):
        pack_padded_sequence(x, [3, 2])
    with pytest.raises(RuntimeError, match="'lengths' argument should be a 1D CPU int64 tensor, but got 2D cpu "
                                           "Long tensor"):
        pack_padded_sequence(x, pt.tensor([[3, 2, 1]]))
    with pytest.raises(RuntimeError, match="Cannot pack empty tensors."):
        pack_padded_sequence(pt.zeros(0, 3, 2), [3, 2, 1])
    with pytest.raises(RuntimeError, match=r"a length of 5 exceeds the padded input's 4 time steps"):
        pack_padded_sequence(x, [5, 2, 1])     # PyTorch reads past the end here
    with pytest.raises(IndexError, match=r"at least 2 dimensions \(T x B x \*\), got shape \[3\]"):
        pack_padded_sequence(pt.zeros(3), [3])
    p = pack_padded_sequence(x, [3, 2, 1])
    with pytest.raises(ValueError, match="Expected total_length to be at least the length of the longest "
                                         "sequence in input, but got total_length=2 and max sequence length "
                                         "being 3"):
        pad_packed_sequence(p, total_length=2)
    with pytest.raises(RuntimeError, match="received an empty list of sequences"):
        pad_sequence([])
    with pytest.raises(RuntimeError, match="Expected padding_side to be one of left or right, but got middle."):
        pad_sequence([pt.ones(2)], padding_side="middle")
    with pytest.raises(RuntimeError, match="pad_sequence: Expected iterable for input sequences, but got arg of "
                                           "type: <class 'int'>"):
        pad_sequence(5)
    with pytest.raises(RuntimeError, match=r"trailing shape of the first, \[3\], got \[3, 2\] at index 1"):
        pad_sequence([pt.ones(2, 3), pt.ones(3, 2)])
    with pytest.raises(RuntimeError, match="got a 0-d tensor at index 0"):
        pad_sequence([pt.tensor(1.0), pt.ones(3)])
    with pytest.raises(RuntimeError, match="`lengths` array must be sorted in decreasing order"):
        pack_sequence([pt.ones(1), pt.ones(3)])
    with pytest.raises(AssertionError, match="Expected data to be a list or tuple of length 2"):
        PackedSequence(pt.ones(3))


@pytest.mark.skipif("opencl" not in DEVICES, reason="no opencl backend")
def test_lengths_on_a_device_are_refused_as_pytorch_refuses_cuda_lengths():
    with pytest.raises(RuntimeError, match="'lengths' argument should be a 1D CPU int64 tensor, but got 1D "
                                           "opencl:0 Long tensor"):
        pack_padded_sequence(pt.randn(3, 2, device="opencl"), pt.tensor([3, 2], device="opencl"))
    x = pt.tensor(rng.standard_normal((4, 3, 2)), device="opencl", requires_grad=True)
    pad_packed_sequence(pack_padded_sequence(x, [2, 4, 3], enforce_sorted=False))[0].sum().backward()
    assert x.grad.device.type == "opencl"
    assert x.grad.cpu().numpy()[:, :, 0].tolist() == [[1, 1, 1], [1, 1, 1], [0, 1, 1], [0, 1, 0]]


@pytest.mark.skipif("opencl" not in pt.backends.available(), reason="needs the opencl backend")
def test_packing_under_another_default_device_keeps_batch_sizes_and_lengths_on_cpu():
    # batch_sizes came from the default device, which PackedSequence refuses; lengths followed it
    old = pt.get_default_device()
    pt.set_default_device("opencl")
    try:
        x = np.arange(8.0).reshape(4, 2)                          # T = 4, B = 2, no feature dims
        p = pack_padded_sequence(pt.tensor(x), [2, 4], enforce_sorted=False)
        assert p.batch_sizes.device.type == "cpu" and p.batch_sizes.tolist() == [2, 2, 1, 1]
        assert p.data.device.type == "opencl" and p.data.cpu().tolist() == [1.0, 0.0, 3.0, 2.0, 5.0, 7.0]
        padded, lengths = pad_packed_sequence(p, padding_value=-1.0)
        assert lengths.device.type == "cpu" and lengths.tolist() == [2, 4]
        assert padded.cpu().tolist() == [[0.0, 1.0], [2.0, 3.0], [-1.0, 5.0], [-1.0, 7.0]]
        assert pack_sequence([pt.tensor([1.0]), pt.tensor([2.0, 3.0])], False).batch_sizes.device.type == "cpu"
    finally:
        pt.set_default_device(old)
