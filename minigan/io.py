"""Checkpoints: modules, optimisers and plain values in one .npz file, without pickle.

    minigan.save("ckpt.npz", G=G, D=D, opt_G=opt_G, step=1200, config=cfg,
                 rng=rng.bit_generator.state)
    ckpt = minigan.load("ckpt.npz")
    G.load_state_dict(ckpt["G"]); opt_G.load_state_dict(ckpt["opt_G"]); step = ckpt["step"]

The file is an ordinary NumPy .npz (a zip of .npy members), readable with
``np.load(path, allow_pickle=False)``:

* ``__minigan__.npy`` -- a uint8 array holding UTF-8 JSON metadata: the format name and
  version, and for every saved name its kind and its value in JSON, with each array replaced by
  a reference ``{"__ndarray__": "<member>"}`` to the member that holds it.
* one member per array, named ``<name>/<key>`` ("G/0.weight", "opt_G/state.0.exp_avg",
  "rng/state/key"), or ``<name>`` for an array saved on its own.

Loading never unpickles anything, so a checkpoint from elsewhere cannot run code. Writing is
atomic: the file appears at ``path`` complete or not at all. docs/checkpoints.md describes the
format; tests/test_io.py proves the round trips and the failure modes.
"""

import json
import os
import tempfile
import zipfile

import numpy as np

from . import backend
from .optim import Optimizer
from .tensor import Tensor

__all__ = ["save", "load", "CheckpointError", "FORMAT_VERSION"]

FORMAT = "minigan-checkpoint"
FORMAT_VERSION = 1
META = "__minigan__"
# Markers inside the JSON; a user dict may not use them as keys.
_ARRAY, _TENSOR, _TUPLE = "__ndarray__", "__tensor__", "__tuple__"
_MARKERS = (_ARRAY, _TENSOR, _TUPLE)


class CheckpointError(Exception):
    """A checkpoint file is truncated, corrupt, or not a minigan checkpoint of a known version."""


# --- saving ---------------------------------------------------------------------------------
def save(path, /, **named):
    """Save modules, optimisers, arrays and plain values under their names in one .npz file.

    Args:
        path: the file to write (written exactly there; no suffix is added).
        **named: the things to save. An object with ``state_dict()`` (a Module, an optimiser) is
            stored as its state dict; an array (NumPy or CuPy) or Tensor as an array, copied to
            the host; anything else must be a plain value: None, bool, int, float, str, and
            lists, tuples and str-keyed dicts of these and of arrays (a config, a
            ``Generator.bit_generator.state``).

    The write is atomic: everything is encoded first, written to a temporary file in the same
    directory, flushed to disk, then renamed over ``path``. A crash at any point leaves the
    previous file at ``path`` intact.
    """
    if not named:
        raise ValueError("minigan.save: nothing to save; pass things by name, "
                         "e.g. save(path, G=G, step=step)")
    path = os.fspath(path)
    arrays = {}  # member name -> host array
    entries = {}
    for name, obj in named.items():
        if name == META or name.startswith(META + "/"):
            raise ValueError(f"minigan.save: the name {META!r} is reserved")
        entries[name] = _encode_entry(name, obj, arrays)
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "entries": entries}
    meta_bytes = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    _write_atomic(path, {META: meta_bytes, **arrays})


def _encode_entry(name, obj, arrays):
    if callable(getattr(obj, "state_dict", None)) and not isinstance(obj, type):
        state = obj.state_dict()
        if not all(isinstance(k, str) for k in state):
            raise TypeError(f"minigan.save: {name!r}.state_dict() has non-string keys")
        # Tensors inside a state dict are stored as plain arrays: state dicts hold arrays.
        state = {k: v.data if isinstance(v, Tensor) else v for k, v in state.items()}
        kind = ("optimizer" if isinstance(obj, Optimizer) else
                "module" if callable(getattr(obj, "parameters", None)) else "state_dict")
        return {"kind": kind, "class": type(obj).__name__,
                "value": _encode(state, name, arrays, name)}
    return {"kind": "value", "value": _encode(obj, name, arrays, name)}


def _encode(obj, member, arrays, where):
    """``obj`` as JSON-ready data; arrays go to ``arrays`` under a member name based on
    ``member``. ``where`` names the value in error messages (e.g. "config['lr']")."""
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj  # json writes repr(float), which reads back bit-identically (nan and inf too)
    if isinstance(obj, Tensor):
        return {_TENSOR: _add_array(obj.data, member, arrays, where),
                "requires_grad": obj.requires_grad}
    if backend.is_array(obj) or isinstance(obj, np.generic):
        ref = {_ARRAY: _add_array(obj, member, arrays, where)}
        if isinstance(obj, np.generic):
            ref["scalar"] = True
        return ref
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, f"{member}/{i}", arrays, f"{where}[{i}]") for i, v in enumerate(obj)]
        return {_TUPLE: items} if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise TypeError(f"minigan.save: {where} has a key {k!r} of type "
                                f"{type(k).__name__}; only str keys can be saved")
            if k in _MARKERS:
                raise TypeError(f"minigan.save: {where} uses the reserved key {k!r}")
            out[k] = _encode(v, f"{member}/{k}", arrays, f"{where}[{k!r}]")
        return out
    raise TypeError(
        f"minigan.save: cannot save {where} of type {type(obj).__name__}; save objects with "
        f"state_dict(), arrays, Tensors, or None/bool/int/float/str and lists/dicts of them")


