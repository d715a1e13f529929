"""Checks of the settings that ops, layers and optimisers take (axes, sizes, rates).

A setting is checked once, where it is given (a layer's constructor, a functional call), never
per element: a wrong one raises an error that names the op or layer and the argument, instead of
a NumPy complaint from deep inside a kernel or, worse, a silently different result (an axis
taken modulo the number of axes). Tests: tests/test_args.py.
"""

import math
import numbers
import operator

from ..tensor import ShapeError, Tensor


def tensor(value, op, name="input"):
    """``value`` itself if it is a Tensor; otherwise a TypeError naming the op and the type."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(value).__name__}")
    return value


def integer(value, op, name, minimum=None):
    """``value`` as an int (not a bool, not a float), at least ``minimum`` when given."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{op}: {name} must be an int, got {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value}")
    return value


def number(value, op, name):
    """``value`` itself if it is a real number (not a bool, not a string, not an array); inf
    and NaN pass, :func:`real` refuses them."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: {name} must be a real number, got {type(value).__name__} "
                        f"{value!r}")
    return value


def real(value, op, name, low=None, high=None, low_open=False, high_open=False):
    """``value`` as a finite float (not a bool, not a string) in the interval given by ``low``
    and ``high`` (closed unless ``low_open`` / ``high_open``)."""
    value = float(number(value, op, name))
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if not math.isfinite(value) or below or above:
        where = (("(" if low_open else "[") + ("-inf" if low is None else f"{low:g}") + ", "
                 + ("inf" if high is None else f"{high:g}") + (")" if high_open else "]"))
        raise ValueError(f"{op}: {name} must be a finite number in {where}, got {value!r}")
    return value


def probability(value, op, name="p"):
    """``value`` as a float in [0, 1] (a dropout rate)."""
    if not 0 <= number(value, op, name) <= 1:  # also refuses NaN
        raise ValueError(f"{op}: {name}, a probability, has to be between 0 and 1, but got "
                         f"{value}")
    return float(value)


def pair(value, op, name, minimum):
    """An int or a pair of ints (a tuple or list), each at least ``minimum``, as a pair."""
    try:
        if isinstance(value, bool) or any(isinstance(v, bool) for v in _items(value)):
            raise TypeError
        result = tuple(operator.index(v) for v in _items(value))
        if len(result) == 1 and not isinstance(value, (tuple, list)):
            result *= 2
    except TypeError:
        result = ()
    if len(result) != 2 or min(result) < minimum:
        raise ValueError(f"{op}: {name} must be an int or a pair of ints >= {minimum}, "
                         f"got {value!r}")
    return result


def _items(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def axis(value, ndim, op, name="axis"):
    """One axis of a tensor with ``ndim`` axes, negatives counting from the end, as an int in
    [0, ndim). A 0-d tensor accepts 0 and -1, as in PyTorch. Out of range: a ShapeError (never
    the axis modulo ndim, which would silently reduce another axis)."""
    value = integer(value, op, name)
    size = max(ndim, 1)
    if not -size <= value < size:
        raise ShapeError(f"{op}: {name} {value} is out of range for a tensor with {ndim} "
                         f"axes (expected {-size} to {size - 1})")
    return value % size if ndim else 0


def axes(value, ndim, op, name="axis"):
    """``value`` (None for every axis, an int or a sequence of distinct ints) as a sorted tuple
    of axes in [0, ndim). A 0-d tensor has no axes to reduce: 0 and -1 name none."""
    if value is None:
        return tuple(range(ndim))
    many = value if isinstance(value, (tuple, list)) else (value,)
    result = [axis(a, ndim, op, name) for a in many]
    if len(set(result)) != len(result):
        raise ShapeError(f"{op}: {name} {value!r} names an axis twice (tensor with {ndim} axes)")
    return tuple(sorted(result)) if ndim else ()
