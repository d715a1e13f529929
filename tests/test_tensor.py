"""The Tensor API and the backward engine: accumulation, graph release, no_grad, detach,
dtype discipline, Python operators, and the errors a user meets.

The engine is described in docs/autograd.md.
"""

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
