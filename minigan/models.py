"""The reference GAN architectures for 28x28 MNIST, from the literature, each buildable by name.

    G, D = minigan.models.build("dcgan_bn", latent_dim=100, seed=0)
    spec = minigan.models.SPECS["dcgan_bn"]     # data range, noise, optimiser settings, source

Every generator maps noise ``(N, latent_dim)`` to images ``(N, 1, 28, 28)`` in the model's data
range; every discriminator maps images to one *logit* per image, ``(N, 1)`` (D(x) = sigmoid of
it; the losses in ``minigan.gan`` work on logits for stability). Each spec's ``source`` says
where the model comes from; docs/models.md describes them and docs/results.md measures them.

``build(name, num_classes=10)`` builds the conditional GAN of Mirza & Osindero (2014) on the
preset: ``G(z, labels)`` and ``D(x, labels)``, each told the class by ``nn.Conditional``.

Shapes are written after each layer as ``# (N, C, H, W)``. Keras models are ported with Keras'
semantics (``padding="same"``, LeakyReLU slope 0.3, Glorot-uniform kernels, zero biases, batch
norm with momentum 0.99 and epsilon 1e-3 -- PyTorch's ``momentum=0.01, eps=1e-3``).
"""

import math
from dataclasses import dataclass, field

import numpy as np

from . import averaging, backend, nn, optim
from .nn import init
from .tensor import Tensor, array_of

__all__ = ["ModelSpec", "SPECS", "names", "build", "num_classes_of", "init_output_bias",
           "make_optimizers", "sample_noise", "recompute_batch_norm", "parameter_count"]


@dataclass(frozen=True)
class ModelSpec:
    """How to build and train one reference architecture."""
    name: str
    generator: callable            # latent_dim -> Module
    discriminator: callable        # image channels -> Module
    source: str                    # where the architecture comes from
    data_range: tuple = (-1.0, 1.0)  # the generator's output range; data is scaled to match
    noise: str = "normal"          # "normal": N(0, 1); "uniform": U(-1, 1); "uniform:R": U(-R, R)
    optimizer: dict = field(default_factory=lambda: dict(
        name="adam", lr=2e-4, betas=(0.5, 0.999)))  # "lr_d": D's rate where it differs from G's
    init: object = "pytorch"       # one scheme for both networks, or (G's, D's); see _initialise
    output_bias: str = "zeros"     # "marginals": G's last bias from the data (init_output_bias)
    batch_size: int = 64           # the minibatch the settings were made for
    ema: float = 0.999             # decay of the moving average of G's weights to sample from
    conditioning: str = "channels"  # how D takes a class code (build's num_classes): as image
                                    # "channels", as "features" after the flattened image, or
                                    # None: no conditional form


# --- building blocks ------------------------------------------------------------------------

def _keras_bn(kind, n):
    """Keras BatchNormalization defaults in PyTorch terms (Keras momentum 0.99 = 1 - 0.01)."""
    return kind(n, eps=1e-3, momentum=0.01)


def _keras_dcgan_generator(latent_dim, batch_norm):
    """The Keras DCGAN generator of the TensorFlow tutorial; batch norm optional."""
    bn = (lambda kind, n: [_keras_bn(kind, n)]) if batch_norm else (lambda kind, n: [])
    return nn.Sequential(
        nn.Linear(latent_dim, 7 * 7 * 256, bias=False),                       # (N, 12544)
        *bn(nn.BatchNorm1d, 7 * 7 * 256),
        nn.LeakyReLU(0.3),
        nn.Unflatten(1, (256, 7, 7)),                                          # (N, 256, 7, 7)
        nn.ConvTranspose2d(256, 128, 5, stride=1, padding="same", bias=False),  # (N, 128, 7, 7)
        *bn(nn.BatchNorm2d, 128),
        nn.LeakyReLU(0.3),
        nn.ConvTranspose2d(128, 64, 5, stride=2, padding="same", bias=False),   # (N, 64, 14, 14)
        *bn(nn.BatchNorm2d, 64),
        nn.LeakyReLU(0.3),
        nn.ConvTranspose2d(64, 1, 5, stride=2, padding="same", bias=False),     # (N, 1, 28, 28)
        nn.Tanh(),
    )


