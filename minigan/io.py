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
import math
import os
import re
import stat
import tempfile
import zipfile

import numpy as np

from . import backend
from .optim import Optimizer
from .tensor import Tensor, array_of

__all__ = ["save", "load", "CheckpointError", "FORMAT_VERSION"]

FORMAT = "minigan-checkpoint"
FORMAT_VERSION = 1
META = "__minigan__"
# Markers inside the JSON; a user dict may not use them as keys.
_ARRAY, _TENSOR, _TUPLE = "__ndarray__", "__tensor__", "__tuple__"
_MARKERS = (_ARRAY, _TENSOR, _TUPLE)
# How deeply lists, tuples and dicts may nest in a saved value. save refuses deeper values (a
# list that contains itself would never end), so load refuses deeper metadata as corrupt.
MAX_DEPTH = 64
# The same limit in JSON containers: a tuple is two ({"__tuple__": [...]}), an array one more,
# and the metadata's own levels (the table, entries, an entry) three.
_MAX_JSON_DEPTH = 2 * MAX_DEPTH + 8


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
    path = _target_path(path)
    arrays = {}  # member name -> host array
    entries = {}
    for name, obj in named.items():
        if name == META:
            raise ValueError(f"minigan.save: the name {META!r} is reserved")
        if not name.isidentifier():  # they become member names: no "../x", no "a/b"
            raise ValueError(f"minigan.save: {name!r} is not a valid name; names must be "
                             f"Python identifiers (letters, digits and _), like keyword "
                             f"arguments")
        entries[name] = _encode_entry(name, obj, arrays)
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "entries": entries}
    meta_bytes = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    _write_atomic(path, {META: meta_bytes, **arrays})


def _target_path(path):
    """``path`` as a string naming a file (not a directory) in a directory that exists."""
    path = os.fspath(path)
    if not isinstance(path, str):
        path = os.fsdecode(path)
    if not path:
        raise ValueError("minigan.save: the path is empty; give a file path such as 'ckpt.npz'")
    if path.endswith((os.sep, "/")) or os.path.isdir(path):
        raise IsADirectoryError(f"minigan.save: {path!r} is a directory; give a file path "
                                f"such as {os.path.join(path, 'ckpt.npz')!r}")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"minigan.save: the directory {directory!r} of {path!r} does "
                                f"not exist")
    return path


def _encode_entry(name, obj, arrays):
    if callable(getattr(obj, "state_dict", None)) and not isinstance(obj, type):
        state = obj.state_dict()
        if not all(isinstance(k, str) for k in state):
            raise TypeError(f"minigan.save: {name!r}.state_dict() has non-string keys")
        # Tensors inside a state dict are stored as plain arrays: state dicts hold arrays.
        state = {k: array_of(v) for k, v in state.items()}
        kind = ("optimizer" if isinstance(obj, Optimizer) else
                "module" if callable(getattr(obj, "parameters", None)) else "state_dict")
        return {"kind": kind, "class": type(obj).__name__,
                "value": _encode(state, name, arrays, name)}
    return {"kind": "value", "value": _encode(obj, name, arrays, name)}


def _encode(obj, member, arrays, where, depth=0):
    """``obj`` as JSON-ready data; arrays go to ``arrays`` under a member name based on
    ``member``. ``where`` names the value in error messages (e.g. "config['lr']")."""
    if depth > MAX_DEPTH:
        shown = where if len(where) <= 60 else where[:57] + "..."
        raise ValueError(f"minigan.save: {shown} is nested more than {MAX_DEPTH} levels deep "
                         f"(a list or dict that contains itself?)")
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
        items = [_encode(v, f"{member}/{i}", arrays, f"{where}[{i}]", depth + 1)
                 for i, v in enumerate(obj)]
        return {_TUPLE: items} if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise TypeError(f"minigan.save: {where} has a key {k!r} of type "
                                f"{type(k).__name__}; only str keys can be saved")
            if k in _MARKERS:
                raise TypeError(f"minigan.save: {where} uses the reserved key {k!r}")
            out[k] = _encode(v, f"{member}/{_member_part(k)}", arrays, f"{where}[{k!r}]",
                             depth + 1)
        return out
    raise TypeError(
        f"minigan.save: cannot save {where} of type {type(obj).__name__}; save objects with "
        f"state_dict(), arrays, Tensors, or None/bool/int/float/str and lists/dicts of them")


