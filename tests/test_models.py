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
    "dcgan_sn": (778_305, 138_561),        # dcgan_bn without D's batch norm scales and shifts
    "dcgan_sn_fc": (778_305, 1_738_433),   # dcgan_sn's D with a hidden layer of 256
    "dcgan_tf_sn_fc": (2_305_472, 1_738_433),  # dcgan_tf's G, dcgan_sn_fc's D
    "dcgan_maxout": (778_305, 1_231_441),  # dcgan_bn's G, goodfellow2014's D
    "dcgan_tf_maxout": (2_305_472, 1_231_441),  # dcgan_tf's G, goodfellow2014's D
    "dcgan_convmaxout": (778_305, 7_660_129),   # dcgan_bn's G, convolutions then maxout
    "mlp_sigmoid": (247_440, 233_985),
    "goodfellow2014": (2_503_984, 1_231_441),
    "goodfellow2014_noinputdrop": (2_503_984, 1_231_441),
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


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_packed_discriminator_judges_packs_of_samples(name):
    """build(pack=m): D takes the same images and returns one logit per m of them; only its first
    layer grows (m times the inputs), and the pack's logit depends on every sample in it."""
    _, D = models.build(name, seed=0, pack=2)
    _, D1 = models.build(name, seed=0)
    assert isinstance(D[0], nn.Pack) and D[0].m == 2
    first = lambda d: next(m for m in d.modules() if getattr(m, "weight", None) is not None)
    assert first(D).weight.shape[1] == 2 * first(D1).weight.shape[1]
    grown = models.parameter_count(D) - models.parameter_count(D1)
    assert grown == first(D).weight.size - first(D1).weight.size
    D.eval()
    rng = np.random.default_rng(0)
    x = minigan.tensor(rng.uniform(-1, 1, size=(6, 1, 28, 28)).astype(np.float32),
                       requires_grad=True)
    logits = D(x)
    assert logits.shape == (3, 1)
    logits[1].sum().backward()
    moved = np.abs(minigan.backend.to_numpy(x.grad)).reshape(6, -1).max(axis=1) > 0
    assert moved.tolist() == [False, False, True, True, False, False]
    with pytest.raises(ValueError, match="positive integer"):
        models.build(name, pack=0)


@pytest.mark.parametrize("pack", [1, 2])
def test_input_dropout_drops_pixels_before_d_in_training_only(pack):
    """build(input_dropout=p): an nn.Dropout(p) in front of D (and of its packer), nothing else
    changed: the same weights for the same seed, the same logits in eval mode, and in training
    about a fraction p of the pixels that D's logits no longer depend on."""
    _, D = models.build("dcgan_bn", seed=3, pack=pack, input_dropout=0.25)
    _, D0 = models.build("dcgan_bn", seed=3, pack=pack)
    assert isinstance(D[0], nn.Dropout) and D[0].p == 0.25
    assert [m for m in D[1].modules() if isinstance(m, nn.Dropout)] == []   # the only one
    s, s0 = D[1].state_dict(), D0.state_dict()
    assert s.keys() == s0.keys() and all(np.array_equal(s[k], s0[k]) for k in s)
    x = minigan.tensor(np.random.default_rng(1).uniform(-1, 1, (64, 1, 28, 28))
                       .astype(np.float32), requires_grad=True)
    D.eval(), D0.eval()
    with minigan.no_grad():
        np.testing.assert_array_equal(D(x).numpy(), D0(x).numpy())
    D.train()
    nn.init.manual_seed(0)
    D(x).sum().backward()
    dropped = np.mean(minigan.backend.to_numpy(x.grad) == 0)
    assert abs(dropped - 0.25) < 0.01          # 50,176 pixels: the standard error is 0.002
    with pytest.raises(ValueError, match="between 0 and 1"):
        models.build("dcgan_bn", input_dropout=1.5)


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


