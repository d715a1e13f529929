"""minigan: Generative Adversarial Networks from scratch, on NumPy (and CuPy).

    import minigan
    import minigan.functional as F

    x = minigan.tensor([[1.0, -2.0]], requires_grad=True)
    loss = F.softplus(x).sum()
    loss.backward()            # x.grad == sigmoid(x)
"""

from . import backend, functional, ops
from . import nn
from . import averaging, optim
from . import data, gan
from . import metrics
from . import threads
from .threads import get_num_threads, set_num_threads
from .io import CheckpointError, load, save
from .backend import DeviceMismatchError
from .gradcheck import GradcheckError, check_adjoint, gradcheck
from .graph import draw_graph, graph_to_dot
from .ops.elementwise import (abs, clip, div, exp, log, maximum, minimum, mul, neg, pow, sqrt,
                              sub, where)
from .ops.elementwise import add
from .ops.linalg import matmul
from .ops.reduce import max, mean, sum
from .ops.shape import cat, concatenate, flatten, pad, permute, reshape, stack, transpose
from .tensor import (DEFAULT_DTYPE, Function, ShapeError, Tensor, backward, is_grad_enabled,
                     no_grad, tensor, unbroadcast)

__version__ = "0.1.0"

__all__ = [
    "Tensor", "tensor", "no_grad", "is_grad_enabled", "backward", "Function", "unbroadcast",
    "ShapeError", "DeviceMismatchError", "DEFAULT_DTYPE",
    "gradcheck", "check_adjoint", "GradcheckError", "draw_graph", "graph_to_dot",
    "add", "sub", "mul", "div", "neg", "pow", "exp", "log", "sqrt", "abs", "clip",
    "maximum", "minimum", "where", "matmul", "sum", "mean", "max",
    "reshape", "transpose", "permute", "flatten", "concatenate", "cat", "stack", "pad",
    "backend", "functional", "ops", "nn",
    "optim", "averaging", "save", "load", "CheckpointError",
    "data", "gan", "metrics",
    "threads", "set_num_threads", "get_num_threads",
]