def _add_array(a, member, arrays, where):
    a = np.asarray(backend.to_numpy(a))
    if a.dtype.hasobject:
        raise TypeError(f"minigan.save: {where} is an array of Python objects, which would "
                        f"need pickle; convert it to a numeric or string dtype")
    name, n = member, 1
    while name in arrays or name == META:
        name, n = f"{member}~{n}", n + 1
    arrays[name] = a
    return name


def _write_atomic(path, members):
    """Write ``members`` as .npy files in a zip at ``path``, atomically (temp file + rename)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                               dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
                for name, a in members.items():
                    with zf.open(name + ".npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, a, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file private (0600)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_directory(directory):
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- loading --------------------------------------------------------------------------------
def load(path, device="cpu"):
    """Read a checkpoint written by :func:`save`.

    Args:
        path: the checkpoint file.
        device: where arrays of state dicts, arrays saved on their own and Tensors go ("cpu"
            or "cuda"). Arrays nested in plain values (a random generator's state) stay NumPy.

    Returns:
        A dict ``name -> value`` in the order saved: a state dict (a dict ``key -> array or
        value``, ready for ``load_state_dict``) for each module or optimiser, else the value.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: the file is truncated, corrupt, not a minigan checkpoint, or of an
            unsupported format version; the message names the file and says why.
    """
    path = os.fspath(path)
    backend.check_device(device)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path!r}")

    def fail(why):
        return CheckpointError(f"cannot load checkpoint {path!r}: {why}")

    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise fail("not a zip (.npz) archive; the file is truncated or not a checkpoint") from None
    except Exception as e:  # any other complaint of zipfile about damaged bytes
        raise fail(f"cannot open it as a zip archive ({type(e).__name__}: {e})") from None
    with zf:
        members = {n[:-4]: n for n in zf.namelist() if n.endswith(".npy")}
        if META not in members:
            raise fail(f"no {META!r} metadata member; it is an .npz file but not a minigan "
                       f"checkpoint")
        meta_array = _read_member(zf, members[META], fail)
        try:
            meta = json.loads(meta_array.tobytes().decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise fail(f"the metadata is not valid JSON ({e})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise fail(f"the metadata does not describe a {FORMAT!r}")
        version = meta.get("version")
        if version != FORMAT_VERSION:
            newer = isinstance(version, int) and version > FORMAT_VERSION
            raise fail(f"format version {version!r} is not supported (this minigan reads "
                       f"version {FORMAT_VERSION})" +
                       ("; it was written by a newer minigan" if newer else ""))
        entries = meta.get("entries")
        if not isinstance(entries, dict):
            raise fail("the metadata has no 'entries' table")

        def array(member):
            if member not in members:
                raise fail(f"the array member {member!r} is missing")
            return _read_member(zf, members[member], fail)

        out = {}
        for name, entry in entries.items():
            if not isinstance(entry, dict) or "value" not in entry:
                raise fail(f"the metadata entry for {name!r} is malformed")
            # State dicts' arrays and an array saved on its own go to `device`.
            to_device = entry.get("kind") != "value" or _is_ref(entry["value"])
            try:
                out[name] = _decode(entry["value"], array, device, to_device)
            except CheckpointError:
                raise
            except (TypeError, KeyError, ValueError) as e:
                raise fail(f"the metadata entry for {name!r} is malformed ({e})") from None
    return out


def _read_member(zf, name, fail):
    try:
        with zf.open(name) as f:
            return np.lib.format.read_array(f, allow_pickle=False)
    except Exception as e:  # zipfile's CRC and header checks, NumPy's .npy header parser
        raise fail(f"member {name!r} is corrupt ({type(e).__name__}: {e})") from None


def _decode(obj, array, device, to_device):
    """Invert :func:`_encode`. ``to_device``: move plain arrays to ``device`` (state dicts and
    top-level arrays); Tensors always go to ``device``."""
    if isinstance(obj, list):
        return [_decode(v, array, device, False) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if _ARRAY in obj:
        a = array(obj[_ARRAY])
        if obj.get("scalar"):
            return a[()]
        return backend.to_device(a, device) if to_device else a
    if _TENSOR in obj:
        return Tensor(array(obj[_TENSOR]), requires_grad=obj["requires_grad"], device=device)
    if _TUPLE in obj:
        return tuple(_decode(v, array, device, False) for v in obj[_TUPLE])
    # A state dict's arrays go to `device`; nested values below it stay as they are.
    return {k: _decode(v, array, device, to_device and _is_ref(v)) for k, v in obj.items()}


def _is_ref(v):
    return isinstance(v, dict) and (_ARRAY in v or _TENSOR in v)
