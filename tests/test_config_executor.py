"""Tests of zarrsync.config (settings, env overrides, per-thread contexts) and zarrsync.executor."""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import dataclasses
import os
import random
import sys
import threading
import time

import pytest

import zarrsync
import zarrsync.pipeline
from zarrsync import config, executor
from zarrsync.errors import ConfigError
from zarrsync.testing import run_threads

ENV = ("ZARRSYNC_MAX_WORKERS", "ZARRSYNC_WRITE_EMPTY_CHUNKS", "ZARRSYNC_ORDER", "ZARRSYNC_ALLOW_PICKLE")


@pytest.fixture(autouse=True)
def restore_settings():
    """Autouse fixtures are set up first and torn down last: after monkeypatch has restored the
    environment, the global settings are re-read from it."""
    yield
    config.reset()


@pytest.fixture
def clean_env(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    config.reset()
    return monkeypatch


# --------------------------------------------------------------------------------------------------
# config: defaults, environment, set, validation
# --------------------------------------------------------------------------------------------------


def test_defaults(clean_env):
    s = config.get()
    assert s.max_workers == (os.cpu_count() or 1)
    assert s.write_empty_chunks is False
    assert s.order == "C"
    assert s.allow_pickle is False
    assert config.get() is s  # read once, not per call
    assert config.Settings() == s


def test_settings_are_frozen(clean_env):
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.get().max_workers = 3  # type: ignore[misc]


@pytest.mark.parametrize("env, field, expected", [
    ({"ZARRSYNC_MAX_WORKERS": "3"}, "max_workers", 3),
    ({"ZARRSYNC_MAX_WORKERS": " 17 "}, "max_workers", 17),
    ({"ZARRSYNC_ORDER": "F"}, "order", "F"),
    ({"ZARRSYNC_ORDER": "f"}, "order", "F"),
    ({"ZARRSYNC_ORDER": " c "}, "order", "C"),
    ({"ZARRSYNC_WRITE_EMPTY_CHUNKS": "1"}, "write_empty_chunks", True),
    ({"ZARRSYNC_WRITE_EMPTY_CHUNKS": "true"}, "write_empty_chunks", True),
    ({"ZARRSYNC_WRITE_EMPTY_CHUNKS": "Yes"}, "write_empty_chunks", True),
    ({"ZARRSYNC_WRITE_EMPTY_CHUNKS": "ON"}, "write_empty_chunks", True),
    ({"ZARRSYNC_WRITE_EMPTY_CHUNKS": "0"}, "write_empty_chunks", False),
    ({"ZARRSYNC_WRITE_EMPTY_CHUNKS": "off"}, "write_empty_chunks", False),
    ({"ZARRSYNC_WRITE_EMPTY_CHUNKS": ""}, "write_empty_chunks", False),
    ({"ZARRSYNC_ALLOW_PICKLE": "true"}, "allow_pickle", True),
    ({"ZARRSYNC_ALLOW_PICKLE": "no"}, "allow_pickle", False),
])
def test_environment_overrides(clean_env, env, field, expected):
    for name, value in env.items():
        clean_env.setenv(name, value)
    s = config.reset()
    assert getattr(s, field) == expected
    assert config.get() is s


def test_environment_read_lazily(clean_env):
    clean_env.setenv("ZARRSYNC_MAX_WORKERS", "5")
    config._global = None  # as in a fresh process: nothing read yet
    assert config.get().max_workers == 5


@pytest.mark.parametrize("name, value", [
    ("ZARRSYNC_MAX_WORKERS", "many"),
    ("ZARRSYNC_MAX_WORKERS", "0"),
    ("ZARRSYNC_MAX_WORKERS", "-2"),
    ("ZARRSYNC_MAX_WORKERS", "2.5"),
    ("ZARRSYNC_ORDER", "K"),
    ("ZARRSYNC_ORDER", ""),
    ("ZARRSYNC_WRITE_EMPTY_CHUNKS", "maybe"),
    ("ZARRSYNC_ALLOW_PICKLE", "2"),
])
def test_bad_environment(clean_env, name, value):
    clean_env.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        config.reset()
    message = str(info.value)
    assert name.removeprefix("ZARRSYNC_").lower() in message.lower()
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("changes", [
    {"max_workers": 0}, {"max_workers": -1}, {"max_workers": 2.0}, {"max_workers": "4"}, {"max_workers": True},
    {"order": "c"}, {"order": "A"}, {"order": None}, {"write_empty_chunks": 1}, {"write_empty_chunks": "yes"},
    {"allow_pickle": None}, {"no_such_setting": 1},
])
def test_bad_values(clean_env, changes):
    before = config.get()
    (field,) = changes
    with pytest.raises(ConfigError, match=field):
        config.set(**changes)
    assert config.get() is before  # a failed set changes nothing
    with pytest.raises(ConfigError, match=field):
        with config.context(**changes):
            pass  # pragma: no cover
    assert config.get() is before
    if field != "no_such_setting":
        with pytest.raises(ConfigError, match=field):
            config.Settings(**changes)


def test_set_changes_globals_and_reset_restores(clean_env):
    old = config.get()
    try:
        new = config.set(max_workers=2, write_empty_chunks=True)
        assert new.max_workers == 2 and new.write_empty_chunks is True
        assert new.order == old.order and new.allow_pickle == old.allow_pickle
        assert config.get() is new
        seen = []
        t = threading.Thread(target=lambda: seen.append(config.get()))
        t.start()
        t.join()
        assert seen == [new]  # process-wide, every thread sees it
        config.set(order="F")
        assert config.get().max_workers == 2 and config.get().order == "F"  # changes accumulate
    finally:
        config.set(**dataclasses.asdict(old))
    assert config.get() == old
    config.set(max_workers=3)
    assert config.reset() == old


# --------------------------------------------------------------------------------------------------
# config.context: per thread / per task
# --------------------------------------------------------------------------------------------------


def test_context_overrides_and_restores(clean_env):
    base = config.get()
    with config.context(max_workers=7, order="F") as s:
        assert s.max_workers == 7 and s.order == "F"
        assert config.get() is s
        with config.context(max_workers=3) as inner:
            assert inner.max_workers == 3 and inner.order == "F"  # nested contexts build on the outer one
            assert config.get() is inner
        assert config.get() is s
    assert config.get() is base


def test_context_restores_on_error(clean_env):
    base = config.get()
    with pytest.raises(KeyError):
        with config.context(write_empty_chunks=True):
            raise KeyError("boom")
    assert config.get() is base


def test_context_does_not_leak_into_a_thread_started_inside(clean_env):
    base = config.get()
    seen = {}

    def look(name):
        seen[name] = config.get()

    with config.context(max_workers=base.max_workers + 5, allow_pickle=True):
        t = threading.Thread(target=look, args=("thread",))
        t.start()
        t.join()
        with concurrent.futures.ThreadPoolExecutor(2) as pool:  # pool threads are created inside, too
            pool.submit(look, "pool").result()
    assert seen["thread"] == base
    assert seen["pool"] == base


def test_context_does_not_leak_into_a_running_thread(clean_env):
    base = config.get()
    entered, looked = threading.Event(), threading.Event()
    seen = []

    def other():
        entered.wait(10)
        seen.append(config.get())
        looked.set()

    t = threading.Thread(target=other)
    t.start()
    with config.context(order="F" if base.order == "C" else "C"):
        entered.set()
        assert looked.wait(10)
    t.join()
    assert seen == [base]


def test_contexts_in_many_threads_are_independent(clean_env):
    def work(i):
        for _ in range(50):
            with config.context(max_workers=i + 1):
                time.sleep(0)
                assert config.get().max_workers == i + 1
            assert config.get() == config.Settings()

    run_threads(16, work)


def test_context_applies_inside_asyncio_to_thread(clean_env):
    base = config.get()

    async def main():
        return await asyncio.to_thread(config.get)

    with config.context(max_workers=base.max_workers + 3, write_empty_chunks=True) as s:
        assert asyncio.run(main()) == s  # to_thread copies the caller's context

    async def inside():
        with config.context(order="F") as s:
            got = await asyncio.to_thread(config.get)
        after = await asyncio.to_thread(config.get)
        return s, got, after

    s, got, after = asyncio.run(inside())
    assert got == s and got.order == "F"
    assert after == base


def test_context_in_one_task_not_seen_by_another(clean_env):
    base = config.get()

    async def overriding(started, release):
        with config.context(max_workers=99):
            started.set()
            await release.wait()
            return await asyncio.to_thread(config.get)

    async def plain(started, release):
        await started.wait()
        got = (config.get(), await asyncio.to_thread(config.get))
        release.set()
        return got

    async def main():
        started, release = asyncio.Event(), asyncio.Event()
        return await asyncio.gather(overriding(started, release), plain(started, release))

    over, (direct, threaded) = asyncio.run(main())
    assert over.max_workers == 99
    assert direct == base and threaded == base


# --------------------------------------------------------------------------------------------------
# executor.run_tasks
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def fresh_pool():
    executor.shutdown()
    yield
    executor.shutdown()


class Recorder:
    """Counts calls per item and records the thread of each call (thread-safe)."""

    def __init__(self, work=None):
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.threads = {}
        self.work = work

    def __call__(self, item):
        with self.lock:
            self.counts[item] += 1
            self.threads[item] = threading.current_thread()
        if self.work is not None:
            self.work(item)


def test_run_tasks_runs_every_item_once(fresh_pool):
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for max_workers in (2, 3, 8, 32):
            rec = Recorder(work=lambda i: time.sleep(0) if i % 3 else None)
            items = list(range(3000))
            executor.run_tasks(rec, items, max_workers)
            assert rec.counts == collections.Counter(items)
    finally:
        sys.setswitchinterval(old)


def test_run_tasks_uses_several_threads(fresh_pool):
    barrier = threading.Barrier(3, timeout=10)
    rec = Recorder(work=lambda i: barrier.wait() if i < 3 else None)
    executor.run_tasks(rec, list(range(3)), max_workers=3)  # would time out unless 3 threads run at once
    assert len(set(rec.threads.values())) == 3
    assert threading.current_thread() in rec.threads.values()  # the caller works too


def test_run_tasks_accepts_any_sequence(fresh_pool):
    rec = Recorder()
    executor.run_tasks(rec, range(100), 4)
    executor.run_tasks(rec, tuple("abc"), 4)
    executor.run_tasks(rec, [], 4)
    assert rec.counts == collections.Counter(list(range(100)) + list("abc"))


def test_run_tasks_gives_each_thread_a_stretch_of_neighbours(fresh_pool):
    # 4 threads start on items 0, 25, 50, 75 (a barrier holds each thread's first item until all
    # have one), then each goes on through its own stretch in order (each item sleeps, so that
    # every thread runs: else one thread, never giving up the GIL, takes over all the work)
    barrier = threading.Barrier(4, timeout=10)
    local = threading.local()
    runs = collections.defaultdict(list)
    lock = threading.Lock()

    def task(i):
        if not getattr(local, "started", False):
            local.started = True
            barrier.wait()
        with lock:
            runs[threading.get_ident()].append(i)
        time.sleep(0.002)

    executor.run_tasks(task, list(range(100)), max_workers=4)
    assert sorted(r[0] for r in runs.values()) == [0, 25, 50, 75]
    assert sorted(i for r in runs.values() for i in r) == list(range(100))
    for r in runs.values():
        # its own stretch first, in order (the others take over only back halves, and only
        # once their own stretches are done)
        assert r[:5] == list(range(r[0], r[0] + 5))


def test_run_tasks_takes_over_the_stretch_of_a_busy_thread(fresh_pool):
    # item 0 waits until every other item has run: the thread that holds the first stretch is
    # busy meanwhile, so the others must take over the rest of its stretch (else: a timeout)
    n = 60
    done = threading.Semaphore(0)

    def task(i):
        if i == 0:
            for _ in range(n - 1):
                assert done.acquire(timeout=10), "the other threads did not take over the busy stretch"
        else:
            done.release()

    executor.run_tasks(task, list(range(n)), max_workers=3)


def test_run_tasks_error_stops_every_stretch(fresh_pool):
    started = []
    lock = threading.Lock()

    def task(i):
        with lock:
            started.append(i)
        if i == 10:
            raise ErrorA(i)
        time.sleep(0.001)

    with pytest.raises(ErrorA):
        executor.run_tasks(task, list(range(400)), max_workers=4)
    assert len(started) < 400


def test_concurrent_callers(fresh_pool):
    def work(t):
        for rep in range(20):
            rec = Recorder()
            items = [(t, rep, i) for i in range(40)]
            executor.run_tasks(rec, items, max_workers=4)
            assert rec.counts == collections.Counter(items)

    run_threads(8, work)


def test_concurrent_callers_with_different_max_workers(fresh_pool):
    # the pool grows when a caller asks for more workers; callers that already hold the smaller
    # pool must still be able to submit to it
    def work(t):
        rng = random.Random(t)
        for rep in range(30):
            rec = Recorder()
            items = list(range(30))
            executor.run_tasks(rec, items, max_workers=rng.randint(2, 24))
            assert rec.counts == collections.Counter(items)

    for _ in range(5):
        executor.shutdown()
        run_threads(8, work)


def test_one_item_runs_inline(fresh_pool):
    rec = Recorder()
    executor.run_tasks(rec, ["only"], max_workers=16)
    assert rec.threads == {"only": threading.current_thread()}


def test_max_workers_one_runs_inline(fresh_pool):
    rec = Recorder(work=lambda i: time.sleep(0))
    executor.run_tasks(rec, list(range(50)), max_workers=1)
    assert set(rec.threads.values()) == {threading.current_thread()}
    assert list(rec.counts) == list(range(50))  # inline means in order
    executor.run_tasks(rec, list(range(5)), max_workers=0)
    assert set(rec.threads.values()) == {threading.current_thread()}


def test_in_worker_flag(fresh_pool):
    seen = []
    barrier = threading.Barrier(2, timeout=10)

    def task(i):
        barrier.wait()
        seen.append((threading.current_thread() is threading.main_thread(), executor.in_worker()))

    assert not executor.in_worker()
    executor.run_tasks(task, [0, 1], max_workers=2)
    assert sorted(seen) == [(False, True), (True, False)]
    assert not executor.in_worker()


def test_nested_call_runs_inline_in_a_worker(fresh_pool):
    outer_n, inner_n = 12, 30
    results = []
    lock = threading.Lock()

    def outer(i):
        rec = Recorder(work=lambda j: time.sleep(0.001))
        executor.run_tasks(rec, list(range(inner_n)), max_workers=4)
        assert rec.counts == collections.Counter(range(inner_n))
        threads = set(rec.threads.values())
        with lock:
            results.append((executor.in_worker(), threads, threading.current_thread()))

    finished = _run_with_timeout(lambda: executor.run_tasks(outer, list(range(outer_n)), max_workers=4), 60)
    assert finished, "nested run_tasks deadlocked"
    assert len(results) == outer_n
    in_worker = [r for r in results if r[0]]
    assert in_worker, "no outer task ran on a pool worker"
    for _, threads, me in in_worker:
        assert threads == {me}  # a nested call from a worker runs inline on that worker


def test_caller_makes_progress_with_a_saturated_pool(fresh_pool):
    release = threading.Event()
    blocked = threading.Barrier(5, timeout=10)  # 3 pool workers + the other caller + this thread

    def block(i):
        blocked.wait()
        release.wait(30)

    # another caller fills the pool (3 workers) and its own thread with blocking tasks
    other = threading.Thread(target=executor.run_tasks, args=(block, list(range(4)), 4))
    other.start()
    try:
        blocked.wait()  # every pool worker is now busy
        rec = Recorder()
        done = _run_with_timeout(lambda: executor.run_tasks(rec, list(range(200)), 4), 30)
        assert done, "run_tasks waited for a saturated pool"
        assert rec.counts == collections.Counter(range(200))

        # and a nested call from a task of a saturated pool does not deadlock either
        def outer(i):
            executor.run_tasks(rec, [("nested", i, j) for j in range(10)], 4)
        done = _run_with_timeout(lambda: executor.run_tasks(outer, list(range(8)), 4), 30)
        assert done, "nested run_tasks deadlocked on a saturated pool"
        assert sum(1 for k in rec.counts if isinstance(k, tuple)) == 80
    finally:
        release.set()
        other.join(30)


def _run_with_timeout(fn, timeout) -> bool:
    errors = []

    def body():
        try:
            fn()
        except BaseException as e:  # re-raised below
            errors.append(e)

    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join(timeout)
    if errors:
        raise errors[0]
    return not t.is_alive()


class ErrorA(Exception):
    pass


class ErrorB(Exception):
    pass


def test_first_error_wins_and_later_items_are_not_started(fresh_pool):
    max_workers = 4
    started, finished = [], []
    lock = threading.Lock()
    first = ErrorA("first")

    def task(i):
        with lock:
            started.append(i)
        try:
            if i == 0:
                raise first
            time.sleep(0.05)
            if i == 1:
                raise ErrorB("second")
        finally:
            with lock:
                finished.append(i)

    with pytest.raises(ErrorA) as info:
        executor.run_tasks(task, list(range(1000)), max_workers)
    assert info.value is first
    assert len(started) <= max_workers, f"{len(started)} items started after the first error"
    assert sorted(finished) == sorted(started)  # raised only once all started items had finished


def test_error_in_inline_mode(fresh_pool):
    seen = []

    def task(i):
        seen.append(i)
        if i == 3:
            raise ErrorA(i)

    with pytest.raises(ErrorA):
        executor.run_tasks(task, list(range(10)), max_workers=1)
    assert seen == [0, 1, 2, 3]
    with pytest.raises(ErrorA):
        executor.run_tasks(task, [3], max_workers=8)


def test_error_on_a_worker_thread_is_raised_in_the_caller(fresh_pool):
    def task(i):
        if executor.in_worker():
            raise ErrorB("from a worker")
        time.sleep(0.05)

    with pytest.raises(ErrorB, match="from a worker"):
        executor.run_tasks(task, list(range(20)), max_workers=4)
    # the pool still works afterwards
    rec = Recorder()
    executor.run_tasks(rec, list(range(100)), 4)
    assert rec.counts == collections.Counter(range(100))


def test_get_pool_and_shutdown(fresh_pool):
    pool = executor.get_pool(3)
    assert executor.get_pool(2) is pool and executor.get_pool(3) is pool
    bigger = executor.get_pool(5)
    assert bigger is not pool and executor.get_pool(5) is bigger
    executor.shutdown()
    assert executor.get_pool(2) is not bigger


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is not available on this platform")
def test_pool_reset_after_fork(fresh_pool):
    # warm the pool in the parent, then use run_tasks in a forked child: the parent's worker
    # threads do not exist there, so the child must build its own pool rather than hang
    rec = Recorder()
    executor.run_tasks(rec, list(range(100)), 4)
    parent_pool = executor.get_pool(3)
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            import signal
            signal.alarm(30)  # a hang becomes a non-zero exit
            assert executor.get_pool(3) is not parent_pool
            # items 0 and 1 meet at a barrier: only passes if a pool thread really runs in the child
            barrier = threading.Barrier(2, timeout=10)
            child = Recorder(work=lambda i: barrier.wait() if i < 2 else time.sleep(0.001))
            executor.run_tasks(child, list(range(200)), 4)
            assert child.counts == collections.Counter(range(200))
            assert len(set(child.threads.values())) > 1
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status), f"child did not exit normally (status {status})"
    assert os.WEXITSTATUS(status) == 0
    executor.run_tasks(rec, list(range(100)), 4)  # the parent's pool is unaffected


