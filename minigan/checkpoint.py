"""The checkpoint of a GAN training run: one file with all it takes to train on, or to sample.

    from minigan import checkpoint
    checkpoint.save("out/ckpt.npz", G=G, step=step, config=config, D=D, opt_G=opt_G,
                    opt_D=opt_D, batches=batches.state_dict(), G_ema=ema)
    run = checkpoint.load("out/ckpt.npz", resumable=True)    # checked, a dict of the entries
    G, info = checkpoint.load_generator("out/ckpt.npz")      # ready to sample (eval mode)

The file is a :func:`minigan.save` file (docs/checkpoints.md gives its format) with these entries:

    G             the generator's state dict
    step          the number of training steps done
    config        the run's settings: at least ``arch`` (a preset of minigan.models, whose G
                  this is) and ``latent_dim``; ``recipe`` names the recipe that built D, where
                  it is not the preset's own; ``num_classes`` is K for a conditional GAN
                  (``models.build(arch, num_classes=K)``), None or absent otherwise
    D             the discriminator's state dict                   } all four in a checkpoint
    opt_G, opt_D  the optimisers' state dicts                      } that training resumes
    batches       the data order (minigan.data.mnist.Batches)      } from; none in an average
    G_ema         the moving average of G's weights (minigan.averaging.EMA), where one is kept
    averaged_steps  in an average of a run's checkpoints: the steps it averages

:func:`save` writes it atomically and refuses weights that are not finite, so a run that
diverged never replaces its last good checkpoint. :func:`load` reads and checks it and raises
``minigan.CheckpointError`` naming the file and what is wrong. Tests: tests/test_checkpoint.py.
"""

import os

from . import backend, models
from .averaging import EMA
from .io import CheckpointError
from .io import load as _load
from .io import save as _save
from .nn import StateDictError

__all__ = ["save", "load", "load_generator", "load_discriminator", "NonFiniteError",
           "TRAINING_ENTRIES"]

TRAINING_ENTRIES = ("D", "opt_G", "opt_D", "batches")   # what resuming needs beside G

# Presets that minigan.models once had and no longer has, and the recipe that trains each now.
REPLACED_PRESETS = {
    "dcgan_sn": "examples/recipes/spectral_norm.py",
    "dcgan_maxout": "examples/recipes/maxout_d.py",
    "dcgan_tf_maxout": "examples/recipes/maxout_d.py --arch dcgan_tf",
    "dcgan_convmaxout": "examples/recipes/conv_maxout_d.py",
    "goodfellow2014_noinputdrop": "examples/recipes/no_input_dropout.py",
}


class NonFiniteError(ValueError):
    """A network holds NaN or infinite weights: training diverged."""


# --- writing ------------------------------------------------------------------------------------

def save(path, *, G, step, config, D=None, opt_G=None, opt_D=None, batches=None, G_ema=None,
         averaged_steps=None):
    """Write a run's checkpoint to ``path``, atomically.

    Args:
        G: the generator (a Module).
        step: training steps done.
        config: the run's settings, a dict of plain values with ``arch`` and ``latent_dim``.
        D, opt_G, opt_D, batches: the discriminator, both optimisers and the data order's
            ``state_dict()``: all four, so that training can resume, or none (a file to sample).
        G_ema: the :class:`minigan.averaging.EMA` of G's weights, if one is kept.
        averaged_steps: for an average of a run's checkpoints, the steps it averages.

    Raises:
        NonFiniteError: a weight of G, D or the average is NaN or infinite; nothing is written.
        ValueError: a missing config entry, or only some of the training entries.
    """
    missing = [key for key in ("arch", "latent_dim") if key not in config]
    if missing:
        raise ValueError(f"checkpoint.save: the config has no {', '.join(missing)}")
    training = {"D": D, "opt_G": opt_G, "opt_D": opt_D, "batches": batches}
    given = [name for name, value in training.items() if value is not None]
    if given and len(given) != len(training):
        raise ValueError(f"checkpoint.save: {', '.join(given)} given without "
                         f"{', '.join(sorted(set(training) - set(given)))}: a checkpoint to "
                         f"resume from needs all of {', '.join(training)}")
    networks = {"G": G, "D": D, "G_ema": None if G_ema is None else G_ema.module}
    bad = [f"{name} {where}" for name, module in networks.items() if module is not None
           for where in _nonfinite(module)]
    if bad:
        raise NonFiniteError(f"{os.fspath(path)} not written: non-finite weights in "
                             f"{', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''}")
    entries = {"G": G, "step": int(step), "config": dict(config)}
    if given:
        entries.update(training)
    if G_ema is not None:
        entries["G_ema"] = G_ema
    if averaged_steps is not None:
        entries["averaged_steps"] = [int(s) for s in averaged_steps]
    _save(path, **entries)