def _keras_dcgan_discriminator(channels=1):
    return nn.Sequential(
        nn.Conv2d(channels, 64, 5, stride=2, padding="same"),  # (N, 64, 14, 14)
        nn.LeakyReLU(0.3),
        nn.Dropout(0.3),
        nn.Conv2d(64, 128, 5, stride=2, padding="same"),    # (N, 128, 7, 7)
        nn.LeakyReLU(0.3),
        nn.Dropout(0.3),
        nn.Flatten(),                                       # (N, 6272)
        nn.Linear(128 * 7 * 7, 1),                          # (N, 1) logits
    )


def _dcgan_3x3_generator(latent_dim):
    return nn.Sequential(
        nn.Linear(latent_dim, 7 * 7 * 256),                               # (N, 12544)
        nn.Unflatten(1, (256, 7, 7)),                                      # (N, 256, 7, 7)
        nn.ConvTranspose2d(256, 128, 3, stride=2, padding="same"),         # (N, 128, 14, 14)
        nn.LeakyReLU(0.2),
        nn.ConvTranspose2d(128, 64, 3, stride=2, padding="same"),          # (N, 64, 28, 28)
        nn.LeakyReLU(0.2),
        nn.Conv2d(64, 1, 3, padding="same"),                               # (N, 1, 28, 28)
        nn.Tanh(),
    )


def _dcgan_3x3_discriminator(channels=1):
    return nn.Sequential(
        nn.Conv2d(channels, 64, 3, stride=2, padding="same"),  # (N, 64, 14, 14)
        nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 3, stride=2, padding="same"),    # (N, 128, 7, 7)
        nn.LeakyReLU(0.2),
        nn.Flatten(),                                       # (N, 6272)
        nn.Linear(128 * 7 * 7, 1),                          # (N, 1)
    )


def _mlp(sizes, activation, last=None):
    """Linear layers of the given sizes with ``activation()`` between them, ``last`` at the end."""
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(activation())
    if last is not None:
        layers.append(last)
    return layers


def _mlp_generator(latent_dim):
    return nn.Sequential(
        *_mlp([latent_dim, 256, 512, 1024, 784], lambda: nn.LeakyReLU(0.2), nn.Tanh()),
        nn.Unflatten(1, (1, 28, 28)),                       # (N, 1, 28, 28)
    )


def _mlp_discriminator(channels=1, num_classes=0):
    return nn.Sequential(
        nn.Flatten(),                       # (N, 784 * channels), then a class code's K features
        *_mlp([784 * channels + num_classes, 512, 256, 1], lambda: nn.LeakyReLU(0.2)),  # (N, 1)
    )


def _dcgan_bn_generator(latent_dim):
    return nn.Sequential(
        nn.Linear(latent_dim, 7 * 7 * 128),                                # (N, 6272)
        nn.BatchNorm1d(7 * 7 * 128),
        nn.ReLU(),
        nn.Unflatten(1, (128, 7, 7)),                                       # (N, 128, 7, 7)
        nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1),                # (N, 64, 14, 14)
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.ConvTranspose2d(64, 1, 4, stride=2, padding=1),                  # (N, 1, 28, 28)
        nn.Tanh(),
    )


def _dcgan_bn_discriminator(channels=1):
    return nn.Sequential(
        nn.Conv2d(channels, 64, 4, stride=2, padding=1),    # (N, 64, 14, 14)
        nn.BatchNorm2d(64),
        nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 4, stride=2, padding=1),         # (N, 128, 7, 7)
        nn.BatchNorm2d(128),
        nn.LeakyReLU(0.2),
        nn.Flatten(),                                       # (N, 6272)
        nn.Linear(128 * 7 * 7, 1),                          # (N, 1)
    )


