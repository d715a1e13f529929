"""MNIST: read the canonical IDX files, download them with checksums, scale and batch them.

    from minigan.data import mnist
    images, labels = mnist.load_mnist("train")      # uint8 (60000, 28, 28), uint8 (60000,)
    x = mnist.scale(images, range=(-1, 1))          # float32 (60000, 1, 28, 28), for a tanh G
    for xb, yb in mnist.Batches(x, labels, batch_size=64, seed=0):
        ...                                         # one shuffled epoch, reproducible from seed

Where the files are looked for, in order (the first directory holding both files of a split
wins; each file may be gzipped, ``name.gz``, or raw, ``name``):

1. ``data_dir``, when given (the examples' ``--data-dir``);
2. the directory in the ``MINIGAN_DATA`` environment variable;
3. the cache, ``$XDG_CACHE_HOME/minigan/mnist`` (default ``~/.cache/minigan/mnist``).

If none holds them and ``download=True``, the four ``.gz`` files are fetched from the first
mirror that answers, each checked against its published size, md5 and sha256, into ``data_dir``
(when given) or the cache. A file is written to a temporary name and renamed into place only
after its checksums match, so an interrupted or corrupt download never leaves a file behind
that looks complete.

The IDX format (http://yann.lecun.com/exdb/mnist/): a big-endian header, then the values::

    magic   4 bytes: 0x00 0x00 <type code> <number of dimensions>   (images 0x803, labels 0x801)
    dims    4 bytes each (big-endian uint32): N, then 28, 28 for images
    data    prod(dims) values of the type, row-major

Every file read is checked: magic, header, payload length against the header's dimensions,
image and label counts against each other. A file that fails raises :class:`MNISTError` naming
the file and what is wrong with it. Tests: tests/test_mnist.py.
"""

import gzip
import hashlib
import math
import os
import tempfile
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from .. import backend
from ..io import open_regular_file

ENV_VAR = "MINIGAN_DATA"

