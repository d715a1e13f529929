"""The conditional GAN (Mirza & Osindero 2014): one-hot codes, nn.Conditional, the presets'
conditional forms, the steps with labels, and a conditional run's checkpoint.

nn.Conditional is a concatenation with a constant, so it is proven like any op: gradcheck in
float64 (the labels are not differentiated), and an oracle built from NumPy by hand. The steps
with labels are checked against Algorithm 1 written with autograd, as the unconditional ones.
"""

import numpy as np
import pytest

import minigan
import minigan.functional as F
from minigan import averaging, checkpoint, gan, gradcheck, metrics, models, nn, optim
from minigan.tensor import ShapeError


def t64(a, requires_grad=True):
    return minigan.tensor(np.asarray(a, np.float64), requires_grad=requires_grad)


# --- the one-hot code ---------------------------------------------------------------------------

def test_one_hot_is_a_constant_float_code_of_the_labels():
    code = F.one_hot(np.array([2, 0, 3]), 4)
    assert code.dtype == np.float32 and not code.requires_grad
    np.testing.assert_array_equal(code.data, np.eye(4)[[2, 0, 3]])
    # A list, and a Tensor made from integers (stored as floats), give the same code.
    for labels in ([2, 0, 3], minigan.tensor([2, 0, 3])):
        np.testing.assert_array_equal(F.one_hot(labels, 4, dtype="float64").data, code.data)
    assert F.one_hot(np.zeros(0, np.int64), 3).shape == (0, 3)


@pytest.mark.parametrize("labels, error, message", [
    ([0, 4], ValueError, r"one_hot: labels must lie in \[0, 4\), got values in \[0, 4\]"),
    ([-1, 2], ValueError, r"labels must lie in \[0, 4\)"),
    ([0.5, 1.0], TypeError, "labels must be class indices"),
    ([[0, 1]], ValueError, r"a vector of class indices \(N,\), got shape \(1, 2\)"),
    (np.array([True, False]), TypeError, "class indices"),
])
def test_one_hot_refuses_what_is_not_a_class_index(labels, error, message):
    with pytest.raises(error, match=message):
        F.one_hot(labels, 4)
    with pytest.raises(ValueError, match="num_classes must be >= 1"):
        F.one_hot([0], 0)


# --- nn.Conditional -----------------------------------------------------------------------------

def oracle(x, labels, k, as_channels):
    """The concatenation written out in NumPy: what the wrapped net must be given."""
    code = np.eye(k)[labels]                                             # (N, K)
    if as_channels:
        n, _, h, w = x.shape
        return np.concatenate([x, np.broadcast_to(code[:, :, None, None], (n, k, h, w))], 1)
    return np.concatenate([x.reshape(len(x), -1), code], 1)


@pytest.mark.parametrize("as_channels", [False, True])
def test_conditional_gives_the_net_the_input_and_the_code(as_channels):
    rng = np.random.default_rng(0)
    x, labels = rng.normal(size=(3, 2, 4, 5)), np.array([1, 2, 0])
    seen = []
    net = nn.Conditional(_Recorder(seen), 3, as_channels=as_channels)
    net(t64(x, False), labels)
    np.testing.assert_array_equal(seen[0], oracle(x, labels, 3, as_channels))
    if as_channels:          # channel C + y is all ones, the other K - 1 all zeros
        assert seen[0].shape == (3, 5, 4, 5) and (seen[0][0, 3] == 1).all()
        assert not seen[0][0, [2, 4]].any()
    else:
        assert seen[0].shape == (3, 43)


class _Recorder(nn.Module):
    def __init__(self, seen):
        super().__init__()
        self.seen = seen

    def forward(self, x):
        self.seen.append(x.data.copy())
        return x


