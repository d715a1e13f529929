"""minigan.threads: the thread count reaches the BLAS, and "auto" reads what the machine has free.

The machine's counters are replaced by made-up ones where a test needs a load it cannot make;
no test asserts a timing.
"""

import numpy as np
import pytest
import threadpoolctl

import minigan
from minigan import threads


@pytest.fixture(autouse=True)
def restore_threads():
    """Leave the process's thread settings as the test found them."""
    saved = threads._num_threads
    with threadpoolctl.threadpool_limits(limits=None):  # restores the libraries' counts on exit
        yield
    threads._num_threads = saved


def blas_counts():
    return {info["num_threads"] for info in threadpoolctl.threadpool_info()
            if info["user_api"] == "blas"}


def test_set_num_threads_reaches_the_blas():
    minigan.set_num_threads(1)
    assert minigan.get_num_threads() == 1
    assert blas_counts() == {1}
    a = np.ones((64, 64), dtype=np.float32)
    assert (a @ a == 64).all()  # still computes
    cores = threads.available_cores()
    minigan.set_num_threads(cores)
    assert minigan.get_num_threads() == cores


def test_get_num_threads_without_a_setting_is_the_blas_count():
    threads._num_threads = None
    with threadpoolctl.threadpool_limits(limits=1):
        assert minigan.get_num_threads() == 1


@pytest.mark.parametrize("bad", [0, -2])
def test_a_thread_count_below_one_is_refused(bad):
    with pytest.raises(ValueError, match="set_num_threads.*>= 1"):
        minigan.set_num_threads(bad)


def test_a_thread_count_that_is_not_an_int_is_refused():
    with pytest.raises(TypeError, match="set_num_threads.*int"):
        minigan.set_num_threads(1.5)


def test_parse_reads_the_flag():
    assert threads.parse("auto") == "auto" and threads.parse(" AUTO ") == "auto"
    assert threads.parse("3") == 3 and threads.parse(2) == 2
    for bad in ("0", "-1", "two", "", "1.5"):
        with pytest.raises(ValueError, match="--threads must be 'auto' or a positive integer"):
            threads.parse(bad)


def test_configure_sets_what_it_returns():
    assert threads.configure(1) == 1 and minigan.get_num_threads() == 1
    n = threads.configure("auto")
    assert 1 <= n <= threads.available_cores() and minigan.get_num_threads() == n


@pytest.mark.parametrize("others, cores, expected", [
    (0.0, 2, 2), (0.1, 2, 2), (0.25, 2, 2),   # an idle machine: every core
    (0.3, 2, 1), (2 / 3, 2, 1), (1.0, 2, 1),  # a neighbour: the free core
    (4.0, 2, 1), (50.0, 2, 1),                # overloaded: never fewer than one
    (1.0, 8, 7), (2.9, 8, 5), (0.0, 1, 1),
])
def test_a_core_is_free_when_three_quarters_of_it_are_idle(others, cores, expected):
    assert threads._cores_left(others, cores) == expected


def test_others_are_the_machine_less_this_process():
    start = threads._Window(machine=100.0, own=10.0, wall=0.0)
    # In 2 s the machine was busy 3.5 s, 1.5 of them this process's: 1 core's worth of others.
    assert threads._Window(machine=103.5, own=11.5, wall=2.0).others_since(start) == 1.0
    # Rounding in the counters never makes a negative load.
    assert threads._Window(machine=100.0, own=10.2, wall=1.0).others_since(start) == 0.0
    unknown = threads._Window(machine=0.0, own=11.0, wall=1.0)
    unknown.machine = None  # no /proc/stat: nothing to tell
    assert unknown.others_since(start) is None


def test_the_machine_counters_are_read():
    busy = threads._machine_busy_seconds()
    if busy is None:
        pytest.skip("no /proc/stat here")
    assert busy > 0 and threads._own_busy_seconds() > 0


