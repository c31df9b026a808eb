"""The vision layers added beside Conv2d (padding, 3-d convolution and pooling, unpooling,
pixel shuffle, grid sampling, 3-d norms) export: they are composites of mapped registry ops."""
import pytest

import plugtorch as pt
import plugtorch.nn.functional as F
from plugtorch import nn
from tests.onnx.conftest import check_export

randn = pt.randn

CASES = {
    "padding": lambda: (nn.Sequential(nn.ReflectionPad2d((1, 2, 0, 1)), nn.ReplicationPad2d(1), nn.CircularPad2d(1),
                                      nn.ConstantPad3d(1, 2.0)), (randn(1, 2, 3, 4),)),
    "conv3d": lambda: (nn.Conv3d(2, 4, 3, padding=1, groups=2), (randn(1, 2, 4, 4, 4),)),
    "conv_transpose": lambda: (nn.Sequential(nn.ConvTranspose3d(2, 3, 2, stride=2), nn.Flatten(2),
                                             nn.ConvTranspose1d(3, 2, 3, stride=2)), (randn(1, 2, 2, 2, 2),)),
    "pool3d": lambda: (nn.Sequential(nn.MaxPool3d(2), nn.AvgPool3d(1), nn.AdaptiveAvgPool3d(2),
                                     nn.AdaptiveMaxPool3d(1)), (randn(1, 2, 4, 4, 4),)),
    "unpool": lambda: (lambda x: F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2), (randn(1, 2, 4, 4),)),
    "shuffle": lambda: (nn.Sequential(nn.PixelShuffle(2), nn.PixelUnshuffle(2), nn.ChannelShuffle(2)),
                        (randn(1, 8, 2, 3),)),
    "grid_sample": lambda: (lambda x, t: F.grid_sample(x, F.affine_grid(t, (1, 2, 3, 3), align_corners=False),
                                                       align_corners=False), (randn(1, 2, 4, 5), randn(1, 2, 3) * 0.5)),
    "norms": lambda: (nn.Sequential(nn.BatchNorm3d(2), nn.InstanceNorm3d(2, affine=True), nn.LocalResponseNorm(2),
                                    nn.Softshrink()), (randn(2, 2, 2, 3, 3),)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_vision_layer_exports(name):
    model, args = CASES[name]()
    check_export(model, args)
