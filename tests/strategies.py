"""Hypothesis strategies shared by the property tests."""

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


def normal(seed, shape, scale=1.0):
    return np.random.default_rng(seed).normal(scale=scale, size=shape)