# --- how many threads a chunk call uses (pipeline.chunk_workers) ------------------------------------
def _target(chunks, compressors, latency_bound=False):
    store = zarrsync.MemoryStore()
    store.latency_bound = latency_bound
    a = zarrsync.create_array(store, shape=(4096, 4096), dtype="u2", chunks=chunks, compressors=compressors)
    return a._target


@pytest.mark.parametrize("chunks, compressors, writing, gil, expected", [
    ((64, 64), "auto", False, True, 4),           # 8 KiB zstd reads: read in groups, so threads gain
    ((64, 64), [{"name": "gzip", "configuration": {"level": 1}}], False, True, 1),  # one at a time: no gain
    ((128, 128), "auto", False, True, 4),         # 32 KiB zstd reads gain
    ((128, 128), None, False, True, 1),           # 32 KiB raw reads: memcpy-sized, no gain
    ((256, 256), None, False, True, 4),           # 128 KiB raw reads gain
    ((64, 64), "auto", False, False, 4),          # free-threaded: every worker
    ((128, 128), None, True, True, 1),            # small writes: file creation contends, one thread
    ((128, 128), "auto", True, False, 1),
    ((256, 256), None, True, True, 4),            # 128 KiB writes gain, compressed or not
    ((256, 256), "auto", True, True, 4),
])
def test_chunk_workers(monkeypatch, chunks, compressors, writing, gil, expected):
    monkeypatch.setattr(zarrsync.pipeline, "_GIL", gil)
    settings = zarrsync.config.Settings(max_workers=4)
    assert zarrsync.pipeline.chunk_workers(settings, _target(chunks, compressors), writing) == expected


