"""minigan.nn: registration and naming, state_dict round trips and load errors, train/eval,
devices, repr, the layers against the functional API, and init against its formulas."""

import math
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigan
import minigan.functional as F
from minigan import backend, nn
from minigan.gradcheck import check_adjoint, gradcheck
from minigan.nn import init

from .helpers import host, t64, vjp_of
from .strategies import seeds


class Block(nn.Module):
    """A user-written module: registration by attribute assignment, in that order."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.scale = nn.Parameter(np.ones(3, dtype=np.float32))
        self.register_buffer("steps", np.zeros((), dtype=np.int64))
        self.act = nn.LeakyReLU(0.2)
        self.not_registered = 5

    def forward(self, x):
        return self.act(self.fc(x)) * self.scale


def mlp():
    return nn.Sequential(nn.Linear(100, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(0.3),
                         nn.Linear(256, 1))


# --- registration and walking --------------------------------------------------------------

def test_registration_order_and_names():
    b = Block()
    assert [n for n, _ in b.named_parameters()] == ["scale", "fc.weight", "fc.bias"]
    assert [n for n, _ in b.named_buffers()] == ["steps"]
    assert [n for n, _ in b.named_children()] == ["fc", "act"]
    assert [type(m).__name__ for m in b.modules()] == ["Block", "Linear", "LeakyReLU"]
    assert b.not_registered == 5 and "not_registered" not in b.state_dict()
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in b.parameters())
    assert [n for n, _ in b.named_parameters(recurse=False)] == ["scale"]


def test_sequential_names_and_parameter_counts():
    m = mlp()
    assert [n for n, _ in m.named_parameters()] == [
        "0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "4.bias"]
    assert list(m.state_dict()) == [
        "0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
        "1.num_batches_tracked", "4.weight", "4.bias"]
    assert sum(p.size for p in nn.Linear(100, 256).parameters()) == 25856
    assert sum(p.size for p in nn.Linear(100, 256, bias=False).parameters()) == 25600
    assert sum(p.size for p in m.parameters()) == 25856 + 512 + 257
    assert sum(p.size for p in nn.Conv2d(3, 8, 4).parameters()) == 8 * 3 * 16 + 8
    assert sum(p.size for p in nn.ConvTranspose2d(8, 3, 4).parameters()) == 8 * 3 * 16 + 3


def test_reassignment_and_shared_parameters():
    b = Block()
    b.fc = nn.Linear(4, 3)  # replaces, keeps the position
    assert [n for n, _ in b.named_children()] == ["fc", "act"]
    with pytest.raises(TypeError, match="Parameter or None"):
        b.scale = minigan.tensor([1.0, 2.0, 3.0])
    b.scale = None
    assert [n for n, _ in b.named_parameters()] == ["fc.weight", "fc.bias"]
    shared = nn.Linear(2, 2)
    tied = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(tied.parameters())) == 2  # listed once
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        b.missing
    with pytest.raises(AttributeError, match=r"call super\(\).__init__\(\) first"):
        class Bad(nn.Module):
            def __init__(self):
                self.w = nn.Parameter(np.zeros(2))
        Bad()


def test_sequential_indexing():
    m = mlp()
    assert len(m) == 5
    assert isinstance(m[0], nn.Linear) and m[-1] is m[4]
    assert [type(x).__name__ for x in m[1:3]] == ["BatchNorm1d", "ReLU"]
    assert isinstance(m[1:3], nn.Sequential)
    assert [type(x).__name__ for x in m] == ["Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]
    with pytest.raises(IndexError):
        m[5]
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"]
    x = minigan.tensor(np.ones((3, 2), dtype=np.float32))
    np.testing.assert_allclose(host(named(x)), np.tanh(host(F.linear(x, named.fc.weight,
                                                                      named.fc.bias))))


def test_train_eval_propagate_and_zero_grad():
    m = nn.Sequential(nn.Linear(3, 3), nn.Sequential(nn.Dropout(0.5), nn.BatchNorm1d(3)))
    assert m.eval() is m
    assert all(not x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())
    x = minigan.tensor(np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32))
    m(x).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(not host(p.grad).any() for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_apply_visits_children_first():
    seen = []
    mlp().apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear", "Sequential"]


def test_repr():
    m = nn.Sequential(nn.Linear(100, 256), nn.LeakyReLU(0.2), nn.Dropout(0.3),
                      nn.Sequential(nn.Linear(256, 1, bias=False), nn.Sigmoid()))
    assert repr(m) == (
        "Sequential(\n"
        "  (0): Linear(in_features=100, out_features=256, bias=True)\n"
        "  (1): LeakyReLU(negative_slope=0.2)\n"
        "  (2): Dropout(p=0.3)\n"
        "  (3): Sequential(\n"
        "    (0): Linear(in_features=256, out_features=1, bias=False)\n"
        "    (1): Sigmoid()\n"
        "  )\n"
        ")")
    assert repr(nn.Conv2d(1, 64, 4, stride=2, padding=1, bias=False)) == \
        "Conv2d(1, 64, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), bias=False)"
    assert repr(nn.ConvTranspose2d(64, 1, 4, 2, 1, output_padding=1)) == \
        "ConvTranspose2d(64, 1, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), " \
        "output_padding=(1, 1))"
    assert repr(nn.BatchNorm2d(8)) == \
        "BatchNorm2d(8, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"
    assert repr(nn.Unflatten(1, (1, 28, 28))) == "Unflatten(dim=1, unflattened_size=(1, 28, 28))"
    assert repr(nn.Parameter(np.zeros(1))).startswith("Parameter containing:\ntensor(")


# --- state_dict ------------------------------------------------------------------------------

def test_state_dict_round_trip_is_exact():
    src, dst = mlp(), mlp()
    src(minigan.tensor(np.random.default_rng(0).normal(size=(8, 100)).astype(np.float32)))
    state = src.state_dict()
    assert all(backend.is_array(v) for v in state.values())
    params_before = list(dst.parameters())
    snapshot = OrderedDict((k, v.copy()) for k, v in state.items())
    assert dst.load_state_dict(snapshot) == ([], [])
    for (k, a), (k2, b) in zip(src.state_dict().items(), dst.state_dict().items()):
        assert k == k2 and a.dtype == b.dtype and np.array_equal(host(a), host(b))
    assert list(dst.parameters()) == params_before  # copied in place: same Parameter objects
    assert int(dst[1].num_batches_tracked.data) == 1


def test_load_keeps_dtype_and_device_of_the_model(device):
    model = nn.Linear(3, 2, device=device)
    state = {k: backend.to_numpy(v).astype(np.float64) + 1 for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    assert model.weight.dtype == np.float32 and model.weight.device == device
    np.testing.assert_allclose(host(model.weight), state["weight"], rtol=1e-6)


def test_load_state_dict_reports_everything_at_once():
    m = mlp()
    state = OrderedDict((k, v.copy()) for k, v in m.state_dict().items())
    del state["0.bias"], state["1.running_var"]
    state["5.weight"] = np.zeros(3)
    state["4.weight"] = np.zeros((2, 256), dtype=np.float32)
    before = host(m[0].weight).copy()
    with pytest.raises(nn.StateDictError) as info:
        m.load_state_dict(state)
    message = str(info.value)
    for piece in ("missing key(s): '0.bias', '1.running_var'", "unexpected key(s): '5.weight'",
                  "size mismatch for '4.weight': the checkpoint has shape (2, 256), "
                  "the model has shape (1, 256)"):
        assert piece in message
    err = info.value
    assert err.missing_keys == ["0.bias", "1.running_var"]
    assert err.unexpected_keys == ["5.weight"]
    assert err.mismatched == [("4.weight", (2, 256), (1, 256))]
    np.testing.assert_array_equal(host(m[0].weight), before)  # nothing copied
    # Non-strict: missing and unexpected names are returned, shape mismatches still raise.
    state["4.weight"] = np.zeros((1, 256), dtype=np.float32)
    result = m.load_state_dict(state, strict=False)
    assert result.missing_keys == ["0.bias", "1.running_var"]
    assert result.unexpected_keys == ["5.weight"]
    assert not host(m[4].weight).any()


def test_to_device_keeps_parameter_objects(device):
    m = mlp()
    params = list(m.parameters())
    m(minigan.tensor(np.ones((4, 100), dtype=np.float32))).sum().backward()
    assert m.to(device) is m
    assert list(m.parameters()) == params
    assert all(t.device == device for t in list(m.parameters()) + list(m.buffers()))
    assert all(backend.device_of(p.grad) == device for p in m.parameters())
    y = m(minigan.tensor(np.ones((4, 100), dtype=np.float32), device=device))
    assert y.device == device
    m.to("cpu").double()
    assert m[0].weight.dtype == np.float64 and m[1].num_batches_tracked.dtype == np.int64


# --- layers ----------------------------------------------------------------------------------

def test_linear_matches_functional(device):
    layer = nn.Linear(5, 3, device=device, generator=0)
    x = minigan.tensor(np.random.default_rng(1).normal(size=(4, 5)).astype(np.float32),
                       device=device)
    want = host(x) @ host(layer.weight).T + host(layer.bias)
    np.testing.assert_allclose(host(layer(x)), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(host(layer(x)), host(F.linear(x, layer.weight, layer.bias)))


def test_linear_gradcheck_float64():
    layer = nn.Linear(3, 2, dtype="float64", generator=0)
    x = t64(np.random.default_rng(2).normal(size=(4, 3)))
    assert gradcheck(lambda x, w, b: F.linear(x, w, b), (x, layer.weight, layer.bias))


@given(h=st.integers(3, 6), k=st.integers(1, 3), stride=st.integers(1, 2),
       padding=st.integers(0, 1), seed=seeds)
def test_conv2d_shapes(h, k, stride, padding, seed):
    layer = nn.Conv2d(2, 3, k, stride=stride, padding=padding, generator=seed)
    x = minigan.tensor(np.zeros((2, 2, h, h + 1), dtype=np.float32))
    oh = (h + 2 * padding - k) // stride + 1
    ow = (h + 1 + 2 * padding - k) // stride + 1
    assert layer(x).shape == (2, 3, oh, ow)


@given(h=st.integers(1, 4), k=st.integers(1, 4), stride=st.integers(1, 3),
       padding=st.integers(0, 1), seed=seeds)
def test_conv_transpose2d_shapes(h, k, stride, padding, seed):
    output_padding = stride - 1  # the largest allowed
    layer = nn.ConvTranspose2d(3, 2, k, stride, padding, output_padding, generator=seed)
    x = minigan.tensor(np.zeros((2, 3, h, h + 1), dtype=np.float32))
    oh = (h - 1) * stride - 2 * padding + k + output_padding
    ow = h * stride - 2 * padding + k + output_padding
    if min(oh, ow) < 1:
        return
    assert layer(x).shape == (2, 2, oh, ow)
    assert layer.weight.shape == (3, 2, k, k)


def test_dcgan_shapes():
    """The DCGAN pyramid: 7x7 -> 14x14 -> 28x28 and back."""
    up = nn.Sequential(nn.ConvTranspose2d(8, 4, 4, 2, 1), nn.BatchNorm2d(4), nn.ReLU(),
                       nn.ConvTranspose2d(4, 1, 4, 2, 1), nn.Tanh())
    down = nn.Sequential(nn.Conv2d(1, 4, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(4, 8, 4, 2, 1),
                         nn.Flatten(), nn.Linear(8 * 7 * 7, 1))
    img = up(minigan.tensor(np.zeros((2, 8, 7, 7), dtype=np.float32)))
    assert img.shape == (2, 1, 28, 28)
    assert down(img).shape == (2, 1)


def test_conv_layers_gradcheck_float64():
    rng = np.random.default_rng(0)
    conv = nn.Conv2d(2, 3, 2, stride=2, padding=1, dtype="float64", generator=1)
    x = t64(rng.normal(size=(2, 2, 3, 3)))
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
                     (x, conv.weight, conv.bias))
    conv(x).backward(rng.normal(size=(2, 3, 2, 2)))  # the layer itself runs the same op
    tconv = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1,
                               dtype="float64", generator=2)
    y = t64(rng.normal(size=(2, 2, 2, 2)))
    f = lambda x, w, b: tconv.forward(x)  # noqa: E731  (reads the layer's own parameters)
    assert gradcheck(f, (y, tconv.weight, tconv.bias))
    assert tconv(y).shape == (2, 3, 4, 4)


def test_batchnorm_layer_gradcheck_float64():
    bn = nn.BatchNorm2d(2, dtype="float64")
    init.normal_(bn.weight, 1.0, 0.5, generator=0)
    init.normal_(bn.bias, 0.0, 0.5, generator=1)
    x = t64(np.random.default_rng(3).normal(size=(3, 2, 2, 2)))
    assert gradcheck(lambda x, w, b: bn(x), (x, bn.weight, bn.bias))


def test_activation_layers_match_functional():
    x = minigan.tensor(np.linspace(-2, 2, 12).reshape(2, 6).astype(np.float32))
    for layer, f in ((nn.ReLU(), F.relu), (nn.Tanh(), F.tanh), (nn.Sigmoid(), F.sigmoid),
                     (nn.LeakyReLU(0.2), lambda x: F.leaky_relu(x, 0.2)),
                     (nn.Maxout(3), lambda x: F.maxout(x, 3)), (nn.Identity(), lambda x: x)):
        np.testing.assert_array_equal(host(layer(x)), host(f(x)))
    assert nn.Maxout(3)(x).shape == (2, 2)


def test_flatten_unflatten_shapes():
    x = minigan.tensor(np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5))
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Flatten(2)(x).shape == (2, 3, 20)
    flat = minigan.tensor(np.zeros((2, 784), dtype=np.float32))
    assert nn.Unflatten(1, (1, 28, 28))(flat).shape == (2, 1, 28, 28)
    assert nn.Unflatten(-1, (4, -1))(flat).shape == (2, 4, 196)
    round_trip = nn.Unflatten(1, (3, 4, 5))(nn.Flatten()(x))
    np.testing.assert_array_equal(host(round_trip), host(x))
    with pytest.raises(minigan.ShapeError, match="Unflatten.*784"):
        nn.Unflatten(1, (3, 28, 28))(flat)


def test_pack_stacks_consecutive_samples_as_channels():
    """Pack(m): sample i*m + j is channel block j of pack i (the naive loop), and it is a reshape:
    its backward hands every pack's gradient back to the samples it came from (gradcheck, and
    the adjoint identity with the backward pass)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 2, 3, 4))
    packed = nn.Pack(3)(minigan.tensor(x))
    assert packed.shape == (2, 6, 3, 4)
    for i in range(2):
        for j in range(3):
            np.testing.assert_array_equal(host(packed)[i, 2 * j:2 * j + 2], x[3 * i + j])
    assert nn.Pack(2)(minigan.tensor(np.zeros((4, 784)))).shape == (2, 1568)
    x64 = minigan.tensor(x, requires_grad=True)
    assert gradcheck(lambda x: nn.Pack(3)(x), (x64,))
    check_adjoint(nn.Pack(3), vjp_of(nn.Pack(3), x.shape), x.shape, (2, 6, 3, 4))
    assert repr(nn.Pack(2)) == "Pack(m=2)"


