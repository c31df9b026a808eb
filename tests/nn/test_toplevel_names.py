"""torch's top-level names for the vision functionals (torch.conv3d, torch.pixel_shuffle ...) are
the functionals; torch.adaptive_max_pool1d returns (values, indices)."""
import numpy as np

import plugtorch as pt
import plugtorch.nn.functional as F


def test_top_level_names_are_the_functionals():
    for name in ("conv3d", "conv_transpose1d", "conv_transpose3d", "conv_tbc", "max_pool1d", "max_pool3d",
                 "max_pool1d_with_indices", "avg_pool1d", "adaptive_avg_pool1d", "pixel_shuffle", "pixel_unshuffle",
                 "channel_shuffle", "native_channel_shuffle", "hardshrink", "rrelu", "celu", "selu", "threshold",
                 "prelu", "pairwise_distance", "dropout", "alpha_dropout", "feature_alpha_dropout"):
        # (hardshrink and threshold take out= at the top level, as torch's: a wrapper around the functional)
        top = getattr(pt, name)
        # (max_pool3d and prelu are registry ops: their functionals are dispatching wrappers)
        assert top is getattr(F, name) or getattr(top, "__wrapped__", top) is getattr(F, name), name
    x = pt.tensor([[[1.0, 5.0, 2.0, 3.0]]])
    values, indices = pt.adaptive_max_pool1d(x, 2)
    assert values.tolist() == [[[5.0, 3.0]]] and indices.tolist() == [[[1, 3]]]
    assert pt.dropout(x, 0.5, False) is x                           # torch.dropout(input, p, train)
    np.testing.assert_array_equal(pt.max_pool1d(x, 2).numpy(), [[[5.0, 3.0]]])
