"""A tour of gradient checking: every op and layer of minigan against central differences.

    python examples/gradcheck_tour.py               # the table, then a planted bug being caught
    python examples/gradcheck_tour.py --seed 3      # other random inputs and upstream gradients

For each op f and its inputs x (float64), fix a random upstream gradient v and look at the
scalar L(x) = <v, f(x)>. Its gradient J^T v is what backward computes (the *analytic*
gradient); central differences estimate it entry by entry (the *numeric* gradient):

    dL/dx_i  ~  (L(x + eps e_i) - L(x - eps e_i)) / (2 eps),   eps = 1e-6

The table shows, over every entry of every input that requires a gradient,

    max abs err   max |analytic - numeric|
    max rel err   max abs err / max |numeric|   (relative to the gradient's size)

and whether minigan.gradcheck, which compares entry by entry with atol 1e-5 and rtol 1e-3,
passes. In float64 the errors sit near 1e-10: the truncation error O(eps^2) and the roundoff
O(u / eps) are both tiny (docs/derivations/gradcheck.md). Then an op with a wrong backward (a
forgotten transpose) is checked, to show what a real bug looks like.

Inputs are drawn away from kinks (|x| > 0.1 for relu, distinct entries for max): at a kink the
derivative does not exist and the numeric estimate straddles two slopes. The whole tour runs in a
few seconds.
"""

import argparse
import sys
import time

import numpy as np

import minigan
import minigan.functional as F
from minigan import gan, nn
from minigan.ops.dropout import Dropout
from minigan.ops.linalg import MatMul

# --- settings ---------------------------------------------------------------------------------
parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--seed", type=int, default=0, help="seeds inputs and upstream gradients")
parser.add_argument("--eps", type=float, default=1e-6, help="finite-difference step")
args = parser.parse_args()

rng = np.random.default_rng(args.seed)


# --- inputs: float64 tensors, away from kinks --------------------------------------------------

def t(*shape, low=None, away=None, distinct=False):
    """A float64 leaf of ``shape`` that requires grad.

    low: draw from [low, low + 1] (for log, sqrt, division: positive inputs).
    away: keep every |entry| >= away (for relu, abs: no entry at the kink 0).
    distinct: entries a permutation of well-spaced values (for max: no ties).
    """
    if distinct:
        n = int(np.prod(shape))
        x = (rng.permutation(n) - n / 2) * 0.3 + 0.05 * rng.random(n)
    elif low is not None:
        x = low + rng.random(shape)
    else:
        x = rng.standard_normal(shape)
        if away is not None:
            x = np.sign(x) * (away + np.abs(x))
    return minigan.tensor(np.reshape(x, shape), dtype="float64", requires_grad=True)


def const(*shape, low=0.0, high=1.0):
    """A float64 constant (no gradient wanted), e.g. a BCE target."""
    return minigan.tensor(rng.uniform(low, high, shape), dtype="float64")


# --- the error table: analytic vs numeric gradients, computed here in plain sight ----------------

def as_list(out):
    return [out] if isinstance(out, minigan.Tensor) else list(out)


def errors(fn, inputs, eps):
    """(max abs error, max rel error) between backward and central differences over all inputs."""
    outputs = as_list(fn(*inputs))
    upstream = [rng.standard_normal(o.shape) for o in outputs]      # v, never all ones
    checked = [x for x in inputs if isinstance(x, minigan.Tensor) and x.requires_grad]
    for x in checked:
        x.grad = None
    minigan.backward(outputs, upstream)                             # analytic: J^T v

    def L():
        with minigan.no_grad():
            return sum(float((o.data * v).sum()) for o, v in zip(as_list(fn(*inputs)), upstream))

    abs_err, scale = 0.0, 0.0
    for x in checked:
        analytic = np.zeros(x.shape) if x.grad is None else x.grad
        numeric = np.empty(x.shape)
        for i in np.ndindex(*x.shape):
            saved = x.data[i]
            x.data[i] = saved + eps
            plus = L()
            x.data[i] = saved - eps
            minus = L()
            x.data[i] = saved                                       # restore exactly
            numeric[i] = (plus - minus) / (2 * eps)
        abs_err = max(abs_err, float(np.abs(analytic - numeric).max()))
        scale = max(scale, float(np.abs(numeric).max()))
        x.grad = None
    return abs_err, abs_err / max(scale, 1e-300)


def check(name, fn, inputs):
    """One row of the table: our own errors, and minigan.gradcheck's verdict."""
    abs_err, rel_err = errors(fn, inputs, args.eps)
    try:
        ok = minigan.gradcheck(fn, inputs, eps=args.eps, seed=args.seed)
    except minigan.GradcheckError:
        ok = False
    print(f"{name:<50} {abs_err:>12.2e} {rel_err:>12.2e}   {'PASS' if ok else 'FAIL'}")
    return ok


