"""A GAN on 2-D toy data, drawn while it trains: watch mode collapse and vanishing gradients.

    python examples/toy2d.py                                  # 8 Gaussians on a ring
    python examples/toy2d.py --data grid                      # 25 Gaussians on a 5x5 grid
    python examples/toy2d.py --data moons                     # two interleaved half-moons
    python examples/toy2d.py --saturating                     # the minimax loss log(1 - D(G(z)))
    python examples/toy2d.py --k 5 --steps 1000 --frames 20   # 5 D updates per G update
    python examples/toy2d.py --loss lsgan                     # least squares (Mao et al. 2017)
    python examples/toy2d.py --loss hinge                     # hinge (Lim & Ye 2017)
    python examples/toy2d.py --loss wasserstein               # WGAN: RMSprop 5e-5, clip 0.01, k 5
    python examples/toy2d.py --loss wasserstein --spectral-norm   # a critic kept 1-Lipschitz

Both networks are small MLPs (minigan.nn.Linear + ReLU / LeakyReLU), trained in float32 on the
CPU, a few thousand steps in about a minute (docs/toy2d.md has timings; the script asks for one
BLAS thread, which is fastest for matrices this small). "gan", "lsgan" and "hinge" train with
Adam (lr 1e-3, beta1 0.5) and k = 1; "wasserstein" with the WGAN paper's settings: RMSprop at
lr 5e-5, D's weights clipped to [-0.01, 0.01] after each of its k = 5 updates (n_critic).

--frames times over the run, one picture with three panels is written into --out:

    left     real points (grey) and generated points (orange) over D's belief D(x) = sigmoid(logit)
             (for the other losses D's raw output: LSGAN's targets 0 and 1, the hinge's margins
             -1 and 1, the critic's score on a scale set per frame)
    middle   the generator's gradient field: arrows -dL_G/dx at the generated points x = G(z),
             the direction in which G's loss pushes each sample (lengths on one fixed scale,
             so vanishing gradients look short)
    right    G's manifold: G applied to a regular grid of the 2-D latent space, drawn as a mesh

    frame_0000.png ...   the pictures
    toy2d.gif            all of them, animated

and a line per frame says how many modes the generator covers. A mode is covered when at least
a quarter of its fair share of generated samples (1/4 of 1/K for K modes) lies within 3 standard
deviations of it; a sample within 3 standard deviations of any mode is "high quality".
"""

import argparse
import os
import time

import numpy as np

import minigan
from minigan import gan, nn, optim

import arguments

# --- settings ---------------------------------------------------------------------------------
parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--data", default="ring", choices=["ring", "grid", "moons"],
                    help="ring: 8 Gaussians on a circle; grid: 25 Gaussians; moons: two moons")
parser.add_argument("--steps", type=int, default=3000, help="training steps (k D updates, 1 G)")
parser.add_argument("--batch-size", type=int, default=256)
parser.add_argument("--loss", default="gan", choices=gan.LOSSES,
                    help="the objective (minigan.gan; docs/derivations/gan_family.md)")
parser.add_argument("--k", type=int, default=None,
                    help="D updates per G update (Algorithm 1's k; default 1, and WGAN's "
                         "n_critic = 5 for --loss wasserstein)")
parser.add_argument("--saturating", action="store_true",
                    help="minimax G loss log(1 - D(G(z))) instead of the non-saturating -log D(G(z))")
parser.add_argument("--optimizer", choices=["adam", "rmsprop"], default=None,
                    help="both networks' optimiser (default adam; rmsprop for --loss wasserstein)")
parser.add_argument("--lr", type=float, default=None,
                    help="learning rate, both networks (default 1e-3; 5e-5 for --loss wasserstein)")
parser.add_argument("--beta1", type=float, default=0.5, help="Adam's beta1 (DCGAN's 0.5)")
parser.add_argument("--weight-clip", type=float, default=None,
                    help="clip D's weights to [-C, C] after each D update (default 0.01 for "
                         "--loss wasserstein without --spectral-norm, else none; 0: none)")
parser.add_argument("--spectral-norm", action="store_true",
                    help="spectral normalisation on D's layers: the other Lipschitz constraint")
