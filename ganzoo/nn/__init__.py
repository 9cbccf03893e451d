"""Reusable network layers for plugins (part of plugin API 1.x from 1.1 on).

:mod:`ganzoo.nn.equalized` holds the equalised-learning-rate layers, pixel normalisation and
minibatch standard deviation that several GANs share; they name no architecture.
"""

from .equalized import (
    LRELU_GAIN,
    EqualConv2d,
    EqualLinear,
    MinibatchStd,
    PixelNorm,
    lrelu,
)

__all__ = ["LRELU_GAIN", "EqualConv2d", "EqualLinear", "MinibatchStd", "PixelNorm", "lrelu"]