def _sn_fc_discriminator(channels=1):
    # dcgan_bn's D with spectral normalisation (nn.SpectralNorm; Miyato et al. 2018) in place of
    # batch norm, and a hidden layer before the logit. Without it the logit would be a weighted
    # sum over the 7x7 positions of features of one 10x10 patch each; the hidden layer sees
    # every patch at once.
    sn = nn.SpectralNorm
    return nn.Sequential(
        sn(nn.Conv2d(channels, 64, 4, stride=2, padding=1)),                  # (N, 64, 14, 14)
        nn.LeakyReLU(0.2),
        sn(nn.Conv2d(64, 128, 4, stride=2, padding=1)),                       # (N, 128, 7, 7)
        nn.LeakyReLU(0.2),
        nn.Flatten(),                                                         # (N, 6272)
        sn(nn.Linear(128 * 7 * 7, 256)),                                      # (N, 256)
        nn.LeakyReLU(0.2),
        sn(nn.Linear(256, 1)),                                                # (N, 1)
    )


def _mlp_sigmoid_generator(latent_dim):
    return nn.Sequential(
        *_mlp([latent_dim, 128, 256, 784], lambda: nn.LeakyReLU(0.2), nn.Sigmoid()),
        nn.Unflatten(1, (1, 28, 28)),                       # (N, 1, 28, 28) in [0, 1]
    )


def _mlp_sigmoid_discriminator(channels=1, num_classes=0):
    return nn.Sequential(nn.Flatten(), *_mlp([784 * channels + num_classes, 256, 128, 1],
                                             lambda: nn.LeakyReLU(0.2)))


def _goodfellow2014_generator(latent_dim):
    return nn.Sequential(
        nn.Linear(latent_dim, 1200), nn.ReLU(),             # (N, 1200)
        nn.Linear(1200, 1200), nn.ReLU(),                   # (N, 1200)
        nn.Linear(1200, 784), nn.Sigmoid(),                 # (N, 784) in [0, 1]
        nn.Unflatten(1, (1, 28, 28)),                       # (N, 1, 28, 28)
    )


def _goodfellow2014_discriminator(channels=1):
    # Maxout layers of 240 units x 5 pieces: a Linear to 1200 features, then the max of each
    # group of 5. Dropout on the input (keep 0.8) and hidden layers (keep 0.5), as in the paper's
    # pylearn2 configuration.
    return nn.Sequential(
        nn.Flatten(),                                       # (N, 784 * channels)
        nn.Dropout(0.2),
        nn.Linear(784 * channels, 240 * 5), nn.Maxout(5),   # (N, 240)
        nn.Dropout(0.5),
        nn.Linear(240, 240 * 5), nn.Maxout(5),              # (N, 240)
        nn.Dropout(0.5),
        nn.Linear(240, 1),                                  # (N, 1)
    )


_dcgan_tf_generator = lambda d: _keras_dcgan_generator(d, batch_norm=True)  # noqa: E731