def test_goodfellow2014_noinputdrop_differs_only_by_d_input_dropout():
    """The variant is goodfellow2014 less the Dropout(0.2) on D's input: same G, same initial
    weights for the same seed, the same settings, and D's hidden dropout kept."""
    G0, D0 = models.build("goodfellow2014", seed=4)
    G1, D1 = models.build("goodfellow2014_noinputdrop", seed=4)
    for a, b in ((G0, G1), (D0, D1)):
        sa, sb = a.state_dict(), b.state_dict()
        assert [v.shape for v in sa.values()] == [v.shape for v in sb.values()]
        assert all(np.array_equal(va, vb) for va, vb in zip(sa.values(), sb.values()))
    rates = lambda d: [m.p for m in d.modules() if isinstance(m, nn.Dropout)]
    assert rates(D0) == [0.2, 0.5, 0.5] and rates(D1) == [0.5, 0.5]
    assert isinstance(D1[0], nn.Flatten) and isinstance(D1[1], nn.Linear)
    spec0, spec1 = models.SPECS["goodfellow2014"], models.SPECS["goodfellow2014_noinputdrop"]
    same = ("data_range", "noise", "optimizer", "init", "output_bias", "batch_size")
    assert all(getattr(spec0, f) == getattr(spec1, f) for f in same)


@pytest.mark.parametrize("name, adds_up", [
    ("dcgan_bn", True), ("dcgan_sn", True), ("dcgan_tf", True),
    ("dcgan_sn_fc", False), ("dcgan_convmaxout", False)])
def test_which_convolutional_ds_add_up_patch_scores(name, adds_up):
    """Two convolutions and then the logit: D's logit is a sum over the 7x7 positions, each term
    a function of one patch (10x10 pixels for dcgan_bn's D, 13x13 for dcgan_tf's). Changes to
    the top four rows and to the bottom four never share a patch, so their effects on the logit
    add up exactly: D(x + a + b) - D(x + a) - D(x + b) + D(x) = 0. A hidden layer after the
    convolutions (dcgan_sn_fc's, dcgan_convmaxout's maxout) sees every patch at once, and the
    two changes interact."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (8, 1, 28, 28))
    a, b = np.zeros_like(x), np.zeros_like(x)
    a[:, :, :4], b[:, :, -4:] = rng.uniform(-1, 1, (2, 8, 1, 4, 28))
    _, D = models.build(name, seed=0)
    D.double().eval()
    with minigan.no_grad():
        logit = lambda v: D(minigan.Tensor(v)).data[:, 0]
        alone = logit(x + a) - logit(x)                      # what the top rows do by themselves
        together = logit(x + a + b) - logit(x + b)           # and beside the change at the bottom
    interaction = np.abs(together - alone) / np.abs(alone)  # relative to the change's effect
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
    for name, spec in models.SPECS.items():   # a new --lr replaces a model's own lr_d too
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


@pytest.mark.parametrize("pack, input_dropout", [(1, 0.0), (2, 0.0), (1, 0.2)])
def test_load_discriminator_gives_the_saved_d_in_eval_mode(tmp_path, pack, input_dropout):
    # dcgan_bn's D has batch norm: in eval mode each image's logit is its own, whatever the batch.
    G, D = models.build("dcgan_bn", 8, seed=0, pack=pack, input_dropout=input_dropout)
    for p in D.parameters():
        p.data += 0.01
    config = {"arch": "dcgan_bn", "latent_dim": 8, "pack": pack}
    if input_dropout:
        config["input_dropout"] = input_dropout   # checkpoints from before it have none
    minigan.save(tmp_path / "ckpt.npz", G=G, D=D, step=3, config=config)
    got, info = models.load_discriminator(tmp_path / "ckpt.npz")
    assert info == {"arch": "dcgan_bn", "pack": pack, "step": 3} and not got.training
    x = minigan.tensor(np.random.default_rng(8).uniform(-1, 1, (4, 1, 28, 28)).astype(np.float32))
    D.eval()
    with minigan.no_grad():
        np.testing.assert_array_equal(got(x).numpy(), D(x).numpy())
        assert got(x).shape == (4 // pack, 1)
        np.testing.assert_allclose(got(x[:2]).numpy(), got(x).numpy()[:2 // pack], rtol=1e-5)
    minigan.save(tmp_path / "g_only.npz", G_ema=G, step=3, config=config)
    with pytest.raises(minigan.CheckpointError, match="no discriminator"):
        models.load_discriminator(tmp_path / "g_only.npz")
