"""Hypothesis strategies shared by the property tests.

Strategies draw *geometry* (shapes, axes, parameters) and a *seed*; the values come from the
seed, so a failing example is reproduced by its printed seed and the values never shrink into
kinks (those are dodged explicitly, see tests/helpers.away_from and ``distinct``).
"""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

seeds = st.integers(0, 2**32 - 1)

# Small shapes, including 0-d and size-1 axes, so broadcasting edge cases come up often.
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)


@st.composite
def broadcastable_pair(draw, max_dims=3):
    """Two shapes that broadcast together (either may be 0-d, have size-1 axes or fewer axes)."""
    a, b = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=max_dims, max_side=4)
                ).input_shapes
    return a, b


@st.composite
def shape_and_axis(draw, min_dims=0):
    """A shape and an ``axis`` argument for it: None, an int or a tuple of distinct axes, each
    possibly written as a negative number."""
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=3, min_side=1, max_side=4))
    nd = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"] if nd else ["none", "tuple"]))
    if kind == "none":
        return shape, None
    if kind == "int":
        return shape, draw(st.integers(-nd, nd - 1))
    subset = draw(st.lists(st.integers(0, nd - 1), unique=True, max_size=nd)) if nd else []
    return shape, tuple(a - nd if draw(st.booleans()) else a for a in subset)


def normal(seed, shape, scale=1.0):
    return np.random.default_rng(seed).normal(scale=scale, size=shape)


def uniform(seed, shape, low, high):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


def distinct(seed, shape, gap=0.5):
    """Values in random order that differ pairwise by at least ``gap``: no ties, so a max and
    its finite differences never sit on a kink."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape, dtype=np.int64))
    values = (rng.permutation(n) - n / 2) * 2 * gap + rng.uniform(0, gap, size=n)
    return values.reshape(shape)


def off_grid(seed, shape, half):
    """Values ``k + U(0, 0.3)`` (``half=False``) or ``k + 0.5 + U(0, 0.3)`` (``half=True``) for
    random integers k: any value of one kind differs from any of the other by at least 0.2, so
    maximum(x, y) of the two kinds never has a tie, under any broadcasting."""
    rng = np.random.default_rng(seed)
    return rng.integers(-3, 3, size=shape) + 0.5 * half + rng.uniform(0, 0.3, size=shape)