SPECS = {s.name: s for s in [
    ModelSpec(
        "dcgan", lambda d: _keras_dcgan_generator(d, batch_norm=False), _keras_dcgan_discriminator,
        source="The Keras DCGAN of the TensorFlow 'Deep Convolutional GAN' tutorial, as it is "
               "commonly copied without its BatchNormalization layers (docs/models.md shows "
               "what that does).",
        init="keras"),
    ModelSpec(
        "dcgan_tf", _dcgan_tf_generator, _keras_dcgan_discriminator,
        source="The TensorFlow 'Deep Convolutional GAN' tutorial's Keras model, with batch norm "
               "after the Dense layer and the first two transposed convolutions of G.",
        init="keras"),
    ModelSpec(
        "dcgan_3x3", _dcgan_3x3_generator, _dcgan_3x3_discriminator,
        source="The 3x3-kernel Keras DCGAN of the Keras examples (Conv2DTranspose stride 2, "
               "LeakyReLU 0.2), sized for 28x28 MNIST.",
        init="keras"),
    ModelSpec(
        "mlp", _mlp_generator, _mlp_discriminator,
        source="The fully connected GAN of the common PyTorch/Keras MNIST tutorials "
               "(100-256-512-1024-784 generator, 784-512-256-1 discriminator, LeakyReLU 0.2).",
        conditioning="features"),
    ModelSpec(
        "dcgan_bn", _dcgan_bn_generator, _dcgan_bn_discriminator,
        source="A DCGAN in the style of Radford et al. 2016 scaled to 28x28: 4x4 stride-2 "
               "(transposed) convolutions, batch norm, ReLU in G and LeakyReLU 0.2 in D, "
               "weights drawn from N(0, 0.02).",
        init="dcgan"),
    ModelSpec(
        "mlp_sigmoid", _mlp_sigmoid_generator, _mlp_sigmoid_discriminator,
        source="A small fully connected GAN with a sigmoid output, for data in [0, 1] "
               "(100-128-256-784 generator, 784-256-128-1 discriminator), started as Goodfellow "
               "et al. 2014 started their sigmoid generator: He weights in G, its output bias "
               "from the data's mean image, and D at half G's rate (docs/models.md says why).",
        data_range=(0.0, 1.0), init=("he", "pytorch"), output_bias="marginals",
        optimizer=dict(name="adam", lr=2e-4, lr_d=1e-4, betas=(0.5, 0.999)),
        conditioning="features"),
    ModelSpec(
        "goodfellow2014", _goodfellow2014_generator, _goodfellow2014_discriminator,
        source="Goodfellow et al., 'Generative Adversarial Nets', NeurIPS 2014, MNIST model: "
               "G 100 -> 1200 ReLU -> 1200 ReLU -> 784 sigmoid from uniform noise; D two maxout "
               "layers (240 units x 5 pieces) with dropout, then a sigmoid unit. Trained with "
               "Adam instead of the paper's SGD (docs/models.md says why).",
        # Noise: pylearn2's "uniform", U(-sqrt 3, sqrt 3), which has unit variance. Weights and
        # G's output bias as in the released pylearn2 configuration: U(-0.05, 0.05) in G,
        # U(-0.005, 0.005) in D, G's sigmoid bias from the data's pixel means; batch 100. D at
        # half G's rate keeps the configuration's halved D cost.
        data_range=(0.0, 1.0), noise=f"uniform:{math.sqrt(3)}",
        init=("uniform:0.05", "uniform:0.005"), output_bias="marginals", batch_size=100,
        optimizer=dict(name="adam", lr=4e-4, lr_d=2e-4, betas=(0.5, 0.999)), ema=0.9999,
        # No conditional form: D's dropout on its input would drop the class code too, so D
        # would judge a fifth of its inputs' codes without their class.
        conditioning=None),
    # The documented best recipe for each convolutional generator (docs/results.md): its G
    # against one D, a spectrally normalised dcgan_bn D with a hidden layer, drawn from
    # N(0, 0.02) and trained at G's rate, twice dcgan_bn's, with the 0.9999 average of G.
    ModelSpec(
        "dcgan_sn_fc", _dcgan_bn_generator, _sn_fc_discriminator,
        source="dcgan_bn's G against dcgan_bn's D with spectral normalisation (Miyato et al., "
               "'Spectral Normalization for Generative Adversarial Networks', ICLR 2018) in "
               "place of batch norm and a hidden layer of 256 units before the logit.",
        init="dcgan", optimizer=dict(name="adam", lr=4e-4, betas=(0.5, 0.999)), ema=0.9999),
    ModelSpec(
        "dcgan_tf_sn_fc", _dcgan_tf_generator, _sn_fc_discriminator,
        source="dcgan_tf's G (Glorot weights, Keras batch norm) against dcgan_sn_fc's D, "
               "trained as dcgan_sn_fc.",
        init=("keras", "dcgan"), optimizer=dict(name="adam", lr=4e-4, betas=(0.5, 0.999)),
        ema=0.9999),
]}


