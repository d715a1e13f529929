"""The Tensor API and the backward engine: accumulation, graph release, no_grad, detach,
dtype discipline, Python operators, and the errors a user meets.

The engine is described in docs/autograd.md.
"""

import itertools
import types

import numpy as np
import pytest

import minigan
from minigan import backend
from minigan.tensor import Function
from tests.helpers import assert_close, host, t64


# --- the engine -----------------------------------------------------------------------------

def test_diamond_graph_accumulates_both_paths(device):
    x = t64([1.0, -2.0, 3.0], device)
    ((x + x) * x).sum().backward()  # d/dx 2x^2 = 4x
    assert_close(x.grad, 4 * np.array([1.0, -2.0, 3.0]))


def test_tensor_used_twice_gets_both_contributions(device):
    x = t64([2.0, 3.0], device)
    a, b = t64([5.0, 7.0], device, False), t64([11.0, 13.0], device, False)
    (x * a + b * x).sum().backward()
    assert_close(x.grad, [16.0, 20.0])


def test_backward_twice_on_fresh_graphs_accumulates(device):
    x = t64([1.0, 2.0], device)
    for _ in range(2):
        (x * x).sum().backward()  # as in PyTorch: .grad is summed until zeroed
    assert_close(x.grad, 2 * 2 * np.array([1.0, 2.0]))
    x.zero_grad()
    assert x.grad is None


