"""An empty batch (N = 0) works wherever PyTorch's does, with PyTorch's results, and is refused
with a reason where a result would mean nothing.

PyTorch's answers, for reference: the mean of no entries is NaN and its gradient is empty; a
max over an axis of size 0 is an error; layers map (0, ...) to (0, ...), with zero parameter
gradients; batch norm in training returns an empty output and leaves its running statistics
alone. Before, minigan raised ZeroDivisionError in means and losses and a reshape error in the
convolutions and in maxout.
"""

import numpy as np
import pytest

import minigan
import minigan.functional as F
from minigan import gan, nn

from .helpers import host, t64


def _empty(*shape):
    return t64(np.zeros((0,) + shape))


def test_reductions():
    x = _empty(3)
    m = x.mean()
    assert np.isnan(m.item())
    m.backward()
    assert x.grad.shape == (0, 3)
    assert x.sum().item() == 0.0
    assert x.mean(axis=0).shape == (3,) and np.isnan(host(x.mean(axis=0))).all()
    assert x.mean(axis=1).shape == (0,)
    assert x.max(axis=1).shape == (0,)  # a max over the non-empty axis of no rows
    with pytest.raises(ValueError, match=r"Max: cannot take the max over axis 0 of size 0"):
        x.max()


def test_layers_map_an_empty_batch_to_an_empty_batch():
    nn.init.manual_seed(0)
    D = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1, dtype="float64"),
                      nn.BatchNorm2d(4, dtype="float64"), nn.LeakyReLU(0.2), nn.Dropout(0.3),
                      nn.Flatten(), nn.Linear(4 * 4 * 4, 6, dtype="float64"), nn.Maxout(3),
                      nn.Linear(2, 1, dtype="float64"))
    stats = host(D[1].running_mean).copy(), host(D[1].running_var).copy()
    x = _empty(1, 8, 8)
    y = D(x)
    assert y.shape == (0, 1)
    y.sum().backward()
    assert x.grad.shape == (0, 1, 8, 8)
    for name, p in D.named_parameters():
        assert p.grad is not None and not host(p.grad).any(), name
    np.testing.assert_array_equal(host(D[1].running_mean), stats[0])
    np.testing.assert_array_equal(host(D[1].running_var), stats[1])
    D.eval()
    assert D(x).shape == (0, 1)
    G = nn.Sequential(nn.ConvTranspose2d(2, 1, 4, stride=2, padding=1, dtype="float64"),
                      nn.BatchNorm2d(1, dtype="float64"), nn.Tanh())
    assert G(_empty(2, 3, 3)).shape == (0, 1, 6, 6)


def test_losses():
    x = _empty(1)
    loss = F.binary_cross_entropy_with_logits(x, np.zeros((0, 1)))
    assert np.isnan(loss.item())
    loss.backward()
    assert x.grad.shape == (0, 1)
    assert F.binary_cross_entropy(_empty(1).sigmoid(), np.zeros((0, 1)), reduction="sum").item() \
        == 0.0
    assert np.isnan(F.cross_entropy(_empty(3), np.zeros(0, dtype=np.int64)).item())
    assert np.isnan(gan.discriminator_loss(_empty(1), _empty(1)).item())


def test_gan_gradients_are_empty_and_a_training_step_says_why():
    g_real, g_fake = gan.discriminator_loss_grad(np.zeros((0, 1)), np.zeros((0, 1)))
    assert g_real.shape == (0, 1) and g_fake.shape == (0, 1)
    assert gan.generator_loss_grad(np.zeros((0, 1))).shape == (0, 1)
    G, D = nn.Linear(2, 3, generator=0), nn.Linear(3, 1, generator=1)
    opts = minigan.optim.Adam(G.parameters()), minigan.optim.Adam(D.parameters())
    with pytest.raises(ValueError, match=r"train_step: the real batch is empty \(N = 0\)"):
        gan.train_step(G, D, *opts, minigan.tensor(np.zeros((0, 3), dtype=np.float32)),
                       minigan.tensor(np.zeros((4, 2), dtype=np.float32)))
