"""`open_db()`: the one way the code opens the store. A path is the embedded SQLite file;
a `postgresql://` URL is a team's PostgreSQL database (`workbench.pg`)."""

from __future__ import annotations

import functools
import os
import sqlite3
import time
from contextlib import contextmanager
from urllib.parse import quote
from pathlib import Path
from typing import Iterator

from sqlite_utils import Database

from workbench.errors import DamagedStore, InputError, ReadOnlyStore, StoreTooNew, WorkbenchError
from workbench import pg
from workbench.migrations import migrations
from workbench.writer_turns import POLL, Turns

DEFAULT_DB = Path("annotations") / "workbench.db"
# A second process (a batch `suggest` while `review` runs) waits this long for
# the write lock instead of failing with "database is locked".
BUSY_TIMEOUT_SECONDS = 30.0


def default_db_path() -> Path | str:
    return store_location(os.environ.get("WORKBENCH_DB") or DEFAULT_DB)


def store_location(value: str | Path) -> Path | str:
    """What --db / WORKBENCH_DB name: a `postgresql://` URL as given (checked: no password in it), else a path."""
    if pg.is_url(value):
        return pg.check_url(str(value))
    if str(value).endswith("/"):
        raise InputError(f"{value}: is a folder; --db names the store's file (e.g. {Path(value) / DEFAULT_DB.name})")
    if pg.looks_like_url(str(value)):
        raise InputError(f"{value}: not a store this version can open: a PostgreSQL store is "
                         "postgresql://user@host:port/dbname (or postgres://...); anything else is a SQLite file's path")
    return Path(value)


def is_url(location: object) -> bool:
    """Whether --db names a PostgreSQL server rather than a SQLite file."""
    return pg.is_url(location)


def store_exists(location: Path | str) -> bool:
    """Whether a store may be there: a file for SQLite; a server is always asked."""
    return pg.is_url(location) or Path(location).is_file()


def batches_dir(location: Path | str) -> Path:
    """Where request files are written: beside the SQLite file, or annotations/batches for a server."""
    return (DEFAULT_DB.parent if pg.is_url(location) else Path(location).parent) / "batches"


SQLITE_HEADER = b"SQLite format 3\x00"
STORE_SIDE_FILES = ("-wal", "-shm", "-journal", "-turns")  # beside a store: its log, index, journal, turns lock


def is_store_file(path: Path) -> bool:
    """Whether writing a file at `path` would replace a SQLite database (a store, most likely) or one of the
    files beside one: `export -o annotations/workbench.db` must not turn the store into JSONL."""
    def is_database(candidate: str) -> bool:
        if not os.path.isfile(candidate):  # a FIFO is never opened to look: that would wait for a writer
            return False
        try:
            with open(candidate, "rb") as handle:
                return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
        except OSError:
            return False

    real = os.path.realpath(path)
    return is_database(real) or any(real.endswith(side) and is_database(real[:-len(side)]) for side in STORE_SIDE_FILES)


def describe_store(location: Path | str) -> str:
    """The store's name in messages: the path, or host:port/dbname of a server (never a password)."""
    return pg.describe(str(location)) if pg.is_url(location) else str(location)


@functools.cache
def _known_migrations() -> frozenset[str]:
    """Every migration this version has: all of them are pending on an empty store (public API only)."""
    return frozenset(m.name for m in migrations.pending(Database(memory=True)))


def refuse_newer(db: Database, path: Path) -> None:
    """Nothing is written to a store a newer workbench made: its tables may mean what this version cannot know."""
    table = migrations.migrations_table
    if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [table]).fetchone():
        return
    known = _known_migrations()
    applied = [r[0] for r in db.execute(f"SELECT name FROM [{table}] WHERE migration_set = ?", [migrations.name])]
    unknown = [name for name in applied if name not in known]
    if unknown:
        raise StoreTooNew(f"{path}: this store was written by a newer workbench (it records migration "
                          f"{', '.join(unknown)}, which this version does not know); upgrade workbench to open it")