parser.add_argument("--hidden", type=int, default=128, help="units per hidden layer")
parser.add_argument("--frames", type=int, default=25, help="pictures over the run (>= 2)")
parser.add_argument("--eval-samples", type=int, default=2500, help="samples for mode counting")
parser.add_argument("--fps", type=int, default=5, help="frames per second of the GIF")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", default="out/toy2d", help="output directory")
# One thread unless told otherwise: for matrices this small a second BLAS thread costs more in
# synchronisation than it gains (docs/toy2d.md).
arguments.add_threads(parser, default=1)
args = parser.parse_args()
arguments.use_threads(args.threads)
if args.frames < 2:
    parser.error("--frames must be at least 2 (the first and the last step)")
if args.saturating and args.loss != "gan":
    parser.error(f"--saturating is the original GAN's minimax loss; --loss {args.loss} has none")
# Each loss with its paper's settings unless told otherwise (WGAN: Arjovsky et al. 2017, Alg. 1).
WGAN = args.loss == "wasserstein"
args.k = args.k if args.k is not None else 5 if WGAN else 1
args.optimizer = args.optimizer or ("rmsprop" if WGAN else "adam")
args.lr = args.lr if args.lr is not None else 5e-5 if WGAN else 1e-3
if args.weight_clip is None:
    args.weight_clip = 0.01 if WGAN and not args.spectral_norm else 0.0
for flag, value in (("--k", args.k), ("--lr", args.lr)):
    if not value > 0:
        parser.error(f"{flag} must be positive, got {value}")
if args.weight_clip < 0:
    parser.error(f"--weight-clip must be positive (or 0 for none), got {args.weight_clip}")

os.makedirs(args.out, exist_ok=True)
rng = np.random.default_rng(args.seed)       # data and noise
nn.init.manual_seed(args.seed)               # weights
LATENT = 2                                   # a 2-D latent space, so its grid can be drawn

# --- data: mixtures whose modes we know ---------------------------------------------------------
# Each mode is a set of centre points (one point for a Gaussian, many along a curve for a moon)
# with a standard deviation; a sample is near a mode when it is within 3 std of a centre point.


def moon_curves(n=200):
    """The two half-moons (sklearn's make_moons), centred and scaled to about [-2.5, 2.5]."""
    t = np.linspace(0, np.pi, n)
    upper = np.stack([np.cos(t), np.sin(t)], axis=1)               # (n, 2)
    lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=1)     # (n, 2)
    shift, scale = np.array([0.5, 0.25]), 2.0
    return [(upper - shift) * scale, (lower - shift) * scale]


if args.data == "ring":
    angles = 2 * np.pi * np.arange(8) / 8
    modes = [np.array([[2 * np.cos(a), 2 * np.sin(a)]]) for a in angles]   # 8 x (1, 2)
    std = 0.05
elif args.data == "grid":
    modes = [np.array([[i, j]], float) for i in range(-2, 3) for j in range(-2, 3)]  # 25 x (1, 2)
    std = 0.05
else:
    modes = moon_curves()                                                    # 2 x (200, 2)
    std = 0.1
K = len(modes)


def sample_data(n):
    """n points: a mode chosen uniformly, a point on it uniformly, plus N(0, std^2 I) noise."""
    which = rng.integers(K, size=n)
    points = np.stack([modes[m][rng.integers(len(modes[m]))] for m in which])  # (n, 2)
    return (points + std * rng.standard_normal((n, 2))).astype(np.float32)


def sample_noise(n):
    return minigan.tensor(rng.standard_normal((n, LATENT)).astype(np.float32))  # (n, 2)


def mode_coverage(x):
    """(number of modes covered, fraction of high-quality samples) for samples x (n, 2)."""
    dist = np.stack([np.sqrt(((x[:, None, :] - c[None]) ** 2).sum(-1)).min(1)
                     for c in modes], axis=1)                              # (n, K)
    near = dist <= 3 * std
    covered = int((near.mean(0) >= 0.25 / K).sum())
    return covered, float(near.any(1).mean())


# --- models and optimisers -----------------------------------------------------------------------
H = args.hidden
G = nn.Sequential(nn.Linear(LATENT, H), nn.ReLU(),
                  nn.Linear(H, H), nn.ReLU(),
                  nn.Linear(H, 2))                          # z (N, 2) -> x (N, 2)
d_layer = nn.SpectralNorm if args.spectral_norm else (lambda layer: layer)
D = nn.Sequential(d_layer(nn.Linear(2, H)), nn.LeakyReLU(0.2),
                  d_layer(nn.Linear(H, H)), nn.LeakyReLU(0.2),
                  d_layer(nn.Linear(H, 1)))                 # x (N, 2) -> logit or score (N, 1)


