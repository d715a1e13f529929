"""Checkpoints: exact round trips, atomic writes, named errors for damaged files, and a training
run that is interrupted, saved, reloaded and continued bit-identically."""

import io
import json
import math
import os
import zipfile

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigan
import minigan.functional as F
from minigan import backend, nn
from minigan.io import FORMAT_VERSION, META
from minigan.optim import SGD, Adam
from tests.helpers import host


def same(a, b):
    """Exact equality, type included: arrays by dtype, shape and bytes (so NaN == NaN)."""
    if isinstance(a, minigan.Tensor):
        return (isinstance(b, minigan.Tensor) and a.requires_grad == b.requires_grad
                and same(host(a), host(b)))
    if backend.is_array(a) or isinstance(a, np.generic):
        a, b_ = np.asarray(host(a)), np.asarray(host(b))
        return (type(a) is type(b_) and a.dtype == b_.dtype and a.shape == b_.shape
                and a.tobytes() == b_.tobytes())
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (a == b and math.copysign(1, a) == math.copysign(1, b)) or (
            math.isnan(a) and math.isnan(b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def small_model(seed=0):
    gen = np.random.default_rng(seed)
    return nn.Sequential(nn.Linear(3, 5, generator=gen), nn.BatchNorm1d(5), nn.LeakyReLU(0.2),
                         nn.Linear(5, 2, generator=gen))


# --- round trips --------------------------------------------------------------------------
PLAIN = {
    "none": None, "true": True, "false": False, "int": -7, "big_int": 2**100 + 1,
    "float": 0.1, "neg_zero": -0.0, "nan": float("nan"), "inf": float("-inf"), "tiny": 5e-324,
    "str": "héllo \"wörld\"\n", "empty_list": [], "empty_dict": {},
    "list": [1, 2.5, "three", None, [True, {"deep": (1, "x")}]],
    "tuple": (1, (2.0, None)),
    "config": {"lr": 2e-4, "betas": [0.5, 0.999], "arch": {"hidden": [256, 256], "act": "lrelu"},
               "seed": 0, "name": None},
}

ARRAYS = {
    "f32": np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
    "f64": np.array([np.nan, -0.0, np.inf, 1e-300]),
    "i64": np.array([[-(2**62), 3]], dtype=np.int64),
    "u8": np.arange(256, dtype=np.uint8),
    "bool": np.array([True, False]),
    "zero_d": np.array(3.5, dtype=np.float16),
    "empty": np.zeros((0, 3), dtype=np.float32),
    "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    "strided": np.arange(20.0)[::3],
    "unicode": np.array(["a", "bcd"]),
    "f32_scalar": np.float32(1.25), "i8_scalar": np.int8(-3), "bool_scalar": np.bool_(True),
}


def test_round_trip_of_plain_values_is_exact(tmp_path):
    path = tmp_path / "plain.npz"
    minigan.save(path, **PLAIN)
    back = minigan.load(path)
    assert list(back) == list(PLAIN)
    for k, v in PLAIN.items():
        assert same(v, back[k]), k


def test_round_trip_of_arrays_and_tensors_is_exact(tmp_path, device):
    path = tmp_path / "arrays.npz"
    t = minigan.tensor(ARRAYS["f32"], requires_grad=True, device=device)
    nested = {"inside": [ARRAYS["f64"], {"x": ARRAYS["i64"]}]}
    minigan.save(path, **ARRAYS, tensor=t, nested=nested,
                 on_device=backend.to_device(ARRAYS["f32"], device))
    back = minigan.load(path)
    for k, v in ARRAYS.items():
        assert same(v, back[k]), k
    assert same(t, back["tensor"]) and back["tensor"].device == "cpu"
    assert same(nested, back["nested"])
    assert isinstance(back["on_device"], np.ndarray)  # a GPU array comes back on the host
    assert same(ARRAYS["f32"], back["on_device"])


@pytest.mark.parametrize("bit_generator", [np.random.PCG64, np.random.MT19937,
                                           np.random.Philox, np.random.SFC64])
def test_a_random_generator_state_restores_the_same_draws(tmp_path, bit_generator):
    gen = np.random.Generator(bit_generator(1234))
    gen.normal(size=7)  # advance it a little
    minigan.save(tmp_path / "rng.npz", rng=gen.bit_generator.state)
    want = gen.normal(size=5), gen.integers(0, 100, size=5)

    fresh = np.random.Generator(bit_generator())
    fresh.bit_generator.state = minigan.load(tmp_path / "rng.npz")["rng"]
    got = fresh.normal(size=5), fresh.integers(0, 100, size=5)
    assert np.array_equal(want[0], got[0]) and np.array_equal(want[1], got[1])


def test_modules_and_optimisers_are_stored_by_state_dict(tmp_path):
    model = small_model()
    opt = Adam(model.parameters(), lr=0.01)
    x = minigan.tensor(np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32))
    model(x).sum().backward()
    opt.step()
    minigan.save(tmp_path / "ck.npz", G=model, opt_G=opt, step=1)

    ckpt = minigan.load(tmp_path / "ck.npz")
    assert same(dict(model.state_dict()), ckpt["G"])
    assert same(opt.state_dict(), ckpt["opt_G"])

    model2 = small_model(seed=1)
    opt2 = Adam(model2.parameters())
    model2.load_state_dict(ckpt["G"])
    opt2.load_state_dict(ckpt["opt_G"])
    assert same(dict(model.state_dict()), dict(model2.state_dict()))
    assert same(opt.state_dict(), opt2.state_dict())

    with np.load(tmp_path / "ck.npz", allow_pickle=False) as npz:  # a plain .npz file
        meta = json.loads(npz[META].tobytes())
        assert "G/0.weight" in npz.files and "opt_G/state.0.exp_avg" in npz.files
    assert meta["version"] == FORMAT_VERSION
    assert meta["entries"]["G"]["kind"] == "module"
    assert meta["entries"]["G"]["class"] == "Sequential"
    assert meta["entries"]["opt_G"]["kind"] == "optimizer"
    assert meta["entries"]["step"] == {"kind": "value", "value": 1}


def test_load_onto_a_device(tmp_path, device):
    model = small_model().to(device)
    minigan.save(tmp_path / "ck.npz", G=model, x=np.ones(3), rng=np.random.default_rng(0)
                 .bit_generator.state, mt=np.random.MT19937(0).state)
    on_cpu = minigan.load(tmp_path / "ck.npz")  # a GPU-trained checkpoint loads on the CPU
    assert all(isinstance(a, np.ndarray) for a in on_cpu["G"].values())
    there = minigan.load(tmp_path / "ck.npz", device=device)
    assert all(backend.device_of(a) == device for a in there["G"].values())
    assert backend.device_of(there["x"]) == device
    assert isinstance(there["mt"]["state"]["key"], np.ndarray)  # values stay host values
    small_model().to(device).load_state_dict(there["G"])


def test_save_refuses_what_it_cannot_store_and_writes_nothing(tmp_path):
    path = tmp_path / "ck.npz"
    with pytest.raises(TypeError, match=r"config\['opt'\]\[1\] of type object"):
        minigan.save(path, config={"opt": [1, object()]})
    with pytest.raises(TypeError, match="key 3 of type int"):
        minigan.save(path, table={3: "x"})
    with pytest.raises(TypeError, match="reserved key"):
        minigan.save(path, table={"__ndarray__": "x"})
    with pytest.raises(TypeError, match="pickle"):
        minigan.save(path, objs=np.array([None, 1], dtype=object))
    with pytest.raises(ValueError, match="reserved"):
        minigan.save(path, **{META: 1})
    with pytest.raises(ValueError, match="nothing to save"):
        minigan.save(path)
    assert os.listdir(tmp_path) == []


# --- atomic writes ------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["write_array", "fsync", "replace"])
def test_a_crash_mid_write_leaves_the_old_file_intact_and_no_temp_file(tmp_path, monkeypatch,
                                                                       where):
    path = tmp_path / "ck.npz"
    minigan.save(path, step=1, w=np.ones((2, 2)))
    old = path.read_bytes()

    class Crash(Exception):
        pass

    def crash(*args, **kwargs):
        raise Crash(where)

    if where == "write_array":  # fail after the first member is written: a partial temp file
        real, calls = np.lib.format.write_array, []

        def crash(*args, **kwargs):  # noqa: F811
            calls.append(1)
            if len(calls) > 1:
                raise Crash(where)
            return real(*args, **kwargs)

        monkeypatch.setattr(np.lib.format, "write_array", crash)
    else:
        monkeypatch.setattr(os, where, crash)

    with pytest.raises(Crash):
        minigan.save(path, step=2, w=np.zeros((2, 2)), v=np.zeros(3))
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["ck.npz"]
    assert minigan.load(path)["step"] == 1


def test_save_replaces_an_existing_checkpoint(tmp_path):
    path = tmp_path / "ck.npz"
    minigan.save(path, step=1)
    minigan.save(str(path), step=2)
    assert minigan.load(str(path)) == {"step": 2}
    assert os.listdir(tmp_path) == ["ck.npz"]


# --- damaged files ------------------------------------------------------------------------
def checkpoint_bytes(tmp_path):
    path = tmp_path / "good.npz"
    minigan.save(path, step=3, w=np.arange(40.0).reshape(5, 8), config={"lr": 0.1})
    return path.read_bytes()


def fails_to_load(path, *phrases):
    with pytest.raises(minigan.CheckpointError) as info:
        minigan.load(path)
    message = str(info.value)
    assert str(path) in message, message
    for phrase in phrases:
        assert phrase in message, message


def test_a_truncated_file_is_a_checkpoint_error(tmp_path):
    data = checkpoint_bytes(tmp_path)
    path = tmp_path / "cut.npz"
    path.write_bytes(data[: len(data) // 2])
    fails_to_load(path, "truncated")


def test_garbage_and_empty_files_are_checkpoint_errors(tmp_path):
    (tmp_path / "garbage.npz").write_bytes(np.random.default_rng(0).bytes(1000))
    fails_to_load(tmp_path / "garbage.npz", "not a zip")
    (tmp_path / "empty.npz").write_bytes(b"")
    fails_to_load(tmp_path / "empty.npz", "not a zip")
    np.save(tmp_path / "array.npy", np.ones(3))  # a .npy file is not a checkpoint either
    fails_to_load(tmp_path / "array.npy", "not a zip")


def write_npz_with_meta(path, meta_text, **arrays):
    np.savez(path, **{META: np.frombuffer(meta_text.encode(), dtype=np.uint8)}, **arrays)


def test_a_wrong_or_unknown_format_version_is_a_checkpoint_error(tmp_path):
    path = tmp_path / "v99.npz"
    write_npz_with_meta(path, json.dumps({"format": "minigan-checkpoint", "version": 99,
                                          "entries": {}}))
    fails_to_load(path, "format version 99", "newer minigan")
    write_npz_with_meta(path, json.dumps({"format": "minigan-checkpoint", "entries": {}}))
    fails_to_load(path, "format version None")
    write_npz_with_meta(path, json.dumps({"format": "something-else", "version": 1}))
    fails_to_load(path, "does not describe")


def test_other_corruptions_are_checkpoint_errors(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, w=np.ones(3))
    fails_to_load(path, "not a minigan checkpoint")
    write_npz_with_meta(path, '{"format": "minigan-checkpoint", "version": 1, "entr')
    fails_to_load(path, "not valid JSON")
    write_npz_with_meta(path, json.dumps({"format": "minigan-checkpoint", "version": 1,
                                          "entries": {"w": {"kind": "value",
                                                            "value": {"__ndarray__": "w"}}}}))
    fails_to_load(path, "member 'w' is missing")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(META + ".npy", b"\x93NUMPY\x01\x00garbage header")
    fails_to_load(path, "corrupt")


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.npz"):
        minigan.load(tmp_path / "nowhere.npz")


@given(position=st.floats(0, 1, exclude_max=True), flip=st.integers(1, 255),
       cut=st.booleans())
def test_any_damage_loads_the_same_values_or_raises_checkpoint_error(tmp_path_factory,
                                                                     position, flip, cut):
    tmp = tmp_path_factory.mktemp("fuzz")
    good = checkpoint_bytes(tmp)
    want = minigan.load(tmp / "good.npz")
    i = int(position * len(good))
    damaged = good[:i] if cut else good[:i] + bytes([good[i] ^ flip]) + good[i + 1:]
    (tmp / "bad.npz").write_bytes(damaged)
    try:
        got = minigan.load(tmp / "bad.npz")
    except minigan.CheckpointError as e:
        assert "bad.npz" in str(e)
    else:  # only bytes no reader checks (timestamps, padding) may change without an error
        assert same(want, got)


# --- optimiser state through a checkpoint -------------------------------------------------
def test_loading_an_optimiser_checkpoint_into_the_wrong_model_says_why(tmp_path):
    model = small_model()
    opt = Adam(model.parameters())
    model(minigan.tensor(np.ones((2, 3), dtype=np.float32))).sum().backward()
    opt.step()
    minigan.save(tmp_path / "ck.npz", opt=opt)
    other = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.LeakyReLU(0.2), nn.Linear(4, 2))
    with pytest.raises(ValueError, match=r"'state.0.exp_avg' has shape \(5, 3\), parameter 0 "
                                         r"has shape \(4, 3\)"):
        Adam(other.parameters()).load_state_dict(minigan.load(tmp_path / "ck.npz")["opt"])
    with pytest.raises(ValueError, match="for optimizer 'Adam', not 'SGD'"):
        SGD(model.parameters(), lr=0.1).load_state_dict(minigan.load(tmp_path / "ck.npz")["opt"])


# --- resume: interrupted training continues bit-identically -------------------------------
def train(model, opt, gen, steps, device):
    """``steps`` steps of a regression on batches drawn from ``gen`` (a NumPy Generator)."""
    for _ in range(steps):
        x = minigan.tensor(gen.normal(size=(8, 3)).astype(np.float32), device=device)
        y = minigan.tensor(gen.normal(size=(8, 2)).astype(np.float32), device=device)
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean() + F.softplus(model(x)).mean()
        loss.backward()
        opt.step()


@pytest.mark.parametrize("make_opt", [
    lambda ps: Adam(ps, lr=0.01, betas=(0.5, 0.999), weight_decay=1e-3),
    lambda ps: SGD(ps, lr=0.05, momentum=0.9, nesterov=True)])
def test_a_checkpoint_saved_mid_training_continues_bit_identically(tmp_path, device, make_opt):
    model = small_model(seed=0).to(device)
    opt = make_opt(model.parameters())
    gen = np.random.default_rng(7)
    train(model, opt, gen, 6, device)  # the uninterrupted run

    model_a = small_model(seed=0).to(device)
    opt_a = make_opt(model_a.parameters())
    gen_a = np.random.default_rng(7)
    train(model_a, opt_a, gen_a, 3, device)
    minigan.save(tmp_path / "ck.npz", model=model_a, opt=opt_a, step=3,
                 rng=gen_a.bit_generator.state, config={"lr": opt_a.lr})
    del model_a, opt_a, gen_a

    # a fresh process would rebuild everything from scratch (other seeds), then load
    ckpt = minigan.load(tmp_path / "ck.npz", device=device)
    model_b = small_model(seed=1).to(device)
    opt_b = make_opt(model_b.parameters())
    gen_b = np.random.default_rng()
    model_b.load_state_dict(ckpt["model"])
    opt_b.load_state_dict(ckpt["opt"])
    gen_b.bit_generator.state = ckpt["rng"]
    assert ckpt["step"] == 3
    train(model_b, opt_b, gen_b, 3, device)

    full, resumed = model.state_dict(), model_b.state_dict()
    assert list(full) == list(resumed)
    for k in full:
        assert np.array_equal(host(full[k]), host(resumed[k])), k


def test_plain_tensors_resume_bit_identically(tmp_path):
    """The same without nn: two Tensors, a state dict saved by hand-made name."""
    def fresh(seed):
        rng = np.random.default_rng(seed)
        return [minigan.tensor(rng.normal(size=s).astype(np.float32), requires_grad=True)
                for s in [(3, 2), (2,)]]

    def steps(params, opt, n, start):
        for k in range(start, start + n):
            x = minigan.tensor(np.random.default_rng(k).normal(size=(4, 3)).astype(np.float32))
            opt.zero_grad()
            (F.tanh(x @ params[0] + params[1]) ** 2).sum().backward()
            opt.step()

    p = fresh(0)
    opt = Adam(p, lr=0.1)
    steps(p, opt, 6, 0)

    q = fresh(0)
    opt_q = Adam(q, lr=0.1)
    steps(q, opt_q, 3, 0)
    minigan.save(tmp_path / "ck.npz", params={"w": q[0], "b": q[1]}, opt=opt_q)
    ckpt = minigan.load(tmp_path / "ck.npz")
    r = [ckpt["params"]["w"], ckpt["params"]["b"]]
    opt_r = Adam(r)
    opt_r.load_state_dict(ckpt["opt"])
    steps(r, opt_r, 3, 3)
    for a, b in zip(p, r):
        assert np.array_equal(host(a), host(b))


# --- files that fight back ----------------------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_only_regular_files_are_read(tmp_path):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    fails_to_load(fifo, "a FIFO (named pipe), not a regular file")
    fails_to_load(tmp_path, "a directory, not a regular file")
    if os.path.exists("/dev/zero"):  # reading it would never end
        fails_to_load("/dev/zero", "a character device, not a regular file")


def _with_member(path, name, data, compression=zipfile.ZIP_STORED):
    """Rewrite the checkpoint at ``path`` with member ``name`` replaced by ``data``."""
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members[name] = data
    with zipfile.ZipFile(path, "w") as zf:
        for n, d in members.items():
            zf.writestr(n, d, compress_type=compression if n == name else zipfile.ZIP_STORED)


def test_no_member_may_decompress_past_the_file_size(tmp_path):
    """A 16 MB array of zeros deflates to about 16 kB: such a member (or a 0.5 MB file that
    inflates to 512 MiB) is refused from the zip directory alone, before anything is read."""
    path = tmp_path / "bomb.npz"
    minigan.save(path, w=np.ones(3))
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.zeros(2 << 20))
    _with_member(path, "w.npy", buffer.getvalue(), zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 100_000
    fails_to_load(path, "would decompress to 16,777,", "more than the file's own")


def test_a_npy_header_must_account_for_the_member_bytes(tmp_path):
    path = tmp_path / "huge.npz"
    minigan.save(path, w=np.ones(3))
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (1 << 40,)})
    _with_member(path, "w.npy", buffer.getvalue() + bytes(24))  # would allocate 8 TiB
    fails_to_load(path, "member 'w.npy' is corrupt", "promises shape (1099511627776,)",
                  "24 bytes follow it")