def open_db(path: str | Path, *, busy_timeout: float = BUSY_TIMEOUT_SECONDS, create: bool = True,
            read_only: bool = False, interactive: bool = False):
    """Open the store: WAL, busy timeout, foreign keys, migrations. `create=False` (the read-only
    commands) refuses a path with no store instead of making an empty one there; `read_only`
    opens it without writing anything (for a store on read-only media or without permission).
    `interactive` (a review): the connection's commits never fold the log into the store file; a
    thread of its own does (see `BackgroundCheckpoints`), and `close_db` stops it."""
    if pg.is_url(path):
        return _open_pg(str(path), busy_timeout=busy_timeout, create=create)
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; --db names the store's file (e.g. {path / DEFAULT_DB.name})")
    if not create and not path.is_file():
        raise InputError(f"{path}: there is no store here (create one with `workbench ingest`, or check --db)")
    if read_only:
        return _open_read_only(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=busy_timeout, check_same_thread=False)
        db = Database(conn)
        refuse_newer(db, path)  # before anything is written, the journal mode included
        db.enable_wal()
        # NORMAL is durable against a killed process in WAL mode; only a power
        # cut can lose the last commits. FULL would add an fsync per decision.
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA cache_size=-32000")  # 32 MB: a 5,000-paper ingest transaction fits
        if migrations.pending(db):
            # Taking the write lock first means two processes opening a fresh
            # store cannot both try to create the tables.
            with write_transaction(db):
                migrations.apply(db)
        if interactive:
            db.checkpoints = BackgroundCheckpoints(db, path)
            db.turns = Turns(os.path.realpath(path), first=True)  # its writes go before a bulk writer's next one
    except sqlite3.OperationalError as exc:
        if is_read_only_error(exc, path):
            raise ReadOnlyStore(f"{path}: the store is read-only ({exc})") from None
        raise WorkbenchError(f"{path}: cannot open the store ({exc})") from None
    except sqlite3.DatabaseError as exc:
        raise DamagedStore(f"{path}: cannot open the store ({exc}): restore it from a backup") from None
    except OSError as exc:
        raise WorkbenchError(f"{path}: cannot open the store ({exc.strerror})") from None
    return db


def is_read_only_error(exc: sqlite3.OperationalError, path: str | Path) -> bool:
    """The store cannot be written: the file is read-only, or its folder is (SQLite then cannot
    create the -wal/-shm files beside an existing store and says it cannot open it)."""
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF  # extended codes keep the primary in the low byte
    return code == sqlite3.SQLITE_READONLY or (code == sqlite3.SQLITE_CANTOPEN and Path(path).is_file())


def _open_pg(url: str, *, busy_timeout: float, create: bool) -> pg.PgHandle:
    from workbench import migrations_pg
    from workbench.vocab import utc_now

    db = pg.connect(url, busy_timeout=busy_timeout)
    where = pg.describe(url)
    try:
        if migrations_pg.applied_names(db) is None and not create:
            raise InputError(f"{where}: there is no store here (create one with `workbench ingest`, or check --db)")
        migrations_pg.refuse_newer(db, where)
        if migrations_pg.pending(db):
            with pg.write_transaction(db):  # one process creates the tables; another waits, then finds them
                migrations_pg.refuse_newer(db, where)
                migrations_pg.apply(db, utc_now())
    except WorkbenchError:
        db.close()
        raise
    except Exception as exc:
        db.close()
        error = pg.store_error(exc)
        if error is None:
            raise
        raise WorkbenchError(f"{where}: cannot open the store ({error})") from None
    return db


def open_for_reading(path: str | Path):
    """For commands that only read: the store as it is, read-only if it cannot be written."""
    try:
        return open_db(path, create=False)
    except ReadOnlyStore:
        return open_db(path, read_only=True)


def _open_read_only(path: Path) -> Database:
    # mode=ro still wants to create the WAL's -shm file beside it; immutable=1 (nothing can
    # change it while we read: it is read-only) does not, but it also ignores the -wal file,
    # so commits not yet folded into the store would be silently missing: refuse instead.
    uri = "file:" + quote(str(path.resolve()))
    wal = path.with_name(path.name + "-wal")
    attempts = ["?mode=ro"] + (["?mode=ro&immutable=1"] if not (wal.exists() and wal.stat().st_size) else [])
    for flags in attempts:
        try:
            conn = sqlite3.connect(uri + flags, uri=True, check_same_thread=False)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            break
        except sqlite3.OperationalError:
            continue
    else:
        if len(attempts) == 1:
            raise WorkbenchError(f"{path}: cannot open the store read-only: its {wal.name} file holds commits not yet "
                                 "in the store; open it once where it can be written")
        raise WorkbenchError(f"{path}: cannot open the store, even read-only")
    db = Database(conn)
    refuse_newer(db, path)
    if migrations.pending(db):
        raise ReadOnlyStore(f"{path}: the store is read-only and needs an upgrade to this version of workbench; "
                            "open it once where it can be written")
    return db


@contextmanager
def write_transaction(db: Database) -> Iterator[Database]:
    """A write unit of work that waits for the write lock up front.

    sqlite-utils' `atomic()` starts a deferred transaction; a read followed by a
    write inside it cannot wait for a lock another process holds and fails at
    once with "database is locked". BEGIN IMMEDIATE waits (busy timeout) before
    reading. Nested use becomes a savepoint.
    """
    if pg.is_handle(db):
        with pg.write_transaction(db):
            yield db
        return
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    unit = WriteUnit(db)
    unit.begin()
    try:
        yield db
    except BaseException:
        unit.rollback()
        raise
    try:
        unit.commit()
    except BaseException:  # (a full disk): left open, every later write would nest in it and be lost at close
        unit.rollback()
        raise


