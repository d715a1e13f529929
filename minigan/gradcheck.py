"""Gradient checking: is a hand-written backward the derivative of its forward?

For a function ``f`` and a fixed random upstream gradient ``v`` (one per output, never all ones:
ones hide transposition bugs), the scalar ``L(x) = <v, f(x)>`` has gradient ``J^T v``, which is
exactly what backward computes. Central differences estimate it independently::

    dL/dx_i  ~  (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)      error O(eps^2) + O(u / eps)

where ``u`` is the unit roundoff. In float64 (u ~ 1e-16) with eps = 1e-6 both terms are ~1e-12,
far below any real bug; in float32 (u ~ 6e-8) the roundoff term alone is ~0.1, so float32
inputs are refused. docs/derivations/gradcheck.md has the full story.

Public API:
    gradcheck(fn, inputs, ...)          entry-by-entry (or, with fast_mode, directional) check
    gradcheck.check_adjoint(f, f_t, x_shape, y_shape)   <f(x), y> == <x, f_t(y)> for linear maps
    GradcheckError                      raised with a report of what disagrees
"""

import numpy as np

from . import backend
from .tensor import Tensor, array_of, backward, no_grad


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with its numerical estimate (the message says where)."""


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              fast_mode=False, seed=0):
    """Check the gradients of ``fn`` at ``inputs`` against central differences.

    Args:
        fn: takes the ``inputs`` (Tensors) and returns a Tensor or a tuple of Tensors.
        inputs: a Tensor or a sequence of them; those with ``requires_grad=True`` are checked.
            They must be float64. Non-Tensor entries are passed through unchanged.
        eps: the finite-difference step.
        atol, rtol: an entry passes when ``|analytic - numeric| <= atol + rtol * |numeric|``.
        raise_exception: raise :class:`GradcheckError` on failure (else return False).
        fast_mode: compare one directional derivative ``<grad, u>`` per input along a random
            direction ``u`` instead of every entry: 2 evaluations of ``fn`` per input instead of
            2 per entry, for inputs too big to check entry by entry.
        seed: seeds the upstream gradients and directions, so a failure reproduces.

    Returns:
        True when every checked gradient agrees (False on failure if not raising).
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True, so there is nothing to check")
    for i, t in enumerate(inputs):
        if isinstance(t, Tensor) and t.requires_grad and t.dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} is {t.dtype}; use float64 (tensor(..., dtype='float64')). "
                f"Central differences divide a difference of two nearly equal values by 2*eps: "
                f"in float32 the rounding error alone is ~1e-1 at eps=1e-6, larger than the bugs "
                f"being looked for.")
    device = inputs[checked[0]].device
    gen = backend.rng(seed, device)

    outputs = _as_outputs(fn(*inputs))
    upstream = [gen.standard_normal(o.shape) for o in outputs]
    for i in checked:
        inputs[i].grad = None
    with_grad = [(o, v) for o, v in zip(outputs, upstream) if o.requires_grad]
    if with_grad:
        backward([o for o, _ in with_grad], [v for _, v in with_grad])
    xp = backend.get_array_module(inputs[checked[0]].data)
    analytic = {i: xp.zeros_like(inputs[i].data) if inputs[i].grad is None else inputs[i].grad
                for i in checked}

    def objective():
        with no_grad():
            outs = _as_outputs(fn(*inputs))
        return sum(float((o.data * v).sum()) for o, v in zip(outs, upstream))

    first, second = objective(), objective()
    if first != second:
        return _fail(f"gradcheck: fn is not deterministic: two calls at the same inputs gave "
                     f"{first!r} and {second!r}. Pass random masks or noise in as inputs.",
                     raise_exception)

    for i in checked:
        t = inputs[i]
        if fast_mode:
            report = _check_direction(objective, t, analytic[i], gen, eps, atol, rtol)
        else:
            report = _check_entries(objective, t, analytic[i], eps, atol, rtol)
        if report:
            return _fail(f"gradcheck failed for input {i} (shape {t.shape}):\n{report}",
                         raise_exception)
    return True


def _as_outputs(out):
    outs = (out,) if isinstance(out, Tensor) else tuple(out)
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: fn must return Tensors, got {type(o).__name__}")
        if o.dtype != np.float64:
            raise TypeError(f"gradcheck: fn returned a {o.dtype} output; the check needs float64 "
                            f"all the way through")
    return outs