def names(conditional=False):
    """The names of the reference architectures (``conditional=True``: those with a conditional
    form, ``build(name, num_classes=K)``)."""
    return [name for name, spec in SPECS.items() if not conditional or spec.conditioning]


def _spec(name):
    if name not in SPECS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(SPECS)}")
    return SPECS[name]


def build(name, latent_dim=100, seed=None, device="cpu", data=None, discriminator=None,
          d_init=None, num_classes=None):
    """Build the generator and discriminator of the architecture ``name``.

    Args:
        name: one of :func:`names`.
        latent_dim: size of the noise vector z.
        seed: makes the initial weights reproducible.
        device: "cpu" or "cuda".
        data: training images in the model's data range, ``(N, 1, 28, 28)``. Models whose spec
            says ``output_bias="marginals"`` start G's output bias from them
            (:func:`init_output_bias`); other models ignore them.
        discriminator: to train this G against another D: a callable that returns a new D
            (its layers built, not yet initialised), in place of the spec's.
        d_init: the initialisation scheme of that D (see :func:`_initialise`); None: the spec's.
        num_classes: K, for the conditional GAN (:func:`_conditional`): G and D are then called
            with the class of each image, ``G(z, labels)`` and ``D(x, labels)``, labels in
            [0, K). None (default): the unconditional GAN, unchanged.

    Returns:
        ``(G, D)``: G maps ``(N, latent_dim)`` noise to ``(N, 1, 28, 28)`` images, D maps images
        to ``(N, 1)`` logits.
    """
    spec = _spec(name)
    if num_classes is not None:
        _check_conditional(spec, num_classes, discriminator)
    if seed is not None:
        init.manual_seed(seed)
    if num_classes is None:
        G = spec.generator(latent_dim)
        D = spec.discriminator() if discriminator is None else discriminator()
    else:
        G, D = _conditional(spec, latent_dim, num_classes)
    g_scheme, d_scheme = spec.init if isinstance(spec.init, tuple) else (spec.init, spec.init)
    _initialise(G, g_scheme)
    _initialise(D, d_scheme if d_init is None else d_init)
    if spec.output_bias == "marginals" and data is not None:
        init_output_bias(G, data, spec.data_range)
    return G.to(device), D.to(device)


def _conditional(spec, latent_dim, num_classes):
    """The preset's G and D told the class, as in Mirza & Osindero (2014): G reads z and the
    class's one-hot code side by side, ``(N, latent_dim + K)``; D reads the image with the code as
    K constant channels (a convolutional D) or as K features after the flattened image (a fully
    connected D), as ``spec.conditioning`` says. Only the first layer of each grows."""
    k = num_classes
    G = nn.Conditional(spec.generator(latent_dim + k), k)
    if spec.conditioning == "channels":
        D = nn.Conditional(spec.discriminator(channels=1 + k), k, as_channels=True)
    else:
        D = nn.Conditional(spec.discriminator(num_classes=k), k)
    return G, D


def _check_conditional(spec, num_classes, discriminator):
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"build: num_classes must be an int >= 2 (the classes a conditional "
                         f"GAN is told), got {num_classes!r}")
    if spec.conditioning is None:
        raise ValueError(f"build: {spec.name} has no conditional form (its D drops part of its "
                         f"input, the class code with it); the presets that have one: "
                         f"{', '.join(names(conditional=True))}")
    if discriminator is not None:
        raise ValueError("build: num_classes with discriminator=: the given D takes no labels; "
                         "wrap it in nn.Conditional yourself")


def num_classes_of(module):
    """K for a network built conditional (an ``nn.Conditional``), else None."""
    return module.num_classes if isinstance(module, nn.Conditional) else None


