"""minigan.classifier: the committed weights are the recorded ones (sha256, size, float32) and
reproduce the recorded accuracy on all 10,000 test images; features / probs are batched, graph-
free, eval-mode inference that refuses pixels outside [0, 1].

The accuracy test needs MINIGAN_DATA (the directory of the four MNIST files), as CI sets it.
"""

import os
import shutil

import numpy as np
import pytest

import minigan
import minigan.functional as F
from minigan import classifier
from minigan.classifier import (FEATURES, TEST_ACCURACY, WEIGHTS, WEIGHTS_SHA256,
                                MNISTClassifier, load_classifier, sha256_of)
from minigan.data import mnist

DATA = os.environ.get("MINIGAN_DATA")
needs_data = pytest.mark.skipif(not DATA, reason="MINIGAN_DATA (the MNIST directory) is not set")


@pytest.fixture(scope="module")
def clf():
    return load_classifier()


def test_weights_file_is_the_recorded_one():
    assert sha256_of(WEIGHTS) == WEIGHTS_SHA256
    assert os.path.getsize(WEIGHTS) < 2_000_000


def test_weights_are_float32_and_carry_their_provenance():
    ckpt = minigan.load(WEIGHTS)
    assert all(a.dtype == np.float32 for a in ckpt["classifier"].values())
    assert ckpt["config"]["train_images"] == 50000     # train[0:50000] only
    assert ckpt["test_accuracy"] == TEST_ACCURACY


@needs_data
def test_reproduces_recorded_test_accuracy(clf):
    images, labels = mnist.load_mnist("test", data_dir=DATA)
    accuracy = float((clf.predict(images) == labels).mean())  # all 10,000: never split by index
    assert accuracy >= 0.99 or TEST_ACCURACY < 0.99        # the goal, unless recorded otherwise
    assert abs(accuracy - TEST_ACCURACY) <= 2e-4           # 2 images: BLAS roundoff may differ


def test_features_and_probs_shapes_and_normalisation(clf):
    x = np.random.default_rng(0).random((7, 1, 28, 28)).astype(np.float32)
    f, p = clf.features(x), clf.probs(x)
    assert f.shape == (7, FEATURES) and f.dtype == np.float32 and (f >= 0).all()  # after ReLU
    assert p.shape == (7, 10)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    assert clf.predict(x).shape == (7,)


def test_batching_does_not_change_results(clf):
    x = np.random.default_rng(1).random((11, 784)).astype(np.float32)
    np.testing.assert_allclose(clf.features(x, batch_size=3), clf.features(x), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(clf.probs(x, batch_size=4), clf.probs(x), rtol=1e-5, atol=1e-7)


def test_inference_is_eval_mode_without_graph_and_restores_the_mode():
    model = MNISTClassifier(seed=0)
    model.train()
    x = np.random.default_rng(2).random((5, 28, 28)).astype(np.float32)
    a, b = model.logits(x), model.logits(x)            # dropout off: identical
    np.testing.assert_array_equal(a, b)
    assert model.training                              # mode restored
    assert all(p.grad is None for p in model.parameters())


def test_uint8_images_are_divided_by_255(clf):
    images = np.random.default_rng(3).integers(0, 256, (4, 28, 28)).astype(np.uint8)
    np.testing.assert_allclose(clf.probs(images),
                               clf.probs(images.astype(np.float32) / np.float32(255)), rtol=1e-6)


@pytest.mark.parametrize("bad", [np.full((2, 1, 28, 28), -0.5, np.float32),
                                 np.full((2, 1, 28, 28), 1.5, np.float32)])
def test_pixels_outside_unit_range_are_refused(clf, bad):
    with pytest.raises(ValueError, match=r"\(x \+ 1\) / 2"):
        clf.features(bad)


def test_wrong_image_size_is_refused(clf):
    with pytest.raises(ValueError, match="784"):
        clf.probs(np.zeros((2, 1, 32, 32), np.float32))


def test_changed_weights_file_is_refused(tmp_path, monkeypatch):
    damaged = tmp_path / "weights.npz"
    shutil.copy(WEIGHTS, damaged)
    with open(damaged, "r+b") as f:
        f.seek(-100, os.SEEK_END)
        f.write(b"\0" * 8)
    monkeypatch.setattr(classifier, "WEIGHTS", damaged)
    with pytest.raises(minigan.CheckpointError, match="sha256"):
        load_classifier()


def test_a_training_step_lowers_the_loss():
    """The module trains with F.cross_entropy and Adam (a smoke test of the pieces the
    training script uses)."""
    model = MNISTClassifier(dropout=0.0, seed=0)
    opt = minigan.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(4)
    x = minigan.Tensor(rng.random((16, 1, 28, 28)).astype(np.float32))
    y = rng.integers(0, 10, 16)
    losses = []
    for _ in range(5):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