def test_auto_threads_follows_the_load(monkeypatch):
    """AutoThreads drops to the free core when a neighbour arrives and goes back up when it
    leaves; between looks it changes nothing, and a window in which this process mostly waited
    does not count."""
    clock = {"wall": 0.0, "machine": 0.0, "own": 0.0}
    monkeypatch.setattr(threads.time, "monotonic", lambda: clock["wall"])
    monkeypatch.setattr(threads, "_machine_busy_seconds", lambda: clock["machine"])
    monkeypatch.setattr(threads, "_own_busy_seconds", lambda: clock["own"])
    monkeypatch.setattr(threads, "available_cores", lambda: 2)

    def run(seconds, own, others):
        clock["wall"] += seconds
        clock["own"] += own * seconds
        clock["machine"] += (own + others) * seconds

    policy = threads.AutoThreads(every=10, window=1, start=2)
    assert policy.num_threads == 2 == minigan.get_num_threads()
    run(5, own=2, others=0)
    assert policy.poll() == 2                 # not time to look yet
    run(6, own=1.33, others=0.67)             # a CPU-bound neighbour arrives
    assert policy.poll() == 2                 # time: a window opens
    run(0.5, own=1.33, others=0.67)
    assert policy.poll() == 2                 # the window is still too short
    run(0.6, own=1.33, others=0.67)
    assert policy.poll() == 1 == minigan.get_num_threads()
    run(11, own=1, others=0)                  # it leaves; a window opens ...
    assert policy.poll() == 1
    run(1.2, own=0.1, others=0)               # ... in which this process mostly waited
    assert policy.poll() == 1
    run(1.2, own=1, others=0)                 # the next window counts
    assert policy.poll() == 2 == minigan.get_num_threads()


def test_free_cores_without_proc_stat_uses_the_load_average(monkeypatch):
    monkeypatch.setattr(threads, "_machine_busy_seconds", lambda: None)
    monkeypatch.setattr(threads, "available_cores", lambda: 4)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (2.0, 0.0, 0.0), raising=False)
    assert threads.free_cores() == 2


# --- backend.keep_freed_memory: the other process-wide setting of a training run -----------

_FAULTS = """
import resource, sys
import numpy as np
from minigan import backend

def faults_per_step(steps=4):
    # a 'step': arrays of a few MB each, touched, then all freed at its end
    def step():
        arrays = [np.ones((64, 64, 14, 14), np.float32) for _ in range(6)]
        arrays.append(np.ones((1024, 3136), np.float32))
        return sum(float(a[-1].sum()) for a in arrays)
    step()
    start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(steps):
        step()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start) / steps

before = faults_per_step()
took = backend.keep_freed_memory()
print(took, before, faults_per_step())
"""


def test_keep_freed_memory_lets_a_step_reuse_its_pages():
    """Without it, glibc gives the step's freed arrays back to the OS and the next step faults
    them in again (up to 32 MB a step here, 7,840 pages); with it, the next step reuses them."""
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-c", _FAULTS], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    took, before, after = done.stdout.split()
    if took != "True":
        pytest.skip("not glibc: the allocator setting does not apply")
    pages = (6 * 64 * 64 * 14 * 14 + 1024 * 3136) * 4 / 4096
    assert float(before) > 0.25 * pages  # the premise: a step faults much of its arrays anew
    assert float(after) < 0.05 * pages


def test_parse_as_an_argparse_type_prints_one_clear_line(capsys):
    import argparse
    parser = argparse.ArgumentParser(prog="mnist.py")
    parser.add_argument("--threads", type=threads.parse, default="auto")
    assert parser.parse_args([]).threads == "auto"
    assert parser.parse_args(["--threads", "2"]).threads == 2
    with pytest.raises(SystemExit):
        parser.parse_args(["--threads", "many"])
    err = capsys.readouterr().err
    assert "argument --threads: --threads must be 'auto' or a positive integer, got 'many'" in err
