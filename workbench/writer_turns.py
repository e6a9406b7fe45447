"""Writers taking turns on one SQLite store: a reviewer's write goes before a bulk writer's next transaction.

SQLite's write lock is not a queue. A writer that finds it taken sleeps on a ladder (1, 2, 5, 10, 15,
20, 25 ... ms between tries), while a bulk writer (`batch collect`, `suggest --workers`) begins its
next transaction microseconds after committing, so it wins nearly every try: during a collect a
reviewer's decision waited p95 79-97 ms for the lock (README, *Benchmarks*).

So they take turns through a lock file beside the store (`<store>-turns`, an flock):
- a reviewer's connection (`open_db(interactive=True)`) holds it exclusively from asking for the write
  lock until its commit or rollback, and asks for the write lock every POLL seconds, not on the ladder;
- a bulk writer passes it (shared, then released at once) before each transaction: it waits while a
  reviewer waits or writes.
A reviewer then waits for the bulk transaction under way at most, never for the next one. Nobody waits
for the turn longer than TURN_WAIT (a reviewer's transaction takes milliseconds; a turn held longer
is a stopped or stuck process), and a writer that gave up once does not wait again until it finds the
turn free: a reviewer's process stopped (SIGSTOP, or SIGTSTP from a shell) costs a collect half a second,
not half a second a transaction. The write lock itself is then waited for as before (the busy timeout).
Where the lock file cannot be made (a read-only folder), nobody takes turns: the ladder, as before.
This module is the turn; `db.WriteUnit` asks for the write lock. PostgreSQL queues its lock waiters itself and needs none of this.
"""

from __future__ import annotations

import fcntl
import os
import stat
import time

POLL = 0.0005  # seconds between tries for the turn (and, in db.py, a reviewer's tries for the write lock)
TURN_WAIT = 0.5  # seconds at most that anyone waits for the turn


class Turns:
    """The turn lock of one store for one connection. `first`: a reviewer's (takes the turn); otherwise a
    bulk writer's (passes it)."""

    def __init__(self, store_path: str, *, first: bool):
        self.path, self.first = f"{store_path}-turns", first
        self._fd: int | None = None  # opened on first use; -1 when it cannot be
        self.holding = False
        self.stuck = False  # the last wait for the turn ran out: try once, do not wait, until it is free

    def fd(self) -> int:
        if self._fd is None:
            try:
                # Read-only and never through a link: an flock needs no more, and nothing is ever written.
                # Non-blocking: opening a FIFO planted there would otherwise wait for a writer forever.
                fd = os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o644)
            except OSError:
                self._fd = -1
                return self._fd
            if stat.S_ISREG(os.fstat(fd).st_mode):
                self._fd = fd
            else:  # a FIFO, a device: not ours to lock
                os.close(fd)
                self._fd = -1
        return self._fd

    def wait(self, patience: float = TURN_WAIT) -> None:
        """Before BEGIN IMMEDIATE: a reviewer takes the turn; a bulk writer waits until it is free. Gives up
        after TURN_WAIT, or sooner when the write itself may wait less (`patience`: 0 for a write that is
        never waited for, such as the review's position): the write lock's own wait decides then."""
        fd = self.fd()
        if fd < 0:
            return
        deadline = 0.0 if self.stuck or patience <= 0 else time.monotonic() + min(patience, TURN_WAIT)
        taken = _lock(fd, fcntl.LOCK_EX if self.first else fcntl.LOCK_SH, deadline)
        if taken and self.first:
            self.holding = True
        elif taken:
            fcntl.flock(fd, fcntl.LOCK_UN)  # passed: a bulk writer only checks that no reviewer waits
        if taken or deadline:  # a try that was never meant to wait says nothing about a stuck holder
            self.stuck = not taken

    def end(self) -> None:
        """After the commit or the rollback: the turn is free."""
        if self.holding:
            self.holding = False
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self.end()
        if self._fd is not None and self._fd >= 0:
            os.close(self._fd)
        self._fd = None


def _lock(fd: int, kind: int, deadline: float) -> bool:
    """The flock, tried every POLL seconds until the deadline; whether it was taken."""
    while True:
        try:
            fcntl.flock(fd, kind | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL)
        except OSError:
            return False  # a file system without flock: no turns