def _nonfinite(module):
    """The names of the module's parameters and float buffers that hold a NaN or an inf."""
    state = module.state_dict()
    return [name for name, value in state.items()
            if value.dtype.kind == "f" and not bool(backend.get_array_module(value)
                                                    .isfinite(value).all())]


# --- reading ------------------------------------------------------------------------------------

def load(path, device="cpu", resumable=False):
    """Read a run's checkpoint and check what it holds.

    Args:
        path: the file, or what :func:`minigan.load` returned for one (then named "the
            checkpoint" in messages).
        device: where its arrays go.
        resumable: also require D, both optimisers and the data order.

    Returns:
        The dict of its entries (see the module docstring).

    Raises:
        FileNotFoundError: no such file.
        minigan.CheckpointError: a damaged file, a missing entry, a config without ``arch`` and
            ``latent_dim``, or an ``arch`` that is not a preset of minigan.models; the message
            names the file.
    """
    where = _where(path)
    if isinstance(path, dict):
        run = path
    else:
        if os.path.isdir(where):
            raise CheckpointError(f"{where}: a directory, not a checkpoint file")
        run = _load(path, device=device)
    config = run.get("config")
    if not isinstance(config, dict) or "G" not in run or "step" not in run:
        raise CheckpointError(f"{where}: not a training run's checkpoint (it needs G, step and "
                              f"a config)")
    arch, latent_dim = config.get("arch"), config.get("latent_dim")
    if arch in REPLACED_PRESETS:
        raise CheckpointError(f"{where}: trained with the preset {arch!r}, which minigan.models "
                              f"no longer has; it is now the recipe "
                              f"{REPLACED_PRESETS[arch]}")
    if arch not in models.SPECS:
        raise CheckpointError(f"{where}: its config names the architecture {arch!r}, not one "
                              f"of minigan.models.names()")
    if not _is_int(latent_dim, 1):
        raise CheckpointError(f"{where}: its config has no valid latent_dim ({latent_dim!r})")
    num_classes = config.get("num_classes")
    if num_classes is not None and not (_is_int(num_classes, 2)
                                        and models.SPECS[arch].conditioning):
        raise CheckpointError(f"{where}: its config's num_classes {num_classes!r} is not a "
                              f"number of classes that {arch} can be conditioned on")
    step = run["step"]
    if not _is_int(step, 0):
        raise CheckpointError(f"{where}: its step is {step!r}, not a count of steps")
    if resumable:
        missing = [name for name in TRAINING_ENTRIES if name not in run]
        if missing:
            raise CheckpointError(f"{where}: has no {', '.join(missing)}, so training cannot "
                                  f"resume from it (an average of checkpoints keeps only G)")
        _check_d_is_current(config, where)
    return run


