"""_rnn_layer_backward's comparison: backpropagation through time's rounding is the size of its
gradients' terms, which grow past the inputs' magnitude; a wrong gradient is still found."""
from __future__ import annotations

import numpy as np

from plugtorch.conformance import tolerances
from plugtorch.conformance.compare import magnitude
from plugtorch.conformance.entry import Input, Sample
from plugtorch.conformance.opdb.rnn import _bptt_compare


def test_bptt_compare_takes_the_gradients_scale():
    # make fuzz seed 5: float32 LSTM (proj_size, packed, reverse) gradients, inputs up to 9; the
    # w_hr gradient holds 3925.68 and 1786.8638 (float64), cpu gave 1786.8561, opencl 1786.8733:
    # both within 48 * 2**-24 * 3925.68 * 2 = 0.0225 of the other, the inputs' bound (0.0025) not
    sample = Sample(Input(np.array([9.0, -1.0], np.float32)), reduction_length=48)
    cpu = np.array([[3925.6838, 1786.8561]], np.float32)
    ocl = np.array([[3925.6838, 1786.8733]], np.float32)
    rtol, atol = tolerances.for_reduction(tolerances._dtypes.float32, 48, magnitude(sample))
    assert abs(1786.8733 - 1786.8561) > atol + rtol * 1786.8561
    assert _bptt_compare([None, ocl], [None, cpu], sample) is None
    wrong = cpu * np.array([1.0, 1.001], np.float32)          # a 0.1% wrong gradient: 1.8 off
    msg = _bptt_compare([None, wrong], [None, cpu], sample)
    assert msg is not None and msg.startswith("output 1: ")
    assert _bptt_compare([-cpu], [cpu], sample) is not None


def test_bptt_compare_takes_the_largest_gradient_of_the_call():
    # make fuzz seed 3: h0's gradient 300.0665 on cpu, 300.0566 on opencl (float64 300.0633),
    # largest 840 in its output but 2346 in w_ih's: the steps' terms reach the call's largest
    sample = Sample(Input(np.array([9.0], np.float32)), reduction_length=48)
    cpu = [np.array([300.06647, 840.43], np.float32), np.array([2346.02], np.float32)]
    ocl = [np.array([300.05658, 840.43], np.float32), np.array([2346.02], np.float32)]
    assert _bptt_compare(ocl, cpu, sample) is None
    assert _bptt_compare(ocl[:1], cpu[:1], sample) is not None       # its own output's scale: too tight
