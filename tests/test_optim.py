"""SGD, Adam and RMSprop against their textbook formulas, computed by hand in float64 NumPy
(and RMSprop against torch.optim.RMSprop where PyTorch is installed).

Gradients are planted directly in ``.grad`` (an optimiser only reads ``.grad``), so every test
checks the update rule and nothing else. Derivations: docs/derivations/adam.md.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigan
from minigan import backend
from minigan.optim import SGD, Adam, RMSprop
from tests.helpers import host

STEPS = 3
TOL = {np.float64: dict(rtol=1e-12, atol=1e-14), np.float32: dict(rtol=2e-6, atol=1e-7)}


def make_params(seed, dtype=np.float64, device="cpu", shapes=((3, 4), (5,))):
    rng = np.random.default_rng(seed)
    return [minigan.tensor(rng.normal(size=s).astype(dtype), requires_grad=True, device=device)
            for s in shapes]


def grad_sequence(seed, shapes, steps=STEPS):
    """steps x per-parameter float64 gradients, all well away from zero."""
    rng = np.random.default_rng(seed + 1)
    return [[rng.choice([-1.0, 1.0], size=s) * rng.uniform(0.1, 2.0, size=s) for s in shapes]
            for _ in range(steps)]


def run(opt, params, grads):
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = backend.to_device(g.astype(p.dtype), p.device)
        opt.step()


# --- textbook oracles in float64 ---------------------------------------------------------
def adam_reference(p0, grads, lr, betas, eps, weight_decay):
    """Kingma & Ba's Adam, with bias-corrected moments m_hat, v_hat (and L2 decay on g)."""
    b1, b2 = betas
    p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


def rmsprop_reference(p0, grads, lr, alpha, eps, weight_decay, momentum, centered):
    """RMSprop as PyTorch defines it: v an EMA of g^2 (from 0, no bias correction), the step
    g / (sqrt(v) + eps), or g / (sqrt(v - g_avg^2) + eps) centred, through a momentum buffer."""
    p, v, g_avg, b = p0.copy(), np.zeros_like(p0), np.zeros_like(p0), np.zeros_like(p0)
    for g in grads:
        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g ** 2
        g_avg = alpha * g_avg + (1 - alpha) * g
        d = np.sqrt(v - g_avg ** 2 if centered else v) + eps
        if momentum:
            b = momentum * b + g / d
            p = p - lr * b
        else:
            p = p - lr * g / d
    return p


def sgd_reference(p0, grads, lr, momentum, nesterov, weight_decay):
    """PyTorch's SGD: b_1 = g_1, b_t = mu b_{t-1} + g_t; step along b (or g + mu b)."""
    p, b = p0.copy(), None
    for g in grads:
        g = g + weight_decay * p
        if momentum:
            b = g.copy() if b is None else momentum * b + g
            g = g + momentum * b if nesterov else b
        p = p - lr * g
    return p