def load_generator(checkpoint, device="cpu", average=None, conditional=None):
    """The generator of a run's checkpoint, ready to sample (in eval mode).

    Args:
        checkpoint: the path of a checkpoint, or what :func:`load` returned for one.
        average: which weights: True for the moving average of G's weights (``G_ema``), False
            for G's own, None for the average where the checkpoint has one.
        conditional: True where the caller will give G labels (a checkpoint of an
            unconditional GAN is then refused), False where it cannot (a conditional one is
            refused), None for either: a conditional G is called ``G(z, labels)``.

    Returns:
        ``(G, info)``: the module, and ``{"arch", "latent_dim", "step", "average",
        "averaged_steps", "recipe", "num_classes"}``: ``average`` says which weights were
        taken, ``averaged_steps`` is the list of steps averaged (None for a checkpoint of one
        step), ``num_classes`` is K for a conditional G, else None.

    Raises:
        minigan.CheckpointError: as :func:`load`, and when the weights asked for are missing,
            do not fit the preset, or are not finite, or the checkpoint is (or is not) of a
            conditional GAN against ``conditional``.
    """
    run = load(checkpoint, device)
    where = _where(checkpoint)
    config = run["config"]
    _check_conditional(config, conditional, where, "G")
    has_average = "G_ema" in run
    if average and not has_average:
        raise CheckpointError(f"{where}: has no moving average of G's weights (G_ema); its run "
                              f"kept none")
    use_average = has_average if average is None else bool(average)
    arch, latent_dim = config["arch"], config["latent_dim"]
    num_classes = config.get("num_classes")
    G, _ = models.build(arch, latent_dim, device=device, num_classes=num_classes)
    try:
        if use_average:
            ema = EMA(G)
            ema.load_state_dict(run["G_ema"])
            G = ema.module
        else:
            G.load_state_dict(run["G"])
    except (StateDictError, ValueError) as e:
        raise CheckpointError(f"{where}: its {'G_ema' if use_average else 'G'} does not fit "
                              f"{arch}'s generator: {_first_line(e)}") from None
    bad = _nonfinite(G)
    if bad:
        raise CheckpointError(f"{where}: its generator has non-finite weights ({bad[0]}): the "
                              f"run diverged before this checkpoint was written")
    G.eval()                                        # batch norm on its running statistics
    return G, {"arch": arch, "latent_dim": latent_dim, "step": run["step"],
               "average": use_average, "averaged_steps": run.get("averaged_steps"),
               "recipe": config.get("recipe"), "num_classes": num_classes}


def load_discriminator(checkpoint, device="cpu", discriminator=None, conditional=None):
    """The discriminator of a run's checkpoint, in eval mode.

    Eval mode switches off D's dropout and puts its batch norm on the running statistics, so
    each image gets a logit of its own, independent of the rest of its batch.

    Args:
        checkpoint: the path of a checkpoint, or what :func:`load` returned for one.
        discriminator: for a run whose ``recipe`` built its own D: a callable that builds that
            D (as given to ``minigan.models.build``). None: the preset's D.
        conditional: as for :func:`load_generator`; a conditional D is called ``D(x, labels)``.

    Returns:
        ``(D, info)``: the module and ``{"arch", "recipe", "step", "num_classes"}``.
    """
    run = load(checkpoint, device)
    where = _where(checkpoint)
    config = run["config"]
    recipe = config.get("recipe")
    _check_conditional(config, conditional, where, "D")
    if "D" not in run:
        raise CheckpointError(f"{where}: has no discriminator (an average of checkpoints keeps "
                              f"only G)")
    _check_d_is_current(config, where)
    _, D = models.build(config["arch"], config["latent_dim"], device=device,
                        discriminator=discriminator, num_classes=config.get("num_classes"))
    try:
        D.load_state_dict(run["D"])
    except StateDictError as e:
        whose = f"the recipe {recipe!r}" if recipe else config["arch"]
        hint = " (pass the recipe's)" if recipe and discriminator is None else ""
        raise CheckpointError(f"{where}: its D does not fit {whose}'s discriminator{hint}: "
                              f"{_first_line(e)}") from None
    D.eval()
    return D, {"arch": config["arch"], "recipe": recipe, "step": run["step"],
               "num_classes": config.get("num_classes")}


def _is_int(value, minimum):
    """Whether a config or step value read from the file is an int (not a bool) >= minimum."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _where(checkpoint):
    return "the checkpoint" if isinstance(checkpoint, dict) else os.fspath(checkpoint)


def _first_line(error):
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _check_conditional(config, conditional, where, network):
    """Refuse a conditional network where no labels can be given, and the other way round."""
    num_classes = config.get("num_classes")
    if conditional is False and num_classes is not None:
        raise CheckpointError(f"{where}: a conditional GAN's checkpoint ({num_classes} "
                              f"classes): its {network} needs the class of each image, "
                              f"{network}({'z' if network == 'G' else 'x'}, labels)")
    if conditional and num_classes is None:
        raise CheckpointError(f"{where}: an unconditional GAN's checkpoint: its {network} takes "
                              f"no labels")


def _check_d_is_current(config, where):
    """Refuse a run whose D was wrapped by a setting that is now a recipe."""
    for key, recipe in (("pack", "pacgan.py"), ("input_dropout", "input_dropout.py")):
        if config.get(key) not in (None, 0, 1):
            raise CheckpointError(f"{where}: its D was trained with {key} = {config[key]}, "
                                  f"which is now the recipe examples/recipes/{recipe}")
