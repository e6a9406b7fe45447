"""What every part of the store shares: the handle type, the one transaction helper, the error mapping,
and the few SQL fragments the two backends write differently.

Nothing here is public beyond `workbench.store`: callers get the handle from `workbench.db.open_db()`,
pass it back to the store's functions, and never call a method on it.
"""

from __future__ import annotations

import functools
import inspect
import sqlite3
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, TypeVar, Union

from sqlite_utils import Database

from workbench import pg
from workbench.db import bulk_writes as _bulk_writes, write_transaction
from workbench.errors import StoreBusy, StoreRefused, StoreUnreadable
from workbench.json_text import has_lone_surrogate, mend

# Opaque to callers: what open_db() returns and every store function takes (SQLite or PostgreSQL).
Handle = Union[Database, pg.PgHandle]
F = TypeVar("F", bound=Callable)


def store_error(exc: BaseException) -> Exception | None:
    """The store's own error for a driver's exception (None: not a driver's exception)."""
    if isinstance(exc, sqlite3.OperationalError):
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
        return StoreBusy(str(exc), read_only=code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN))
    if isinstance(exc, (sqlite3.IntegrityError, sqlite3.InterfaceError, sqlite3.DataError)):
        return StoreRefused(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, sqlite3.DatabaseError):
        return StoreUnreadable(str(exc))
    if type(exc).__module__.startswith("psycopg"):
        return pg.store_error(exc)
    return None


def _translated(exc: Exception) -> Exception:
    error = store_error(exc)
    if error is None:
        raise exc
    return error


def guarded(fn: F) -> F:
    """The public surface: a driver's exception leaves as the store's own (generators too)."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except (sqlite3.Error, pg.DriverError) as exc:
                raise _translated(exc) from exc
        return generator  # type: ignore[return-value]

    @functools.wraps(fn)
    def function(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (sqlite3.Error, pg.DriverError) as exc:
            raise _translated(exc) from exc
    return function  # type: ignore[return-value]


@contextmanager
def transaction(db: Handle, *, wait: bool = True) -> Iterator[Handle]:
    """The one way a unit of work is written: all of it or none of it, waiting for another writer up
    front (SQLite: BEGIN IMMEDIATE; PostgreSQL: the write lock); nested use is a savepoint.
    `wait=False`: StoreBusy at once when another writer holds the store."""
    try:
        if pg.is_handle(db):
            with pg.write_transaction(db, wait=wait):
                yield db
        elif wait:
            with write_transaction(db):
                yield db
        else:
            waits = db.execute("PRAGMA busy_timeout").fetchone()[0]
            db.execute("PRAGMA busy_timeout = 0")
            try:
                with write_transaction(db):
                    yield db
            finally:
                db.execute(f"PRAGMA busy_timeout = {int(waits)}")
    except (sqlite3.Error, pg.DriverError) as exc:
        raise _translated(exc) from exc


@contextmanager
def bulk_writes(db: Handle) -> Iterator[Handle]:
    """Many write transactions in a row (a batch collect): the log is folded into the store less often."""
    try:
        with _bulk_writes(db):
            yield db
    except (sqlite3.Error, pg.DriverError) as exc:
        raise _translated(exc) from exc


def executemany(db: Handle, sql: str, rows: list) -> int:
    """One statement for many rows; returns the rows it changed."""
    if pg.is_handle(db):
        return db.executemany(sql, rows).rowcount
    return db.conn.executemany(sql, rows).rowcount


def one(db: Handle, sql: str, params: tuple | list = ()) -> dict | None:
    return next(db.query(sql, params), None)


def marks(values: Iterable) -> str:
    return ", ".join("?" for _ in values)


def mended(values: list) -> list:
    """The last guard: SQLite cannot store a lone surrogate (UnicodeEncodeError would end the run)."""
    if not has_lone_surrogate("".join(v for v in values if isinstance(v, str))):  # the common case: one scan
        return values
    return [mend(v) if isinstance(v, str) else v for v in values]


def like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# --------------------------------------------------------------------------- where the dialects differ


def json_text(db: Handle, column: str, *path: str) -> str:
    """SQL for the text at `path` inside a JSON text column."""
    if pg.is_handle(db):  # jsonb refuses the \u0000 escape a NUL in a quote is stored as
        return f"(replace({column}, '\\u0000', '\\ufffd')::jsonb #>> '{{{','.join(path)}}}')"
    return f"json_extract({column}, '$.{'.'.join(path)}')"


def change_marker(db: Handle) -> tuple:
    """Something that changes when another connection commits papers or revisions (cheap to read)."""
    if pg.is_handle(db):
        return db.execute("SELECT (SELECT count(*) FROM papers), (SELECT count(*) FROM paper_revisions), "
                          "(SELECT coalesce(max(seq), 0) FROM papers)").fetchone()
    return db.execute("PRAGMA data_version").fetchone()