# --- Adam ---------------------------------------------------------------------------------
def test_adam_first_step_is_lr_times_sign_of_gradient():
    params = make_params(0)
    grads = grad_sequence(0, [p.shape for p in params], steps=1)
    p0 = [host(p).copy() for p in params]
    run(Adam(params, lr=0.01), params, grads)
    for p, before, g in zip(params, p0, grads[0]):
        # |g| >= 0.1 >> eps, so the step is lr * g / (|g| + eps) = lr * sign(g) to ~1e-7.
        np.testing.assert_allclose(host(p) - before, -0.01 * np.sign(g), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_three_steps_match_the_textbook_formula(device, dtype):
    params = make_params(1, dtype, device)
    grads = grad_sequence(1, [p.shape for p in params])
    p0 = [host(p).astype(np.float64) for p in params]
    hp = dict(lr=0.05, betas=(0.8, 0.95), eps=1e-8, weight_decay=0.0)
    run(Adam(params, **hp), params, grads)
    for k, p in enumerate(params):
        want = adam_reference(p0[k], [g[k] for g in grads], **hp)
        assert p.dtype == dtype and p.device == device
        np.testing.assert_allclose(host(p), want, **TOL[dtype])


@given(seed=st.integers(0, 2**16), lr=st.floats(1e-4, 0.5),
       b1=st.floats(0.0, 0.99), b2=st.floats(0.5, 0.9999), eps=st.sampled_from([1e-8, 1e-3]),
       weight_decay=st.sampled_from([0.0, 0.1]))
def test_adam_matches_the_textbook_formula_for_any_hyperparameters(seed, lr, b1, b2, eps,
                                                                   weight_decay):
    params = make_params(seed)
    grads = grad_sequence(seed, [p.shape for p in params])
    p0 = [host(p).copy() for p in params]
    hp = dict(lr=lr, betas=(b1, b2), eps=eps, weight_decay=weight_decay)
    run(Adam(params, **hp), params, grads)
    for k, p in enumerate(params):
        want = adam_reference(p0[k], [g[k] for g in grads], **hp)
        np.testing.assert_allclose(host(p), want, **TOL[np.float64])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_flushes_subnormal_second_moments_to_zero(device, dtype):
    """A gradient that falls to 0 leaves v decaying by beta2 a step into the subnormal floats;
    the 100th step sets such v to 0, and the steps still follow the formula."""
    tiny = np.finfo(dtype).tiny
    p = minigan.tensor(np.zeros(4), dtype=dtype, device=device, requires_grad=True)
    # v after step 1: tiny * 2^(14, 10, 6, 2); 99 steps of 0.9 (about 2^-15) later, subnormal.
    g0 = np.sqrt(tiny / 0.1) * 2.0 ** np.array([7, 5, 3, 1])
    grads = [g0] + [np.zeros(4)] * 99
    hp = dict(lr=1e-3, betas=(0.5, 0.9), eps=1e-8, weight_decay=0.0)
    opt = Adam([p], **hp)
    for k, g in enumerate(grads, 1):
        p.grad = backend.to_device(g.astype(dtype), device)
        opt.step()
        v = host(opt.state[0]["exp_avg_sq"])
        if k == 99:
            assert ((v > 0) & (v < tiny)).all()                     # all of it subnormal now,
    assert (v == 0).all()                                           # and 0 after step 100
    np.testing.assert_allclose(host(p), adam_reference(np.zeros(4), grads, **hp), **TOL[dtype])


def test_adam_weight_decay_is_an_l2_term_added_to_the_gradient():
    params = make_params(2)
    grads = grad_sequence(2, [p.shape for p in params])
    p0 = [host(p).copy() for p in params]
    hp = dict(lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.5)
    run(Adam(params, **hp), params, grads)
    for k, p in enumerate(params):
        want = adam_reference(p0[k], [g[k] for g in grads], **hp)
        np.testing.assert_allclose(host(p), want, **TOL[np.float64])
        # and it matters: without decay the result is different
        assert not np.allclose(host(p), adam_reference(p0[k], [g[k] for g in grads],
                                                       **{**hp, "weight_decay": 0.0}))


def test_adam_is_invariant_to_the_gradient_scale():
    """m scales by c and sqrt(v) by c: with eps = 0 and c = 2^10 every rounding scales
    exactly, so the two trajectories agree bit for bit."""
    shapes = [(3, 4), (5,)]
    grads = grad_sequence(14, shapes)
    ends = []
    for c in (1.0, 2.0 ** 10):
        params = make_params(14, np.float32)
        run(Adam(params, lr=0.01, eps=0.0), params, [[c * g for g in gs] for gs in grads])
        ends.append([host(p) for p in params])
    for a, b in zip(*ends):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("make", [lambda ps: Adam(ps, lr=0.1),
                                  lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
                                  lambda ps: RMSprop(ps, momentum=0.9, centered=True)])
def test_a_zero_gradient_leaves_parameters_still(make):
    params = make_params(3)
    p0 = [host(p).copy() for p in params]
    opt = make(params)
    run(opt, params, [[np.zeros(p.shape) for p in params]] * STEPS)
    for p, before in zip(params, p0):
        assert np.array_equal(host(p), before)


def test_parameters_without_gradient_are_skipped():
    params = make_params(4)
    opt = Adam(params, lr=0.1)
    frozen = host(params[1]).copy()
    for _ in range(2):
        params[0].grad = np.ones(params[0].shape)
        params[1].grad = None
        opt.step()
    assert np.array_equal(host(params[1]), frozen)
    assert opt.state[0]["step"] == 2 and opt.state[1] == {}
    assert "state.1.step" not in opt.state_dict()


# --- RMSprop ------------------------------------------------------------------------------
RMSPROP_SETTINGS = [dict(), dict(momentum=0.9), dict(centered=True),
                    dict(lr=0.05, alpha=0.9, eps=1e-6, weight_decay=0.1, momentum=0.5,
                         centered=True)]
RMSPROP_DEFAULTS = dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                        centered=False)