def test_pack_names_the_shape_it_cannot_pack():
    with pytest.raises(minigan.ShapeError, match=r"Pack.*\(5, 1, 28, 28\).*multiple of 2"):
        nn.Pack(2)(minigan.tensor(np.zeros((5, 1, 28, 28), dtype=np.float32)))
    for m in (0, -1, 1.5):
        with pytest.raises(ValueError, match="positive integer"):
            nn.Pack(m)


# --- init --------------------------------------------------------------------------------------

def test_fans_follow_pytorch():
    fans = init._calculate_fan_in_and_fan_out
    assert fans(nn.Linear(100, 256).weight) == (100, 256)
    assert fans(nn.Conv2d(3, 8, (4, 5)).weight) == (3 * 20, 8 * 20)
    # ConvTranspose2d weight (C_in, C_out, KH, KW): PyTorch's formula reads dim 1 as fan_in.
    assert fans(nn.ConvTranspose2d(8, 3, 4).weight) == (3 * 16, 8 * 16)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        fans(nn.Parameter(np.zeros(3)))


def _big(shape=(400, 500)):
    return nn.Parameter(np.zeros(shape), dtype="float64")


def test_uniform_inits_bounds_and_std():
    """U(-b, b) has std b/sqrt(3); over n draws the sample std is within a few percent."""
    t = _big()  # fan_in 500, fan_out 400, n = 200,000 (sample std's relative error ~ 0.2%)
    cases = [
        (lambda t: init.xavier_uniform_(t, gain=2.0, generator=0), 2.0 * math.sqrt(6 / 900)),
        (lambda t: init.kaiming_uniform_(t, generator=0),
         math.sqrt(2) * math.sqrt(3 / 500)),  # a=0: the leaky-ReLU gain is that of ReLU
        (lambda t: init.kaiming_uniform_(t, a=math.sqrt(5), generator=0), 1 / math.sqrt(500)),
        (lambda t: init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu", generator=0),
         math.sqrt(2) * math.sqrt(3 / 400)),
        (lambda t: init.uniform_(t, -0.3, 0.3, generator=0), 0.3),
    ]
    for fill, bound in cases:
        v = host(fill(t))
        assert np.abs(v).max() <= bound
        assert np.abs(v).max() > 0.99 * bound
        assert abs(v.std() / (bound / math.sqrt(3)) - 1) < 0.02
        assert abs(v.mean()) < 5 * bound / math.sqrt(3) / math.sqrt(v.size)