# --- the ops and layers ------------------------------------------------------------------------
# Each case: (name, fn, inputs). Shapes are small: the check costs two calls of fn per entry.

mask = rng.random((4, 5)) >= 0.3                                    # a fixed dropout mask
target = const(3, 4)                                                # a fixed BCE target
running_mean, running_var = rng.standard_normal(3), rng.uniform(0.5, 2.0, 3)


def layer(module, x):
    """Check a module w.r.t. its input and every parameter: the parameters are passed as inputs
    (so they are perturbed in place), and fn ignores them because the module reads them itself."""
    return (lambda x, *params: module(x)), [x, *module.parameters()]


def f64(module):
    nn.init.manual_seed(args.seed)
    return module


bn_train = f64(nn.BatchNorm2d(3, dtype="float64"))
bn_eval = f64(nn.BatchNorm1d(3, dtype="float64"))
bn_eval.running_mean.data[...] = running_mean
bn_eval.running_var.data[...] = running_var
bn_eval.eval()

CASES = [
    # elementwise (with broadcasting: the adjoint of broadcasting is summation)
    ("add (3,4) + (4,)", lambda x, y: x + y, [t(3, 4), t(4)]),
    ("sub (3,4) - (3,1)", lambda x, y: x - y, [t(3, 4), t(3, 1)]),
    ("mul (2,3,4) * (3,1)", lambda x, y: x * y, [t(2, 3, 4), t(3, 1)]),
    ("div (3,4) / (4,)", lambda x, y: x / y, [t(3, 4), t(4, low=0.5)]),
    ("neg", lambda x: -x, [t(3, 4)]),
    ("pow x**3", lambda x: x ** 3, [t(3, 4)]),
    ("pow x**0.5", lambda x: x ** 0.5, [t(3, 4, low=0.5)]),
    ("exp", minigan.exp, [t(3, 4)]),
    ("log", minigan.log, [t(3, 4, low=0.5)]),
    ("sqrt", minigan.sqrt, [t(3, 4, low=0.5)]),
    ("abs", minigan.abs, [t(3, 4, away=0.1)]),
    ("clip [-0.5, 0.5]", lambda x: minigan.clip(x, -0.5, 0.5), [t(6, distinct=True)]),
    ("maximum", minigan.maximum, [t(3, 4), t(3, 4)]),
    ("minimum", minigan.minimum, [t(3, 4), t(4)]),
    ("where", lambda x, y: minigan.where(mask[:3, :4], x, y), [t(3, 4), t(3, 4)]),
    # activations
    ("relu", F.relu, [t(3, 4, away=0.1)]),
    ("leaky_relu (slope 0.2)", lambda x: F.leaky_relu(x, 0.2), [t(3, 4, away=0.1)]),
    ("sigmoid", F.sigmoid, [t(3, 4)]),
    ("tanh", F.tanh, [t(3, 4)]),
    ("softplus", F.softplus, [t(3, 4) * 5]),
    ("log_sigmoid", F.log_sigmoid, [t(3, 4) * 5]),
    ("maxout (4, 6) -> (4, 2), 3 pieces", lambda x: F.maxout(x, 3), [t(4, 6, distinct=True)]),
    # reductions
    ("sum over axis 1", lambda x: x.sum(axis=1), [t(3, 4)]),
    ("sum, all", lambda x: x.sum(), [t(3, 4)]),
    ("mean over (0, 2), keepdims", lambda x: x.mean(axis=(0, 2), keepdims=True), [t(2, 3, 4)]),
    ("max over axis 0", lambda x: x.max(axis=0), [t(3, 4, distinct=True)]),
    # shape ops
    ("reshape (3,4) -> (2,6)", lambda x: x.reshape(2, 6), [t(3, 4)]),
    ("transpose (2,3,4) -> (4,2,3)", lambda x: x.permute(2, 0, 1), [t(2, 3, 4)]),
    ("getitem x[1:, ::2]", lambda x: x[1:, ::2], [t(3, 4)]),
    ("flatten (2,3,2,2) from dim 1", lambda x: minigan.flatten(x, 1), [t(2, 3, 2, 2)]),
    ("concatenate axis 1", lambda x, y: minigan.cat([x, y], axis=1), [t(2, 3), t(2, 2)]),
    ("stack axis 0", lambda x, y: minigan.stack([x, y], axis=0), [t(2, 3), t(2, 3)]),
    ("pad (2,3): left 0, right 2, top 1, bottom 0", lambda x: F.pad(x, (0, 2, 1, 0)), [t(2, 3)]),
    # matrix products
    ("matmul (3,4) @ (4,2)", minigan.matmul, [t(3, 4), t(4, 2)]),
    ("matmul batched (2,3,4) @ (4,2)", minigan.matmul, [t(2, 3, 4), t(4, 2)]),
    ("linear x W^T + b", F.linear, [t(3, 4), t(2, 4), t(2)]),
    # losses
    ("bce_with_logits (logits and target)",
     lambda x, y: F.binary_cross_entropy_with_logits(x, y), [t(3, 4) * 3, t(3, 4, low=0.0)]),
    ("bce on probabilities",
     lambda p: F.binary_cross_entropy(p, target), [t(3, 4, low=0.0) * 0.8 + 0.1]),
    # convolutions
    ("conv2d stride 1, padding 1",
     lambda x, w, b: F.conv2d(x, w, b, padding=1), [t(2, 2, 4, 4), t(3, 2, 3, 3), t(3)]),
    ("conv2d stride 2, padding 'same'",
     lambda x, w: F.conv2d(x, w, stride=2, padding="same"), [t(1, 2, 5, 5), t(2, 2, 3, 3)]),
    ("conv2d dilation 2",
     lambda x, w: F.conv2d(x, w, dilation=2), [t(1, 2, 5, 5), t(2, 2, 2, 2)]),
    ("conv_transpose2d stride 2, padding 1, out_pad 1",
     lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
     [t(2, 3, 3, 3), t(3, 2, 3, 3), t(2)]),
    ("conv_transpose2d stride 2, padding 'same'",
     lambda x, w: F.conv_transpose2d(x, w, stride=2, padding="same"),
     [t(1, 2, 3, 3), t(2, 2, 4, 4)]),
    # normalisation and regularisation
    ("batch_norm, training (batch statistics)",
     lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True), [t(4, 3), t(3), t(3)]),
    ("batch_norm, eval (running statistics)",
     lambda x, g, b: F.batch_norm(x, running_mean, running_var, g, b, training=False),
     [t(4, 3), t(3), t(3)]),
    ("dropout p=0.3, fixed mask", lambda x: Dropout.apply(x, mask=mask, p=0.3), [t(4, 5)]),
    # the GAN objective (from logits)
    ("gan.value V(D, G)", gan.value, [t(5) * 3, t(4) * 3]),
    ("gan.discriminator_loss", gan.discriminator_loss, [t(5) * 3, t(4) * 3]),
    ("gan.generator_loss, non-saturating", gan.generator_loss, [t(4) * 3]),
    ("gan.generator_loss, saturating",
     lambda f: gan.generator_loss(f, saturating=True), [t(4) * 3]),
    # layers, float64, w.r.t. input and parameters
    ("nn.Linear(4, 3)", *layer(f64(nn.Linear(4, 3, dtype="float64")), t(2, 4))),
    ("nn.Conv2d(2, 3, 3, stride=2, padding=1)",
     *layer(f64(nn.Conv2d(2, 3, 3, stride=2, padding=1, dtype="float64")), t(2, 2, 5, 5))),
    ("nn.ConvTranspose2d(3, 2, 4, stride=2, padding=1)",
     *layer(f64(nn.ConvTranspose2d(3, 2, 4, stride=2, padding=1, dtype="float64")),
            t(1, 3, 3, 3))),
    ("nn.BatchNorm2d(3), training", *layer(bn_train, t(2, 3, 2, 2))),
    ("nn.BatchNorm1d(3), eval", *layer(bn_eval, t(4, 3))),
]