def test_rmsprop_defaults_are_pytorchs():
    opt = RMSprop(make_params(20))
    assert {h: getattr(opt, h) for h in RMSprop.hyperparameters} == RMSPROP_DEFAULTS


def test_rmsprop_first_step_is_lr_over_sqrt_one_minus_alpha_times_sign():
    """v starts at 0 and is not bias-corrected: v_1 = (1 - alpha) g^2, so the first step is
    lr g / (sqrt(1 - alpha) |g| + eps), about 10 lr sign(g) at alpha = 0.99."""
    params = make_params(21)
    grads = grad_sequence(21, [p.shape for p in params], steps=1)
    p0 = [host(p).copy() for p in params]
    run(RMSprop(params, lr=0.01), params, grads)
    for p, before, g in zip(params, p0, grads[0]):
        np.testing.assert_allclose(host(p) - before, -0.1 * np.sign(g), rtol=1e-6)


@pytest.mark.parametrize("settings", RMSPROP_SETTINGS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rmsprop_three_steps_match_the_textbook_formula(device, dtype, settings):
    params = make_params(22, dtype, device)
    grads = grad_sequence(22, [p.shape for p in params])
    p0 = [host(p).astype(np.float64) for p in params]
    hp = {**RMSPROP_DEFAULTS, **settings}
    run(RMSprop(params, **hp), params, grads)
    for k, p in enumerate(params):
        want = rmsprop_reference(p0[k], [g[k] for g in grads], **hp)
        assert p.dtype == dtype and p.device == device
        np.testing.assert_allclose(host(p), want, **TOL[dtype])


@given(seed=st.integers(0, 2**16), lr=st.floats(1e-4, 0.5), alpha=st.floats(0.0, 0.999),
       eps=st.sampled_from([1e-8, 1e-3]), weight_decay=st.sampled_from([0.0, 0.1]),
       momentum=st.sampled_from([0.0, 0.9]), centered=st.booleans())
def test_rmsprop_matches_the_textbook_formula_for_any_hyperparameters(
        seed, lr, alpha, eps, weight_decay, momentum, centered):
    params = make_params(seed)
    grads = grad_sequence(seed, [p.shape for p in params])
    p0 = [host(p).copy() for p in params]
    hp = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
              centered=centered)
    run(RMSprop(params, **hp), params, grads)
    for k, p in enumerate(params):
        want = rmsprop_reference(p0[k], [g[k] for g in grads], **hp)
        np.testing.assert_allclose(host(p), want, **TOL[np.float64])


@pytest.mark.parametrize("settings", RMSPROP_SETTINGS)
def test_rmsprop_matches_torch(settings):
    """Optional: the same five steps through torch.optim.RMSprop (skipped without PyTorch)."""
    torch = pytest.importorskip("torch")
    params = make_params(23)
    grads = grad_sequence(23, [p.shape for p in params], steps=5)
    theirs = [torch.tensor(host(p), requires_grad=True) for p in params]
    ours, reference = RMSprop(params, **settings), torch.optim.RMSprop(theirs, **settings)
    for step_grads in grads:
        for p, q, g in zip(params, theirs, step_grads):
            p.grad, q.grad = g.copy(), torch.tensor(g)
        ours.step()
        reference.step()
    for p, q in zip(params, theirs):
        np.testing.assert_allclose(host(p), q.detach().numpy(), rtol=1e-13, atol=1e-15)
    torch_defaults = torch.optim.RMSprop([torch.zeros(1, requires_grad=True)]).defaults
    assert {h: torch_defaults[h] for h in RMSprop.hyperparameters} == RMSPROP_DEFAULTS


