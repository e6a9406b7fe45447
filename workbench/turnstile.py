"""Writers to one SQLite store take turns, so a reviewer is never starved by a bulk writer.

SQLite's write lock is not a queue. A waiting writer sleeps and retries on a ladder (1, 2, 5, 10, 15,
20, 25 ... 100 ms), and a bulk writer (`batch collect`) that commits and begins again within
microseconds wins nearly every retry: during a collect a review's decision waited up to 180 ms, p95
~80 ms, for a write lock that was free between the collect's transactions 1-2% of the time.

The turnstile is a POSIX lock on one byte of the store file that SQLite never locks (its locks live
at 1 GiB: PENDING_BYTE and after). Every workbench writer passes it before BEGIN IMMEDIATE; a bulk
writer lets go as soon as its transaction has begun, while a reviewer (`holds=True`) keeps it until
its transaction ends. So a bulk writer cannot begin another transaction while a reviewer waits: the
reviewer waits for the one transaction under way at most.

It only orders writers; SQLite's own lock still decides who writes. A writer that cannot pass within
its busy timeout (another process stopped while holding it) goes on without it. The descriptor is
opened once per store and process and never closed: closing a descriptor of a file drops every POSIX
lock the process holds on it, SQLite's own included (SQLite's documentation: "do not open and close
the database file").
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # not a POSIX system: no turnstile, SQLite's lock alone
    fcntl = None

TURNSTILE_BYTE = 0x7FFF_0000  # 2 GiB - 64 KiB: past SQLite's lock bytes, never read or written
POLL_SECONDS = 0.0005

_descriptors: dict[str, int] = {}
_opening = threading.Lock()


def _descriptor(path: Path) -> int | None:
    key = str(path.resolve())
    with _opening:
        if key not in _descriptors:
            try:
                _descriptors[key] = os.open(key, os.O_RDONLY)
            except OSError:
                return None
        return _descriptors[key]


class Turnstile:
    def __init__(self, path: Path, *, holds: bool):
        self.path, self.holds, self.held = path, holds, False

    def enter(self, timeout: float) -> None:
        """Wait for the turnstile, at most `timeout` seconds (then go on without it)."""
        fd = _descriptor(self.path) if fcntl is not None else None
        if fd is None:
            return
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, TURNSTILE_BYTE)
                self.held = True
                return
            except OSError:
                if time.monotonic() >= deadline:
                    return
                time.sleep(POLL_SECONDS)

    def begun(self) -> None:
        """The transaction has the write lock: a bulk writer lets the next writer queue."""
        if not self.holds:
            self.leave()

    def leave(self) -> None:
        if self.held:
            fcntl.lockf(_descriptor(self.path), fcntl.LOCK_UN, 1, TURNSTILE_BYTE)
            self.held = False
