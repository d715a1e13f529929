"""The reference architectures: layer shapes, parameter counts, and one step of learning.

Parameter counts are the numbers a Keras or PyTorch user sees for the same model (trainable
parameters; Keras' summary of the TensorFlow tutorial's generator says 2,305,472 trainable of
2,330,944, and its discriminator 212,865).
"""

import numpy as np
import pytest

import minigan
from minigan import gan, models, nn

COUNTS = {  # name: (generator, discriminator) trainable parameters
    "dcgan": (2_280_000, 212_865),
    "dcgan_tf": (2_305_472, 212_865),
    "dcgan_3x3": (1_636_353, 80_769),
    "mlp": (1_486_352, 533_505),
    "dcgan_bn": (778_305, 138_945),
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
    z = models.sample_noise("goodfellow2014", 1000, 100, np.random.default_rng(0))
    assert -1 <= z.data.min() and z.data.max() <= 1 and abs(z.data.mean()) < 0.05


def test_build_is_reproducible():
    a, _ = models.build("mlp", seed=3)
    b, _ = models.build("mlp", seed=3)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and np.array_equal(va, vb)


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