def test_rmsprop_centred_variance_that_rounds_below_zero_gives_no_nan():
    """v - g_avg^2 >= 0 exactly, but a constant gradient makes it ~alpha^t g^2, and in float32
    it rounds below 0 after ~25 steps at alpha = 0.5: sqrt would give nan; it is taken as 0."""
    p = minigan.tensor(np.zeros(3), dtype=np.float32, requires_grad=True)
    opt = RMSprop([p], lr=1e-3, alpha=0.5, centered=True)
    for _ in range(30):
        p.grad = np.full(3, 1.7, np.float32)
        opt.step()
    v, g_avg = opt.state[0]["square_avg"], opt.state[0]["grad_avg"]
    assert (v - g_avg * g_avg < 0).all()       # what sqrt would have been given
    assert np.isfinite(host(p)).all()


@pytest.mark.parametrize("eps", [1e-8, 0.0])
def test_rmsprop_flushes_subnormal_square_averages_unless_eps_is_0(eps):
    """As Adam's second moment: a gradient that falls to 0 leaves v decaying into the subnormal
    floats, set to 0 on the 100th step; the steps still follow the formula. With eps = 0 a v
    of 0 would turn the zero step 0 / sqrt(v) into 0 / 0, so nothing is flushed."""
    tiny = np.finfo(np.float32).tiny
    p = minigan.tensor(np.zeros(2), dtype=np.float32, requires_grad=True)
    g0 = np.sqrt(tiny / 0.1) * 2.0 ** np.array([7, 3])  # v_1 = tiny * 2^(14, 6); 98 steps of
    grads = [g0] + [np.zeros(2)] * 99                   # 0.9 (about 2^-15) later, subnormal
    hp = dict(RMSPROP_DEFAULTS, lr=1e-3, alpha=0.9, eps=eps)
    opt = RMSprop([p], **hp)
    for k, g in enumerate(grads, 1):
        p.grad = g.astype(np.float32)
        opt.step()
        v = host(opt.state[0]["square_avg"]).copy()
        if k == 99:
            assert ((v > 0) & (v < tiny)).all()
    assert (v == 0).all() if eps else ((v > 0) & (v < tiny)).all()
    assert np.isfinite(host(p)).all()
    np.testing.assert_allclose(host(p), rmsprop_reference(np.zeros(2), grads, **hp),
                               **TOL[np.float32])


def test_rmsprop_rejects_bad_settings():
    params = make_params(25)
    in_01 = r"must be a finite number in \[0, 1\)"
    for bad, phrase in [(dict(lr=-1.0), r"RMSprop: lr .*must be a finite number in \[0, inf\]"),
                        (dict(lr=float("inf")), r"RMSprop: lr "),
                        (dict(alpha=1.0), "alpha " + in_01), (dict(alpha=-0.1), "alpha " + in_01),
                        (dict(eps=-1e-8), "RMSprop: eps "),
                        (dict(momentum=1.0), "momentum " + in_01),
                        (dict(weight_decay=-0.1), "RMSprop: weight_decay ")]:
        with pytest.raises(ValueError, match=phrase):
            RMSprop(params, **bad)
    with pytest.raises(TypeError, match="RMSprop: lr .*must be a real number"):
        RMSprop(params, lr="0.01")


# --- SGD ----------------------------------------------------------------------------------
@pytest.mark.parametrize("momentum,nesterov,weight_decay", [
    (0.0, False, 0.0), (0.9, False, 0.0), (0.9, True, 0.0), (0.0, False, 0.1), (0.7, True, 0.1)])
