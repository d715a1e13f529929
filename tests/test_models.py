"""The reference architectures: layer shapes, parameter counts, and one step of learning.

Parameter counts are the numbers a Keras or PyTorch user sees for the same model (trainable
parameters; Keras' summary of the TensorFlow tutorial's generator says 2,305,472 trainable of
2,330,944, and its discriminator 212,865).
"""

import dataclasses

import numpy as np
import pytest
from scipy import special

import minigan
from minigan import gan, models, nn

COUNTS = {  # name: (generator, discriminator) trainable parameters
    "dcgan": (2_280_000, 212_865),
    "dcgan_tf": (2_305_472, 212_865),
    "dcgan_3x3": (1_636_353, 80_769),
    "mlp": (1_486_352, 533_505),
    "dcgan_bn": (778_305, 138_945),
    "dcgan_sn_fc": (778_305, 1_738_433),   # dcgan_bn's D, spectrally normalised, hidden layer 256
    "dcgan_tf_sn_fc": (2_305_472, 1_738_433),  # dcgan_tf's G, dcgan_sn_fc's D
    "mlp_sigmoid": (247_440, 233_985),
    "goodfellow2014": (2_503_984, 1_231_441),
}


def test_every_model_has_counts():
    assert sorted(COUNTS) == sorted(models.names())


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_parameter_counts(name):
    G, D = models.build(name, latent_dim=100, seed=0)
    assert (models.parameter_count(G), models.parameter_count(D)) == COUNTS[name]


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_shapes_and_ranges(name):
    spec = models.SPECS[name]
    G, D = models.build(name, latent_dim=100, seed=0)
    G.eval(), D.eval()
    z = models.sample_noise(name, 5, 100, np.random.default_rng(0))
    with minigan.no_grad():
        x = G(z)
        logits = D(x)
    assert x.shape == (5, 1, 28, 28) and x.dtype == np.float32
    low, high = spec.data_range
    assert low <= x.data.min() and x.data.max() <= high
    assert logits.shape == (5, 1) and logits.dtype == np.float32


def test_the_presets_are_the_literatures_and_two_recipes():
    """At most nine presets: the seven models of the literature and the documented best recipe
    for each convolutional generator; every spec says where it comes from."""
    assert len(models.names()) <= 9
    assert set(models.names()) == {"dcgan", "dcgan_tf", "dcgan_3x3", "mlp", "dcgan_bn",
                                   "mlp_sigmoid", "goodfellow2014", "dcgan_sn_fc",
                                   "dcgan_tf_sn_fc"}
    for spec in models.SPECS.values():
        assert len(spec.source) > 40, spec.name


def test_build_with_another_discriminator():
    """build(discriminator=, d_init=): the preset's G, reproducible from the seed, and the given
    D started by the given scheme (by the preset's D's without d_init)."""
    make_d = lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 1))  # noqa: E731
    G0, _ = models.build("dcgan_bn", seed=3)
    G, D = models.build("dcgan_bn", seed=3, discriminator=make_d, d_init="uniform:0.005")
    G2, _ = models.build("dcgan_bn", seed=3, discriminator=make_d, d_init="uniform:0.005")
    for (k0, v0), (k, v), (_, v2) in zip(G0.state_dict().items(), G.state_dict().items(),
                                          G2.state_dict().items()):
        assert k0 == k and v0.shape == v.shape and np.array_equal(v, v2)
    assert 0 < np.abs(D[1].weight.data).max() <= 0.005 and not D[1].bias.data.any()
    _, D_own = models.build("dcgan_bn", seed=3, discriminator=lambda: nn.Sequential(
        nn.Flatten(), nn.Linear(784, 1)))                    # dcgan_bn's scheme: N(0, 0.02)
    assert np.abs(D_own[1].weight.data).max() > 0.01


def test_layer_shapes_dcgan_tf():
    """The TensorFlow tutorial's generator, layer by layer (NCHW here, NHWC in Keras)."""
    G, _ = models.build("dcgan_tf", seed=0)
    G.eval()
    x = models.sample_noise("dcgan_tf", 2, 100, np.random.default_rng(0))
    shapes = []
    with minigan.no_grad():
        for layer in G:
            x = layer(x)
            shapes.append(x.shape[1:])
    assert shapes == [(12544,), (12544,), (12544,), (256, 7, 7), (128, 7, 7), (128, 7, 7),
                      (128, 7, 7), (64, 14, 14), (64, 14, 14), (64, 14, 14), (1, 28, 28),
                      (1, 28, 28)]