def test_conditional_gradcheck_float64():
    """The input's gradient and the first layer's, through the concatenation; the labels are
    data, not inputs of the check."""
    rng = np.random.default_rng(1)
    labels = np.array([2, 0, 1, 2])
    linear = nn.Linear(6 + 3, 2, dtype="float64", generator=1)
    fc = nn.Conditional(linear, 3)
    z = t64(rng.normal(size=(4, 6)))
    assert gradcheck(lambda z, w, b: fc(z, labels), (z, linear.weight, linear.bias))
    conv = nn.Conv2d(2 + 3, 2, 3, padding=1, dtype="float64", generator=2)
    cc = nn.Conditional(conv, 3, as_channels=True)
    x = t64(rng.normal(size=(4, 2, 3, 3)))
    assert gradcheck(lambda x, w, b: cc(x, labels), (x, conv.weight, conv.bias))
    # The image's gradient is the first C channels of the gradient the net's input gets.
    g = rng.normal(size=(4, 2, 3, 3))
    x.grad = None
    cc(x, labels).backward(g)
    x_all = t64(oracle(x.data, labels, 3, True))
    conv(x_all).backward(g)
    np.testing.assert_allclose(x.grad, x_all.grad[:, :2], rtol=1e-13, atol=1e-15)


def test_conditional_names_what_is_missing_or_does_not_fit():
    net = nn.Conditional(nn.Linear(4 + 2, 1), 2)
    x = minigan.tensor(np.zeros((3, 4), np.float32))
    with pytest.raises(TypeError, match=r"conditioned on 2 classes; call it with the class of "
                                        r"each input, net\(x, labels\)"):
        net(x)
    with pytest.raises(ShapeError, match="Conditional: 2 labels for a batch of 3 inputs"):
        net(x, [0, 1])
    with pytest.raises(ShapeError, match=r"as_channels needs images \(N, C, H, W\)"):
        nn.Conditional(nn.Identity(), 2, as_channels=True)(x, [0, 1, 1])
    assert "num_classes=2, as_channels=False" in repr(net)


# --- the presets' conditional forms -------------------------------------------------------------

# name: (G, D) trainable parameters of the conditional form, K = 10: only the first layers grow.
CONDITIONAL_COUNTS = {
    "mlp": (1_486_352 + 10 * 256, 533_505 + 10 * 512),          # z + 10 in, 784 + 10 in
    "dcgan_bn": (778_305 + 10 * 7 * 7 * 128, 138_945 + 10 * 64 * 4 * 4),  # 1 + 10 channels
}


def test_which_presets_have_a_conditional_form():
    assert set(models.names(conditional=True)) == set(models.names()) - {"goodfellow2014"}
    with pytest.raises(ValueError, match="goodfellow2014 has no conditional form"):
        models.build("goodfellow2014", num_classes=10)
    for bad in (1, 2.0, True):
        with pytest.raises(ValueError, match="num_classes must be an int >= 2"):
            models.build("mlp", num_classes=bad)
    with pytest.raises(ValueError, match="the given D takes no labels"):
        models.build("mlp", num_classes=10, discriminator=lambda: nn.Linear(784, 1))


@pytest.mark.parametrize("name", sorted(CONDITIONAL_COUNTS))
def test_conditional_presets_count_shape_and_start_reproducibly(name):
    G, D = models.build(name, seed=0, num_classes=10)
    assert (models.parameter_count(G), models.parameter_count(D)) == CONDITIONAL_COUNTS[name]
    assert models.num_classes_of(G) == models.num_classes_of(D) == 10
    assert models.num_classes_of(models.build(name)[0]) is None
    G.eval(), D.eval()
    z = models.sample_noise(name, 4, 100, np.random.default_rng(0))
    labels = np.array([0, 3, 9, 3])
    with minigan.no_grad():
        x = G(z, labels)
        logits = D(x, labels)
    assert x.shape == (4, 1, 28, 28) and logits.shape == (4, 1)
    assert not np.allclose(x.data[1], G(z, [0, 4, 9, 3]).data[1])      # the class matters
    G2, _ = models.build(name, seed=0, num_classes=10)
    for (k, a), (_, b) in zip(G.state_dict().items(), G2.state_dict().items()):
        assert np.array_equal(a, b), k


def test_every_conditional_preset_builds_and_runs():
    for name in models.names(conditional=True):
        G, D = models.build(name, latent_dim=8, seed=0, num_classes=3)
        G.eval(), D.eval()
        with minigan.no_grad():
            logits = D(G(models.sample_noise(name, 2, 8), [0, 2]), [0, 2])
        assert logits.shape == (2, 1), name


