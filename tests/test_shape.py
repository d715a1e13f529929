"""Shape ops (reshape, transpose/permute, flatten, basic indexing, concatenate, stack, constant
pad): forwards against NumPy, gradients by gradcheck, and the adjoint identity: each is linear,
so its backward must be the exact transpose of its forward.

Derivations: docs/derivations/shape.md.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigan
from minigan.gradcheck import check_adjoint
from tests.helpers import assert_close, check_grads, t64, vjp_of
from tests.strategies import normal, seeds, shapes


def _linear_checks(fn, a, device):
    """gradcheck, and <fn(x), y> == <x, backward(y)> for the linear map ``fn``."""
    check_grads(fn, [a], device)
    out_shape = fn(t64(a, device)).shape
    check_adjoint(fn, vjp_of(fn, a.shape, device), a.shape, out_shape, device=device)


@st.composite
def reshape_geometry(draw):
    shape = draw(shapes)
    new = list(draw(st.permutations(shape)))
    for _ in range(draw(st.integers(0, 2))):
        new.insert(draw(st.integers(0, len(new))), 1)
    if new and draw(st.booleans()):
        new[draw(st.integers(0, len(new) - 1))] = -1
    return shape, tuple(new)


@given(geometry=reshape_geometry(), seed=seeds)
def test_reshape(device, geometry, seed):
    shape, new = geometry
    a = normal(seed, shape)
    assert_close(t64(a, device).reshape(new), a.reshape(new))
    assert_close(minigan.reshape(t64(a, device), *new), a.reshape(new))
    _linear_checks(lambda x: x.reshape(new), a, device)


@st.composite
def permutation_geometry(draw):
    shape = draw(shapes)
    axes = draw(st.permutations(range(len(shape))))
    return shape, tuple(a - len(shape) if draw(st.booleans()) else a for a in axes)


@given(geometry=permutation_geometry(), seed=seeds)
def test_transpose_permute(device, geometry, seed):
    shape, axes = geometry
    a = normal(seed, shape)
    assert_close(t64(a, device).permute(*axes), np.transpose(a, axes))
    assert_close(minigan.transpose(t64(a, device), axes), np.transpose(a, axes))
    assert_close(t64(a, device).T, a.T)
    _linear_checks(lambda x: x.transpose(*axes), a, device)


def test_transpose_refuses_a_non_permutation():
    with pytest.raises(minigan.ShapeError, match="permutation"):
        t64(np.zeros((2, 3))).transpose(0, 0)


@st.composite
def flatten_geometry(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=3))
    nd = len(shape)
    start = draw(st.integers(0, nd - 1))
    end = draw(st.integers(start, nd - 1))
    return shape, draw(st.sampled_from([start, start - nd])), draw(st.sampled_from([end, end - nd])), (start, end)


@given(geometry=flatten_geometry(), seed=seeds)
def test_flatten(device, geometry, seed):
    shape, start_dim, end_dim, (s, e) = geometry
    a = normal(seed, shape)
    expected = a.reshape(shape[:s] + (int(np.prod(shape[s:e + 1])),) + shape[e + 1:])
    assert_close(t64(a, device).flatten(start_dim, end_dim), expected)
    _linear_checks(lambda x: minigan.flatten(x, start_dim, end_dim), a, device)


def test_flatten_defaults_and_zero_d():
    assert t64(np.zeros((2, 3, 4))).flatten().shape == (24,)
    assert t64(np.zeros((2, 3, 4))).flatten(1).shape == (2, 12)
    assert t64(5.0).flatten().shape == (1,)  # as torch.flatten


@st.composite
def basic_index(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    index = []
    for n in shape[:draw(st.integers(1, len(shape)))]:
        if draw(st.booleans()):
            index.append(draw(st.integers(-n, n - 1)))
        else:
            index.append(slice(draw(st.one_of(st.none(), st.integers(-n, n))),
                               draw(st.one_of(st.none(), st.integers(-n, n))),
                               draw(st.sampled_from([None, 1, 2, -1]))))
    if draw(st.booleans()):
        index.insert(draw(st.integers(0, len(index))), None)
    return shape, index[0] if len(index) == 1 and draw(st.booleans()) else tuple(index)


@given(geometry=basic_index(), seed=seeds)
def test_getitem(device, geometry, seed):
    shape, index = geometry
    a = normal(seed, shape)
    assert_close(t64(a, device)[index], a[index])
    _linear_checks(lambda x: x[index], a, device)


def test_getitem_ellipsis_and_numpy_int(device):
    a = np.arange(24.0).reshape(2, 3, 4)
    assert_close(t64(a, device)[..., np.int64(1)], a[..., 1])


def test_getitem_refuses_advanced_indexing():
    with pytest.raises(TypeError, match="basic indexing"):
        t64(np.zeros(3))[[0, 1]]


@st.composite
def concat_geometry(draw):
    base = list(draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)))
    axis = draw(st.integers(-len(base), len(base) - 1))
    sizes = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    shapes_ = []
    for n in sizes:
        s = list(base)
        s[axis] = n
        shapes_.append(tuple(s))
    return shapes_, axis


@given(geometry=concat_geometry(), seed=seeds)
def test_concatenate(device, geometry, seed):
    shapes_, axis = geometry
    arrays = [normal(seed + i, s) for i, s in enumerate(shapes_)]
    fn = lambda *xs: minigan.concatenate(xs, axis=axis)  # noqa: E731
    assert_close(fn(*[t64(a, device) for a in arrays]), np.concatenate(arrays, axis=axis))
    check_grads(fn, arrays, device)


@given(shape=shapes, count=st.integers(1, 3), data=st.data(), seed=seeds)
def test_stack(device, shape, count, data, seed):
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    arrays = [normal(seed + i, shape) for i in range(count)]
    fn = lambda *xs: minigan.stack(xs, axis=axis)  # noqa: E731
    assert_close(fn(*[t64(a, device) for a in arrays]), np.stack(arrays, axis=axis))
    check_grads(fn, arrays, device)


def test_concatenate_and_stack_name_the_op_on_bad_shapes():
    with pytest.raises(minigan.ShapeError, match="Concatenate"):
        minigan.concatenate([t64(np.zeros((2, 3))), t64(np.zeros((3, 2)))], axis=0)
    with pytest.raises(minigan.ShapeError, match="Stack"):
        minigan.stack([t64(np.zeros((2, 3))), t64(np.zeros((3, 2)))])


@st.composite
def pad_geometry(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3))
    pairs = draw(st.integers(1, len(shape)))
    pad = tuple(draw(st.integers(0, 2)) for _ in range(2 * pairs))
    return shape, pad, draw(st.floats(-2, 2))


@given(geometry=pad_geometry(), seed=seeds)
def test_pad(device, geometry, seed):
    shape, pad, value = geometry
    a = normal(seed, shape)
    pairs = [(pad[i], pad[i + 1]) for i in range(0, len(pad), 2)][::-1]
    width = [(0, 0)] * (len(shape) - len(pairs)) + pairs
    expected = np.pad(a, width, mode="constant", constant_values=value)
    assert_close(minigan.pad(t64(a, device), pad, value), expected)
    # The constant makes pad affine; the adjoint identity needs the linear part (value 0).
    _linear_checks(lambda x: minigan.pad(x, pad), a, device)
    check_grads(lambda x: minigan.pad(x, pad, value), [a], device)


def test_pad_refuses_odd_or_too_long_spec():
    with pytest.raises(minigan.ShapeError, match="Pad"):
        minigan.pad(t64(np.zeros((2, 2))), (1, 1, 1))