@pytest.mark.parametrize("chunks, compressors", [((64, 64), "auto"), ((64, 64), None), ((128, 128), None)])
def test_chunk_workers_small_writes_to_files(tmp_path, monkeypatch, chunks, compressors):
    # file writes are kernel work: small chunks get every worker (each thread writes its own
    # stretch of chunks); the same chunks written to memory get one thread
    monkeypatch.setattr(zarrsync.pipeline, "_GIL", True)
    settings = zarrsync.config.Settings(max_workers=4)
    a = zarrsync.create_array(str(tmp_path / "a.zarr"), shape=(4096, 4096), dtype="u2", chunks=chunks,
                              compressors=compressors)
    assert a.store.kernel_writes
    assert zarrsync.pipeline.chunk_workers(settings, a._target, writing=True) == 4
    assert zarrsync.pipeline.chunk_workers(settings, _target(chunks, compressors), writing=True) == 1
    wrapped = zarrsync.open_array(zarrsync.storage.LoggingStore(a.store), mode="r+")
    assert zarrsync.pipeline.chunk_workers(settings, wrapped._target, writing=True) == 4


def test_chunk_workers_single_worker():
    settings = zarrsync.config.Settings(max_workers=1)
    assert zarrsync.pipeline.chunk_workers(settings, _target((1024, 1024), "auto"), writing=False) == 1


@pytest.mark.parametrize("writing", [False, True])
@pytest.mark.parametrize("chunks, io_concurrency, budget, expected", [
    ((64, 64), 64, 256 << 20, 64),          # 8 KiB chunks: io_concurrency requests in flight
    ((64, 64), 10, 256 << 20, 10),
    ((4096, 4096), 64, 256 << 20, 8),       # 32 MiB chunks: the byte budget holds 8 of them
    ((4096, 4096), 64, 1 << 20, 4),         # never fewer than max_workers
])
def test_chunk_workers_latency_bound(chunks, io_concurrency, budget, expected, writing):
    settings = zarrsync.config.Settings(max_workers=4, io_concurrency=io_concurrency, io_bytes_in_flight=budget)
    target = _target(chunks, None, latency_bound=True)
    assert zarrsync.pipeline.chunk_workers(settings, target, writing) == expected