def test_normal_inits_std():
    t = _big()
    for fill, std in ((lambda t: init.normal_(t, 0.0, 0.02, generator=0), 0.02),
                      (lambda t: init.xavier_normal_(t, generator=0), math.sqrt(2 / 900)),
                      (lambda t: init.kaiming_normal_(t, nonlinearity="relu", generator=0),
                       math.sqrt(2 / 500))):
        v = host(fill(t))
        assert abs(v.std() / std - 1) < 0.02
    assert host(init.normal_(t, 3.0, 1e-9, generator=0)).mean() == pytest.approx(3.0)
    assert not host(init.zeros_(t)).any() and (host(init.ones_(t)) == 1).all()
    assert (host(init.constant_(t, 0.5)) == 0.5).all()
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    with pytest.raises(ValueError, match="nonlinearity"):
        init.calculate_gain("swish")


def test_layer_default_init_follows_pytorch():
    layer = nn.Linear(50, 400, generator=0)
    w, b = host(layer.weight), host(layer.bias)
    bound = 1 / math.sqrt(50)  # kaiming_uniform_(a=sqrt(5)) and the bias rule agree here
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.std() / (bound / math.sqrt(3)) - 1) < 0.05
    tconv = nn.ConvTranspose2d(8, 3, 4, generator=0)
    assert np.abs(host(tconv.weight)).max() <= 1 / math.sqrt(3 * 16)
    bn = nn.BatchNorm1d(4)
    assert (host(bn.weight) == 1).all() and not host(bn.bias).any()
    assert (host(bn.running_var) == 1).all() and not host(bn.running_mean).any()


