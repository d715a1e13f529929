"""Sample-quality metrics on small synthetic data with known answers (minigan/metrics.py).

Oracles: a naive Parzen window (direct differences, every pair at once, scipy's logsumexp),
closed-form Frechet distances between Gaussians, brute-force nearest neighbours, and the
textbook Inception Score. docs/metrics.md states the definitions these tests pin down.
"""

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import logsumexp

from minigan import backend, metrics
from minigan.tensor import ShapeError

# --- oracles ---------------------------------------------------------------------------------


def naive_parzen(x, centres, sigma):
    """log p(x) = logsumexp_i(-||x - mu_i||^2 / 2 sigma^2) - log n - D/2 log(2 pi sigma^2)."""
    x, centres = x.reshape(len(x), -1), centres.reshape(len(centres), -1)
    d2 = ((x[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)     # (N, n), no GEMM
    n, D = centres.shape
    return (logsumexp(-d2 / (2 * sigma**2), axis=1) - np.log(n)
            - D / 2 * np.log(2 * np.pi * sigma**2))


def structured(rng, n, D=64, latent=2):
    """Points near a smooth 2-D surface inside [0, 1]^D: 'real-like' data with low-dim structure."""
    basis = np.random.default_rng(123).normal(size=(latent, D))       # the same surface every call
    z = rng.uniform(-1, 1, size=(n, latent))
    x = 0.5 + 0.2 * np.tanh(z @ basis) + 0.02 * rng.normal(size=(n, D))
    return np.clip(x, 0, 1)


def on(device, *arrays):
    return [backend.to_device(a, device) for a in arrays]


# --- Parzen window ---------------------------------------------------------------------------


@given(n=st.integers(1, 40), N=st.integers(1, 30), D=st.integers(1, 20),
       chunk=st.integers(1, 50), sigma=st.sampled_from(list(metrics.PARZEN_SIGMAS) + [0.03]),
       seed=st.integers(0, 2**32 - 1))
def test_parzen_density_matches_naive(n, N, D, chunk, sigma, seed):
    rng = np.random.default_rng(seed)
    centres, x = rng.random((n, D)), rng.random((N, D))
    got = metrics.parzen_log_density(x, centres, sigma, chunk=chunk)
    np.testing.assert_allclose(got, naive_parzen(x, centres, sigma), rtol=1e-11, atol=1e-9)


def test_parzen_density_on_device(device):
    rng = np.random.default_rng(1)
    centres, x = rng.random((30, 12)), rng.random((25, 12))
    got = metrics.parzen_log_density(*on(device, x, centres), 0.2, chunk=7)
    assert backend.device_of(got) == device
    np.testing.assert_allclose(backend.to_numpy(got), naive_parzen(x, centres, 0.2), rtol=1e-11)


def test_parzen_density_far_from_every_centre_is_finite():
    # exp(-||x - mu||^2 / 2 sigma^2) underflows to 0 for every centre here; log-sum-exp must not
    x, centres = np.ones((3, 784)), np.zeros((5, 784))
    got = metrics.parzen_log_density(x, centres, 0.1)
    np.testing.assert_allclose(got, naive_parzen(x, centres, 0.1), rtol=1e-12)
    assert np.all(np.isfinite(got)) and got[0] < -35000


def test_parzen_likelihood_matches_naive_protocol(device):
    """Sigma chosen by the mean validation log-likelihood, score = mean test ll +- std/sqrt(N)."""
    rng = np.random.default_rng(2)
    samples, test, val = structured(rng, 120), structured(rng, 40), structured(rng, 30)
    res = metrics.parzen_log_likelihood(*on(device, samples, test, val), chunk=16)

    val_scores = [naive_parzen(val, samples, s).mean() for s in metrics.PARZEN_SIGMAS]
    sigma = metrics.PARZEN_SIGMAS[int(np.argmax(val_scores))]
    ll = naive_parzen(test, samples, sigma)
    np.testing.assert_allclose(res.validation, val_scores, rtol=1e-11)
    assert res.sigma == sigma
    np.testing.assert_allclose(res.log_likelihoods, ll, rtol=1e-11)
    np.testing.assert_allclose([res.mean, res.sem], [ll.mean(), ll.std() / np.sqrt(len(ll))],
                               rtol=1e-10)


def test_parzen_sigma_is_one_of_ten_log_spaced_values():
    rng = np.random.default_rng(3)
    res = metrics.parzen_log_likelihood(rng.random((50, 10)), rng.random((20, 10)),
                                        rng.random((20, 10)))
    np.testing.assert_allclose(res.sigmas, np.logspace(-1, 0, 10), rtol=0)
    assert len(res.sigmas) == len(res.validation) == 10
    assert res.sigma in res.sigmas
    assert res.sigma == res.sigmas[int(np.argmax(res.validation))]


def test_parzen_sigma_selection_follows_the_data():
    # tight clusters want the narrowest window; uniform noise in [0,1]^D wants a wider one
    rng = np.random.default_rng(4)
    D = 30
    centres = rng.random((5, D))
    clustered = lambda n: centres[rng.integers(0, 5, n)] + 0.01 * rng.normal(size=(n, D))
    assert metrics.parzen_log_likelihood(
        clustered(200), clustered(20), clustered(20), check_range=False).sigma == 0.1
    res = metrics.parzen_log_likelihood(rng.random((200, D)), rng.random((20, D)),
                                        rng.random((20, D)))
    assert res.sigma > 0.1


@pytest.mark.parametrize("chunk", [1, 3, 64, 10_000])
def test_parzen_chunk_size_does_not_change_the_result(chunk):
    rng = np.random.default_rng(5)
    samples, test, val = structured(rng, 100), structured(rng, 37), structured(rng, 23)
    ref = metrics.parzen_log_likelihood(samples, test, val, chunk=37)
    res = metrics.parzen_log_likelihood(samples, test, val, chunk=chunk)
    assert res.sigma == ref.sigma
    np.testing.assert_allclose(res.log_likelihoods, ref.log_likelihoods, rtol=1e-12)
    np.testing.assert_allclose(res.validation, ref.validation, rtol=1e-12)


def test_parzen_real_like_samples_beat_uniform_noise():
    rng = np.random.default_rng(6)
    test, val = structured(rng, 200), structured(rng, 100)
    good = metrics.parzen_log_likelihood(structured(rng, 500), test, val)
    noise = metrics.parzen_log_likelihood(rng.random((500, 64)), test, val)
    assert good.mean - 3 * good.sem > noise.mean + 3 * noise.sem


def test_parzen_accepts_images_and_single_sigma_without_validation():
    rng = np.random.default_rng(7)
    samples, test = rng.random((20, 1, 4, 4)), rng.random((10, 1, 4, 4))    # (N, C, H, W)
    res = metrics.parzen_log_likelihood(samples, test, sigmas=0.3)
    assert res.sigma == 0.3 and res.validation == ()
    np.testing.assert_allclose(res.log_likelihoods, naive_parzen(test, samples, 0.3), rtol=1e-11)


def test_parzen_refuses_bad_input():
    rng = np.random.default_rng(8)
    a, b = rng.random((10, 6)), rng.random((10, 6))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        metrics.parzen_log_likelihood(2 * a - 1, b, b)                  # tanh range
    with pytest.raises(ShapeError, match=r"samples \(10, 6\).*test \(10, 5\)"):
        metrics.parzen_log_likelihood(a, b[:, :5], b)
    with pytest.raises(ValueError, match="validation"):
        metrics.parzen_log_likelihood(a, b)
    with pytest.raises(ValueError, match="chunk"):
        metrics.parzen_log_likelihood(a, b, b, chunk=0)
    with pytest.raises(ValueError, match="positive"):
        metrics.parzen_log_density(a, b, 0.0)


# --- Frechet distance ------------------------------------------------------------------------


def gaussian_features(rng, n, mean, cov):
    return rng.multivariate_normal(mean, cov, size=n)


def test_fid_of_a_set_with_itself_is_zero():
    rng = np.random.default_rng(10)
    f = rng.normal(size=(500, 16)) @ rng.normal(size=(16, 16))
    assert metrics.fid(f, f) == pytest.approx(0.0, abs=1e-8)


@pytest.mark.parametrize("offset", [0.0, 1.0])
def test_fid_grows_monotonically_with_noise(offset):
    rng = np.random.default_rng(11)
    f = rng.normal(size=(1000, 8)) @ rng.normal(size=(8, 8))
    noise = rng.normal(size=f.shape) + offset
    scores = [metrics.fid(f, f + eps * noise) for eps in (0.0, 0.1, 0.3, 1.0, 3.0)]
    assert scores[0] == pytest.approx(0.0, abs=1e-8)
    assert all(a < b for a, b in zip(scores, scores[1:])), scores


@given(F=st.integers(1, 12), seed=st.integers(0, 2**32 - 1))
def test_fid_from_stats_matches_closed_form_for_diagonal_covariances(F, seed):
    rng = np.random.default_rng(seed)
    mu1, mu2 = rng.normal(size=F), rng.normal(size=F)
    s1, s2 = rng.uniform(0.01, 4, F), rng.uniform(0.01, 4, F)
    expected = ((mu1 - mu2) ** 2).sum() + (s1 + s2 - 2 * np.sqrt(s1 * s2)).sum()
    got = metrics.fid_from_stats(mu1, np.diag(s1), mu2, np.diag(s2))
    assert got == pytest.approx(expected, rel=1e-10, abs=1e-12)


@given(F=st.integers(1, 12), seed=st.integers(0, 2**32 - 1))
def test_fid_from_stats_matches_sqrtm_for_full_covariances(F, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(F, F)), rng.normal(size=(F, F))
    s1, s2 = a @ a.T + 0.1 * np.eye(F), b @ b.T + 0.1 * np.eye(F)
    mu1, mu2 = rng.normal(size=F), rng.normal(size=F)
    # the textbook form with the general (non-symmetric) square root of s1 s2
    tr_covmean = np.trace(scipy.linalg.sqrtm(s1 @ s2)).real
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_covmean
    got = metrics.fid_from_stats(mu1, s1, mu2, s2)
    assert got == pytest.approx(expected, rel=1e-8, abs=1e-9)
    assert metrics.fid_from_stats(mu2, s2, mu1, s1) == pytest.approx(got, rel=1e-9, abs=1e-10)


def test_fid_of_samples_approaches_the_population_value():
    rng = np.random.default_rng(12)
    m1, m2, v1, v2 = np.zeros(3), np.array([1.0, 0, 0]), np.ones(3), np.array([4.0, 1, 1])
    a = gaussian_features(rng, 20000, m1, np.diag(v1))
    b = gaussian_features(rng, 20000, m2, np.diag(v2))
    expected = 1.0 + (1 + 4 - 2 * 2)                                   # = 2
    assert metrics.fid(a, b) == pytest.approx(expected, abs=0.1)


def test_feature_stats_is_mean_and_unbiased_covariance():
    f = np.random.default_rng(13).normal(size=(50, 4))
    mu, cov = metrics.feature_stats(f)
    np.testing.assert_allclose(mu, f.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(cov, np.cov(f, rowvar=False), rtol=1e-12)


def test_fid_with_singular_covariances_is_finite():
    rng = np.random.default_rng(14)
    a, b = rng.normal(size=(5, 20)), rng.normal(size=(6, 20))           # rank < F on both sides
    d = metrics.fid(a, b)
    assert np.isfinite(d) and d > 0
    assert metrics.fid(a, a) == pytest.approx(0.0, abs=1e-7)


def test_fid_refuses_bad_shapes():
    with pytest.raises(ShapeError, match="width"):
        metrics.fid(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ShapeError, match="at least 2 rows"):
        metrics.feature_stats(np.zeros((1, 3)))
    with pytest.raises(ShapeError, match=r"s2 \(3, 2\)"):
        metrics.fid_from_stats(np.zeros(3), np.eye(3), np.zeros(3), np.zeros((3, 2)))


# --- Inception Score, modes, KL to uniform ---------------------------------------------------


def naive_inception_score(p, splits):
    scores = []
    for part in np.array_split(p, splits):
        p_y = part.mean(axis=0)
        kl = [sum(pk * np.log(pk / qk) for pk, qk in zip(row, p_y) if pk > 0) for row in part]
        scores.append(np.exp(np.mean(kl)))
    return np.mean(scores), np.std(scores)


def test_inception_score_of_one_class_is_one():
    probs = np.zeros((100, 10))
    probs[:, 3] = 1.0
    assert metrics.inception_score(probs) == (1.0, 0.0)
    soft = np.tile(np.random.default_rng(20).dirichlet(np.ones(10)), (100, 1))
    mean, std = metrics.inception_score(soft)                           # same belief every time
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("K", [2, 10])
def test_inception_score_of_confident_even_predictions_is_n_classes(K):
    probs = np.eye(K)[np.arange(100 * K) % K]                            # one-hot, evenly spread
    mean, std = metrics.inception_score(probs, splits=10)
    assert mean == pytest.approx(K, rel=1e-12) and std == pytest.approx(0.0, abs=1e-12)


@given(N=st.integers(10, 60), K=st.integers(2, 10), splits=st.integers(1, 10),
       seed=st.integers(0, 2**32 - 1))
def test_inception_score_matches_naive(N, K, splits, seed):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(K, 0.3), size=N)
    probs[rng.random(probs.shape) < 0.2] = 0.0                           # exact zeros: 0 log 0 = 0
    probs[:, 0] += probs.sum(axis=1) == 0
    probs /= probs.sum(axis=1, keepdims=True)
    mean, std = metrics.inception_score(probs, splits=splits)
    np.testing.assert_allclose([mean, std], naive_inception_score(probs, splits),
                               rtol=1e-10, atol=1e-12)
    assert 1.0 - 1e-12 <= mean <= K + 1e-12


def test_inception_score_refuses_logits():
    with pytest.raises(ValueError, match="logits"):
        metrics.inception_score(np.random.default_rng(21).normal(size=(20, 10)))


def test_prediction_entropy_is_zero_for_one_hot_and_log_k_for_uniform():
    np.testing.assert_array_equal(metrics.prediction_entropy(np.eye(10)[[3, 7]]), [0.0, 0.0])
    np.testing.assert_allclose(metrics.prediction_entropy(np.full((4, 10), 0.1)), np.log(10),
                               rtol=1e-14)
    with pytest.raises(ValueError, match="logits"):
        metrics.prediction_entropy(np.random.default_rng(22).normal(size=(5, 10)))


@given(N=st.integers(2, 60), K=st.integers(2, 10), seed=st.integers(0, 2**32 - 1))
def test_log_inception_score_is_spread_minus_mean_prediction_entropy(N, K, seed):
    # The closed form of one part: log IS = H(p(y)) - E_x H(p(y|x)), H(p(y)) = log K - KL(p(y)||U).
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(K, 0.5), size=N)
    probs[rng.random(probs.shape) < 0.2] = 0.0                           # exact zeros: 0 log 0 = 0
    probs[:, 0] += probs.sum(axis=1) == 0
    probs /= probs.sum(axis=1, keepdims=True)
    h = metrics.prediction_entropy(probs)
    assert h.shape == (N,) and h.min() >= 0.0 and h.max() <= np.log(K) + 1e-12
    spread = np.log(K) - metrics.kl_to_uniform(probs.mean(axis=0))
    mean, _ = metrics.inception_score(probs, splits=1)
    assert np.log(mean) == pytest.approx(spread - h.mean(), abs=1e-10)


def test_modes_of_a_one_digit_set_is_one():
    modes, hist = metrics.mode_counts(np.full(500, 7))
    assert modes == 1 and hist[7] == 500 and hist.sum() == 500 and hist.shape == (10,)
    probs = np.eye(10)[np.full(500, 7)]
    assert metrics.mode_counts(probs).modes == 1


def test_modes_threshold_is_one_percent_of_the_samples():
    labels = np.concatenate([np.repeat(np.arange(9), 110), np.full(10, 9)])   # N = 1000
    assert metrics.mode_counts(labels).modes == 10                       # 10 / 1000 = 1%: covered
    assert metrics.mode_counts(labels[1:]).modes == 10
    assert metrics.mode_counts(labels[:-1]).modes == 9                   # 9 / 999 < 1%
    probs = np.random.default_rng(22).dirichlet(np.ones(10), size=300)
    got = metrics.mode_counts(probs)
    np.testing.assert_array_equal(got.histogram, np.bincount(probs.argmax(1), minlength=10))


def test_mode_counts_refuses_bad_labels():
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        metrics.mode_counts(np.array([0, 10]))
    with pytest.raises(ShapeError, match="n_classes=10"):
        metrics.mode_counts(np.ones((4, 3)) / 3)


def test_kl_to_uniform():
    assert metrics.kl_to_uniform(np.full(10, 7)) == pytest.approx(0.0, abs=1e-15)
    one_class = np.zeros(10)
    one_class[2] = 50
    assert metrics.kl_to_uniform(one_class) == pytest.approx(np.log(10), rel=1e-14)
    h = np.array([5.0, 1, 0, 4])
    p = h / h.sum()
    expected = sum(pk * np.log(pk * 4) for pk in p if pk > 0)
    assert metrics.kl_to_uniform(h) == pytest.approx(expected, rel=1e-13)


# --- nearest neighbours ----------------------------------------------------------------------


def test_nearest_neighbour_distance_of_a_subset_is_exactly_zero(device):
    rng = np.random.default_rng(30)
    ref = rng.random((200, 784))
    samples = ref[rng.choice(200, 50, replace=False)]
    d = metrics.nearest_neighbour_distances(*on(device, samples, ref), chunk=16)
    assert np.all(d == 0.0)
    assert metrics.nearest_neighbour_distance(*on(device, samples, ref)) == 0.0


@given(N=st.integers(1, 30), M=st.integers(1, 40), D=st.integers(1, 16),
       chunk=st.integers(1, 40), seed=st.integers(0, 2**32 - 1))
def test_nearest_neighbour_distances_match_brute_force(N, M, D, chunk, seed):
    rng = np.random.default_rng(seed)
    samples, ref = rng.random((N, D)), rng.random((M, D))
    brute = np.sqrt(((samples[:, None] - ref[None]) ** 2).sum(axis=2)).min(axis=1)
    got = metrics.nearest_neighbour_distances(samples, ref, chunk=chunk)
    np.testing.assert_allclose(got, brute, rtol=1e-12, atol=1e-12)
    assert metrics.nearest_neighbour_distance(samples, ref, chunk) == pytest.approx(
        np.median(brute), rel=1e-12)


def test_nearest_neighbour_distance_of_shifted_copies_is_the_shift():
    ref = np.eye(20) * 10.0                                             # points 10*sqrt(2) apart
    shift = np.full(20, 0.1)
    d = metrics.nearest_neighbour_distances(ref + shift, ref)
    np.testing.assert_allclose(d, np.linalg.norm(shift), rtol=1e-13)


# --- inputs ----------------------------------------------------------------------------------


def test_metrics_accept_float32_tensors_and_compute_in_float64():
    import minigan
    rng = np.random.default_rng(40)
    x32, y32 = rng.random((30, 8)).astype(np.float32), rng.random((20, 8)).astype(np.float32)
    x, y = minigan.tensor(x32), minigan.tensor(y32)
    got = metrics.parzen_log_likelihood(x, y, sigmas=0.2).log_likelihoods
    np.testing.assert_allclose(got, naive_parzen(y32.astype(np.float64), x32.astype(np.float64),
                                                 0.2), rtol=1e-11)
    assert metrics.fid(x, y) == pytest.approx(metrics.fid(x32.astype(np.float64), y32), rel=1e-12)
    assert metrics.nearest_neighbour_distance(x, x) == 0.0
    probs = minigan.tensor(np.eye(4)[np.arange(40) % 4])
    assert metrics.inception_score(probs, splits=2)[0] == pytest.approx(4.0)
    assert metrics.mode_counts(probs, n_classes=4).modes == 4