# The canonical files and what was published about them: size in bytes, md5, sha256 of the .gz.
CHECKSUMS = {
    "train-images-idx3-ubyte.gz": (
        9912422, "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    "train-labels-idx1-ubyte.gz": (
        28881, "d53e105ee54ea40749a09fcbcd1e9432",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    "t10k-images-idx3-ubyte.gz": (
        1648877, "9fb629c4189551a2d022fa330f9573f3",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    "t10k-labels-idx1-ubyte.gz": (
        4542, "ec29112dd5afa0611ce80d1b7f02629c",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
}

# Tried in order. The original site has been known to refuse downloads, so it comes last.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

# split -> (images file, labels file), names without the .gz suffix
SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049  # 0x00000803 and 0x00000801

# IDX type codes (third byte of the magic) -> big-endian NumPy dtypes
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class MNISTError(ValueError):
    """An MNIST file is corrupt or does not match what it should be (the message says which
    file and why)."""


class MNISTNotFoundError(MNISTError):
    """The MNIST files are in none of the places looked at, and could not be downloaded."""


# --- reading ---------------------------------------------------------------------------------

# The most bytes of values read_idx accepts from one file by default: the MNIST training images
# are 47 MB; a header that promises more is refused before anything is read.
MAX_IDX_BYTES = 1 << 30


def _payload(stream, path, max_bytes):
    """Read and check the IDX header from ``stream``; return (dtype, shape, the values' bytes).
    Reads at most the header, the promised bytes and one more (to see a file too long)."""
    head = stream.read(4)
    if len(head) < 4:
        raise MNISTError(f"{path}: truncated: {len(head)} bytes, too short for an IDX header")
    zero, code, ndim = head[:2], head[2], head[3]
    if zero != b"\x00\x00" or code not in _IDX_DTYPES or ndim == 0:
        magic = int.from_bytes(head, "big")
        raise MNISTError(f"{path}: wrong magic number {magic} (0x{magic:08x}); an IDX file "
                         f"starts with 0x0000, a type code and a number of dimensions, e.g. "
                         f"{IMAGE_MAGIC} for images and {LABEL_MAGIC} for labels")
    header = 4 + 4 * ndim
    dims = stream.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise MNISTError(f"{path}: truncated: {4 + len(dims)} bytes, shorter than the "
                         f"{header}-byte header of a {ndim}-dimensional IDX file")
    shape = tuple(int.from_bytes(dims[4 * i: 4 * i + 4], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow for any header
    if expected > max_bytes:
        raise MNISTError(f"{path}: the header promises shape {shape}, {expected:,} bytes of "
                         f"data, more than the {max_bytes:,} bytes read_idx accepts "
                         f"(max_bytes)")
    data = stream.read(expected + 1)
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "too long"
        found = f"{len(data)} bytes follow it" if len(data) < expected else "more bytes follow it"
        raise MNISTError(f"{path}: {what}: the header promises shape {shape}, {expected} bytes "
                         f"of data, but {found}")
    return dtype, shape, data


def read_idx(path, max_bytes=MAX_IDX_BYTES):
    """Read one IDX file (raw or gzipped) into a NumPy array of its native dtype and shape.

    Only a regular file is read (a FIFO or a device is refused), and never more than the
    header promises: at most ``max_bytes`` of values, however the file is compressed.

    Raises:
        MNISTError: naming the file, for a bad gzip stream, an unknown magic number, a payload
            whose length does not match the header, or a header that promises more than
            ``max_bytes``.
    """
    path = Path(path)
    with open_regular_file(path, lambda why: MNISTError(f"{path}: {why}"),
                           f"{path}: no such file") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
        f.seek(0)
        if not gzipped and path.suffix == ".gz":
            raise MNISTError(f"{path}: not a gzip file (it does not start with the gzip magic "
                             f"bytes 1f 8b)")
        if not gzipped:
            dtype, shape, data = _payload(f, path, max_bytes)
        else:
            try:  # decompressed as it is read: only as far as the header's promise
                dtype, shape, data = _payload(gzip.GzipFile(fileobj=f), path, max_bytes)
            except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
                raise MNISTError(f"{path}: bad gzip data ({type(e).__name__}: {e}); the file "
                                 f"is corrupt or truncated, delete it and download it "
                                 f"again") from None
    array = np.frombuffer(data, dtype=dtype).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # native byte order; also a writable copy


def _split_names(split):
    if split not in SPLITS:
        raise ValueError(f"unknown MNIST split {split!r}; expected 'train' or 'test'")
    return SPLITS[split]


def _file_in(directory, name):
    """``directory/name.gz`` or ``directory/name``, whichever exists (the .gz first), or None."""
    for candidate in (Path(directory) / (name + ".gz"), Path(directory) / name):
        if candidate.is_file():
            return candidate
    return None


def read_split(directory, split="train", verify=False):
    """Images and labels of ``split`` from the IDX files in ``directory``, checked.

    Args:
        directory: holds the two files of the split, gzipped or raw.
        split: ``"train"`` or ``"test"``.
        verify: also check each ``.gz`` file against the published size, md5 and sha256.

    Returns:
        ``(images, labels)``: uint8 arrays of shapes ``(N, 28, 28)`` and ``(N,)``.
    """
    paths = []
    for name in _split_names(split):
        path = _file_in(directory, name)
        if path is None:
            raise MNISTNotFoundError(f"{Path(directory) / name}(.gz): no such file")
        if verify and path.suffix == ".gz":
            verify_file(path)
        paths.append(path)
    images, labels = (read_idx(p) for p in paths)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise MNISTError(f"{paths[0]}: expected uint8 images of shape (N, 28, 28) "
                         f"(magic {IMAGE_MAGIC}), got {images.dtype} of shape {images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise MNISTError(f"{paths[1]}: expected uint8 labels of shape (N,) (magic "
                         f"{LABEL_MAGIC}), got {labels.dtype} of shape {labels.shape}")
    if len(images) != len(labels):
        raise MNISTError(f"{paths[0]} holds {len(images)} images but {paths[1]} holds "
                         f"{len(labels)} labels; the counts must match")
    if labels.size and labels.max() > 9:
        raise MNISTError(f"{paths[1]}: label {int(labels.max())} is not a digit 0-9")
    return images, labels


# --- checksums and download --------------------------------------------------------------------

def _digests(path):
    md5, sha256, size = hashlib.md5(), hashlib.sha256(), 0
    with open_regular_file(path, lambda why: MNISTError(f"{path}: {why}")) as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            md5.update(chunk)
            sha256.update(chunk)
            size += len(chunk)
    return size, md5.hexdigest(), sha256.hexdigest()


def _mismatch(path, expected):
    """A description of how ``path`` differs from ``(size, md5, sha256)``, or "" if it does not."""
    got = _digests(path)
    problems = [f"{what} is {g}, expected {e}"
                for what, g, e in zip(("size", "md5", "sha256"), got, expected) if g != e]
    return "; ".join(problems)


def verify_file(path, checksums=None):
    """Check a canonical ``.gz`` file against its published size, md5 and sha256.

    Args:
        path: a file named like one of :data:`CHECKSUMS`' keys.
        checksums: ``{name: (size, md5, sha256)}``; default :data:`CHECKSUMS`.

    Raises:
        MNISTError: naming the file and each value that differs.
    """
    path = Path(path)
    checksums = CHECKSUMS if checksums is None else checksums
    if path.name not in checksums:
        raise MNISTError(f"{path}: no published checksum for a file of this name")
    problem = _mismatch(path, checksums[path.name])
    if problem:
        raise MNISTError(f"{path}: checksum mismatch: {problem}")


def default_cache_dir():
    """``$XDG_CACHE_HOME/minigan/mnist``, or ``~/.cache/minigan/mnist``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "minigan" / "mnist"


def _fetch(url, target, expected, timeout):
    """Download ``url`` to ``target`` through a temporary file in the same directory, renamed
    into place only when size, md5 and sha256 match ``expected``. Raises OSError or MNISTError;
    leaves nothing behind on failure."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as src:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                out.write(chunk)
        problem = _mismatch(tmp, expected)
        if problem:
            raise MNISTError(f"{url}: checksum mismatch: {problem}")
        os.replace(tmp, target)  # atomic on POSIX and Windows: never a half-written target
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def download_mnist(directory=None, splits=("train", "test"), mirrors=MIRRORS, checksums=None,
                   timeout=30.0):
    """Download the ``.gz`` files of ``splits`` into ``directory``, verifying each.

    Files already there with the right checksums are kept. Each file is tried on every mirror
    in turn until one delivers it with matching size, md5 and sha256.

    Args:
        directory: where to put the files; default :func:`default_cache_dir`.
        splits: which splits to fetch.
        mirrors: base URLs (ending in ``/``), tried in order; ``file://`` URLs work too.
        checksums: ``{name.gz: (size, md5, sha256)}``; default the published :data:`CHECKSUMS`.
        timeout: seconds to wait for a mirror to answer.

    Returns:
        The directory, as a Path.

    Raises:
        MNISTError: when no mirror delivers a file intact, with what each mirror answered.
    """
    directory = Path(default_cache_dir() if directory is None else directory)
    checksums = CHECKSUMS if checksums is None else checksums
    directory.mkdir(parents=True, exist_ok=True)
    for split in splits:
        for name in _split_names(split):
            name += ".gz"
            target = directory / name
            if target.is_file() and not _mismatch(target, checksums[name]):
                continue
            failures = []
            for mirror in mirrors:
                try:
                    _fetch(mirror + name, target, checksums[name], timeout)
                    break
                except (OSError, ValueError) as e:  # URLError, HTTPError, timeouts, MNISTError
                    failures.append(f"  {mirror + name}: {e}")
            else:
                raise MNISTError(f"could not download {name} into {directory}; every mirror "
                                 f"failed:\n" + "\n".join(failures))
    return directory


# --- finding and loading -----------------------------------------------------------------------

def _places(data_dir):
    """The directories to look in, in order, with a label for messages."""
    places = []
    if data_dir is not None:
        places.append(("data_dir", Path(data_dir)))
    env = os.environ.get(ENV_VAR)
    if env:
        places.append((f"${ENV_VAR}", Path(env)))
    places.append(("cache", default_cache_dir()))
    return places


def find_mnist(data_dir=None, split="train"):
    """The first directory, in lookup order, that holds both files of ``split``; else None.

    The order: ``data_dir``, then ``$MINIGAN_DATA`` (relative paths are relative to the current
    directory), then :func:`default_cache_dir`.
    """
    names = _split_names(split)
    for _, directory in _places(data_dir):
        if all(_file_in(directory, name) is not None for name in names):
            return directory
    return None


def _not_found_message(data_dir, split, reason):
    looked = "\n".join(f"  {label}: {directory}" for label, directory in _places(data_dir))
    if os.environ.get(ENV_VAR) is None:
        looked += f"\n  (${ENV_VAR} is not set)"
    files = ", ".join(name + ".gz" for name in _split_names(split))
    return (f"MNIST {split} files not found. Looked in:\n{looked}\n{reason}\n"
            f"Put {files} (gzipped or not) in one of these directories, or in any directory and "
            f"point the {ENV_VAR} environment variable (or data_dir / --data-dir) at it. "
            f"Mirrors: {', '.join(MIRRORS)}")


def load_mnist(split="train", data_dir=None, download=True, verify=False, mirrors=MIRRORS,
               checksums=None):
    """Load an MNIST split as uint8 arrays, downloading it first if it is nowhere to be found.

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000).
        data_dir: a directory to look in first (see the module docstring for the order).
        download: when the files are nowhere, download them into ``data_dir`` (if given) or the
            cache.
        verify: check the ``.gz`` files against their published checksums also when they are
            read from a directory (downloads are always checked).
        mirrors, checksums: passed to :func:`download_mnist`.

    Returns:
        ``(images, labels)``: uint8 arrays of shapes ``(N, 28, 28)`` and ``(N,)``.

    Raises:
        MNISTNotFoundError: no files and no download (the message says where to put them).
        MNISTError: a file is corrupt (the message names it).
    """
    directory = find_mnist(data_dir, split)
    if directory is None:
        if not download:
            raise MNISTNotFoundError(_not_found_message(
                data_dir, split, "Downloading is off (download=False)."))
        try:
            directory = download_mnist(data_dir, splits=(split,), mirrors=mirrors,
                                       checksums=checksums)
        except MNISTError as e:
            raise MNISTNotFoundError(_not_found_message(
                data_dir, split, f"Downloading failed (no network?):\n{e}")) from None
    return read_split(directory, split, verify=verify)


# --- preparing for training --------------------------------------------------------------------

def scale(images, range=(-1.0, 1.0), dtype=np.float32, device="cpu"):
    """uint8 images ``(N, 28, 28)`` as floats ``(N, 1, 28, 28)`` in ``range``.

    ``(-1, 1)`` matches a generator with a tanh output; ``(0, 1)`` one with a sigmoid output.
    The uint8 array is moved first and converted on ``device``: a quarter of the bytes travel.
    """
    low, high = range
    x = backend.to_device(np.asarray(images), device)
    xp = backend.get_array_module(x)
    x = x.astype(dtype) * xp.asarray((high - low) / 255.0, dtype=dtype) + xp.asarray(low, dtype)
    return x.reshape(x.shape[0], 1, *x.shape[1:])  # (N, 1, 28, 28): one channel


class Batches:
    """Shuffled minibatches of one or more arrays, reproducible and resumable.

    Epoch ``e`` visits the examples in the order ``default_rng([seed, e]).permutation(N)``: a
    Generator seeded by the pair, so any epoch's order can be recomputed without replaying the
    ones before it. The whole state is therefore three integers (seed, epoch, position), which
    :meth:`state_dict` returns for a checkpoint and :meth:`load_state_dict` restores.

    Iterating yields the rest of the current epoch (a tuple of batches when several arrays were
    given, else one batch), then moves to the next epoch. Arrays may be NumPy or CuPy; indices
    are moved to the arrays' device once per epoch.

    Args:
        *arrays: arrays with the same first dimension N.
        batch_size: examples per batch.
        seed: the base seed.
        shuffle: False visits the examples in order.
        drop_last: drop the last, smaller batch of each epoch (keeps every batch the same shape).
    """

    def __init__(self, *arrays, batch_size, seed=0, shuffle=True, drop_last=True):
        if not arrays:
            raise ValueError("Batches needs at least one array")
        n = len(arrays[0])
        for a in arrays[1:]:
            if len(a) != n:
                raise ValueError(f"Batches: arrays of different lengths {[len(a) for a in arrays]}")
        if batch_size < 1:
            raise ValueError(f"Batches: batch_size must be positive, got {batch_size}")
        self.arrays, self.n, self.batch_size = arrays, n, int(batch_size)
        self.seed, self.shuffle, self.drop_last = int(seed), shuffle, drop_last
        self.epoch, self.position = 0, 0  # position: batches already yielded in this epoch

    def __len__(self):
        """Batches per epoch."""
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)

    def order(self, epoch):
        """The permutation of example indices visited in ``epoch`` (a NumPy array)."""
        if not self.shuffle:
            return np.arange(self.n)
        return np.random.default_rng([self.seed, int(epoch)]).permutation(self.n)

    def __iter__(self):
        if self.position >= len(self):  # the previous loop stopped right after the last batch
            self.epoch, self.position = self.epoch + 1, 0
        xp = backend.get_array_module(*self.arrays)
        order = xp.asarray(self.order(self.epoch))
        while self.position < len(self):
            idx = order[self.position * self.batch_size:(self.position + 1) * self.batch_size]
            self.position += 1  # counted before the yield: a consumer that stops has used it
            batch = tuple(a[idx] for a in self.arrays)
            yield batch if len(batch) > 1 else batch[0]
        self.epoch, self.position = self.epoch + 1, 0

    def state_dict(self):
        """``{"seed", "epoch", "position"}``: everything needed to resume (ints, for .npz)."""
        return {"seed": self.seed, "epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state):
        self.seed, self.epoch, self.position = (int(state[k]) for k in ("seed", "epoch",
                                                                        "position"))


def batches(*arrays, batch_size, seed=0, shuffle=True, drop_last=True):
    """:class:`Batches` (a shorthand): ``for xb in batches(x, batch_size=64, seed=0): ...``."""
    return Batches(*arrays, batch_size=batch_size, seed=seed, shuffle=shuffle,
                   drop_last=drop_last)