def test_reproducible_models(device):
    init.manual_seed(0)
    a = mlp().state_dict()
    init.manual_seed(0)
    b = mlp().to(device).state_dict()
    assert all(np.array_equal(host(a[k]), host(b[k])) for k in a)
    c = nn.Linear(3, 3, generator=5).weight
    d = nn.Linear(3, 3, generator=np.random.default_rng(5)).weight
    np.testing.assert_array_equal(host(c), host(d))
    e = nn.Linear(3, 3, device=device, generator=5).weight
    np.testing.assert_array_equal(host(c), host(e))  # same seed, same model on every device
    assert not np.array_equal(host(nn.Linear(3, 3).weight), host(nn.Linear(3, 3).weight))


def test_dtype_and_device_arguments(device):
    layer = nn.Conv2d(1, 2, 3, dtype="float64", device=device)
    assert layer.weight.dtype == np.float64 and layer.weight.device == device
    assert nn.Linear(2, 2).weight.dtype == np.float32
    bn = nn.BatchNorm2d(2, device=device)
    assert bn.running_mean.device == device and bn.num_batches_tracked.device == device


def test_non_persistent_buffers_and_deepcopy():
    import copy
    b = Block()
    b.register_buffer("cache", np.zeros(2), persistent=False)
    assert [n for n, _ in b.named_buffers()] == ["steps", "cache"]
    assert "cache" not in b.state_dict() and "steps" in b.state_dict()
    twin = copy.deepcopy(b)  # e.g. an exponential moving average of a generator
    assert list(twin.state_dict()) == list(b.state_dict())
    assert twin.fc.weight is not b.fc.weight
    np.testing.assert_array_equal(host(twin.fc.weight), host(b.fc.weight))
    twin.fc.weight.data += 1
    assert not np.array_equal(host(twin.fc.weight), host(b.fc.weight))


