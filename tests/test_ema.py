"""minigan.averaging.EMA, the moving average of a generator's weights, against its formula.

The oracle is the recursion written out in float64 NumPy; the rest checks what the average must
not do (touch the live module, build a graph) and that it survives a checkpoint exactly.
"""

import numpy as np
import pytest

import minigan
from minigan import nn
from minigan.averaging import EMA
from tests.helpers import host


def small_module(seed=0):
    minigan.nn.init.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


def move(module, rng):
    """Stand-in for an optimiser step: new random weights and batch-norm statistics."""
    for p in module.parameters():
        p.data[...] = minigan.backend.to_device(rng.normal(size=p.shape), p.device)
    for b in module.buffers():
        if b.data.dtype.kind == "f":
            b.data[...] = minigan.backend.to_device(rng.uniform(0.5, 2.0, size=b.shape), b.device)


@pytest.mark.parametrize("decay", [0.0, 0.5, 0.9, 0.999])
def test_average_follows_the_warmed_up_recursion(decay, device):
    G = small_module().double().to(device)
    ema = EMA(G, decay=decay)
    avg = [np.array(host(p)) for p in G.parameters()]              # the oracle's copy, float64
    rng = np.random.default_rng(1)
    for t in range(1, 31):
        move(G, rng)
        ema.update()
        beta = min(decay, t / (t + 9))
        avg = [beta * a + (1 - beta) * host(p) for a, p in zip(avg, G.parameters())]
    assert ema.num_updates == 30
    for a, p in zip(avg, ema.module.parameters()):
        assert p.device == device
        np.testing.assert_allclose(host(p), a, rtol=1e-12, atol=1e-14)
    for b, live in zip(ema.module.buffers(), G.buffers()):         # copied, not averaged
        np.testing.assert_array_equal(host(b), host(live))


def test_decay_zero_is_the_live_module_and_a_constant_module_is_its_own_average():
    G = small_module()
    ema = EMA(G, decay=0.0)
    move(G, np.random.default_rng(2))
    ema.update()
    for p, live in zip(ema.module.parameters(), G.parameters()):
        np.testing.assert_array_equal(p.data, live.data)
    still = EMA(G, decay=0.99)
    for _ in range(50):
        still.update()
    for p, live in zip(still.module.parameters(), G.parameters()):
        np.testing.assert_allclose(p.data, live.data, rtol=1e-6)


def test_the_average_is_separate_from_the_live_module_and_builds_no_graph():
    G = small_module()
    before = [p.data.copy() for p in G.parameters()]
    ema = EMA(G)
    move(G, np.random.default_rng(3))
    after = [p.data.copy() for p in G.parameters()]
    ema.update()
    for p, a in zip(G.parameters(), after):                         # update only reads G
        np.testing.assert_array_equal(p.data, a)
    for p, b in zip(ema.module.parameters(), before):               # G's moves did not leak in
        assert not np.array_equal(p.data, b) and not np.shares_memory(p.data, b)
    assert all(not p.requires_grad for p in ema.module.parameters())
    assert G.training and not ema.module.training
    y = ema.module(minigan.tensor(np.ones((5, 3), np.float32)))
    assert y.shape == (5, 2) and not y.requires_grad
    assert ema.module[0].weight.dtype == np.float32                 # keeps the module's dtype


def test_an_update_is_an_in_place_change_that_backward_notices():
    """EMA.update writes the average's arrays in place, as an optimiser step does, so a graph
    built through the average before the update cannot be differentiated with the new weights."""
    G = small_module()
    ema = EMA(G)
    x = minigan.tensor(np.ones((5, 3), np.float32), requires_grad=True)
    y = ema.module(x).sum()                 # Linear saved the average's weight for x's gradient
    move(G, np.random.default_rng(3))
    ema.update()
    with pytest.raises(RuntimeError, match="changed in place"):
        y.backward()


def test_state_dict_round_trip_continues_identically(tmp_path):
    G = small_module()
    ema = EMA(G, decay=0.9)
    rng = np.random.default_rng(4)
    for _ in range(5):
        move(G, rng)
        ema.update()
    minigan.save(tmp_path / "ema.npz", G=G, ema=ema)
    ckpt = minigan.load(tmp_path / "ema.npz")
    G2 = small_module(seed=7)                      # other weights, until the checkpoint's
    G2.load_state_dict(ckpt["G"])
    other = EMA(G2, decay=0.5)
    other.load_state_dict(ckpt["ema"])
    assert (other.decay, other.num_updates) == (0.9, 5)
    for seed in range(3):                          # both live modules take the same steps
        move(G, np.random.default_rng(seed))
        move(G2, np.random.default_rng(seed))
        ema.update()
        other.update()
    for a, b in zip(ema.module.state_dict().values(), other.module.state_dict().values()):
        np.testing.assert_array_equal(a, b)


def test_state_dict_is_a_copy():
    G = small_module()
    ema = EMA(G)
    state = ema.state_dict()
    saved = state["module.0.weight"].copy()
    move(G, np.random.default_rng(5))
    ema.update()
    np.testing.assert_array_equal(state["module.0.weight"], saved)