def test_uniform_noise_for_goodfellow2014():
    """pylearn2's "uniform" noise: U(-sqrt 3, sqrt 3), unit variance."""
    z = models.sample_noise("goodfellow2014", 1000, 100, np.random.default_rng(0)).data
    r = np.sqrt(3)
    assert -r <= z.min() < -0.99 * r and 0.99 * r < z.max() <= r
    assert abs(z.mean()) < 0.01 and abs(z.var() - 1) < 0.02


def patch_interaction(D):
    """How much the effects on D's logit of a change to an image's top four rows and one to its
    bottom four interact, relative to the first's effect alone, for 8 random images (float64).

    Two convolutions and then the logit: D's logit is a sum over the 7x7 positions, each term a
    function of one patch (10x10 pixels for dcgan_bn's D, 13x13 for dcgan_tf's). Changes to the
    top four rows and to the bottom four never share a patch, so their effects on the logit add
    up exactly: D(x + a + b) - D(x + a) - D(x + b) + D(x) = 0. A hidden layer after the
    convolutions sees every patch at once, and the two changes interact."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (8, 1, 28, 28))
    a, b = np.zeros_like(x), np.zeros_like(x)
    a[:, :, :4], b[:, :, -4:] = rng.uniform(-1, 1, (2, 8, 1, 4, 28))
    D.double().eval()
    with minigan.no_grad():
        logit = lambda v: D(minigan.Tensor(v)).data[:, 0]
        alone = logit(x + a) - logit(x)                      # what the top rows do by themselves
        together = logit(x + a + b) - logit(x + b)           # and beside the change at the bottom
    return np.abs(together - alone) / np.abs(alone)          # relative to the change's effect


@pytest.mark.parametrize("name, adds_up", [("dcgan_bn", True), ("dcgan_tf", True),
                                           ("dcgan_sn_fc", False)])
def test_which_convolutional_ds_add_up_patch_scores(name, adds_up):
    """A convolutional D without a hidden layer scores a sum of patches; dcgan_sn_fc's does not
    (the recipes' Ds: tests/test_recipes.py)."""
    interaction = patch_interaction(models.build(name, seed=0)[1])
    if adds_up:
        assert interaction.max() < 1e-9
    else:
        assert interaction.min() > 1e-2


def test_noise_kinds(monkeypatch):
    spec = models.SPECS["mlp"]
    z = models.sample_noise("mlp", 1000, 100, np.random.default_rng(0)).data
    assert z.min() < -3 and 3 < z.max()                       # N(0, 1)
    for kind, r in (("uniform", 1.0), ("uniform:0.5", 0.5)):
        monkeypatch.setitem(models.SPECS, "mlp", dataclasses.replace(spec, noise=kind))
        z = models.sample_noise("mlp", 1000, 100, np.random.default_rng(0)).data
        assert -r <= z.min() < -0.99 * r and 0.99 * r < z.max() <= r


def test_truncated_noise_is_the_normal_conditioned_on_the_bound():
    """The truncation trick: every |z| <= t, and the entries are N(0, 1) conditioned on that
    (a truncated normal, whose variance has a closed form), not clipped or rescaled."""
    t = 1.0
    z = models.sample_noise("mlp", 2000, 100, np.random.default_rng(0), truncation=t).data
    assert np.abs(z).max() <= t and z.dtype == np.float32
    phi = np.exp(-t ** 2 / 2) / np.sqrt(2 * np.pi)
    variance = 1 - 2 * t * phi / special.erf(t / np.sqrt(2))      # Var(z | |z| <= t) = 0.291
    assert abs(z.var() - variance) < 0.005 and abs(z.mean()) < 0.005
    assert np.mean(np.abs(z) > 0.99 * t) > 0.004                  # filled up to the bound
    # Uniform noise is narrowed; a bound beyond its range changes nothing.
    u = models.sample_noise("goodfellow2014", 1000, 100, np.random.default_rng(0),
                            truncation=0.5).data
    assert -0.5 <= u.min() < -0.49 and 0.49 < u.max() <= 0.5
    wide = models.sample_noise("goodfellow2014", 10, 100, np.random.default_rng(0), truncation=9)
    plain = models.sample_noise("goodfellow2014", 10, 100, np.random.default_rng(0))
    np.testing.assert_array_equal(wide.data, plain.data)
    for bad in (0, -1.0):
        with pytest.raises(ValueError, match="positive bound"):
            models.sample_noise("mlp", 2, truncation=bad)


def test_build_is_reproducible():
    a, _ = models.build("mlp", seed=3)
    b, _ = models.build("mlp", seed=3)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and np.array_equal(va, vb)


def test_init_output_bias_starts_at_the_mean_image():
    """sigmoid(G's last bias) is the per-pixel data mean, clipped to [1e-7, 1 - 1e-7] as in
    pylearn2: an always-black pixel starts at logit -16.1, where the sigmoid's slope is 1e-7."""
    rng = np.random.default_rng(0)
    data = (rng.random((50, 1, 28, 28)) < rng.random((1, 1, 28, 28))).astype(np.float32)
    data[:, :, 0, 0] = 0.0                                   # an always-black corner pixel
    G, _ = models.build("goodfellow2014", seed=0)
    models.init_output_bias(G, data)
    bias = G[4].bias.data.astype(np.float64)
    expected = np.clip(data.reshape(50, -1).mean(axis=0), 1e-7, 1 - 1e-7)
    np.testing.assert_allclose(1 / (1 + np.exp(-bias)), expected, rtol=1e-5)
    assert bias[0] == pytest.approx(np.log(1e-7 / (1 - 1e-7)), rel=1e-6)
    # Data in [-1, 1] is mapped to [0, 1] first.
    models.init_output_bias(G, 2 * data - 1, data_range=(-1.0, 1.0))
    np.testing.assert_allclose(G[4].bias.data, bias.astype(np.float32), rtol=1e-5)


def test_build_with_data_sets_the_output_bias_only_where_the_spec_asks():
    data = np.full((4, 1, 28, 28), 0.25, np.float32)
    for name in models.names():
        G, _ = models.build(name, seed=0, data=2 * data - 1 if models.SPECS[name].data_range[0] < 0
                            else data)
        last = [m for m in G.modules() if getattr(m, "bias", None) is not None]
        if models.SPECS[name].output_bias == "marginals":
            np.testing.assert_allclose(last[-1].bias.data, np.log(0.25 / 0.75), rtol=1e-5)
        elif last:
            assert not np.allclose(last[-1].bias.data, np.log(0.25 / 0.75))


def test_init_output_bias_checks_the_pixel_count():
    G, _ = models.build("mlp_sigmoid", seed=0)
    with pytest.raises(ValueError, match="784"):
        models.init_output_bias(G, np.zeros((3, 1, 14, 14), np.float32))


@pytest.mark.parametrize("scheme", ["he", "uniform:0.005"])
def test_he_and_uniform_init_schemes(scheme):
    """"he": Kaiming uniform with the ReLU gain; "uniform:R": U(-R, R); biases zero in both."""
    net = nn.Sequential(nn.Linear(300, 200), nn.ReLU(), nn.Linear(200, 10))
    models._initialise(net, scheme)
    for layer in (net[0], net[2]):
        bound = np.sqrt(6.0 / layer.weight.shape[1]) if scheme == "he" else 0.005
        top = np.abs(layer.weight.data).max()
        assert 0.95 * bound < top <= bound and not layer.bias.data.any()
    with pytest.raises(ValueError, match="unknown init scheme"):
        models._initialise(net, "glorot")


def test_make_optimizers_separate_discriminator_rate():
    G, D = models.build("mlp", seed=0)
    opt_G, opt_D = models.make_optimizers("mlp", G, D, lr=1e-3, lr_d=5e-4)
    assert (opt_G.lr, opt_D.lr) == (1e-3, 5e-4)
    opt_G, opt_D = models.make_optimizers("mlp", G, D, optimizer="sgd", lr_d=0.05)
    assert (opt_G.lr, opt_D.lr) == (0.1, 0.05)
    for name, spec in models.SPECS.items():   # a new lr replaces a model's own lr_d too
        opt_G, opt_D = models.make_optimizers(name, *models.build(name, seed=0), lr=0.01)
        assert opt_G.lr == opt_D.lr == 0.01


def test_unknown_model_names_the_choices():
    with pytest.raises(ValueError, match="dcgan_bn"):
        models.build("resnet")


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_one_step_decreases_discriminator_loss(name):
    """One D update on a fixed batch of real and generated images lowers D's loss on it."""
    rng = np.random.default_rng(0)
    G, D = models.build(name, seed=0)
    _, opt_D = models.make_optimizers(name, G, D)
    low, high = models.SPECS[name].data_range
    real = minigan.tensor(rng.uniform(low, high, size=(16, 1, 28, 28)).astype(np.float32))
    with minigan.no_grad():
        fake = G(models.sample_noise(name, 16, 100, rng))
    # Batch norm on batch statistics, dropout off: one deterministic function to compare.
    D.train()
    for m in D.modules():
        if isinstance(m, nn.Dropout):
            m.eval()

    def loss_d():
        with minigan.no_grad():
            return gan.discriminator_loss(D(real), D(fake)).item()

    before = loss_d()
    opt_D.zero_grad()
    gan.discriminator_loss(D(real), D(fake)).backward()
    opt_D.step()
    assert loss_d() < before
