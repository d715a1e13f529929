"""MNIST loading: the IDX reader and its error messages, the checksummed download through a local
fake mirror, the lookup order, scaling, batches; and the real files when MINIGAN_DATA is set."""

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

from minigan.data import mnist
from minigan.data.mnist import MNISTError, MNISTNotFoundError
from tests.helpers import host

IMAGES, LABELS = mnist.SPLITS["train"]
T_IMAGES, T_LABELS = mnist.SPLITS["test"]


def idx_bytes(array, magic=None):
    """An IDX file's bytes for a uint8 array (magic 0x0000 08 ndim unless given)."""
    array = np.asarray(array, dtype=np.uint8)
    magic = 0x800 + array.ndim if magic is None else magic
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + array.tobytes()


def small_split(seed=0, n=7):
    gen = np.random.default_rng(seed)
    return (gen.integers(0, 256, size=(n, 28, 28), dtype=np.uint8),
            gen.integers(0, 10, size=n, dtype=np.uint8))


def write_split(directory, split="train", gz=True, seed=0, n=7):
    """Write a small, valid split into ``directory``; return its arrays."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    images, labels = small_split(seed, n)
    for name, array in zip(mnist.SPLITS[split], (images, labels)):
        data = idx_bytes(array)
        if gz:
            (directory / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (directory / name).write_bytes(data)
    return images, labels


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No MINIGAN_DATA, and a cache inside tmp_path: tests never see the user's files."""
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path


# --- the reader ------------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [True, False])
def test_round_trip(isolated, gz):
    images, labels = write_split(isolated / "d", gz=gz)
    got_images, got_labels = mnist.load_mnist("train", data_dir=isolated / "d", download=False)
    assert got_images.dtype == np.uint8 and got_labels.dtype == np.uint8
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


@given(shape=st.lists(st.integers(0, 5), min_size=1, max_size=4), seed=st.integers(0, 2**32 - 1))
def test_read_idx_any_shape(tmp_path_factory, shape, seed):
    array = np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)
    path = tmp_path_factory.mktemp("idx") / "a.idx"
    path.write_bytes(idx_bytes(array))
    got = mnist.read_idx(path)
    assert got.shape == tuple(shape)
    np.testing.assert_array_equal(got, array)


def test_read_idx_big_endian_types(tmp_path):
    values = np.arange(-3, 3, dtype=">i4").reshape(2, 3)
    path = tmp_path / "ints.idx"
    path.write_bytes((0x0C02).to_bytes(4, "big") + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
                     + values.tobytes())
    got = mnist.read_idx(path)
    assert got.dtype == np.int32 and got.dtype.isnative
    np.testing.assert_array_equal(got, values)


def corrupt_and_match(path, data, pattern):
    path.write_bytes(data)
    with pytest.raises(MNISTError, match=pattern) as info:
        mnist.read_idx(path)
    assert str(path) in str(info.value)


def test_wrong_magic(tmp_path):
    images, _ = small_split()
    data = idx_bytes(images)
    corrupt_and_match(tmp_path / "x", b"\x12\x34" + data[2:], "wrong magic")
    corrupt_and_match(tmp_path / "x", data[:2] + b"\x07" + data[3:], "wrong magic")  # type code


@pytest.mark.parametrize("gz", [True, False])
def test_truncated(tmp_path, gz):
    data = idx_bytes(small_split()[0])[:-5]
    corrupt_and_match(tmp_path / ("x.gz" if gz else "x"), gzip.compress(data) if gz else data,
                      "truncated.*promises shape \\(7, 28, 28\\)")
    corrupt_and_match(tmp_path / "y", data[:10], "truncated.*header")


def test_too_long(tmp_path):
    corrupt_and_match(tmp_path / "x", idx_bytes(small_split()[1]) + b"\x00", "too long")