def test_bad_settings_and_state_dicts_are_refused():
    with pytest.raises(ValueError, match=r"EMA: decay must be a finite number in \[0, 1\)"):
        EMA(small_module(), decay=1.0)
    ema = EMA(small_module())
    with pytest.raises(ValueError, match="missing key"):
        ema.load_state_dict(small_module().state_dict())
    wrong = EMA(nn.Sequential(nn.Linear(3, 5))).state_dict()
    with pytest.raises(nn.StateDictError, match="size mismatch|missing"):
        ema.load_state_dict(wrong)


# --- update_bn: batch norm statistics of the module as it is ---------------------------------

def _bn_net(seed=0):
    minigan.nn.init.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 6), nn.BatchNorm1d(6), nn.ReLU(),
                         nn.Unflatten(1, (3, 2)), nn.BatchNorm1d(3, momentum=0.3))


def test_update_bn_sets_the_mean_of_the_batch_statistics(device):
    """Oracle: each batch's mean and unbiased variance of the layer's input, in float64,
    averaged over the batches; the layer's input computed with batch statistics (train mode)."""
    G = _bn_net().double().to(device)
    move(G, np.random.default_rng(3))                              # stale statistics
    G.eval()
    rng = np.random.default_rng(4)
    batches = [rng.normal(size=(8, 3)) for _ in range(5)]
    lin, bn1, bn2 = G[0], G[1], G[4]
    w, b = host(lin.weight), host(lin.bias)
    g1, be1 = host(bn1.weight), host(bn1.bias)
    means1, vars1, means2, vars2 = [], [], [], []
    for x in batches:
        h = x @ w.T + b                                            # (8, 6)
        means1.append(h.mean(0)), vars1.append(h.var(0, ddof=1))
        y = np.maximum((h - h.mean(0)) / np.sqrt(h.var(0) + bn1.eps) * g1 + be1, 0)
        y = y.reshape(8, 3, 2)                                     # (N, C, L): stats over N, L
        means2.append(y.mean((0, 2))), vars2.append(y.reshape(8, 3, 2).transpose(1, 0, 2)
                                                    .reshape(3, -1).var(1, ddof=1))
    params = [np.array(host(p)) for p in G.parameters()]
    n = minigan.averaging.update_bn((minigan.backend.to_device(x, device) for x in batches), G)
    assert n == 5
    np.testing.assert_allclose(host(bn1.running_mean), np.mean(means1, 0), rtol=1e-12)
    np.testing.assert_allclose(host(bn1.running_var), np.mean(vars1, 0), rtol=1e-12)
    np.testing.assert_allclose(host(bn2.running_mean), np.mean(means2, 0), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(host(bn2.running_var), np.mean(vars2, 0), rtol=1e-12)
    assert int(host(bn1.num_batches_tracked)) == 5
    for p, before in zip(G.parameters(), params):                  # weights untouched
        np.testing.assert_array_equal(host(p), before)
    assert not G.training and bn1.momentum == 0.1 and bn2.momentum == 0.3   # restored
    assert all(p.grad is None for p in G.parameters())


def test_update_bn_gives_an_average_its_own_statistics():
    """The case it exists for: an EMA copies the live network's statistics, which do not fit the
    averaged weights; after update_bn the average in eval mode normalises a large batch as it
    would itself in train mode."""
    G = _bn_net(1)
    ema = EMA(G, decay=0.9)
    rng = np.random.default_rng(5)
    for _ in range(20):
        move(G, rng)
        ema.update()
    x = rng.normal(size=(4096, 3)).astype(np.float32)
    avg = ema.module
    with minigan.no_grad():
        avg.train()
        target = avg(minigan.Tensor(x)).numpy()
        stale = avg.eval()(minigan.Tensor(x)).numpy()
        minigan.averaging.update_bn((x[i:i + 256] for i in range(0, 4096, 256)), avg)
        fresh = avg(minigan.Tensor(x)).numpy()
    assert np.abs(stale - target).max() > 0.1                       # the copied ones do not fit
    np.testing.assert_allclose(fresh, target, atol=0.05)
    # ...and the next update copies the live statistics again: update_bn goes right before use.
    ema.update()
    for b, live in zip(ema.module.buffers(), G.buffers()):
        np.testing.assert_array_equal(host(b), host(live))


def test_update_bn_without_batch_norm_or_without_batches():
    plain = nn.Sequential(nn.Linear(3, 2))
    assert minigan.averaging.update_bn(iter([]), plain) == 0            # nothing to update
    G = _bn_net()
    before = [np.array(b.data) for b in G.buffers()]
    with pytest.raises(ValueError, match="no batches"):
        minigan.averaging.update_bn([], G)
    for b, old in zip(G.buffers(), before):                        # nothing lost
        np.testing.assert_array_equal(b.data, old)


def test_update_advances_the_version_of_what_it_changes_in_place():
    """So that a graph that saved the average's weights (a gradient with respect to z through
    the averaged G) refuses backward after an update instead of using the new weights."""
    ema = EMA(small_module())
    tensors = list(ema.module.parameters()) + list(ema.module.buffers())
    before = [t._version for t in tensors]
    ema.update()
    assert [t._version for t in tensors] == [v + 1 for v in before]
