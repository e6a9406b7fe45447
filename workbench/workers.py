"""Work spread over processes: chunks in, results out in the order the chunks went in.

`ordered_map(function, chunks, workers, setup, setup_args, nice)`: `setup(*setup_args)` runs once in each
worker (opening what the work reads), then `function(chunk)` per chunk. Bulk work passes `nice` (see
BULK_NICE): its workers then take only the CPU a review on the same machine leaves. At most `2 * workers` chunks
are under way at once, so memory stays flat for any number of chunks. `workers <= 1` runs everything
in this process, with no pickling: what tests and small inputs use. Workers are *spawned* (never
forked): a forked child would inherit the parent's open store connection, which SQLite forbids using
or closing there. Imports nothing of the package: the callers' functions bring what they need.
"""

from __future__ import annotations

import os
from collections import deque
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_WORKERS = 64
# The CPU priority of bulk workers (collect, suggest on every core), as `nice` counts: far enough below a
# review's that the reviewer is served first, as measured (bench_batch.py --review); the writer, which holds
# the store's lock, keeps its priority, so a review never waits on a starved lock holder.
BULK_NICE = 10


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def ordered_map(function: Callable[[T], R], chunks: Iterable[T], workers: int,
                setup: Callable[..., object] | None = None, setup_args: tuple = (), nice: int = 0) -> Iterator[R]:
    if workers <= 1:
        if setup is not None:
            setup(*setup_args)
        yield from map(function, chunks)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, MAX_WORKERS), mp_context=context, initializer=_start,
                             initargs=(setup, setup_args, nice)) as pool:
        pending: deque = deque()
        try:
            for chunk in chunks:
                pending.append(pool.submit(function, chunk))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def _start(setup: Callable[..., object] | None, setup_args: tuple, nice: int) -> None:
    """A worker's start: ctrl+c is the parent's to handle (it stops handing out chunks and keeps what was
    written); a worker that took it too would die mid-chunk and break the pool. A `nice` worker yields the
    CPU to interactive processes (a review on the same machine) and takes what they leave."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    if nice:
        os.nice(nice)
    if setup is not None:
        setup(*setup_args)


def _exit_with_parent() -> None:
    """A worker ends when its parent does: killed with -9, the parent never tells it, and the worker would
    wait forever on a full pipe, holding the store's files and the parent's stdout (a `| cat` never ends).
    A thread of its own waits on the sentinel every spawned child has of its parent (it ends with the
    parent, even one killed before this worker got here), so a worker blocked in a write still goes."""
    import multiprocessing
    import threading

    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