def optimizer(params):
    if args.optimizer == "rmsprop":
        return optim.RMSprop(params, lr=args.lr)
    return optim.Adam(params, lr=args.lr, betas=(args.beta1, 0.999))


opt_G, opt_D = optimizer(G.parameters()), optimizer(D.parameters())
weight_clip = args.weight_clip or None                     # 0: no clipping
if weight_clip:
    gan.clip_weights(D.parameters(), weight_clip)          # the critic starts inside the box

# --- what the pictures show --------------------------------------------------------------------
LIM = 3.0
axis = np.linspace(-LIM, LIM, 120)
heat_x = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2).astype(np.float32)  # (14400, 2)
z_axis = np.linspace(-2.5, 2.5, 21)                              # +-2.5 std of the latent prior
z_mesh = np.stack(np.meshgrid(z_axis, z_axis), axis=-1).reshape(-1, 2).astype(np.float32)  # (441, 2)
z_fixed = sample_noise(300)                                      # the same samples every frame
eval_noise = np.random.default_rng(args.seed + 1)                # eval draws leave `rng` alone


@minigan.no_grad()
def d_belief(x):
    """D(x) at points x (n, 2), as a NumPy array (n,): sigmoid(D's logit) for "gan", D's raw
    output for the other losses."""
    out = D(minigan.tensor(x))
    return (minigan.functional.sigmoid(out) if args.loss == "gan" else out).numpy()[:, 0]


def belief_range(belief):
    """The colour range (low = fake, high = real) of D's surface and three contour levels.

    The probability and LSGAN's targets lie in [0, 1], the hinge's margins at -1 and 1; a
    critic's score has no fixed scale (clipping makes it tiny) nor offset, so its range is the
    frame's own, centred on the median.
    """
    if args.loss in ("gan", "lsgan"):
        low, high = 0.0, 1.0
    elif args.loss == "hinge":
        low, high = -1.0, 1.0
    else:
        mid = float(np.median(belief))
        half = float(np.abs(belief - mid).max()) or 1.0
        low, high = mid - half, mid + half
    return low, high, [low + (high - low) * t for t in (0.25, 0.5, 0.75)]


def generator_gradient(z):
    """Points x = G(z) and -dl_G/dx at each of them, by autograd through D.

    The generated points are made a *leaf* with requires_grad, so backward stops there and
    leaves the gradient of L_G with respect to each point in x.grad. L_G is a mean over the M
    points; times M, each row is the gradient of that point's own loss term. D's parameters are
    frozen for the pass (as in gan.generator_step): this is a look, not a training step.
    """
    with minigan.no_grad():
        x = G(z)
    x = minigan.tensor(x.data, requires_grad=True)           # leaf (M, 2)
    frozen = [(p, p.requires_grad) for p in D.parameters()]
    for p, _ in frozen:
        p.requires_grad = False
    try:
        loss = gan.generator_loss(D(x), saturating=args.saturating, loss=args.loss)
        loss.backward()
    finally:
        for p, flag in frozen:
            p.requires_grad = flag
    return x.numpy(), -x.grad * len(x)                        # (M, 2), (M, 2)


import matplotlib  # noqa: E402 (after the settings, so --help stays fast)
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.animation import PillowWriter  # noqa: E402

fig, axes = plt.subplots(1, 3, figsize=(11, 4.0), dpi=80)
fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.85, wspace=0.05)
real_show = sample_data(1000)
# Arrow lengths on one scale for the whole run (8 gradient units per axis unit), so vanishing
# gradients look short. A critic's gradients have no fixed scale (clipped, they are ~1e-3 of
# that, and grow or shrink with its weights): for "wasserstein" each frame scales its arrows to
# a mean of 1/4 unit. The title gives the mean length either way.