class WriteUnit:
    """The steps of a write transaction, for a unit that spans several calls (an ingested file arrives
    in chunks): `write_transaction` is the same steps around a block."""

    def __init__(self, db: Database):
        self.db = db

    def begin(self) -> None:
        if pg.is_handle(self.db):
            self.db.begin()  # waits for another writer (the write lock, lock_timeout)
        elif (turns := getattr(self.db, "turns", None)) is not None:  # in turn: workbench/writer_turns.py
            waits_ms = self.db.execute("PRAGMA busy_timeout").fetchone()[0]
            deadline = time.monotonic() + waits_ms / 1000
            turns.wait(waits_ms / 1000)
            try:
                if turns.first:
                    _begin_polling(self.db.conn, deadline, waits_ms)
                else:
                    self.db.execute("BEGIN IMMEDIATE")
            except BaseException:
                turns.end()
                raise
        else:
            self.db.execute("BEGIN IMMEDIATE")  # waits for another writer (busy timeout)

    def commit(self) -> None:
        if pg.is_handle(self.db):
            self.db.commit()
            return
        try:
            self.db.execute("COMMIT")
        finally:
            self._end_turn()

    def rollback(self) -> None:
        try:
            self.db.rollback()
        finally:
            self._end_turn()

    def _end_turn(self) -> None:
        if (turns := getattr(self.db, "turns", None)) is not None:
            turns.end()


def _begin_polling(conn: sqlite3.Connection, deadline: float, waits_ms: int) -> None:
    """A reviewer's BEGIN IMMEDIATE, tried every POLL seconds until the deadline (the busy timeout), then
    SQLite's own error: the bulk transaction under way ends within milliseconds, and a try finds it at once
    where the busy handler's ladder would sleep on for up to 25-100 ms."""
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                busy = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF == sqlite3.SQLITE_BUSY
                if not busy or time.monotonic() >= deadline:
                    raise
                time.sleep(POLL)
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(waits_ms)}")


@contextmanager
def bulk_writes(db: Database, pages: int = 16_000) -> Iterator[Database]:
    """Many write transactions in a row: fold the write-ahead log into the store every `pages` pages
    (64 MB) instead of every 1,000, which spares a sync per transaction. Durability is as before:
    a commit is in the log either way; only when it reaches the store file changes. (PostgreSQL
    manages its own log: nothing to change there.)"""
    if pg.is_handle(db):
        yield db
        return
    default = db.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    db.execute(f"PRAGMA wal_autocheckpoint={int(pages)}")
    path = location_of(db)
    mine = getattr(db, "turns", None) is None and bool(path)  # not a store in memory
    if mine:  # each transaction waits while a reviewer waits or writes (workbench/writer_turns.py)
        db.turns = Turns(os.path.realpath(path), first=False)  # the same file, whatever link the store was named by
    try:
        yield db
    finally:
        db.execute(f"PRAGMA wal_autocheckpoint={int(default)}")
        if mine:
            db.turns.close()
            del db.turns


def location_of(db) -> str:
    """What `open_db` takes to open this store again (a worker process opens its own connection)."""
    if pg.is_handle(db):
        return db.url
    for _, name, path in db.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return path
    raise ValueError("the store has no main database")


class BackgroundCheckpoints:
    """Folding the write-ahead log into the store file, off the reviewer's thread.

    SQLite folds the log in (a checkpoint: copy the pages, sync the file) inside whichever commit
    finds it over 1,000 pages. During a `batch collect` that commit was the review's: each decision
    paid for copying and syncing the collect's pages, and accept -> next paper reached p95 ~170-240
    ms. So the review's connection never checkpoints in a commit; this thread does, every
    `interval` seconds when the log has grown past `pages`, on a connection of its own. A PASSIVE
    checkpoint takes no write lock: the review's writes never wait for it."""

    def __init__(self, db: Database, path: Path, interval: float = 1.0, pages: int = 1000):
        import threading

        db.execute("PRAGMA wal_autocheckpoint=0")
        self.wal, self.limit = Path(f"{path}-wal"), pages * 4096
        self.stopped = threading.Event()
        self.conn = sqlite3.connect(path, timeout=0.1, check_same_thread=False)
        self.thread = threading.Thread(target=self._run, args=(interval,), name="checkpoints", daemon=True)
        self.thread.start()

    def _run(self, interval: float) -> None:
        while not self.stopped.wait(interval):
            try:
                if self.wal.stat().st_size > self.limit:
                    self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except (OSError, sqlite3.Error):
                pass  # the log is gone (closed elsewhere) or busy: the next round tries again

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()
        self.conn.close()


def close_db(db: Database) -> None:
    """Fold the write-ahead log into the store file and close it, so the file alone holds
    everything (copying just the .db is safe after this)."""
    if pg.is_handle(db):
        db.close()
        return
    checkpoints = getattr(db, "checkpoints", None)
    if checkpoints is not None:
        checkpoints.stop()
    if (turns := getattr(db, "turns", None)) is not None:
        turns.close()
    try:
        if db.conn.in_transaction:
            db.conn.rollback()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error:
        pass  # another process still reading: SQLite checkpoints when the last one closes
    db.close()
