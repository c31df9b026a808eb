"""Train a small CNN on scikit-learn's digits (8x8 images), on any plugtorch device.

    .venv/bin/python examples/digits_cnn.py --device opencl
    .venv/bin/python examples/digits_cnn.py --device cpu --amp    # autocast (bfloat16) + GradScaler

Two 3x3 convolutions with max pooling, then a linear classifier; Adam with a cosine schedule.
Reaches about 0.98 test accuracy in 15 epochs.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import plugtorch as pt  # noqa: E402
from plugtorch import nn  # noqa: E402

import digits_data  # noqa: E402


def make_model():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # 16 x 4 x 4
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 32 x 2 x 2
        nn.Flatten(), nn.Linear(128, 10))


def make_optimizer(params, lr):
    return pt.optim.Adam(params, lr=lr)


def main(argv=None) -> float:
    return digits_data.main("CNN", __doc__.splitlines()[0], make_model, make_optimizer, images=True,
                            epochs=15, lr=1e-2, argv=argv)


if __name__ == "__main__":
    main()
