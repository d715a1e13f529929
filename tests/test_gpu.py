"""NumPy/CuPy parity: every op and layer gives the same values and gradients on the GPU.

Inputs are drawn on the host and copied over, so both backends see identical numbers. float64
results must agree to roundoff; a short float32 training run on the GPU must follow the CPU run
step by step within float32 tolerance. Everything here needs CuPy and a CUDA GPU and is skipped
cleanly without them (the property tests of the other files also run once per device).
"""

import copy

import numpy as np
import pytest

import minigan
import minigan.functional as F
from minigan import backend, gan, models, nn
from minigan.ops import spectral_norm
from minigan.ops.dropout import Dropout

pytestmark = pytest.mark.gpu

R = np.random.default_rng(0)
MASK = (R.random((4, 6)) > 0.3)
SN_U, SN_V = spectral_norm.power_iteration(R.normal(size=(3, 2, 2, 2)), R.normal(size=3) / 2, 0, 3)

# name: (function of Tensors, input shapes); inputs are float64 normals drawn on the host.
OPS = {
    "add": (lambda a, b: a + b, [(3, 4), (4,)]),
    "sub": (lambda a, b: a - b, [(3, 1), (1, 4)]),
    "mul": (lambda a, b: a * b, [(2, 3, 4), (3, 1)]),
    "div": (lambda a, b: a / (b * b + 1), [(3, 4), (3, 4)]),
    "pow": (lambda a: (a * a + 1) ** 1.5, [(3, 4)]),
    "exp_log_sqrt": (lambda a: (a.exp() + 1).log() + (a * a + 1).sqrt(), [(3, 4)]),
    "abs_clip": (lambda a: a.abs() + a.clip(-0.5, 0.5), [(3, 4)]),
    "maximum_minimum": (lambda a, b: minigan.maximum(a, b) - minigan.minimum(a, b),
                        [(3, 4), (3, 4)]),
    "where": (lambda a, b: minigan.where(a.data > 0, a, b), [(3, 4), (3, 4)]),
    "matmul": (lambda a, b: a @ b, [(2, 3, 4), (4, 5)]),
    "sum_mean_max": (lambda a: a.sum(axis=1) + a.mean(axis=(0, 2), keepdims=True).sum()
                     + a.max(axis=1), [(2, 3, 4)]),
    "shape_ops": (lambda a: minigan.concatenate([a.reshape(4, 3).T, a[0:2].transpose(1, 0)],
                                                axis=1).flatten(), [(4, 3)]),
    "stack_pad": (lambda a: minigan.pad(minigan.stack([a, a * 2], axis=0), (1, 2)), [(3, 4)]),
    "activations": (lambda a: F.relu(a) + F.leaky_relu(a, 0.2) + F.sigmoid(a) + F.tanh(a)
                    + F.softplus(a) + F.log_sigmoid(a), [(3, 4)]),
    "maxout": (lambda a: F.maxout(a, 3), [(2, 6)]),
    "linear": (lambda x, w, b: F.linear(x, w, b), [(5, 4), (3, 4), (3,)]),
    "bce_logits": (lambda a, t: F.binary_cross_entropy_with_logits(a, t.sigmoid()),
                   [(3, 4), (3, 4)]),
    "bce": (lambda a, t: F.binary_cross_entropy(a.sigmoid(), t.sigmoid()), [(3, 4), (3, 4)]),
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, stride=2, padding="same"),
               [(2, 3, 7, 6), (4, 3, 3, 3), (4,)]),
    "conv_transpose2d": (lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1,
                                                            output_padding=1),
                         [(2, 3, 4, 5), (3, 2, 3, 3), (2,)]),
    "batch_norm_train": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                         [(4, 3, 2, 2), (3,), (3,)]),
    "dropout_fixed_mask": (lambda a: Dropout.apply(a, mask=backend.to_device(MASK, a.device),
                                                   p=0.3), [(4, 6)]),
    "spectral_normalize": (lambda w: spectral_norm.spectral_normalize(
        w, backend.to_device(SN_U, w.device), backend.to_device(SN_V, w.device)), [(3, 2, 2, 2)]),
    "gan_losses": (lambda r, f: gan.discriminator_loss(r, f) + gan.generator_loss(f)
                   + gan.generator_loss(f, saturating=True), [(5, 1), (5, 1)]),
}


