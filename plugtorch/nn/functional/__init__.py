"""``plugtorch.nn.functional``: the stateless functions behind every layer.

Files group them by family (activation, conv, pooling, normalization, loss, attention ...);
the heavy ones (conv2d, linear, layer_norm, cross_entropy, scaled_dot_product_attention ...)
and the losses autocast runs in float32 (mse_loss, kl_div, binary_cross_entropy ...)
run as composite ops of the registry (``plugtorch/nn/ops.py``), so backends may override them.

>>> import plugtorch as pt
>>> import plugtorch.nn.functional as F
>>> F.relu(pt.tensor([-1., 1.])).tolist()
[0.0, 1.0]
"""
from __future__ import annotations

from plugtorch.nn.functional.activation import (celu, elu, gelu, glu, hardsigmoid, hardswish, hardtanh,  # noqa: F401
                                                leaky_relu, log_softmax, logsigmoid, mish, normalize, prelu,
                                                relu, relu6, relu_, selu, sigmoid, silu, softmax, softmin,
                                                softplus, softsign, tanh, tanhshrink, threshold)
from plugtorch.nn.functional.activation import (celu_, elu_, gumbel_softmax, hardshrink, hardtanh_,  # noqa: F401
                                                leaky_relu_, rrelu, rrelu_, selu_, softshrink, threshold_)
from plugtorch.nn.functional.attention import multi_head_attention_forward  # noqa: F401
from plugtorch.nn.functional.conv import (conv3d, conv_tbc, conv_transpose1d, conv_transpose3d, fold,  # noqa: F401
                                          unfold)
from plugtorch.nn.functional.distance import pairwise_distance, pdist  # noqa: F401
from plugtorch.nn.functional.normalization import instance_norm, local_response_norm  # noqa: F401
from plugtorch.nn.functional.padding import pad  # noqa: F401
from plugtorch.nn.functional.pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d,  # noqa: F401
                                             adaptive_max_pool2d, avg_pool1d, max_pool1d)
from plugtorch.nn.functional.pooling import (adaptive_avg_pool3d, adaptive_max_pool1d,  # noqa: F401
                                             adaptive_max_pool1d_with_indices, adaptive_max_pool2d_with_indices,
                                             adaptive_max_pool3d, adaptive_max_pool3d_with_indices, avg_pool3d,
                                             lp_pool1d, lp_pool2d, lp_pool3d, max_pool1d_with_indices,
                                             max_pool2d_with_indices, max_pool3d, max_pool3d_with_indices,
                                             max_unpool1d, max_unpool2d, max_unpool3d)
from plugtorch.nn.functional.pooling import (fractional_max_pool2d, fractional_max_pool2d_with_indices,  # noqa: F401
                                             fractional_max_pool3d, fractional_max_pool3d_with_indices)
from plugtorch.nn.functional.regularization import (alpha_dropout, dropout, dropout1d, dropout2d,  # noqa: F401
                                                    dropout3d, feature_alpha_dropout)
from plugtorch.nn.functional.sampling import (GRID_SAMPLE_INTERPOLATION_MODES, GRID_SAMPLE_PADDING_MODES,  # noqa: F401
                                              affine_grid, grid_sample, interpolate, upsample, upsample_bilinear,
                                              upsample_nearest)
from plugtorch.nn.functional.shuffle import (channel_shuffle, native_channel_shuffle, pixel_shuffle,  # noqa: F401
                                             pixel_unshuffle)
from plugtorch.nn.functional.sparse import embedding_bag, one_hot  # noqa: F401
from plugtorch.nn.ops import WRAPPERS as _W  # noqa: E402

linear = _W["linear"]
bilinear = _W["bilinear"]
conv1d = _W["conv1d"]
conv2d = _W["conv2d"]
conv_transpose2d = _W["conv_transpose2d"]
max_pool2d = _W["max_pool2d"]
avg_pool2d = _W["avg_pool2d"]
max_pool3d = _W["max_pool3d"]
avg_pool3d = _W["avg_pool3d"]
adaptive_avg_pool3d = _W["adaptive_avg_pool3d"]
grid_sample = _W["grid_sample"]
prelu = _W["prelu"]
# PyTorch's op names for pad's reflect and replicate modes (torch._C._nn.reflection_pad2d ...),
# registry ops so that autocast's lists can name them; F.pad calls them
reflection_pad1d, reflection_pad2d, reflection_pad3d = (_W[f"reflection_pad{n}d"] for n in (1, 2, 3))
replication_pad1d, replication_pad2d, replication_pad3d = (_W[f"replication_pad{n}d"] for n in (1, 2, 3))
batch_norm = _W["batch_norm"]
layer_norm = _W["layer_norm"]
rms_norm = _W["rms_norm"]
group_norm = _W["group_norm"]
embedding = _W["embedding"]
nll_loss = _W["nll_loss"]
cross_entropy = _W["cross_entropy"]
mse_loss = _W["mse_loss"]
l1_loss = _W["l1_loss"]
smooth_l1_loss = _W["smooth_l1_loss"]
huber_loss = _W["huber_loss"]
kl_div = _W["kl_div"]
binary_cross_entropy = _W["binary_cross_entropy"]
binary_cross_entropy_with_logits = _W["binary_cross_entropy_with_logits"]
cosine_embedding_loss = _W["cosine_embedding_loss"]
margin_ranking_loss = _W["margin_ranking_loss"]
soft_margin_loss = _W["soft_margin_loss"]
hinge_embedding_loss = _W["hinge_embedding_loss"]
poisson_nll_loss = _W["poisson_nll_loss"]
triplet_margin_loss = _W["triplet_margin_loss"]
multi_margin_loss = _W["multi_margin_loss"]
multilabel_margin_loss = _W["multilabel_margin_loss"]
gaussian_nll_loss = _W["gaussian_nll_loss"]
multilabel_soft_margin_loss = _W["multilabel_soft_margin_loss"]
ctc_loss = _W["ctc_loss"]
from plugtorch.nn.functional.loss import triplet_margin_with_distance_loss  # noqa: E402,F401
cosine_similarity = _W["cosine_similarity"]
scaled_dot_product_attention = _W["scaled_dot_product_attention"]