def _initialise(model, scheme):
    """Re-initialise a network's weights; "pytorch" keeps the layers' own defaults.

    "keras": Glorot uniform, zero biases (Keras' defaults). "dcgan": N(0, 0.02), batch norm
    scales N(1, 0.02) (Radford et al.). "he": Kaiming uniform with the ReLU gain sqrt(2), zero
    biases: the pre-activations keep their scale through the layers, so from the first step G's
    output depends on z. "uniform:R": U(-R, R) weights and zero biases (pylearn2's "irange").
    Layers in ``nn.SpectralNorm`` then restart their power iteration, for the new weights.
    """
    if scheme == "pytorch":
        return
    r = float(scheme.split(":")[1]) if scheme.startswith("uniform:") else None
    if scheme not in ("keras", "dcgan", "he") and r is None:
        raise ValueError(f"unknown init scheme {scheme!r}")
    for layer in model.modules():
        weight, bias = getattr(layer, "weight", None), getattr(layer, "bias", None)
        if weight is None:
            continue
        is_norm = isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d))
        if scheme == "keras" and not is_norm:
            init.xavier_uniform_(weight)
        elif scheme == "dcgan":
            init.normal_(weight, mean=1.0 if is_norm else 0.0, std=0.02)
        elif scheme == "he" and not is_norm:
            init.kaiming_uniform_(weight, nonlinearity="relu")
        elif r is not None and not is_norm:
            init.uniform_(weight, -r, r)
        if bias is not None and not (scheme == "keras" and is_norm):
            init.zeros_(bias)
    for layer in model.modules():
        if isinstance(layer, nn.SpectralNorm):
            layer.reset_singular_vectors()          # power iteration for the new weights


def init_output_bias(G, data, data_range=(0.0, 1.0)):
    """Start a sigmoid generator at the data's mean image: its last bias = logit of the marginals.

    Goodfellow et al. 2014 initialised the sigmoid output layer of their MNIST generator so that
    sigmoid(bias) is the mean of every pixel over the training set (pylearn2's
    ``init_sigmoid_bias_from_marginals``). An untrained G then draws the mean image instead of a
    uniform grey 0.5, and the background pixels, which are 0 in every real image, start near 0
    rather than having to be pushed there while D is learning to tell grey from black.

    Args:
        G: a generator whose last layer with a bias is the Linear before its output sigmoid.
        data: training images ``(N, 1, 28, 28)`` (array or Tensor) in ``data_range``.
        data_range: the data's range, mapped to [0, 1] before the mean is taken.
    """
    last = [m for m in G.modules() if getattr(m, "bias", None) is not None][-1]
    x = backend.to_numpy(array_of(data))
    low, high = data_range
    p = ((x.reshape(x.shape[0], -1).astype(np.float64) - low) / (high - low)).mean(axis=0)
    if p.shape != last.bias.shape:
        raise ValueError(f"init_output_bias: the data has {p.size} pixels but G's last bias has "
                         f"shape {last.bias.shape}")
    # All-black border pixels would give logit -inf. pylearn2 clips at 1e-7 (logit -16.1),
    # where the sigmoid's slope is 1e-7: those pixels start, and stay, off.
    p = np.clip(p, 1e-7, 1 - 1e-7)
    bias = np.log(p / (1 - p)).astype(last.bias.dtype)
    last.bias.data[...] = backend.to_device(bias, last.bias.device)


_OPTIMIZER_DEFAULTS = {"adam": dict(name="adam", lr=2e-4, betas=(0.5, 0.999)),
                       "sgd": dict(name="sgd", lr=0.1, momentum=0.5),
                       "rmsprop": dict(name="rmsprop", lr=5e-5)}    # WGAN's (Arjovsky et al.)