def run(fn, arrays, device):
    inputs = [minigan.tensor(a, requires_grad=True, device=device) for a in arrays]
    out = fn(*inputs)
    upstream = np.random.default_rng(1).normal(size=out.shape)
    out.backward(backend.to_device(upstream, device))
    return out.numpy(), [t.grad if t.grad is None else backend.to_numpy(t.grad) for t in inputs]


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_parity_float64(name):
    fn, shapes = OPS[name]
    arrays = [np.random.default_rng(i).normal(size=s) for i, s in enumerate(shapes)]
    out_cpu, grads_cpu = run(fn, arrays, "cpu")
    out_gpu, grads_gpu = run(fn, arrays, "cuda")
    np.testing.assert_allclose(out_gpu, out_cpu, rtol=1e-10, atol=1e-12)
    for g_cpu, g_gpu in zip(grads_cpu, grads_gpu):
        np.testing.assert_allclose(g_gpu, g_cpu, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["conv2d", "conv_transpose2d", "linear", "gan_losses",
                                  "spectral_normalize"])
def test_gradcheck_on_gpu(name):
    fn, shapes = OPS[name]
    inputs = [minigan.tensor(np.random.default_rng(i).normal(size=s), requires_grad=True,
                             device="cuda") for i, s in enumerate(shapes)]
    assert minigan.gradcheck(fn, inputs)