def _member_part(key):
    """A dict key as one component of a member name: letters, digits, ``_ . -`` only, never
    ``.`` or ``..``. The metadata, not the member name, records the key, so a key such as
    ``"../x"`` is saved and loaded unchanged; only its member is named ``.._x``."""
    part = re.sub(r"[^A-Za-z0-9_.-]", "_", key)
    return part if part.strip(".") else "_" + part


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

    def fail(why):
        return CheckpointError(f"cannot load checkpoint {path!r}: {why}")

    with open_regular_file(path, fail, f"no checkpoint at {path!r}") as f:
        return _load_zip(f, os.fstat(f.fileno()).st_size, device, fail)


def _load_zip(f, file_size, device, fail):
    try:
        zf = zipfile.ZipFile(f)
    except zipfile.BadZipFile:
        raise fail("not a zip (.npz) archive; the file is truncated or not a checkpoint") from None
    except Exception as e:  # any other complaint of zipfile about damaged bytes
        raise fail(f"cannot open it as a zip archive ({type(e).__name__}: {e})") from None
    with zf:
        _check_sizes(zf, file_size, fail)
        members = {n[:-4]: n for n in zf.namelist() if n.endswith(".npy")}
        if META not in members:
            raise fail(f"no {META!r} metadata member; it is an .npz file but not a minigan "
                       f"checkpoint")
        meta_array = _read_member(zf, members[META], fail)
        try:
            meta = json.loads(meta_array.tobytes().decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise fail(f"the metadata is not valid JSON ({e})") from None
        except RecursionError:
            raise fail(f"the metadata is nested too deeply (save allows {MAX_DEPTH} "
                       f"levels)") from None
        if _depth(meta) > _MAX_JSON_DEPTH:
            raise fail(f"the metadata is nested deeper than save writes it ({MAX_DEPTH} "
                       f"levels of values)")
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


def open_regular_file(path, fail, missing=None):
    """``path`` opened for binary reading, if it is a regular file.

    A FIFO would block the reader forever and a device such as /dev/zero never ends, so
    anything but a regular file raises ``fail(why)``. The file is opened without blocking and
    its type read from the open descriptor, so it cannot be swapped in between. A missing
    file raises FileNotFoundError (with the message ``missing``, when given).
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise FileNotFoundError(missing or f"no such file: {path!r}") from None
    except OSError as e:
        raise fail(f"cannot open it ({e.strerror})") from None
    kind = stat.S_IFMT(os.fstat(fd).st_mode)
    if kind != stat.S_IFREG:
        os.close(fd)
        what = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO (named pipe)",
                stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
                stat.S_IFSOCK: "a socket"}.get(kind, "not a regular file")
        raise fail(f"it is {what}, not a regular file")
    return os.fdopen(fd, "rb")


def _check_sizes(zf, file_size, fail):
    """Refuse an archive whose members would decompress to more bytes than the file holds.

    ``save`` stores members uncompressed, so a checkpoint's members add up to less than its
    own size. A larger total is a compressed archive or members that overlap: either way a
    small file that would fill the memory (a zip bomb). zipfile never returns more than a
    member's declared size, so checking the declared sizes bounds what is read.
    """
    total = sum(info.file_size for info in zf.infolist())
    if total > file_size:
        raise fail(f"its members would decompress to {total:,} bytes, more than the file's "
                   f"own {file_size:,}; minigan checkpoints store their members uncompressed")


def _read_member(zf, name, fail):
    """The array in the .npy member ``name``, after checking that its header's shape and dtype
    account for exactly the member's bytes (so a header cannot make us allocate more)."""
    try:
        info = zf.getinfo(name)
        with zf.open(info) as f:
            version = np.lib.format.read_magic(f)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f".npy format version {version} is not supported")
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0) else
                           np.lib.format.read_array_header_2_0)
            shape, fortran_order, dtype = read_header(f)
            if dtype.hasobject:
                raise ValueError("it holds Python objects, which only pickle could read")
            expected = math.prod(shape) * dtype.itemsize
            found = info.file_size - f.tell()
            if found != expected:
                raise ValueError(f"the header promises shape {shape} of {dtype}, "
                                 f"{expected:,} bytes, but {found:,} bytes follow it")
        with zf.open(info) as f:
            return np.lib.format.read_array(f, allow_pickle=False)
    except Exception as e:  # zipfile's CRC and header checks, NumPy's .npy header parser
        raise fail(f"member {name!r} is corrupt ({type(e).__name__}: {e})") from None


def _depth(obj):
    """How deeply lists and dicts nest in ``obj`` (0 for a number), without recursion."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        obj, depth = stack.pop()
        children = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, list) else ()
        if children:
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(obj, (dict, list)):
            deepest = max(deepest, depth)
    return deepest


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