def make_optimizers(name, G, D, optimizer=None, **overrides):
    """The architecture's recommended optimisers for G and D.

    Args:
        optimizer: None for the model's own choice, or "adam" / "sgd" / "rmsprop" to switch
            (starting from that optimiser's usual GAN settings: Adam 2e-4 with beta1 0.5, SGD
            0.1 with momentum 0.5, RMSprop 5e-5 as in WGAN).
        overrides: lr (both networks), lr_d (D's alone), betas (Adam), momentum (SGD, RMSprop);
            None leaves a setting as it is.
    """
    base = _spec(name).optimizer if optimizer is None else _OPTIMIZER_DEFAULTS[optimizer]
    given = {k: v for k, v in overrides.items() if v is not None}
    settings = {**base, **given}
    if "lr" in given and "lr_d" not in given:
        settings.pop("lr_d", None)          # a new lr replaces both networks' rates
    kind = settings.pop("name")
    lr_d = settings.pop("lr_d", settings["lr"])
    if kind == "adam":
        settings.pop("momentum", None)
        make = optim.Adam
    else:
        settings.pop("betas", None)
        make = optim.RMSprop if kind == "rmsprop" else optim.SGD
    return make(G.parameters(), **settings), make(D.parameters(), **{**settings, "lr": lr_d})


def sample_noise(name, n, latent_dim=100, generator=None, device="cpu", dtype="float32",
                 truncation=None):
    """Noise for the generator of ``name``: N(0, 1), U(-1, 1) for ``noise="uniform"`` models, or
    U(-R, R) for ``noise="uniform:R"``.

    Drawn with ``generator`` (a NumPy or CuPy Generator) on the device it belongs to.

    ``truncation``: the truncation trick (Brock et al. 2019), for sampling a trained G only:
    every entry of z whose magnitude exceeds it is drawn again until none does (a truncated
    normal; uniform noise is narrowed to ``(-truncation, truncation)``). G's samples then come
    from the middle of its noise, more typical and less varied: not the distribution it was
    trained to match. None (default): no truncation.
    """
    gen = generator if generator is not None else backend.rng(None, device)
    if truncation is not None and not truncation > 0:
        raise ValueError(f"truncation must be a positive bound on |z|, got {truncation}")
    shape = (n, latent_dim)
    kind, _, bound = _spec(name).noise.partition(":")
    if kind == "uniform":
        r = float(bound or 1.0)
        r = r if truncation is None else min(r, truncation)
        z = gen.uniform(-r, r, size=shape)
    else:
        z = gen.standard_normal(size=shape)
        if truncation is not None:
            outside = abs(z) > truncation
            while bool(outside.any()):                   # each round keeps P(|z| <= t) of them
                z[outside] = gen.standard_normal(size=int(outside.sum()))
                outside = abs(z) > truncation
    return Tensor(z.astype(dtype, copy=False))


def recompute_batch_norm(name, G, batch_size=None, latent_dim=100, generator=None, device="cpu",
                         batches=100):
    """Give a generator's batch norm layers the statistics of its own weights, from its noise.

    An averaged generator (``averaging.EMA``, ``averaging.average_state_dicts``) carries batch
    norm statistics copied or averaged from other weights; ``averaging.update_bn`` replaces them
    with the mean batch statistics of ``batches`` batches of the model's noise, ``batch_size``
    (default: the model's) samples each, as in training. Models without batch norm draw no noise.
    A conditional G is asked for every class in turn (sample i for class i mod K), the classes
    of training in equal shares.

    Returns:
        The number of batches run: ``batches``, or 0 where G has no batch norm.
    """
    batch_size = batch_size or _spec(name).batch_size
    k = num_classes_of(G)
    noise = (sample_noise(name, batch_size, latent_dim, generator, device) for _ in range(batches))
    if k is not None:
        labels = np.arange(batch_size) % k                             # (N,) every class in turn
        noise = ((z, labels) for z in noise)
    return averaging.update_bn(noise, G)


def parameter_count(module):
    """Number of trainable scalars in a module."""
    return sum(math.prod(p.shape) for p in module.parameters())