# Tensors built by arithmetic above (t(...) * 3) are not leaves: make every input a fresh leaf.
CASES = [(name, fn, [minigan.tensor(x.data.copy(), dtype="float64", requires_grad=True)
                     if isinstance(x, minigan.Tensor) and not x.is_leaf else x for x in inputs])
         for name, fn, inputs in CASES]

# --- the tour ----------------------------------------------------------------------------------
t0 = time.perf_counter()
print(f"{'op':<50} {'max abs err':>12} {'max rel err':>12}   gradcheck")
print("-" * 90)
results = [check(name, fn, inputs) for name, fn, inputs in CASES]
failed = results.count(False)
print("-" * 90)
print(f"{len(results) - failed} of {len(results)} checks pass "
      f"({time.perf_counter() - t0:.1f} s, eps = {args.eps:g}, float64)")


# --- a planted bug: a matmul whose backward forgets a transpose --------------------------------

class BadMatMul(MatMul):
    """z = x @ y with a wrong VJP for x: g @ y instead of g @ y^T (same shape when y is square,
    so no shape check can notice: only the values are wrong)."""

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved
        return g @ y, x.T @ g


print("\nA planted bug: BadMatMul.backward returns gx = g @ y instead of g @ y^T")
x, y = t(2, 3), t(3, 3)
caught = not check("BadMatMul (3x3 y)", BadMatMul.apply, [x, y])
try:
    minigan.gradcheck(BadMatMul.apply, [x, y], eps=args.eps, seed=args.seed)
except minigan.GradcheckError as e:
    print(f"\nminigan.gradcheck raises GradcheckError:\n{e}")
print(f"\nplanted bug caught: {'yes' if caught else 'NO'}")

sys.exit(0 if failed == 0 and caught else 1)