def test_bad_gzip(tmp_path):
    data = gzip.compress(idx_bytes(small_split()[0]))
    corrupt_and_match(tmp_path / "cut.gz", data[: len(data) // 2], "bad gzip")
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    corrupt_and_match(tmp_path / "flipped.gz", bytes(flipped), "bad gzip")
    corrupt_and_match(tmp_path / "plain.gz", idx_bytes(small_split()[1]), "not a gzip file")


def test_count_mismatch_names_both_files(isolated):
    d = isolated / "d"
    write_split(d)
    (d / (LABELS + ".gz")).write_bytes(gzip.compress(idx_bytes(np.zeros(6))))
    with pytest.raises(MNISTError, match="7 images but .* 6 labels") as info:
        mnist.load_mnist("train", data_dir=d, download=False)
    assert IMAGES in str(info.value) and LABELS in str(info.value)


def test_swapped_files_are_refused(isolated):
    d = isolated / "d"
    images, labels = write_split(d)
    (d / (IMAGES + ".gz")).write_bytes(gzip.compress(idx_bytes(labels)))
    with pytest.raises(MNISTError, match=f"{IMAGES}.*expected uint8 images"):
        mnist.load_mnist("train", data_dir=d, download=False)


def test_label_out_of_range(isolated):
    d = isolated / "d"
    write_split(d)
    (d / (LABELS + ".gz")).write_bytes(gzip.compress(idx_bytes(np.full(7, 10))))
    with pytest.raises(MNISTError, match="label 10"):
        mnist.load_mnist("train", data_dir=d, download=False)


def test_unknown_split():
    with pytest.raises(ValueError, match="unknown MNIST split"):
        mnist.load_mnist("validation", download=False)


# --- download through a fake mirror ------------------------------------------------------------

def checksums_of(directory):
    out = {}
    for path in Path(directory).glob("*.gz"):
        data = path.read_bytes()
        out[path.name] = (len(data), hashlib.md5(data).hexdigest(),
                          hashlib.sha256(data).hexdigest())
    return out


@pytest.fixture
def mirror(isolated):
    """A directory served as a file:// mirror holding a small train and test split."""
    root = isolated / "mirror"
    arrays = write_split(root, "train", seed=1), write_split(root, "test", seed=2, n=3)
    return root.as_uri() + "/", checksums_of(root), arrays


def test_download_and_load(isolated, mirror):
    url, sums, ((images, labels), _) = mirror
    got = mnist.load_mnist("train", mirrors=[url], checksums=sums)
    np.testing.assert_array_equal(got[0], images)
    np.testing.assert_array_equal(got[1], labels)
    cache = isolated / "xdg" / "minigan" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(n + ".gz" for n in (IMAGES, LABELS))
    # The second call finds the cache and never touches the network.
    got = mnist.load_mnist("train", mirrors=["file:///nonexistent/"], checksums=sums)
    np.testing.assert_array_equal(got[0], images)


def test_download_all_into_given_directory(isolated, mirror):
    url, sums, _ = mirror
    target = mnist.download_mnist(isolated / "here", mirrors=[url], checksums=sums)
    assert sorted(p.name for p in target.iterdir()) == sorted(sums)
    assert mnist.load_mnist("test", data_dir=target, download=False)[0].shape == (3, 28, 28)


def test_checksum_mismatch_leaves_nothing(isolated, mirror):
    url, sums, _ = mirror
    name = IMAGES + ".gz"
    size, md5, sha = sums[name]
    bad = dict(sums, **{name: (size, md5, "0" * 64)})
    with pytest.raises(MNISTError, match=f"{name}.*checksum mismatch: sha256") as info:
        mnist.download_mnist(isolated / "cache", splits=("train",), mirrors=[url], checksums=bad)
    assert url in str(info.value)
    assert not (isolated / "cache" / name).exists()
    assert [p.name for p in (isolated / "cache").iterdir() if p.suffix == ".part"] == []


def test_mirror_fallback(isolated, mirror):
    url, sums, ((images, _), _) = mirror
    broken = isolated / "broken"  # the first mirror serves garbage, the second is missing
    broken.mkdir()
    for name in sums:
        (broken / name).write_bytes(b"not the file")
    mirrors = [broken.as_uri() + "/", "file:///nonexistent/mirror/", url]
    got, _ = mnist.load_mnist("train", mirrors=mirrors, checksums=sums)
    np.testing.assert_array_equal(got, images)


def test_corrupt_cached_file_is_replaced(isolated, mirror):
    url, sums, _ = mirror
    cache = isolated / "cache"
    cache.mkdir()
    (cache / (LABELS + ".gz")).write_bytes(b"stale")
    mnist.download_mnist(cache, splits=("train",), mirrors=[url], checksums=sums)
    assert checksums_of(cache)[LABELS + ".gz"] == sums[LABELS + ".gz"]


def test_verify_local_files(isolated, mirror):
    url, sums, _ = mirror
    path = Path(url[len("file://"):]) / (IMAGES + ".gz")
    mnist.verify_file(path, sums)
    with pytest.raises(MNISTError, match="checksum mismatch: size is .*md5 is .*sha256 is"):
        mnist.verify_file(path)  # the small file is not the published one
    with pytest.raises(MNISTError, match="checksum mismatch"):
        mnist.load_mnist("train", data_dir=path.parent, download=False, verify=True)


# --- where the files are looked for ------------------------------------------------------------

def test_lookup_order(isolated, monkeypatch):
    explicit, env = isolated / "explicit", isolated / "env"
    cache = isolated / "xdg" / "minigan" / "mnist"
    assert mnist.default_cache_dir() == cache
    for seed, d in enumerate((explicit, env, cache)):
        write_split(d, seed=seed)
    monkeypatch.setenv(mnist.ENV_VAR, str(env))
    assert mnist.find_mnist(explicit) == explicit
    assert mnist.find_mnist() == env
    first = lambda **kw: mnist.load_mnist(download=False, **kw)[0]  # noqa: E731
    np.testing.assert_array_equal(first(data_dir=explicit), small_split(0)[0])
    np.testing.assert_array_equal(first(), small_split(1)[0])
    monkeypatch.delenv(mnist.ENV_VAR)
    np.testing.assert_array_equal(first(), small_split(2)[0])
    # A place without the files is skipped.
    assert mnist.find_mnist(isolated / "empty") == cache
    # MINIGAN_DATA may be relative: to the current directory.
    monkeypatch.chdir(isolated)
    monkeypatch.setenv(mnist.ENV_VAR, "env")
    np.testing.assert_array_equal(first(), small_split(1)[0])


def test_home_cache_without_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert mnist.default_cache_dir() == tmp_path / ".cache" / "minigan" / "mnist"


@pytest.mark.parametrize("download", [False, True])
def test_offline_message(isolated, download):
    with pytest.raises(MNISTNotFoundError) as info:
        mnist.load_mnist("test", data_dir=isolated / "mine", download=download,
                         mirrors=["file:///nonexistent/mirror/"])
    message = str(info.value)
    for text in (mnist.ENV_VAR, str(isolated / "mine"), str(mnist.default_cache_dir()),
                 T_IMAGES + ".gz", T_LABELS + ".gz", "not set"):
        assert text in message
    assert ("Downloading failed" in message) == download
    assert not (isolated / "mine").exists() or not any((isolated / "mine").iterdir())


# --- scaling and batches -----------------------------------------------------------------------

@pytest.mark.parametrize("low, high", [(-1.0, 1.0), (0.0, 1.0)])
def test_scale(device, low, high):
    images = np.array([[[0, 255], [51, 128]]], dtype=np.uint8)
    x = mnist.scale(images, range=(low, high), device=device)
    assert x.shape == (1, 1, 2, 2) and x.dtype == np.float32
    got = host(x)
    np.testing.assert_allclose(got[0, 0], low + (high - low) * images[0] / 255, rtol=1e-6,
                               atol=2e-7)  # float32 rounding of a value near 0
    assert got.min() == low and got.max() == high


def test_batches_cover_each_epoch_once():
    x, y = np.arange(10) * 10, np.arange(10)
    b = mnist.Batches(x, y, batch_size=3, seed=5)
    assert len(b) == 3
    epochs = [list(b) for _ in range(2)]
    for epoch in epochs:
        assert all(len(xb) == 3 for xb, _ in epoch)
        seen = np.concatenate([yb for _, yb in epoch])
        assert len(set(seen)) == 9
        for xb, yb in epoch:
            np.testing.assert_array_equal(xb, yb * 10)  # arrays stay aligned
    assert not np.array_equal(np.concatenate([yb for _, yb in epochs[0]]),
                              np.concatenate([yb for _, yb in epochs[1]]))
    assert b.epoch == 2 and b.position == 0
    kept = mnist.Batches(x, batch_size=3, drop_last=False, shuffle=False)
    assert [len(xb) for xb in kept] == [3, 3, 3, 1]


@given(n=st.integers(1, 20), batch_size=st.integers(1, 6), stop=st.integers(0, 30),
       seed=st.integers(0, 2**32 - 1))
def test_batches_resume(n, batch_size, stop, seed):
    """Stopping after any batch and resuming from the saved state continues the same sequence."""
    x = np.arange(n)
    b = mnist.Batches(x, batch_size=batch_size, seed=seed, drop_last=False)
    reference = [xb for _ in range(4) for xb in b]
    stop = min(stop, len(reference))
    first = mnist.Batches(x, batch_size=batch_size, seed=seed, drop_last=False)
    got = []
    while len(got) < stop:
        for xb in first:
            got.append(xb)
            if len(got) == stop:
                break
    state = {k: np.asarray(v) for k, v in first.state_dict().items()}  # as through an .npz
    resumed = mnist.Batches(x, batch_size=batch_size, seed=0, drop_last=False)
    resumed.load_state_dict(state)
    while len(got) < len(reference):
        got += list(resumed)
    for a, r in zip(got, reference):
        np.testing.assert_array_equal(a, r)


# --- the real files ----------------------------------------------------------------------------

REAL = os.environ.get(mnist.ENV_VAR)


@pytest.mark.skipif(not REAL, reason=f"set {mnist.ENV_VAR} to a directory holding the real MNIST "
                                     f"files to run this test")
def test_real_mnist():
    directory = Path(REAL).resolve()  # relative to the current directory (the repository root)
    for name in mnist.CHECKSUMS:
        mnist.verify_file(directory / name)
    images, labels = mnist.load_mnist("train", data_dir=directory, download=False)
    assert images.shape == (60000, 28, 28) and labels.shape == (60000,)
    assert np.bincount(labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265,
                                            5851, 5949]
    images, labels = mnist.load_mnist("test", data_dir=directory, download=False)
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert images.min() == 0 and images.max() == 255


# --- files that fight back ----------------------------------------------------------------------

def test_a_header_promising_more_than_max_bytes_is_refused_before_reading(tmp_path):
    """Seven dimensions of 2^32 - 1 promise 2^224 bytes: the size is computed in Python ints
    (a NumPy product overflowed to a negative count) and refused without reading the data."""
    path = tmp_path / "x-idx"
    path.write_bytes(bytes([0, 0, 8, 7]) + (2**32 - 1).to_bytes(4, "big") * 7 + bytes(10))
    with pytest.raises(MNISTError, match=r"26,959,946,\d{3}.* bytes of data, more than the "
                                         r"1,073,741,824 bytes read_idx accepts") as info:
        mnist.read_idx(path)
    assert "-" not in str(info.value).split("promises")[1]
    path.write_bytes(idx_bytes(np.zeros((10, 10))))
    with pytest.raises(MNISTError, match="100 bytes of data, more than the 99 bytes"):
        mnist.read_idx(path, max_bytes=99)
    assert mnist.read_idx(path, max_bytes=100).shape == (10, 10)


def test_a_gzip_file_is_read_only_as_far_as_its_header_promises(tmp_path):
    """16 MB of zeros after a 2 x 2 image (16 kB of gzip): only header + 4 + 1 bytes are
    decompressed, enough to know the file is too long."""
    path = tmp_path / "x-idx.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.ones((1, 2, 2))) + bytes(16 << 20)))
    with pytest.raises(MNISTError, match="too long: the header promises shape \\(1, 2, 2\\), "
                                         "4 bytes of data, but more bytes follow it"):
        mnist.read_idx(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_only_regular_files_are_read(tmp_path):
    fifo = tmp_path / "train-images-idx3-ubyte"
    os.mkfifo(fifo)
    with pytest.raises(MNISTError, match="a FIFO \\(named pipe\\), not a regular file"):
        mnist.read_idx(fifo)
    with pytest.raises(MNISTError, match="a directory, not a regular file"):
        mnist.read_idx(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        mnist.read_idx(tmp_path / "missing")
