"""The differentiable ops, one module per family. Each module holds ``Function`` classes (forward
and backward side by side) and the lowercase functions that apply them."""

from . import activations, elementwise, linalg, loss, reduce, shape

__all__ = ["activations", "elementwise", "linalg", "loss", "reduce", "shape"]