def test_backward_twice_on_one_graph_needs_retain_graph(device):
    x = t64([1.0, 2.0], device)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert_close(x.grad, 2 * 2 * np.array([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_intermediate_gradients_are_not_kept(device):
    x = t64([1.0, 2.0], device)
    h = x * 3.0
    (h * h).sum().backward()
    assert h.grad is None and not h.is_leaf
    assert_close(x.grad, 18 * np.array([1.0, 2.0]))


def test_backward_on_non_scalar_needs_a_gradient(device):
    x = t64([1.0, 2.0], device)
    y = x * 2.0
    with pytest.raises(RuntimeError, match=r"non-scalar.*\(2,\)"):
        y.backward()
    y.backward(np.array([3.0, 5.0]))
    assert_close(x.grad, [6.0, 10.0])


def test_backward_gradient_of_wrong_shape_is_a_shape_error():
    y = t64([1.0, 2.0]) * 2.0
    with pytest.raises(minigan.ShapeError, match=r"\(3,\).*\(2,\)"):
        y.backward(np.ones(3))


def test_backward_through_a_tensor_without_grad_is_refused():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (t64([1.0], requires_grad=False) * 2.0).sum().backward()


def test_leaf_grad_does_not_alias_the_upstream_gradient():
    x = t64([1.0, 2.0])
    g = np.array([1.0, 1.0])
    x.reshape(2).backward(g)
    g[0] = 100.0
    assert host(x.grad).tolist() == [1.0, 1.0]


def test_ten_thousand_op_chain_needs_no_recursion():
    x = t64([1.0])
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()  # a recursive graph walk would hit Python's recursion limit here
    assert np.isclose(host(x.grad)[0], 1.0001 ** 10_000)


def test_zero_d_results_and_gradients_are_arrays(device):
    # Regression: NumPy arithmetic on 0-d arrays returns scalars; .data and .grad stayed such.
    x = t64(2.0, device)
    y = -x * x + x * x * 2.0
    y.backward()
    assert backend.is_array(y.data) and backend.is_array(x.grad)
    assert y.item() == 4.0 and host(x.grad) == 4.0


# --- no_grad and detach ---------------------------------------------------------------------

def test_no_grad_builds_no_graph_and_restores_state():
    x = t64([1.0, 2.0])
    with minigan.no_grad():
        y = x * 2.0
        assert not minigan.is_grad_enabled()
    assert minigan.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    with pytest.raises(ZeroDivisionError), minigan.no_grad():
        1 / 0
    assert minigan.is_grad_enabled()


def test_no_grad_as_decorator():
    @minigan.no_grad()
    def double(t):
        """Doubles."""
        return t * 2.0

    y = double(t64([1.0]))
    assert not y.requires_grad and double.__name__ == "double" and double.__doc__ == "Doubles."
    assert minigan.is_grad_enabled()


def test_detach_cuts_the_graph_and_shares_data(device):
    x = t64([1.0, 2.0], device)
    d = (x * 3.0).detach()
    assert not d.requires_grad and d.is_leaf
    (x * d).sum().backward()  # d is a constant: dx = d
    assert_close(x.grad, [3.0, 6.0])
    assert x.detach().data is x.data


def test_constant_inputs_get_no_gradient_work():
    seen = {}

    class Spy(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            seen["needs"] = ctx.needs_input_grad
            return g, None

    Spy.apply(t64([1.0]), t64([2.0], requires_grad=False)).sum().backward()
    assert seen["needs"] == (True, False)


# --- dtype ----------------------------------------------------------------------------------

def test_default_dtype_is_float32():
    assert minigan.tensor([1, 2]).dtype == np.float32
    assert minigan.tensor(3.5).dtype == np.float32
    assert minigan.tensor(np.arange(3)).dtype == np.float32
    assert minigan.tensor(np.zeros(2)).dtype == np.float64  # a float array keeps its dtype
    assert minigan.tensor([1, 2], dtype="float64").dtype == np.float64
    assert minigan.DEFAULT_DTYPE == np.float32


def _f32(values, requires_grad=True):
    return minigan.tensor(np.asarray(values, dtype=np.float32), requires_grad=requires_grad)


OPS = {  # every op on float32 inputs (positive, no ties), mixed with Python and float64 constants
    "add": lambda x, y: x + 1.5, "radd": lambda x, y: np.float64(1.5) + x,
    "sub": lambda x, y: x - y, "rsub": lambda x, y: 2.5 - x,
    "mul": lambda x, y: x * 2.5, "rmul": lambda x, y: np.ones(3) * x,
    "div": lambda x, y: x / np.float64(3.0), "rdiv": lambda x, y: 1.0 / x,
    "neg": lambda x, y: -x, "pow": lambda x, y: x ** 2.5, "rpow": lambda x, y: 2.0 ** x,
    "matmul": lambda x, y: x @ np.ones((3, 2)), "rmatmul": lambda x, y: np.ones((2, 3)) @ x,
    "exp": lambda x, y: x.exp(), "log": lambda x, y: x.log(), "sqrt": lambda x, y: x.sqrt(),
    "abs": lambda x, y: x.abs(), "clip": lambda x, y: x.clip(0.5, 2.5),
    "maximum": minigan.maximum, "minimum": lambda x, y: minigan.minimum(x, 2.5),
    "where": lambda x, y: minigan.where(np.array([True, False, True]), x, 0.0),
    "sum": lambda x, y: x.sum(), "mean": lambda x, y: x.mean(axis=0), "max": lambda x, y: x.max(),
    "reshape": lambda x, y: x.reshape(3, 1), "transpose": lambda x, y: x.reshape(1, 3).T,
    "getitem": lambda x, y: x[1:], "cat": lambda x, y: minigan.cat([x, y]),
    "stack": lambda x, y: minigan.stack([x, y]), "pad": lambda x, y: minigan.pad(x, (1, 2), 0.5),
    "relu": lambda x, y: minigan.functional.relu(x),
    "leaky_relu": lambda x, y: minigan.functional.leaky_relu(x, 0.2),
    "sigmoid": lambda x, y: x.sigmoid(), "tanh": lambda x, y: x.tanh(),
    "softplus": lambda x, y: minigan.functional.softplus(x),
    "log_sigmoid": lambda x, y: minigan.functional.log_sigmoid(x),
    "maxout": lambda x, y: minigan.functional.maxout(x.reshape(1, 3), 3),
    "linear": lambda x, y: minigan.functional.linear(x, np.ones((2, 3)), np.ones(2)),
    "bce_logits": lambda x, y: minigan.functional.binary_cross_entropy_with_logits(x, np.ones(3)),
    "bce": lambda x, y: minigan.functional.binary_cross_entropy(x * 0.1, y * 0.1),
}


@pytest.mark.parametrize("name", list(OPS))
def test_ops_never_change_dtype(name):
    x, y = _f32([1.0, 2.0, 3.0]), _f32([0.5, 2.5, 1.5])
    out = OPS[name](x, y)
    assert out.dtype == np.float32
    out.backward(np.ones(out.shape))
    assert x.grad.dtype == np.float32


def test_python_operators_compute_the_right_values():
    a = np.array([1.0, 2.0, 4.0])
    x = t64(a)
    for got, want in [(x + 2, a + 2), (2 + x, 2 + a), (x - 2, a - 2), (2 - x, 2 - a),
                      (x * a, a * a), (a * x, a * a), (x / 2, a / 2), (2 / x, 2 / a),
                      (x ** 2, a ** 2), (2 ** x, 2 ** a), (-x, -a),
                      (x @ a, a @ a), (a @ x, a @ a), (a.reshape(3, 1) @ x.reshape(1, 3),
                                                      np.outer(a, a))]:
        assert_close(got, want, rtol=1e-14)


def test_dtype_mismatch_between_tensors_is_refused():
    with pytest.raises(TypeError, match="dtype mismatch.*float32.*float64"):
        _f32([1.0]) + t64([1.0])


def test_forward_that_changes_dtype_is_caught():
    class Upcast(Function):
        @staticmethod
        def forward(ctx, x):
            return x.astype(np.float64)

    with pytest.raises(TypeError, match="Upcast.*must not change dtype"):
        Upcast.apply(_f32([1.0]))


def test_backward_with_wrong_gradient_count_or_shape_names_the_op():
    class TwoGrads(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g, g

    class BadShape(TwoGrads):
        @staticmethod
        def backward(ctx, g):
            return g.sum()

    with pytest.raises(RuntimeError, match="TwoGrads.backward returned 2 gradients for 1"):
        TwoGrads.apply(t64([1.0, 2.0])).sum().backward()
    with pytest.raises(RuntimeError, match=r"BadShape.backward.*shape \(\).*\(2,\)"):
        BadShape.apply(t64([1.0, 2.0])).sum().backward()


def test_broadcast_failure_names_op_and_shapes():
    with pytest.raises(minigan.ShapeError, match=r"Add.*\(2, 3\).*\(4,\)"):
        t64(np.zeros((2, 3))) + t64(np.zeros(4))
    with pytest.raises(minigan.ShapeError, match=r"Mul.*\(2,\).*\(3,\)"):
        t64(np.zeros(2)) * np.zeros(3)


def test_only_floating_tensors_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        minigan.tensor([1, 2], dtype=np.int64, requires_grad=True)


def test_an_op_needs_a_tensor():
    with pytest.raises(TypeError, match="at least one input must be a Tensor"):
        minigan.add(1.0, 2.0)


# --- the Tensor API -------------------------------------------------------------------------

def test_tensor_attributes(device):
    x = minigan.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True, device=device)
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and len(x) == 2
    assert x.dtype == np.float32 and x.device == device and x.requires_grad
    assert x.grad is None and x.is_leaf
    assert isinstance(x.numpy(), np.ndarray) and x.numpy().tolist()[1] == [4.0, 5.0, 6.0]
    assert x[1, 2].item() == 6.0 and isinstance(x[1, 2].item(), float)
    x.sum().backward()
    assert_close(x.grad, np.ones((2, 3), dtype=np.float32))


def test_item_needs_one_element():
    with pytest.raises(ValueError, match=r"one element.*\(2,\)"):
        minigan.tensor([1.0, 2.0]).item()


def test_to_and_casts():
    x = minigan.tensor([1.0, 2.0], requires_grad=True)
    assert x.to("cpu") is x and x.cpu() is x
    d = x.double()
    assert d.dtype == np.float64 and d.requires_grad and d.is_leaf
    assert d.float().dtype == np.float32 and x.to(dtype="float64").dtype == np.float64
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        x.to("tpu")


def test_to_cuda_without_gpu_explains(monkeypatch):
    monkeypatch.setattr(backend, "cuda_available", lambda: False)
    with pytest.raises(RuntimeError, match="CuPy"):
        minigan.tensor([1.0], device="cuda")


def test_requires_grad_only_changes_on_leaves():
    x = minigan.tensor([1.0]).requires_grad_()
    assert x.requires_grad
    with pytest.raises(RuntimeError, match="leaf"):
        (x * 2.0).requires_grad_(False)


def test_repr():
    assert repr(minigan.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(t64([1.0])) == "tensor([1.], dtype=float64, requires_grad=True)"


def test_tensor_from_tensor_copies_values_not_graph():
    x = t64([1.0, 2.0])
    y = minigan.tensor(x * 2.0)
    assert y.is_leaf and not y.requires_grad and host(y).tolist() == [2.0, 4.0]


# --- devices --------------------------------------------------------------------------------

class _FakeCupyArray:
    """Stands in for cupy.ndarray: CuPy arrays cannot be made without a GPU, but the device
    check only asks which library an array belongs to."""

    shape, ndim, dtype = (2,), 1, np.dtype(np.float32)


def test_device_mismatch_error_names_op_and_both_devices(monkeypatch):
    fake_cupy = types.SimpleNamespace(ndarray=_FakeCupyArray)
    monkeypatch.setattr(backend, "_cupy", fake_cupy)
    gpu = _FakeCupyArray()
    assert backend.device_of(gpu) == "cuda" and backend.is_array(gpu)
    assert backend.get_array_module(gpu, 1.0, None) is fake_cupy
    assert backend.get_array_module(np.ones(2), 3) is np
    with pytest.raises(minigan.DeviceMismatchError,
                       match=r"different devices in MatMul: numpy.ndarray \(cpu\) and "
                             r".*_FakeCupyArray \(cuda\).*to one device"):
        backend.get_array_module(np.ones(2), gpu, op="MatMul")
    with pytest.raises(minigan.DeviceMismatchError, match="in Add"):
        minigan.tensor([1.0, 2.0]) + gpu  # a GPU array handed to a CPU tensor's op


# --- the engine's bookkeeping: shared gradients, aliasing, odd shapes --------------------------
# backward adds a second contribution into a new array and only ever adds in place into arrays
# it allocated itself; a leaf's first gradient is copied unless it is such a sum. These tests
# fail if a gradient that someone else holds (the caller's seed, an upstream gradient handed
# on unchanged, one array returned for two inputs) is added into or kept as a leaf's .grad.

def _shares_memory(a, b):
    return backend.get_array_module(a, b).shares_memory(a, b)


def test_a_computed_node_used_twice_sums_a_gradient_handed_on_unchanged(device):
    x = t64([1.0, -2.0, 3.0], device)
    h = x * 2.0
    (h + h * 3.0).sum().backward()  # Add hands g to h unchanged; the Mul path adds 3 g
    assert_close(x.grad, [8.0, 8.0, 8.0])
    g = backend.xp_for(device).asarray([1.0, 10.0, 100.0])
    x.grad = None
    h = x * 2.0
    (h + h * 3.0).backward(g)  # the caller's g itself reaches h twice
    assert_close(x.grad, [8.0, 80.0, 800.0])
    assert_close(g, [1.0, 10.0, 100.0])  # and is never added into
    x.grad = None
    h = x * 2.0
    (h + h).backward(g)  # both contributions are g itself
    assert_close(x.grad, [4.0, 40.0, 400.0])
    assert_close(g, [1.0, 10.0, 100.0])


@pytest.mark.parametrize("route", ["leaf", "add", "reshape", "sum"])
def test_grad_never_aliases_an_array_the_caller_passed(device, route):
    xp = backend.xp_for(device)
    x = t64([1.0, 2.0, 3.0], device)
    outputs = {"leaf": lambda: x, "add": lambda: x + 1.0, "reshape": lambda: x.reshape(1, 3),
               "sum": lambda: x.sum(keepdims=True)}
    y = outputs[route]()
    g = xp.full(y.shape, 2.0)
    y.backward(g)
    assert x.grad is not g and not _shares_memory(x.grad, g)
    outputs[route]().backward(g)  # accumulates: .grad += ..., which must not reach g
    assert_close(g, np.full(y.shape, 2.0))
    assert_close(x.grad, [4.0, 4.0, 4.0])


def test_two_leaves_handed_one_upstream_gradient_get_arrays_of_their_own(device):
    x, y = t64([1.0, 2.0], device), t64([3.0, 4.0], device)
    (x + y).backward(backend.xp_for(device).asarray([1.0, 1.0]))  # Add returns (g, g)
    assert x.grad is not y.grad and not _shares_memory(x.grad, y.grad)
    (x * 5.0).sum().backward()
    assert_close(x.grad, [6.0, 6.0])
    assert_close(y.grad, [1.0, 1.0])


class _OneArrayForBoth(Function):
    """z = x + y, whose backward returns one fresh array as the gradient of both inputs."""

    @staticmethod
    def forward(ctx, x, y):
        return x + y

    @staticmethod
    def backward(ctx, g):
        gx = g * 1.0
        return gx, gx


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_a_function_returning_one_array_for_two_inputs(device, order):
    """h and k are handed one array; h then gets a second contribution, and k's must not change
    with it. The order of the roots orders the walk; with (0, 1, 2) the walk adds into h's
    pending gradient before it reads k's, which caught the engine's former copy-avoiding
    shortcut (it gave y.grad 9 instead of 6)."""
    x, y = t64([1.0, 2.0], device), t64([3.0, 4.0], device)
    h, k = x * 1.0, y * 1.0
    outputs = [_OneArrayForBoth.apply(h, k), h * 3.0, k * 5.0]
    ones = backend.xp_for(device).ones(2)
    minigan.backward([outputs[i] for i in order], [ones, ones, ones])
    assert_close(x.grad, [4.0, 4.0])
    assert_close(y.grad, [6.0, 6.0])


def test_backward_without_gradient_on_a_one_element_tensor_that_is_not_0d(device):
    x = t64([1.0, -2.0, 3.0], device)
    y = (x * 2.0).sum(keepdims=True)  # shape (1,)
    y.backward()
    assert_close(x.grad, [2.0, 2.0, 2.0])
    x.grad = None
    z = x.reshape(1, 3) @ t64([[1.0], [2.0], [3.0]], device, False)  # shape (1, 1)
    z.backward()
    assert_close(x.grad, [1.0, 2.0, 3.0])


def test_a_0d_sum_reaching_a_leaf(device):
    x = t64(2.0, device)  # a 0-d leaf
    x.sum().backward()
    assert backend.is_array(x.grad) and x.grad.shape == () and host(x.grad) == 1.0
    x.sum().backward()  # accumulates into the 0-d array
    assert host(x.grad) == 2.0
    y = t64(3.0, device)
    y.backward()  # the leaf is the output itself: its seed, copied
    y.backward()
    assert host(y.grad) == 2.0


# --- backward's arguments ---------------------------------------------------------------------

def test_backward_needs_one_gradient_per_tensor():
    a, b = t64([1.0]), t64([2.0])
    with pytest.raises(ValueError, match="2 tensors but 1 gradients"):
        minigan.backward([a * 2.0, b * 3.0], [np.ones(1)])
    assert a.grad is None and b.grad is None
    minigan.backward([a * 2.0, b * 3.0], [np.ones(1), None])  # one-element: None means 1
    assert_close(a.grad, [2.0])
    assert_close(b.grad, [3.0])
    minigan.backward(a * 2.0, np.ones(1))  # one tensor, one gradient
    assert_close(a.grad, [4.0])
    with pytest.raises(ValueError, match="no tensors"):
        minigan.backward([])
    with pytest.raises(TypeError, match=r"tensors\[1\] is a ndarray"):
        minigan.backward([a * 2.0, np.ones(1)])
    with pytest.raises(TypeError, match="backward: input 0 is str"):
        (a * 2.0).backward("1")


# --- truth value, length, iteration ---------------------------------------------------------------

def test_bool_len_and_iteration_follow_pytorch():
    assert bool(minigan.tensor([0.0])) is False and bool(minigan.tensor([[2.0]])) is True
    assert bool(minigan.tensor(0.0)) is False and bool(minigan.tensor(-1.0)) is True
    for values in ([1.0, 2.0], np.zeros((0,))):
        with pytest.raises(RuntimeError, match="ambiguous"):
            bool(minigan.tensor(values))
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(minigan.tensor(1.0))
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(minigan.tensor(1.0))
    x = t64([[1.0, 2.0], [3.0, 4.0]])
    rows = list(x)
    assert len(rows) == 2 and host(rows[1]).tolist() == [3.0, 4.0]
    sum(r.sum() for r in rows).backward()  # iteration is indexing: in the graph
    assert_close(x.grad, np.ones((2, 2)))


def test_a_read_only_array_is_copied_so_the_tensor_can_be_updated():
    a = np.ones(3)
    a.flags.writeable = False
    x = minigan.tensor(a, requires_grad=True)
    x.grad = np.ones(3)
    minigan.optim.SGD([x], lr=0.5).step()
    assert host(x).tolist() == [0.5, 0.5, 0.5] and a.tolist() == [1.0, 1.0, 1.0]
    w = np.ones(3, dtype=np.float32)
    assert minigan.tensor(w).data is w  # a writable array of the right dtype is not copied


# --- changing a tensor in place: the version counter ---------------------------------------------

def test_a_saved_input_changed_in_place_is_caught_by_name(device):
    x, w = t64([1.0, 2.0], device), t64([3.0, 4.0], device, requires_grad=False)
    y = (x * w).sum()
    w.mul_(0.0)  # Mul saved w: its gradient for x would now be 0
    with pytest.raises(RuntimeError, match=r"Mul: its input 1 \(shape \(2,\)\) was changed in "
                                           r"place .* version 1, saved at version 0"):
        y.backward()


def test_an_optimiser_step_before_backward_of_an_old_graph_is_caught():
    layer = minigan.nn.Linear(2, 1, generator=0)
    opt = minigan.optim.SGD(layer.parameters(), lr=0.1)
    x = minigan.tensor(np.ones((1, 2), dtype=np.float32))
    loss = layer(x).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match="Linear: its input 1 .* changed in place"):
        loss.backward()
    layer(x).sum().backward()  # a fresh graph after the step is fine


def test_a_saved_output_changed_in_place_is_caught():
    x = t64([0.0, 1.0])
    y = x.exp()  # Exp saves its output
    with minigan.no_grad():
        y.add_(1.0)
    with pytest.raises(RuntimeError, match="Exp: its output"):
        y.sum().backward()


def test_views_and_detached_tensors_share_the_version_counter():
    x = t64([1.0, 2.0])
    w = t64([3.0, 4.0], requires_grad=False)
    y = (x * w).sum()
    w[1:].fill_(0.0)  # a view of w's memory
    with pytest.raises(RuntimeError, match="Mul: its input 1"):
        y.backward()
    w2 = t64([3.0, 4.0], requires_grad=False)
    y = (x * w2).sum()
    w2.detach().zero_()
    with pytest.raises(RuntimeError, match="Mul: its input 1"):
        y.backward()
    assert w2._version == 1 and w2.reshape(2, 1)._version == 1


def test_changes_that_no_saved_array_sees_are_allowed():
    x, w = t64([1.0, 2.0]), t64([3.0, 4.0], requires_grad=False)
    y = (x + w).sum()  # Add saves nothing
    w.add_(1.0)
    y.backward()
    assert_close(x.grad, [1.0, 1.0])
    y = (x * w).sum()
    y.backward()
    w.add_(1.0)  # after backward: nothing left to protect
    assert_close(x.grad, [5.0, 6.0])


def test_the_inplace_methods_and_their_rules():
    x = t64([1.0, 2.0])
    with pytest.raises(RuntimeError, match="add_: a leaf tensor that requires grad"):
        x.add_(1.0)
    with pytest.raises(RuntimeError, match="mul_: in-place changes are not recorded"):
        (x * 2.0).mul_(2.0)
    with minigan.no_grad():
        assert x.add_(1.0) is x and x.sub_(np.array([0.5, 0.5])) is x and x.mul_(2.0) is x
    assert host(x).tolist() == [3.0, 5.0] and x._version == 3
    with minigan.no_grad():
        x.copy_(t64([7.0, 8.0], requires_grad=False))
        assert host(x).tolist() == [7.0, 8.0]
        x.fill_(1.5)
        assert host(x).tolist() == [1.5, 1.5]
        x.zero_()
    assert host(x).tolist() == [0.0, 0.0] and x._version == 6
    c = minigan.tensor(np.ones(2, dtype=np.float32))
    with pytest.raises(TypeError, match="Tensor.add_: input 0 is str"):
        c.add_("1")
    c.data = np.ones(2, dtype=np.float32)
    c.data.flags.writeable = False
    with pytest.raises(ValueError, match="add_: this tensor's data is a read-only array"):
        c.add_(1.0)


def test_the_library_advances_the_version_where_it_changes_data():
    layer = minigan.nn.Linear(2, 2, generator=0)
    v = layer.weight._version
    minigan.nn.init.zeros_(layer.weight)
    minigan.nn.init.normal_(layer.weight, generator=0)
    assert layer.weight._version == v + 2
    layer.load_state_dict({k: a.copy() for k, a in layer.state_dict().items()})
    assert layer.weight._version == v + 3
    layer.weight.grad = np.ones((2, 2), dtype=np.float32)
    minigan.optim.Adam([layer.weight]).step()
    assert layer.weight._version == v + 4