LAYERS = {
    "Linear": (lambda: nn.Linear(4, 3), (5, 4)),
    "Conv2d": (lambda: nn.Conv2d(2, 3, 3, stride=2, padding=1), (2, 2, 6, 6)),
    "ConvTranspose2d": (lambda: nn.ConvTranspose2d(3, 2, 4, stride=2, padding=1), (2, 3, 3, 3)),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(4), (6, 4)),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(3), (4, 3, 2, 2)),
    "Maxout": (lambda: nn.Sequential(nn.Linear(4, 6), nn.Maxout(3)), (5, 4)),
    "Pack": (lambda: nn.Sequential(nn.Pack(2), nn.Flatten(), nn.Linear(16, 3)), (4, 2, 2, 2)),
    "SpectralNorm": (lambda: nn.SpectralNorm(nn.Conv2d(2, 3, 3, padding=1), generator=0),
                     (2, 2, 5, 5)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("training", [True, False])
def test_layer_parity(name, training):
    make, shape = LAYERS[name]
    nn.init.manual_seed(0)
    cpu = make().double().train(training)
    gpu = copy.deepcopy(cpu).to("cuda")
    x = np.random.default_rng(0).normal(size=shape)
    outs = {}
    for device, layer in (("cpu", cpu), ("cuda", gpu)):
        out = layer(minigan.tensor(x, device=device))
        out.sum().backward()
        outs[device] = (out.numpy(), {k: backend.to_numpy(p.grad)
                                      for k, p in layer.named_parameters()},
                        {k: backend.to_numpy(v) for k, v in layer.state_dict().items()})
    (o_cpu, g_cpu, s_cpu), (o_gpu, g_gpu, s_gpu) = outs["cpu"], outs["cuda"]
    np.testing.assert_allclose(o_gpu, o_cpu, rtol=1e-10, atol=1e-12)
    for k in g_cpu:
        np.testing.assert_allclose(g_gpu[k], g_cpu[k], rtol=1e-10, atol=1e-12)
    for k in s_cpu:  # running statistics updated alike
        np.testing.assert_allclose(s_gpu[k], s_cpu[k], rtol=1e-10, atol=1e-12)


def test_mixing_devices_names_op_and_both_devices():
    a = minigan.tensor([1.0, 2.0])
    b = minigan.tensor([1.0, 2.0], device="cuda")
    with pytest.raises(minigan.DeviceMismatchError, match=r"Add.*cpu.*cuda"):
        a + b


@pytest.mark.parametrize("arch", ["dcgan_bn", "dcgan_sn_fc", "mlp"])
def test_training_on_gpu_follows_cpu(arch):
    """Five float32 training steps on each device from identical weights and data."""
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, size=(5, 16, 1, 28, 28)).astype(np.float32)
    noise = rng.normal(size=(5, 2, 16, 100)).astype(np.float32)
    runs = {}
    for device in ("cpu", "cuda"):
        G, D = models.build(arch, seed=0, device=device)
        opt_G, opt_D = models.make_optimizers(arch, G, D)
        losses = []
        for step in range(5):
            z = [minigan.tensor(noise[step, i], device=device) for i in range(2)]
            result = gan.train_step(G, D, opt_G, opt_D, minigan.tensor(real[step], device=device),
                                    z)
            losses.append((float(result.d_loss), float(result.g_loss)))
        runs[device] = losses, {k: backend.to_numpy(v) for k, v in G.state_dict().items()}
    np.testing.assert_allclose(runs["cuda"][0], runs["cpu"][0], rtol=1e-3, atol=1e-4)
    for k, v in runs["cpu"][1].items():
        np.testing.assert_allclose(runs["cuda"][1][k], v, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("arch", ["dcgan_bn", "mlp"])
def test_conditional_training_on_gpu_follows_cpu(arch):
    """As above for the conditional GAN: the real labels on the device with the images (as
    examples/mnist.py keeps them), the labels asked of G from the host."""
    rng = np.random.default_rng(1)
    real = rng.uniform(-1, 1, size=(3, 16, 1, 28, 28)).astype(np.float32)
    real_y = rng.integers(0, 10, size=(3, 16))
    noise = rng.normal(size=(3, 2, 16, 100)).astype(np.float32)
    fake_y = rng.integers(0, 10, size=(3, 2, 16))
    runs = {}
    for device in ("cpu", "cuda"):
        G, D = models.build(arch, seed=0, device=device, num_classes=10)
        opt_G, opt_D = models.make_optimizers(arch, G, D)
        losses = []
        for step in range(3):
            z = [minigan.tensor(noise[step, i], device=device) for i in range(2)]
            result = gan.train_step(G, D, opt_G, opt_D, minigan.tensor(real[step], device=device),
                                    z, real_labels=backend.to_device(real_y[step], device),
                                    fake_labels=list(fake_y[step]))
            losses.append((float(result.d_loss), float(result.g_loss)))
        runs[device] = losses, {k: backend.to_numpy(v) for k, v in G.state_dict().items()}
    np.testing.assert_allclose(runs["cuda"][0], runs["cpu"][0], rtol=1e-3, atol=1e-4)
    for k, v in runs["cpu"][1].items():
        np.testing.assert_allclose(runs["cuda"][1][k], v, rtol=1e-3, atol=1e-4)


def test_checkpoint_from_gpu_loads_on_cpu_and_back(tmp_path):
    G, _ = models.build("dcgan_bn", seed=0, device="cuda")
    opt = minigan.optim.Adam(G.parameters())
    G(models.sample_noise("dcgan_bn", 4, device="cuda")).sum().backward()
    opt.step()
    minigan.save(tmp_path / "c.npz", G=G, opt=opt, step=1)
    on_cpu = minigan.load(tmp_path / "c.npz")
    H, _ = models.build("dcgan_bn", seed=1)
    H.load_state_dict(on_cpu["G"])
    for k, v in G.state_dict().items():
        assert np.array_equal(backend.to_numpy(v), H.state_dict()[k])
    back = minigan.load(tmp_path / "c.npz", device="cuda")
    assert all(backend.device_of(v) == "cuda" for v in back["G"].values())


def test_truncated_noise_is_drawn_on_the_gpu():
    """The truncation trick's redraws run on the device, with CuPy's generator."""
    z = models.sample_noise("dcgan_bn", 500, 100, backend.rng(0, "cuda"), "cuda", truncation=0.5)
    assert backend.device_of(z.data) == "cuda"
    values = backend.to_numpy(z.data)
    assert np.abs(values).max() <= 0.5 and values.dtype == np.float32
    assert np.mean(np.abs(values) > 0.45) > 0.05            # filled up to the bound
