"""minigan.nn: modules (layers with their parameters) built on the functional API.

    from minigan import nn
    D = nn.Sequential(nn.Linear(784, 256), nn.LeakyReLU(0.2), nn.Linear(256, 1))

Names and arguments follow ``torch.nn``. The module system is in module.py, the layers in
layers.py, weight initialisation in init.py.
"""

from . import init
from .layers import (BatchNorm1d, BatchNorm2d, Conditional, Conv2d, ConvTranspose2d, Dropout,
                     Flatten, Identity, LeakyReLU, Linear, Maxout, Pack, ReLU, Sigmoid,
                     SpectralNorm, Tanh, Unflatten)
from .module import IncompatibleKeys, Module, Parameter, Sequential, StateDictError

__all__ = [
    "Module", "Parameter", "Sequential", "StateDictError", "IncompatibleKeys", "init",
    "Linear", "Conv2d", "ConvTranspose2d", "BatchNorm1d", "BatchNorm2d", "Dropout",
    "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "Maxout", "Identity", "Flatten", "Unflatten",
    "Pack", "SpectralNorm", "Conditional",
]