def test_sgd_three_steps_match_the_formula(device, momentum, nesterov, weight_decay):
    params = make_params(5, device=device)
    grads = grad_sequence(5, [p.shape for p in params])
    p0 = [host(p).copy() for p in params]
    hp = dict(lr=0.1, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
    run(SGD(params, **hp), params, grads)
    for k, p in enumerate(params):
        want = sgd_reference(p0[k], [g[k] for g in grads], **hp)
        np.testing.assert_allclose(host(p), want, **TOL[np.float64])


def test_sgd_rejects_bad_settings():
    params = make_params(6)
    with pytest.raises(ValueError, match="Nesterov"):
        SGD(params, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="learning rate"):
        SGD(params, lr=-1.0)
    with pytest.raises(ValueError, match="betas"):
        Adam(params, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="requires_grad=False"):
        SGD([minigan.tensor([1.0])], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        Adam(params[0])
    with pytest.raises(ValueError, match="more than once"):
        Adam([params[0], params[0]])


# --- state: device, dtype, in place -------------------------------------------------------
@pytest.mark.parametrize("make", [lambda ps: Adam(ps, lr=0.1, weight_decay=0.01),
                                  lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
                                  lambda ps: RMSprop(ps, weight_decay=0.01, momentum=0.9,
                                                     centered=True)])
def test_state_lives_next_to_the_parameter_and_float32_stays_float32(device, make):
    params = make_params(7, np.float32, device)
    arrays = [p.data for p in params]
    opt = make(params)
    run(opt, params, grad_sequence(7, [p.shape for p in params]))
    for p, a, st_ in zip(params, arrays, opt.state):
        assert p.data is a, "the update must be in place"
        assert p.dtype == np.float32
        for key, value in st_.items():
            if key != "step":
                assert backend.device_of(value) == device and value.dtype == np.float32, key
                assert value.shape == p.shape


def test_state_follows_a_parameter_that_was_moved_or_cast_in_place(device):
    params = make_params(15, np.float32)
    opt = Adam(params, lr=0.1)
    run(opt, params, grad_sequence(15, [p.shape for p in params], steps=1))
    for p in params:  # what Module.to(device, dtype) does: same Parameter, new data
        p.data = backend.to_device(p.data, device).astype(np.float64)
    run(opt, params, grad_sequence(16, [p.shape for p in params], steps=1))
    for p, st_ in zip(params, opt.state):
        assert p.dtype == np.float64 and st_["step"] == 2
        for key in ("exp_avg", "exp_avg_sq"):
            assert st_[key].dtype == np.float64 and backend.device_of(st_[key]) == device


def test_zero_grad_sets_grad_to_none():
    params = make_params(8)
    opt = SGD(params, lr=0.1)
    for p in params:
        p.grad = np.ones(p.shape)
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_step_does_not_modify_the_gradient():
    params = make_params(9)
    opt = Adam(params, lr=0.1, weight_decay=0.1)
    g = np.ones(params[0].shape)
    params[0].grad = g
    opt.step()
    assert params[0].grad is g and np.array_equal(g, np.ones(params[0].shape))


# --- state_dict ---------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda ps: Adam(ps, lr=0.05, betas=(0.5, 0.99), eps=1e-6,
                                                  weight_decay=0.01),
                                  lambda ps: SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
                                  lambda ps: SGD(ps, lr=0.05),
                                  lambda ps: RMSprop(ps, lr=0.05, alpha=0.9, momentum=0.5,
                                                     centered=True, weight_decay=0.01),
                                  lambda ps: RMSprop(ps)])
def test_state_dict_round_trip_continues_bit_identically(device, make):
    params = make_params(10, np.float32, device)
    shapes = [p.shape for p in params]
    grads = grad_sequence(10, shapes, steps=2 * STEPS)
    opt = make(params)
    run(opt, params, grads[:STEPS])

    sd = opt.state_dict()
    assert all(isinstance(k, str) for k in sd)
    clone = [minigan.tensor(p.data.copy(), requires_grad=True) for p in params]
    restored = type(opt)(clone, lr=1.0)  # hyperparameters come from the state dict
    restored.load_state_dict(sd)
    assert restored.state_dict().keys() == sd.keys()

    run(opt, params, grads[STEPS:])
    run(restored, clone, grads[STEPS:])
    for p, q in zip(params, clone):
        assert np.array_equal(host(p), host(q))
    # the saved dict is a snapshot, not a view of the live state
    for key, value in sd.items():
        if key.startswith("state.") and backend.is_array(value):
            assert not np.array_equal(host(value), host(opt.state_dict()[key])), key


def test_state_dict_layout():
    params = make_params(11)
    opt = Adam(params, lr=0.01)
    run(opt, params, grad_sequence(11, [p.shape for p in params], steps=1))
    sd = opt.state_dict()
    assert sd["optimizer"] == "Adam" and sd["num_params"] == 2
    assert sd["hparams.lr"] == 0.01 and sd["hparams.betas"] == [0.9, 0.999]
    assert sd["state.0.step"] == 1 and sd["state.1.exp_avg_sq"].shape == (5,)
    assert sorted(sd) == sorted(
        ["optimizer", "num_params", "hparams.lr", "hparams.betas", "hparams.eps",
         "hparams.weight_decay"] +
        [f"state.{i}.{k}" for i in range(2) for k in ("step", "exp_avg", "exp_avg_sq")])