def test_batch_norm_of_a_conditional_average_is_recomputed_on_every_class():
    G, _ = models.build("dcgan_bn", latent_dim=8, seed=0, num_classes=10)
    seen = []
    forward = G.forward
    G.forward = lambda z, labels: seen.append(np.asarray(labels)) or forward(z, labels)
    assert models.recompute_batch_norm("dcgan_bn", G, 20, 8, np.random.default_rng(0),
                                       batches=2) == 2
    assert len(seen) == 2 and np.array_equal(seen[0], np.arange(20) % 10)
    # averaging.update_bn takes tuples of inputs: the first a Tensor or array, the rest as given.
    plain, _ = models.build("dcgan_bn", latent_dim=8, seed=0, num_classes=10)
    z = np.random.default_rng(1).normal(size=(20, 8)).astype(np.float32)
    averaging.update_bn([(z, np.arange(20) % 10)], plain)
    assert not np.allclose(plain.net[1].running_mean.data, 0)


# --- the steps with labels ------------------------------------------------------------------------

def toy_models(seed, k=3):
    gen = np.random.default_rng(seed)
    kw = dict(dtype="float64", generator=gen)
    G = nn.Conditional(nn.Sequential(nn.Linear(2 + k, 6, **kw), nn.LeakyReLU(0.2),
                                     nn.Linear(6, 4, **kw)), k)
    D = nn.Conditional(nn.Sequential(nn.Linear(4 + k, 6, **kw), nn.LeakyReLU(0.2),
                                     nn.Linear(6, 1, **kw)), k)
    return G, D


def toy_batches(seed, steps, k_d):
    gen = np.random.default_rng(seed)
    real = [[t64(gen.normal(size=(5, 4)), False) for _ in range(k_d)] for _ in range(steps)]
    real_y = [[gen.integers(0, 3, 5) for _ in range(k_d)] for _ in range(steps)]
    z = [[t64(gen.normal(size=(5, 2)), False) for _ in range(k_d + 1)] for _ in range(steps)]
    fake_y = [[gen.integers(0, 3, 5) for _ in range(k_d + 1)] for _ in range(steps)]
    return real, real_y, z, fake_y


def reference_step(G, D, opt_G, opt_D, reals, real_ys, zs, fake_ys, k, loss):
    """Algorithm 1 with labels, by autograd through the composed losses."""
    for real, ry, z, fy in zip(reals, real_ys, zs[:k], fake_ys[:k]):
        fake = G(z, fy).detach()
        opt_D.zero_grad()
        gan.discriminator_loss(D(real, ry), D(fake, fy), loss=loss).backward()
        opt_D.step()
    opt_G.zero_grad()
    gan.generator_loss(D(G(zs[k], fake_ys[k]), fake_ys[k]), loss=loss).backward()
    D.zero_grad()
    opt_G.step()


@pytest.mark.parametrize("k, loss", [(1, "gan"), (2, "lsgan"), (2, "hinge")])
def test_conditional_train_step_matches_autograd(k, loss):
    (G1, D1), (G2, D2) = toy_models(0), toy_models(0)
    opts = [(optim.Adam(G.parameters(), lr=1e-2), optim.Adam(D.parameters(), lr=1e-2))
            for G, D in ((G1, D1), (G2, D2))]
    real, real_y, z, fake_y = toy_batches(1, 3, k)
    for step in range(3):
        gan.train_step(G1, D1, *opts[0], real[step], z[step], k=k, loss=loss,
                       real_labels=real_y[step], fake_labels=fake_y[step])
        reference_step(G2, D2, *opts[1], real[step], real_y[step], z[step], fake_y[step], k,
                       loss)
    for (name, p1), (_, p2) in zip([*G1.named_parameters(), *D1.named_parameters()],
                                   [*G2.named_parameters(), *D2.named_parameters()]):
        np.testing.assert_allclose(p1.data, p2.data, rtol=1e-12, atol=1e-12, err_msg=name)
    assert not np.allclose(G1.net[0].weight.data, toy_models(0)[0].net[0].weight.data)


