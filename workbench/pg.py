"""The PostgreSQL store's connection: a small handle with the calls the store makes on a SQLite one
(`execute`, `executemany`, `query`), the one write lock, and the URL rules.

The store's SQL is written once with `?` placeholders; here it becomes psycopg's `%s` (cached per
statement). Writers take one transaction-scoped advisory lock, so PostgreSQL serialises writes
exactly as SQLite's BEGIN IMMEDIATE does: a decision's read-check-write, a claim and an event's
next id are each one unit nobody else writes into, and reads never wait (MVCC). psycopg is
imported here only, and only when a `postgresql://` URL is opened.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from contextlib import contextmanager
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

from workbench.errors import InputError, StoreBusy, StoreRefused, StoreUnreadable, WorkbenchError

URL_SCHEMES = ("postgresql://", "postgres://")
# psycopg logs a warning of its own when a failed batch ends its pipeline; the store's one-line error
# says what happened.
logging.getLogger("psycopg").setLevel(logging.ERROR)
WRITE_LOCK = 0x776F726B  # "work": the advisory lock every write transaction takes
REPLACEMENT = "\ufffd"  # PostgreSQL text cannot hold NUL: it is stored as U+FFFD


class _NoDriverError(Exception):
    """Stands for psycopg.Error until psycopg is imported (no PostgreSQL store opened: none can occur)."""


def __getattr__(name: str):
    if name == "DriverError":  # psycopg.Error, without importing psycopg for a SQLite store
        import sys
        module = sys.modules.get("psycopg")
        return module.Error if module is not None else _NoDriverError
    raise AttributeError(name)


# Something a person meant as a URL ("postgresql:/x", "PostgreSQL://", "pg://", "sqlite:///x"): never
# taken as a file path, which would quietly make a private SQLite store where a team's was meant.
_LOOKS_LIKE_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+. -]*:/")


def is_url(location: object) -> bool:
    return isinstance(location, str) and location.startswith(URL_SCHEMES)


def looks_like_url(location: str) -> bool:
    return bool(_LOOKS_LIKE_URL.match(location)) and not is_url(location)


def is_handle(db: object) -> bool:
    return isinstance(db, PgHandle)


def check_url(url: str) -> str:
    """The URL as given, once it is known to carry no password (it would be printed, logged and kept
    in shell history): the password comes from PGPASSWORD or ~/.pgpass."""
    try:
        url.encode("utf-8")
        parts = urlsplit(url)
        parts.port  # noqa: B018 (reading it checks it)
    except (ValueError, UnicodeError):
        raise InputError(f"{describe(url)}: not a readable store URL (postgresql://user@host:port/dbname)") from None
    if "#" in url:  # libpq has no fragment: what follows would be read as more of the URL
        raise InputError(f"{describe(url)}: a '#' in the store URL is refused (write it %23 where it belongs)")
    options = {k.lower() for k in parse_qs(parts.query, keep_blank_values=True)}
    if parts.password is not None or options & {"password", "passfile"}:
        raise InputError(f"{describe(url)}: a password in the store URL is refused; put it in PGPASSWORD or ~/.pgpass")
    if not (parts.path.strip("/") or "dbname" in options):
        raise InputError(f"{describe(url)}: the store URL names no database (postgresql://user@host:port/dbname)")
    return url


def describe(url: str) -> str:
    """user@host:port/dbname, for messages: never the password, whatever the URL holds."""
    try:
        parts = urlsplit(url.split("#", 1)[0])
        options = {k.lower(): v[-1] for k, v in parse_qs(parts.query).items()}  # libpq: these win over the rest
        host = options.get("host") or parts.hostname or "localhost"
        port = options.get("port") or parts.port or 5432
        user = options.get("user") or parts.username
        dbname = options.get("dbname") or parts.path.strip("/")
    except (ValueError, UnicodeError):
        return "postgresql://(an unreadable URL)"
    return f"postgresql://{user + '@' if user else ''}{host}:{port}/{dbname}"


@functools.lru_cache(maxsize=1024)
def to_psycopg(sql: str) -> str:
    """`?` placeholders (outside string literals) as `%s`, and a literal `%` doubled."""
    out = []
    for index, part in enumerate(sql.replace("%", "%%").split("'")):
        out.append(part.replace("?", "%s") if index % 2 == 0 else part)
    return "'".join(out)


def _clean(value: Any) -> Any:
    return value.replace("\x00", REPLACEMENT) if isinstance(value, str) and "\x00" in value else value


def _params(params) -> list:
    return [_clean(v) for v in params]


class PgHandle:
    """What `open_db()` returns for a PostgreSQL store (opaque to everyone but the store)."""

    dialect = "postgresql"

    def __init__(self, conn, url: str, busy_timeout: float = 30.0):
        self.conn = conn
        self.url = url
        self.busy_timeout = busy_timeout
        self.streams = 0
        self.depth = 0  # nested transactions: savepoints below the first
        self.lock = threading.RLock()  # the review's worker threads share one connection

    # The calls the store makes (as on sqlite-utils' Database).
    def _reconnect_if_lost(self) -> None:
        """A server restarted (or a dropped network) broke the connection: between transactions,
        connect again, so the reviewer's next try saves (the failed one said nothing was saved)."""
        if self.depth == 0 and (self.conn.closed or self.conn.broken):
            self.conn = _connect(self.url, self.busy_timeout)

    def execute(self, sql: str, params=()):
        with self.lock:
            self._reconnect_if_lost()
            if not params:  # no placeholders: sent as written (several statements allowed, `%` as is)
                return self.conn.execute(sql)
            return self.conn.execute(to_psycopg(sql), _params(params))

    def executemany(self, sql: str, rows):
        with self.lock:
            self._reconnect_if_lost()
            cursor = self.conn.cursor()
            cursor.executemany(to_psycopg(sql), [_params(r) for r in rows])
            return cursor

    def stream(self, sql: str, params, chunk: int) -> Iterator[list[tuple]]:
        """A large result read `chunk` rows at a time through a server-side cursor (memory flat)."""
        with self.lock:
            self.streams += 1  # a name of its own: two streams may be open at once
            cursor = self.conn.cursor(name=f"stream_{self.streams}", withhold=True)
        try:
            with self.lock:
                cursor.execute(to_psycopg(sql) if params else sql, _params(params) if params else None)
            while True:
                with self.lock:
                    rows = cursor.fetchmany(chunk)
                if not rows:
                    return
                yield rows
        finally:
            with self.lock:
                cursor.close()

    def query(self, sql: str, params=()) -> Iterator[dict]:
        cursor = self.execute(sql, params)
        names = [c.name for c in cursor.description or ()]
        for row in cursor:
            yield dict(zip(names, row))

    @property
    def in_transaction(self) -> bool:
        return self.depth > 0

    def close(self) -> None:
        with self.lock:
            if self.depth and not self.conn.closed:
                self.conn.execute("ROLLBACK")
            self.depth = 0
            self.conn.close()

    # Transactions: the first level takes the write lock, deeper ones are savepoints. The thread that
    # begins one holds the handle until it ends, so another thread's statements never land inside it.
    def begin(self, *, wait: bool = True) -> None:
        if not self.lock.acquire(blocking=wait):  # another thread's transaction: busy, if not waiting
            raise StoreBusy("another writer holds the store")
        try:
            self._reconnect_if_lost()
            if self.depth:
                self.conn.execute(f"SAVEPOINT s{self.depth}")
            else:
                self.conn.execute("BEGIN")
                try:
                    self._take_write_lock(wait)
                except BaseException:
                    self.conn.execute("ROLLBACK")
                    raise
        except BaseException:
            self.lock.release()
            raise
        self.depth += 1

    def _take_write_lock(self, wait: bool) -> None:
        if wait:
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
        elif not self.conn.execute("SELECT pg_try_advisory_xact_lock(%s)", [WRITE_LOCK]).fetchone()[0]:
            raise StoreBusy("another writer holds the store")

    def commit(self) -> None:
        self.depth -= 1
        try:
            self.conn.execute(f"RELEASE SAVEPOINT s{self.depth}" if self.depth else "COMMIT")
        finally:
            self.lock.release()

    def rollback(self) -> None:
        if not self.depth:
            return
        self.depth -= 1
        try:
            if self.depth:
                self.conn.execute(f"ROLLBACK TO SAVEPOINT s{self.depth}")
                self.conn.execute(f"RELEASE SAVEPOINT s{self.depth}")
            elif not self.conn.closed:
                self.conn.execute("ROLLBACK")
        finally:
            self.lock.release()