def test_metadata_nested_too_deeply_is_a_checkpoint_error(tmp_path):
    path = tmp_path / "deep.npz"
    for depth, phrase in ((100_000, "nested too deeply"), (500, "nested deeper than save")):
        value = "[" * depth + "]" * depth  # valid JSON; the first would overflow the parser
        write_npz_with_meta(path, '{"format": "minigan-checkpoint", "version": 1, "entries": '
                                  '{"x": {"kind": "value", "value": ' + value + '}}}')
        fails_to_load(path, phrase)


def test_save_refuses_paths_and_names_it_cannot_write_safely(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="the path is empty"):
        minigan.save("", a=1)
    with pytest.raises(IsADirectoryError, match="is a directory"):
        minigan.save(tmp_path, a=1)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        minigan.save(tmp_path / "no" / "c.npz", a=1)
    for name in ("../../x", "a/b", "", "1st", "x.y"):
        with pytest.raises(ValueError, match="names must be Python identifiers"):
            minigan.save(tmp_path / "c.npz", **{name: np.ones(1)})
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match=r"loop\[0\]\[0\].* nested more than 64 levels"):
        minigan.save(tmp_path / "c.npz", loop=loop)
    assert os.listdir(tmp_path) == []  # nothing written, no temporary file left
    made = []
    mkstemp = minigan.io.tempfile.mkstemp
    monkeypatch.setattr(minigan.io.tempfile, "mkstemp",
                        lambda **kw: made.append(kw["dir"]) or mkstemp(**kw))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    minigan.save(os.path.join("sub", "c.npz"), a=1)
    assert made == [str(tmp_path / "sub")]  # the temporary file sits beside its target


def test_keys_that_are_not_safe_member_names_round_trip(tmp_path):
    path = tmp_path / "c.npz"
    config = {"../../evil": np.ones(2), "a/b": np.zeros(1), "..": np.full(1, 3.0), "": 4}
    minigan.save(path, config=config)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    assert all(".." not in n.split("/") and not n.startswith("/") for n in names), names
    assert same(minigan.load(path)["config"], config)
