"""minigan's own MNIST classifier: the feature extractor behind FID, IS and the mode count.

    from minigan.classifier import load_classifier
    clf = load_classifier()                 # the committed weights, checksum-verified, eval mode
    f = clf.features(images)                # (N, 128) penultimate activations, for FID
    p = clf.probs(images)                   # (N, 10) softmax, for the Inception Score and modes

Inputs are images with pixels in [0, 1]: float arrays of shape (N, 1, 28, 28), (N, 28, 28) or
(N, 784), or the uint8 arrays of ``minigan.data.load_mnist`` (divided by 255 here). Samples of
a generator with a tanh output live in [-1, 1] and must be mapped with ``(x + 1) / 2`` first;
examples/evaluate.py does so according to the model's ``data_range``. Values outside [0, 1]
are refused rather than silently fed to a network that never saw them.

The architecture (shapes after each layer; 454,922 parameters, He-initialised)::

    Conv2d(1, 32, 5, stride 2, pad 2)  ReLU          (N, 32, 14, 14)
    Conv2d(32, 64, 5, stride 2, pad 2) ReLU          (N, 64, 7, 7)
    Flatten                                          (N, 3136)
    Linear(3136, 128) ReLU                           (N, 128)   <- features()
    Dropout(0.25), Linear(128, 10)                   (N, 10)    logits; probs() is their softmax

Strided 5x5 convolutions instead of pooling: minigan has no pooling op, and two strided layers
cost about a third of a four-layer 3x3 network (docs/performance.md#the-other-scripts).

Provenance of ``minigan/data/classifier_weights.npz`` (float32, written by ``minigan.save``),
produced once, on train[0:50000] only, by::

    python examples/train_classifier.py --seed 0

(the defaults: Adam, lr 1e-3 multiplied by 0.7 after every epoch, 8 epochs, batch 64, dropout
0.25, softmax cross-entropy; its time: docs/performance.md). train[50000:60000]
is never trained on: it chooses the Parzen bandwidth and gives the real-data ceiling of
examples/evaluate.py. Accuracy on train[50000:60000] after epochs 1-8: 98.19%, 98.59%, 98.73%,
98.94%, 98.89%, 98.91%, 98.94%, 98.98%. Test accuracy on all 10,000 MNIST test images: 99.01%
(99 errors). The file's sha256:
d9c53d0567625959764068a1929687ee5e75bb01198e935c4289a650df7b7028. Both are checked by
tests/test_classifier.py, and :func:`load_classifier` refuses a file with another checksum.
"""

import hashlib
from pathlib import Path

import numpy as np

from . import backend, nn
from .io import CheckpointError, load
from .ops.loss import log_softmax
from .tensor import Tensor, array_of, no_grad

__all__ = ["MNISTClassifier", "load_classifier", "WEIGHTS", "WEIGHTS_SHA256", "TEST_ACCURACY",
           "FEATURES", "sha256_of"]

#: The committed weights.
WEIGHTS = Path(__file__).parent / "data" / "classifier_weights.npz"
#: Their sha256, recorded when they were written.
WEIGHTS_SHA256 = "d9c53d0567625959764068a1929687ee5e75bb01198e935c4289a650df7b7028"
#: Accuracy of the committed weights on all 10,000 MNIST test images.
TEST_ACCURACY = 0.9901
#: Width of :meth:`MNISTClassifier.features`.
FEATURES = 128