def test_labels_reach_the_networks_in_every_form_and_come_in_pairs():
    """One batch of labels reused with one batch; a callable called k + 1 times, as z's."""
    G, D = toy_models(2)
    opt_G, opt_D = optim.SGD(G.parameters(), lr=0.1), optim.SGD(D.parameters(), lr=0.1)
    real, real_y, z, fake_y = toy_batches(3, 1, 2)
    calls = []

    def asked():
        calls.append(1)
        return fake_y[0][len(calls) - 1]

    gan.train_step(G, D, opt_G, opt_D, real[0], lambda: z[0][0], k=2, real_labels=real_y[0],
                   fake_labels=asked)
    assert len(calls) == 3
    gan.train_step(G, D, opt_G, opt_D, real[0][0], z[0][0], k=2, real_labels=[0, 1, 2, 1, 0],
                   fake_labels=[2, 2, 1, 0, 0])
    before = [p.data.copy() for p in D.parameters()]
    for op, kwargs in (("train_step", dict(real_labels=real_y[0][0])),
                       ("train_step", dict(fake_labels=fake_y[0][0]))):
        with pytest.raises(ValueError, match=f"{op}: (real|fake)_labels without"):
            gan.train_step(G, D, opt_G, opt_D, real[0][0], z[0][0], **kwargs)
    with pytest.raises(ValueError, match="discriminator_step: real_labels without fake_labels"):
        gan.discriminator_step(G, D, opt_D, real[0][0], z[0][0], real_labels=real_y[0][0])
    with pytest.raises(TypeError, match=r"call it with the class of each input"):
        gan.generator_step(G, D, opt_G, z[0][0])                  # a conditional G, no labels
    assert all(np.array_equal(a, p.data) for a, p in zip(before, D.parameters()))


# --- a conditional run's checkpoint -------------------------------------------------------------

def test_a_conditional_checkpoint_rebuilds_its_networks_and_says_what_they_need(tmp_path):
    G, D = models.build("dcgan_bn", latent_dim=8, seed=0, num_classes=10)
    opt_G, opt_D = models.make_optimizers("dcgan_bn", G, D)
    config = {"arch": "dcgan_bn", "latent_dim": 8, "num_classes": 10}
    path = tmp_path / "ckpt.npz"
    checkpoint.save(path, G=G, D=D, opt_G=opt_G, opt_D=opt_D, step=1, config=config,
                    batches={"seed": 0, "epoch": 0, "position": 1})
    G2, info = checkpoint.load_generator(path, conditional=True)
    D2, d_info = checkpoint.load_discriminator(path)
    assert info["num_classes"] == d_info["num_classes"] == 10
    G.eval(), D.eval()
    z, y = models.sample_noise("dcgan_bn", 3, 8), np.array([7, 1, 7])
    with minigan.no_grad():
        np.testing.assert_array_equal(G2(z, y).data, G(z, y).data)
        np.testing.assert_array_equal(D2(G(z, y), y).data, D(G(z, y), y).data)
    for load in (checkpoint.load_generator, checkpoint.load_discriminator):
        with pytest.raises(minigan.CheckpointError, match=r"ckpt.npz: a conditional GAN's "
                           r"checkpoint \(10 classes\): its [GD] needs the class of each"):
            load(path, conditional=False)
    plain = tmp_path / "plain.npz"
    checkpoint.save(plain, G=models.build("mlp", latent_dim=8)[0], step=0,
                    config={"arch": "mlp", "latent_dim": 8})
    with pytest.raises(minigan.CheckpointError, match="an unconditional GAN's checkpoint: its G "
                                                      "takes no labels"):
        checkpoint.load_generator(plain, conditional=True)
    assert checkpoint.load_generator(plain, conditional=False)[1]["num_classes"] is None
    for bad, arch in ((1, "mlp"), ("10", "mlp"), (10, "goodfellow2014")):
        run = minigan.load(path)
        run["config"].update(num_classes=bad, arch=arch)
        with pytest.raises(minigan.CheckpointError, match="is not a number of classes that"):
            checkpoint.load(run)


# --- the classifier's accuracy by class ---------------------------------------------------------

def test_accuracy_by_class_counts_each_class_among_its_own_examples():
    probs = np.eye(3)[[0, 0, 1, 2, 2, 1]]                       # predicted 0 0 1 2 2 1
    targets = np.array([0, 1, 1, 2, 2, 2])
    np.testing.assert_allclose(metrics.accuracy_by_class(probs, targets, 3), [1.0, 0.5, 2 / 3])
    by_label = metrics.accuracy_by_class(np.array([0, 0, 1]), np.array([0, 1, 1]), 4)
    assert by_label[:2].tolist() == [1.0, 0.5] and np.isnan(by_label[2:]).all()
    with pytest.raises(ShapeError, match="accuracy_by_class: 6 predictions for targets"):
        metrics.accuracy_by_class(probs, targets[:4], 3)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        metrics.accuracy_by_class(probs, targets + 1, 3)