def test_conv_layers_check_their_geometry_where_it_is_given():
    """The layers read kernel size, stride, padding and dilation with the op's own checks
    (minigan.ops.conv), so a bad one is named when the layer is built."""
    for kwargs, named in (({"kernel_size": 0}, "Conv2d: kernel_size"),
                          ({"kernel_size": 3, "stride": 0}, "Conv2d: stride"),
                          ({"kernel_size": 3, "padding": -1}, "Conv2d: padding"),
                          ({"kernel_size": (3, 3, 3)}, "Conv2d: kernel_size")):
        with pytest.raises(ValueError, match=named):
            nn.Conv2d(1, 2, **kwargs)
    with pytest.raises(ValueError, match="ConvTranspose2d: output_padding"):
        nn.ConvTranspose2d(1, 2, 3, stride=2, output_padding=-1)
    assert nn.Conv2d(1, 2, 3, padding=[1, 0, 1, 0]).padding == (1, 0, 1, 0)
    assert nn.Conv2d(1, 2, 3, padding="same").padding == "same"


def test_linear_bias_bound_comes_from_fan_in():
    """fan_in = 400 and fan_out = 25 give bounds 0.05 and 0.2: the bias must reach towards 0.05
    and never pass it. (With in = 50, out = 400, a fan-out bound would pass the test above.)"""
    layer = nn.Linear(400, 25, generator=0)
    layer_b = nn.Linear(400, 1000, generator=1)  # 1000 draws: the max comes close to the bound
    for b in (host(layer.bias), host(layer_b.bias)):
        assert np.abs(b).max() <= 1 / math.sqrt(400)
    assert np.abs(host(layer_b.bias)).max() > 0.9 / math.sqrt(400)
    assert np.abs(host(layer_b.bias)).max() > 1 / math.sqrt(1000)  # beyond a fan-out bound


