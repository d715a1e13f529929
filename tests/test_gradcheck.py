"""The checker itself: it passes correct ops and must *fail* on planted bugs, with a report
that says where. A gradient checker that cannot fail proves nothing.

Derivation of the method: docs/derivations/gradcheck.md.
"""

import numpy as np
import pytest

import minigan
from minigan import GradcheckError, gradcheck
from minigan.gradcheck import check_adjoint
from minigan.tensor import Function
from tests.helpers import t64


class MatMulTransposeBug(Function):
    """z = x @ y with gx = g @ y (forgot the transpose): right for symmetric y only."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x @ y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved
        return g @ y, x.T @ g


class SquareMissingFactor(Function):
    """z = x^2 with gx = g x (the factor 2 is missing)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g * x


class ScaleIgnoresUpstream(Function):
    """z = 3 x with gx = 3 (ones-based): exactly right when the upstream gradient is all ones."""

    @staticmethod
    def forward(ctx, x):
        return 3 * x

    @staticmethod
    def backward(ctx, g):
        return 3 * np.ones_like(g)


class SumOfRowsBug(Function):
    """z = x.sum(axis=1) with gx = g broadcast along the wrong axis: right for square inputs
    and all-ones upstream gradients, wrong otherwise."""

    @staticmethod
    def forward(ctx, x):
        ctx.shape = x.shape
        return x.sum(axis=1)

    @staticmethod
    def backward(ctx, g):
        return np.broadcast_to(g[None, :], ctx.shape) if g.shape[0] == ctx.shape[1] else \
            np.broadcast_to(g[:, None], ctx.shape)


def test_passes_on_correct_ops(device):
    x = t64(np.random.default_rng(0).normal(size=(3, 2)), device)
    w = t64(np.random.default_rng(1).normal(size=(2, 4)), device)
    assert gradcheck(lambda a, b: (a @ b).sigmoid() * a.sum(), [x, w])
    assert gradcheck(lambda a, b: (a @ b).tanh(), [x, w], fast_mode=True)


def test_catches_a_transposition_bug_and_reports_where():
    rng = np.random.default_rng(0)
    x, y = t64(rng.normal(size=(2, 3))), t64(rng.normal(size=(3, 3)))
    with pytest.raises(GradcheckError) as info:
        gradcheck(MatMulTransposeBug.apply, [x, y])
    report = str(info.value)
    assert "input 0" in report and "shape (2, 3)" in report
    assert "analytic" in report and "numeric" in report
    assert "max abs error" in report and "max rel error" in report
    assert "entries disagree" in report
    # The worst entry's index, analytic and numeric values are printed and are the real ones.
    row = next(line for line in report.splitlines() if line.strip().startswith("("))
    index = tuple(int(i) for i in row.split(")")[0].strip(" (").split(","))
    analytic, numeric = (float(v) for v in row.split(")")[1].split()[:2])
    g = np.random.default_rng(0).standard_normal((2, 3))  # gradcheck's upstream (seed 0)
    assert np.isclose(numeric, (g @ y.data.T)[index], rtol=1e-6)
    assert np.isclose(analytic, (g @ y.data)[index], rtol=1e-6)


def test_catches_a_missing_factor():
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(SquareMissingFactor.apply, t64([0.5, -1.5, 2.0]))


@pytest.mark.parametrize("bug, shape", [(SquareMissingFactor, (3, 2)),
                                        (MatMulTransposeBug, None),
                                        (SumOfRowsBug, (3, 3))])
def test_fast_mode_catches_planted_bugs(bug, shape):
    rng = np.random.default_rng(3)
    if shape is None:
        inputs = [t64(rng.normal(size=(2, 3))), t64(rng.normal(size=(3, 3)))]
    else:
        inputs = [t64(rng.normal(size=shape))]
    with pytest.raises(GradcheckError, match="directional derivative"):
        gradcheck(bug.apply, inputs, fast_mode=True)


def test_upstream_gradient_is_random_not_ones():
    # With an all-ones upstream gradient both bugs below would give exactly the right numbers.
    x = t64([0.5, -1.0, 2.0])
    (ScaleIgnoresUpstream.apply(x)).backward(np.ones(3))
    assert x.grad.tolist() == [3.0, 3.0, 3.0]  # indistinguishable from the true VJP at g = 1
    with pytest.raises(GradcheckError):
        gradcheck(ScaleIgnoresUpstream.apply, t64([0.5, -1.0, 2.0]))
    with pytest.raises(GradcheckError):
        gradcheck(SumOfRowsBug.apply, t64(np.arange(9.0).reshape(3, 3)))


def test_refuses_float32_and_says_why():
    x = minigan.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="float32.*float64.*rounding error"):
        gradcheck(lambda a: a * 2.0, x)


def test_refuses_when_nothing_requires_grad():
    with pytest.raises(ValueError, match="nothing to check"):
        gradcheck(lambda a: a * 2.0, t64([1.0], requires_grad=False))


def test_detects_a_nondeterministic_function():
    rng = np.random.default_rng(0)

    def noisy(a):  # randomness inside fn: dropout with its mask drawn inside, for example
        return a * rng.normal(size=a.shape)

    with pytest.raises(GradcheckError, match="not deterministic"):
        gradcheck(noisy, t64([1.0, 2.0]))


def test_multiple_outputs_and_non_tensor_arguments():
    x, y = t64([0.5, -1.0]), t64([[2.0, 1.0], [0.0, 3.0]])
    assert gradcheck(lambda a, b, k: (a * k, (b @ a).exp()), [x, y, 2.0])
    with pytest.raises(GradcheckError):
        gradcheck(lambda a: (a * 2.0, SquareMissingFactor.apply(a)), [x])


def test_output_not_depending_on_an_input_gives_zero_gradient():
    x, y = t64([1.0, 2.0]), t64([3.0])
    assert gradcheck(lambda a, b: a * 2.0, [x, y])


def test_raise_exception_false_returns_false():
    assert gradcheck(SquareMissingFactor.apply, t64([0.5, 2.0]), raise_exception=False) is False
    assert gradcheck(SquareMissingFactor.apply, t64([0.5, 2.0]), raise_exception=False,
                     fast_mode=True) is False
    assert gradcheck(lambda a: a * a, t64([0.5, 2.0]), raise_exception=False) is True


def test_check_adjoint_passes_for_a_linear_map_and_its_transpose(device):
    rng = np.random.default_rng(0)
    a = t64(rng.normal(size=(3, 4)), device, requires_grad=False)
    lhs, rhs = check_adjoint(lambda x: a @ x, lambda y: a.T @ y, (4, 2), (3, 2), device=device)
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs))
    assert minigan.check_adjoint is check_adjoint and gradcheck.check_adjoint is check_adjoint


def test_check_adjoint_fails_for_a_wrong_adjoint():
    a = t64(np.random.default_rng(0).normal(size=(3, 3)), requires_grad=False)
    with pytest.raises(GradcheckError, match="not the adjoint"):
        check_adjoint(lambda x: a @ x, lambda y: a @ y, (3,), (3,))  # forgot the transpose
    with pytest.raises(GradcheckError, match="shape"):
        check_adjoint(lambda x: a @ x, lambda y: y[:2], (3,), (3,))