def draw(step, status):
    """Redraw the three panels for the current G and D."""
    with minigan.no_grad():
        fake = G(z_fixed).numpy()                             # (300, 2)
        manifold = G(minigan.tensor(z_mesh)).numpy().reshape(len(z_axis), len(z_axis), 2)
    belief = d_belief(heat_x).reshape(len(axis), len(axis))   # (120, 120)
    low, high, levels = belief_range(belief)
    at, push = generator_gradient(z_fixed)
    norm = np.sqrt((push ** 2).sum(1)).mean()
    arrow_scale = 4 * norm if WGAN and norm > 0 else 8.0
    for ax in axes:
        ax.clear()
        ax.set_xlim(-LIM, LIM)
        ax.set_ylim(-LIM, LIM)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    extent = (-LIM, LIM, -LIM, LIM)
    axes[0].imshow(belief, origin="lower", extent=extent, cmap="coolwarm_r", vmin=low, vmax=high)
    axes[0].scatter(*real_show.T, s=3, c="0.3", label="real")
    axes[0].scatter(*fake.T, s=3, c="tab:orange", label="G(z)")
    what = "the critic f(x)" if WGAN else "D(x)"
    axes[0].set_title(f"samples over {what}  (blue: real, red: fake)", fontsize=9)
    axes[1].contour(axis, axis, belief, levels=levels, colors="0.6", linewidths=0.7)
    axes[1].scatter(*real_show.T, s=2, c="0.75")
    axes[1].quiver(at[:, 0], at[:, 1], push[:, 0], push[:, 1], color="tab:orange",
                   angles="xy", scale_units="xy", scale=arrow_scale, width=0.004)
    axes[1].set_title(f"-dL_G/dx at G(z)  (mean |grad| {norm:.3g})", fontsize=9)
    axes[2].scatter(*real_show.T, s=2, c="0.75")
    axes[2].plot(manifold[:, :, 0], manifold[:, :, 1], c="tab:green", lw=0.6)      # rows
    axes[2].plot(manifold[:, :, 0].T, manifold[:, :, 1].T, c="tab:green", lw=0.6)  # columns
    axes[2].set_title("G's manifold: G(regular grid of z)", fontsize=9)
    loss = {"gan": ("saturating" if args.saturating else "non-saturating") + " G loss",
            "lsgan": "least-squares loss", "hinge": "hinge loss",
            "wasserstein": "Wasserstein loss"}[args.loss]
    fig.suptitle(f"{args.data}, {loss}, k={args.k}, step {step}: {status}", fontsize=10)
    return norm


# --- training loop -----------------------------------------------------------------------------
frame_steps = np.unique(np.linspace(0, args.steps, args.frames).round().astype(int))
gif_path = os.path.join(args.out, "toy2d.gif")
writer = PillowWriter(fps=args.fps)
writer.setup(fig, gif_path, dpi=80)
history = []                                   # (step, modes covered, high-quality fraction)
t0 = time.perf_counter()
train_time = 0.0
result = None
for step in range(args.steps + 1):
    if step in frame_steps:
        with minigan.no_grad():
            x_eval = G(minigan.tensor(eval_noise.standard_normal((args.eval_samples, LATENT))
                                      .astype(np.float32))).numpy()
        covered, quality = mode_coverage(x_eval)
        history.append((step, covered, quality))
        status = f"modes covered: {covered}/{K}, high quality {quality:.0%}"
        norm = draw(step, status)
        frame = len(history) - 1
        fig.savefig(os.path.join(args.out, f"frame_{frame:04d}.png"))
        writer.grab_frame()
        f_loss, f_d = (".3f", ".2f") if args.loss == "gan" else (".3g", ".3g")  # scores: any scale
        losses = "" if result is None else (
            f"  L_D {float(result.d_loss):{f_loss}}  L_G {float(result.g_loss):{f_loss}}"
            f"  D(x) {float(result.d_real):{f_d}}  D(G(z)) {float(result.d_fake):{f_d}}")
        print(f"step {step:5d}  {status}  |grad| {norm:.3g}{losses}", flush=True)
    if step == args.steps:
        break
    tick = time.perf_counter()
    result = gan.train_step(
        G, D, opt_G, opt_D,
        real=[minigan.tensor(sample_data(args.batch_size)) for _ in range(args.k)],  # k x (N, 2)
        z=lambda: sample_noise(args.batch_size),                                     # (N, 2)
        k=args.k, saturating=args.saturating, loss=args.loss, weight_clip=weight_clip)
    train_time += time.perf_counter() - tick
writer.finish()
plt.close(fig)

# --- summary -----------------------------------------------------------------------------------
elapsed = time.perf_counter() - t0
best = max(h[1] for h in history)
step, covered, quality = history[-1]
print(f"final: modes covered: {covered}/{K} (best {best}/{K}), high-quality samples {quality:.1%}")
print("coverage over time: " + " ".join(f"{s}:{c}" for s, c, _ in history))
print(f"time: {elapsed:.1f} s in all, {train_time:.1f} s training "
      f"({1000 * train_time / max(args.steps, 1):.1f} ms/step); "
      f"frames in {args.out}/frame_*.png, animation {gif_path}")