def test_load_state_dict_says_what_is_wrong_and_changes_nothing():
    params = make_params(12)
    opt = Adam(params, lr=0.01)
    run(opt, params, grad_sequence(12, [p.shape for p in params], steps=1))
    good = opt.state_dict()
    before = {k: host(v).copy() if backend.is_array(v) else v for k, v in good.items()}

    def fails(sd, *phrases):
        with pytest.raises(ValueError) as info:
            opt.load_state_dict(sd)
        for phrase in phrases:
            assert phrase in str(info.value), str(info.value)

    fails({**good, "optimizer": "SGD"}, "'SGD', not 'Adam'")
    fails({**good, "num_params": 3}, "3 parameters, this optimizer has 2")
    fails({k: v for k, v in good.items() if k != "state.1.exp_avg_sq"},
          "parameter 1: missing 'state.1.exp_avg_sq'")
    fails({k: v for k, v in good.items() if k != "hparams.eps"}, "missing key 'hparams.eps'")
    fails({**good, "state.0.exp_avg": np.zeros((4, 3))},
          "'state.0.exp_avg' has shape (4, 3), parameter 0 has shape (3, 4)")
    fails({**good, "state.0.momentum_buffer": np.zeros((3, 4)), "bogus": 1},
          "unexpected keys 'state.0.momentum_buffer', 'bogus'")
    fails({**good, "state.2.step": 1}, "there is no parameter 2")
    fails({**good, "state.0.step": 1.5}, "'state.0.step' must be an integer")
    fails({"0.weight": np.zeros(3)}, "missing key 'optimizer'")

    after = opt.state_dict()
    assert after.keys() == before.keys()
    for k, v in before.items():
        assert np.array_equal(host(after[k]), v) if isinstance(v, np.ndarray) else after[k] == v


def test_load_state_dict_moves_state_to_the_parameters_dtype():
    src = make_params(13, np.float64)
    opt = SGD(src, lr=0.1, momentum=0.5)
    run(opt, src, grad_sequence(13, [p.shape for p in src], steps=1))
    dst = make_params(13, np.float32)
    restored = SGD(dst, lr=0.1)
    restored.load_state_dict(opt.state_dict())
    assert restored.momentum == 0.5
    assert all(s["momentum_buffer"].dtype == np.float32 for s in restored.state)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_counts_the_steps_of_each_parameter(momentum):
    """The step count is state like Adam's: advanced for a parameter with a gradient, not for
    one without, saved and restored by state_dict."""
    params = make_params(7)
    opt = SGD(params, lr=0.1, momentum=momentum)
    for i in range(3):
        params[0].grad = np.ones(params[0].shape)
        params[1].grad = np.ones(params[1].shape) if i == 0 else None
        opt.step()
    assert opt.state[0]["step"] == 3 and opt.state[1]["step"] == 1
    sd = opt.state_dict()
    assert sd["state.0.step"] == 3 and sd["state.1.step"] == 1
    again = SGD(make_params(7), lr=0.1, momentum=momentum)
    again.load_state_dict(sd)
    assert again.state[0]["step"] == 3 and again.state[1]["step"] == 1


def test_adam_refuses_an_eps_that_half_precision_cannot_hold():
    """eps = 1e-8 rounds to 0 in float16, so a zero gradient would give 0/0 = NaN (PyTorch
    gives NaN there); minigan refuses it up front and says what works."""
    p = minigan.tensor(np.ones(3, dtype=np.float16), requires_grad=True)
    with pytest.raises(ValueError, match=r"Adam: eps=1e-08 is below the smallest normal "
                                         r"float16 number \(6.1e-05\).*pass eps >= 6.1e-05"):
        Adam([p])
    with pytest.raises(ValueError, match=r"RMSprop: eps=1e-08 is below the smallest normal"):
        minigan.optim.RMSprop([p])  # the same division, the same default
    opt = Adam([p], eps=1e-4)  # a normal float16: a zero gradient leaves p where it is
    for _ in range(3):
        p.grad = np.zeros(3, dtype=np.float16)
        opt.step()
    assert host(p).tolist() == [1.0, 1.0, 1.0]
    q = minigan.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = Adam([q])
    q.data = q.data.astype(np.float16)  # cast after construction, as model.to(...) would
    q.grad = np.zeros(3, dtype=np.float16)
    with pytest.raises(ValueError, match="float16"):
        opt.step()