def _numeric(objective, t, index, step, eps):
    """(L(x + eps*step at index) - L(x - eps*step at index)) / (2 eps), restoring x after."""
    original = t.data[index].copy()
    t.data[index] = original + eps * step
    plus = objective()
    t.data[index] = original - eps * step
    minus = objective()
    t.data[index] = original
    return (plus - minus) / (2 * eps)


def _check_entries(objective, t, analytic, eps, atol, rtol):
    analytic = backend.to_numpy(analytic)
    numeric = np.empty(t.shape)
    for index in np.ndindex(*t.shape):
        numeric[index] = _numeric(objective, t, index, 1.0, eps)
    error = np.abs(analytic - numeric)
    bad = error > atol + rtol * np.abs(numeric)
    if not bad.any():
        return ""
    rel = error / np.maximum(np.abs(numeric), 1e-300)
    worst = np.argsort(-(error - atol - rtol * np.abs(numeric)), axis=None)[:5]
    lines = [f"  {int(bad.sum())} of {bad.size} entries disagree "
             f"(|analytic - numeric| > atol + rtol*|numeric|, atol={atol:g}, rtol={rtol:g})",
             f"  {'index':>16}  {'analytic':>14}  {'numeric':>14}  {'abs err':>10}"]
    for flat in worst:
        idx = np.unravel_index(flat, t.shape)
        if bad[idx]:
            lines.append(f"  {str(tuple(int(i) for i in idx)):>16}  {analytic[idx]:>14.7g}  "
                         f"{numeric[idx]:>14.7g}  {error[idx]:>10.3g}")
    lines.append(f"  max abs error {error.max():.3g}, max rel error {rel.max():.3g}")
    return "\n".join(lines)


def _check_direction(objective, t, analytic, gen, eps, atol, rtol):
    u = gen.standard_normal(t.shape)
    expected = float((analytic * u).sum())
    numeric = _numeric(objective, t, Ellipsis, u, eps)
    error = abs(expected - numeric)
    if error <= atol + rtol * abs(numeric):
        return ""
    return (f"  directional derivative along a random direction u disagrees:\n"
            f"  analytic <grad, u> = {expected:.10g}, numeric = {numeric:.10g}, "
            f"abs err {error:.3g}, rel err {error / max(abs(numeric), 1e-300):.3g}")


def _fail(message, raise_exception):
    if raise_exception:
        raise GradcheckError(message)
    return False


def check_adjoint(f, f_t, x_shape, y_shape, atol=1e-12, rtol=1e-10, seed=0, device="cpu"):
    """Check the dot-product identity <f(x), y> = <x, f_t(y)> for a linear map ``f``.

    If ``f`` is linear, its adjoint (transpose) ``f_t`` is the unique map with this identity for
    all x, y; it is also f's VJP. For conv2d and conv_transpose2d this proves that each is the
    other's adjoint, to float64 roundoff.

    Args:
        f, f_t: take a float64 Tensor (shapes ``x_shape`` and ``y_shape``) and return a Tensor or
            array of the other shape.
        seed: for the random x and y.

    Returns:
        ``(lhs, rhs)``, the two inner products. Raises :class:`GradcheckError` if they differ by
        more than ``atol + rtol * max(|lhs|, |rhs|)``.
    """
    gen = backend.rng(seed, device)
    x = Tensor(gen.standard_normal(tuple(x_shape)), dtype=np.float64)
    y = Tensor(gen.standard_normal(tuple(y_shape)), dtype=np.float64)
    # x and y do not require grad, so no graph is built here; grad mode stays on so that f_t
    # may itself be a VJP computed by backward (the strongest use of this check).
    fx, fty = array_of(f(x)), array_of(f_t(y))
    for name, got, want in (("f(x)", fx.shape, tuple(y_shape)), ("f_t(y)", fty.shape, tuple(x_shape))):
        if tuple(got) != want:
            raise GradcheckError(f"check_adjoint: {name} has shape {tuple(got)}, expected {want}")
    lhs, rhs = float((fx * y.data).sum()), float((x.data * fty).sum())
    if abs(lhs - rhs) > atol + rtol * max(abs(lhs), abs(rhs)):
        raise GradcheckError(f"check_adjoint: <f(x), y> = {lhs!r} but <x, f_t(y)> = {rhs!r} "
                             f"(difference {abs(lhs - rhs):.3g}): f_t is not the adjoint of f")
    return lhs, rhs


# `minigan.gradcheck` is this function; the adjoint check hangs off it so that
# `minigan.gradcheck.check_adjoint(...)` reads naturally.
gradcheck.check_adjoint = check_adjoint