def test_strict_load_refuses_an_unexpected_key_when_nothing_is_missing():
    m = nn.Linear(3, 2, generator=0)
    state = {k: v.copy() for k, v in m.state_dict().items()}
    state["extra.weight"] = np.zeros(3, dtype=np.float32)
    before = host(m.weight).copy()
    with pytest.raises(nn.StateDictError, match="unexpected key\\(s\\): 'extra.weight'") as info:
        m.load_state_dict({k: v + 1 if k != "extra.weight" else v for k, v in state.items()})
    assert info.value.missing_keys == [] and info.value.unexpected_keys == ["extra.weight"]
    np.testing.assert_array_equal(host(m.weight), before)  # nothing copied
    assert m.load_state_dict(state, strict=False).unexpected_keys == ["extra.weight"]


def test_state_dict_returns_the_modules_own_arrays():
    m = nn.Sequential(nn.Linear(3, 2, generator=0), nn.BatchNorm1d(2))
    state = m.state_dict()
    assert state["0.weight"] is m[0].weight.data and state["0.bias"] is m[0].bias.data
    assert state["1.running_mean"] is m[1].running_mean.data
    state["0.bias"][...] = 7.0  # as documented (and as PyTorch): a view of the live weights
    assert (host(m[0].bias) == 7.0).all()