class MNISTClassifier(nn.Module):
    """A small CNN for 28x28 digits: ``body`` gives the 128 features, ``head`` the 10 logits.

    Args:
        dropout: drop probability before the last layer (only in training mode).
        seed: makes the initial weights and the dropout masks reproducible.
        device: "cpu" or "cuda".
    """

    def __init__(self, dropout=0.25, seed=None, device="cpu"):
        super().__init__()
        gen = None if seed is None else backend.rng(seed, "cpu")  # one stream for all layers
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 5, stride=2, padding=2, generator=gen),     # (N, 32, 14, 14)
            nn.ReLU(),
            nn.Conv2d(32, 64, 5, stride=2, padding=2, generator=gen),    # (N, 64, 7, 7)
            nn.ReLU(),
            nn.Flatten(),                                                # (N, 3136)
            nn.Linear(64 * 7 * 7, FEATURES, generator=gen),              # (N, 128)
            nn.ReLU(),
        )
        self.head = nn.Sequential(
            nn.Dropout(dropout, generator=None if seed is None else seed + 1),
            nn.Linear(FEATURES, 10, generator=gen),                      # (N, 10) logits
        )
        # He initialisation (Kaiming uniform for ReLU, zero biases): keeps the activations' scale
        # through the ReLU layers, which trains faster than PyTorch's default (a = sqrt(5)).
        for layer in self.modules():
            if isinstance(layer, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu", generator=gen)
                nn.init.zeros_(layer.bias)
        self.to(device)

    @property
    def device(self):
        return next(self.parameters()).device

    def forward(self, x):
        """Logits (N, 10) of images ``x`` (N, 1, 28, 28), a Tensor with pixels in [0, 1]."""
        return self.head(self.body(x))

    # --- batched inference on arrays ----------------------------------------------------------
    def _map(self, images, fn, batch_size):
        x = _as_images(images)
        was_training = self.training
        self.eval()
        out = []
        try:
            with no_grad():
                for start in range(0, x.shape[0], batch_size):
                    xb = backend.to_device(x[start:start + batch_size], self.device)
                    out.append(backend.to_numpy(fn(Tensor(xb)).data))
        finally:
            self.train(was_training)
        return np.concatenate(out) if out else np.zeros((0,), np.float32)

    def features(self, images, batch_size=500):
        """The penultimate activations: (N, 128) float32 NumPy array (eval mode, no graph)."""
        return self._map(images, self.body, batch_size)

    def logits(self, images, batch_size=500):
        """The logits: (N, 10) float32 NumPy array (eval mode, no graph)."""
        return self._map(images, self.forward, batch_size)

    def probs(self, images, batch_size=500):
        """The softmax p(y | x): (N, 10) NumPy array, rows summing to 1 (eval mode, no graph).

        Computed as exp(log_softmax) of float64 logits, so rows sum to 1 to roundoff.
        """
        logits = self.logits(images, batch_size).astype(np.float64)
        return np.exp(log_softmax(Tensor(logits), axis=1).data)

    def predict(self, images, batch_size=500):
        """The predicted digit of every image: (N,) int64."""
        return self.logits(images, batch_size).argmax(axis=1)


def _as_images(images):
    """Images as float32 (N, 1, 28, 28) in [0, 1] on the host; uint8 is divided by 255."""
    a = array_of(images)
    a = backend.to_numpy(a)
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / np.float32(255)
    a = np.asarray(a, dtype=np.float32)
    if a.ndim < 2 or a.size != a.shape[0] * 784:
        raise ValueError(f"MNISTClassifier: expected N images of 28x28 = 784 pixels, shaped "
                         f"(N, 1, 28, 28), (N, 28, 28) or (N, 784); got shape {a.shape}")
    if a.size:
        lo, hi = float(a.min()), float(a.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(f"MNISTClassifier: pixels must lie in [0, 1], got [{lo:.3g}, "
                             f"{hi:.3g}]; map a tanh generator's samples with (x + 1) / 2")
    return a.reshape(a.shape[0], 1, 28, 28)                      # (N, 1, 28, 28)


def sha256_of(path):
    """The sha256 hex digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_classifier(path=None, device="cpu"):
    """The trained classifier, in eval mode.

    Args:
        path: a file written by examples/train_classifier.py; default :data:`WEIGHTS`, the
            committed weights, whose sha256 must equal :data:`WEIGHTS_SHA256`.
        device: "cpu" or "cuda".

    Raises:
        CheckpointError: the default file's checksum differs from the recorded one, or the file
            holds no classifier (the message names the file).
    """
    if path is None:
        path = WEIGHTS
        digest = sha256_of(path)
        if digest != WEIGHTS_SHA256:
            raise CheckpointError(f"{path}: sha256 is {digest}, expected {WEIGHTS_SHA256}; the "
                                  f"committed classifier weights were changed or damaged")
    ckpt = load(path, device=device)
    if "classifier" not in ckpt:
        raise CheckpointError(f"{path}: no 'classifier' entry; not written by "
                              f"examples/train_classifier.py")
    model = MNISTClassifier(device=device)
    model.load_state_dict(ckpt["classifier"])
    return model.eval()