@contextmanager
def write_transaction(db: PgHandle, *, wait: bool = True) -> Iterator[PgHandle]:
    db.begin(wait=wait)
    try:
        yield db
    except BaseException:
        db.rollback()
        raise
    db.commit()


def connect(url: str, *, busy_timeout: float) -> PgHandle:
    """A connection to the store at `url`: autocommit between explicit transactions, the busy timeout
    as the longest wait for the write lock, times and text exactly as given."""
    import psycopg

    check_url(url)
    try:
        conn = _connect(url, busy_timeout)
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        reason = reason.split(": ", 1)[-1] if reason.startswith("connection failed") else reason
        if "password" in reason:  # no password supplied, or a wrong one
            reason += "; the password comes from PGPASSWORD or ~/.pgpass (a line for this host, port and database)"
        raise WorkbenchError(f"{describe(url)}: cannot connect to the store ({shorten(reason, 400)})") from None
    return PgHandle(conn, url, busy_timeout)


def _connect(url: str, busy_timeout: float):
    import psycopg

    # SET, not options=: that would replace an `options` the URL carries (a team's search_path, say).
    conn = psycopg.connect(url, autocommit=True, connect_timeout=10, client_encoding="UTF8")
    conn.execute(f"SET lock_timeout = {int(busy_timeout * 1000)}")
    return conn


def shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def store_error(exc: BaseException) -> Exception | None:
    """The store's own error for a psycopg exception (None: not one)."""
    import psycopg
    from psycopg import errors

    if not isinstance(exc, psycopg.Error):
        return None
    message = " ".join(str(exc).split())
    if isinstance(exc, (errors.LockNotAvailable, errors.QueryCanceled, errors.SerializationFailure,
                        errors.DeadlockDetected)):
        return StoreBusy(f"the store is busy ({message})")
    if isinstance(exc, (errors.ReadOnlySqlTransaction, errors.InsufficientPrivilege)):
        return StoreBusy(message, read_only=True)
    if isinstance(exc, (psycopg.IntegrityError, psycopg.DataError)):
        return StoreRefused(f"{type(exc).__name__}: {message}")
    if isinstance(exc, psycopg.OperationalError):
        return StoreBusy(f"the connection to the store failed ({message})")
    return StoreUnreadable(message)
