"""Whole tables between two stores (`workbench copy`): every row as stored, in key order, in chunks.

A table's rows go in its key order (an integer key where it has one), so SQLite's implicit rowid and
PostgreSQL's identity columns come out in the source's order, and a copy that stopped resumes after the
last key the target holds. A row whose key the target has already is left as the target has it (and
then the copy's verification says the stores differ).
"""

from __future__ import annotations

import hashlib
from typing import Iterator, NamedTuple

from workbench import pg
from workbench.store import pg_words
from workbench.errors import StoreRefused
from workbench.store._base import Handle, executemany, guarded, marks, transaction


class Table(NamedTuple):
    name: str
    columns: tuple[str, ...]
    key: str  # the integer column rows are read in order of, and resumed after ("" when none)
    order: str  # ORDER BY for tables without one


# In the order foreign keys need them.
TABLES: tuple[Table, ...] = (
    Table("prompts", ("id", "name", "description", "body", "created_at"), "", "id"),
    Table("papers", ("id", "seq", "title", "abstract", "authors_count", "published", "published_iso", "upvotes",
                     "organization", "content_hash", "added_at"), "seq", ""),
    Table("paper_revisions", ("paper_id", "revision", "abstract", "content_hash", "added_at"), "",
          "paper_id, revision"),
    Table("sightings", ("id", "paper_id", "source", "source_hash", "position", "line", "content_hash"), "id", ""),
    Table("suggestions", ("rowid", "id", "paper_id", "prompt_id", "model", "params", "outcome", "error", "technique",
                          "claimed_gain", "compute", "evidence", "warnings", "raw", "input_tokens", "output_tokens",
                          "latency_ms", "attempts", "created_at", "batch_id", "content_hash"), "rowid", ""),
    Table("attempts", ("id", "suggestion_id", "paper_id", "prompt_id", "model", "params", "request_hash", "ask",
                       "attempt", "outcome", "http_status", "error", "raw", "raw_chars", "input_tokens",
                       "output_tokens", "latency_ms", "batch_id", "at"), "id", ""),
    Table("annotations", ("paper_id", "annotator", "status", "flagged", "technique", "claimed_gain", "compute", "notes",
                          "suggestion_id", "suggested", "seconds_spent", "created_at", "updated_at", "field_sources",
                          "version", "decided_on"), "", "paper_id, annotator"),
    Table("events", ("id", "paper_id", "annotator", "action", "before", "after", "seconds", "session", "undoes", "at"),
          "id", ""),
    Table("batches", ("rowid", "id", "engine", "endpoint", "input_file", "input_file_id", "output_file_id",
                      "error_file_id", "prompt_id", "model", "params", "key", "papers", "requests", "bytes", "state",
                      "completed", "failed", "errors", "stored", "input_tokens", "output_tokens", "created_at",
                      "submitted_at", "ended_at", "collected_at", "updated_at"), "rowid", ""),
    Table("endpoint_formats", ("endpoint", "model", "response_format", "concurrency", "source", "detail",
                               "learned_at"), "", "endpoint, model"),
    Table("review_positions", ("annotator", "queue", "paper_id", "at"), "", "annotator, queue"),
    Table("annotator_accounts", ("name", "token_hash", "created_at", "revoked_at", "failures", "locked_until",
                                 "last_sign_in_at"), "", "name"),
    Table("team_distribution", ("id", "per_paper", "overlap", "lease_seconds", "updated_at"), "id", ""),
    Table("leases", ("paper_id", "annotator", "session", "expires_at", "taken_at"), "", "paper_id, annotator"),
)


@guarded
def row_counts(db: Handle) -> dict[str, int]:
    return {t.name: db.execute(f"SELECT count(*) FROM {t.name}").fetchone()[0] for t in TABLES}


@guarded
def last_key(db: Handle, table: Table) -> int | None:
    """The highest key the table holds (None: empty, or no integer key): a resumed copy starts after it."""
    if not table.key:
        return None
    return db.execute(f"SELECT max({table.key}) FROM {table.name}").fetchone()[0]


@guarded
def row_at(db: Handle, table: Table, key: int) -> tuple | None:
    """The table's row at this integer key (a resumed copy checks the target's last one is the source's)."""
    row = db.execute(f"SELECT {', '.join(table.columns)} FROM {table.name} WHERE {table.key} = ?", [key]).fetchone()
    return tuple(row) if row is not None else None


@guarded
def read_rows(db: Handle, table: Table, *, after: int | None, chunk: int) -> Iterator[list[tuple]]:
    """The table's rows in key order, `chunk` at a time (memory flat whatever the size)."""
    where, params = ("", []) if after is None else (f" WHERE {table.key} > ?", [after])
    sql = (f"SELECT {', '.join(table.columns)} FROM {table.name}{where} "
           f"ORDER BY {table.key or table.order}")
    if pg.is_handle(db):
        yield from db.stream(sql, params, chunk)
        return
    cursor = db.execute(sql, params)
    while rows := cursor.fetchmany(chunk):
        yield rows


@guarded
def write_rows(db: Handle, table: Table, rows: list[tuple]) -> int:
    """Rows the target lacks, in one transaction; returns how many were new."""
    columns, values = table.columns, marks(table.columns)
    if table.name == "papers" and pg.is_handle(db):  # PostgreSQL's search index is a column of the paper
        columns, values = (*columns, "search"), values + ", ?::tsvector"
        rows = [(*row, pg_words.tsvector(row[2], row[3])) for row in rows]
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({values}) ON CONFLICT DO NOTHING"
    with transaction(db):
        written = executemany(db, sql, rows)
        if table.name == "papers" and written < len(rows):
            _refuse_papers_of_its_own(db, [row[0] for row in rows])
        if pg.is_handle(db) and table.name in _IDENTITY:  # at once: the target is a store between chunks too
            _continue_after_max(db, table.name, _IDENTITY[table.name])
        return written


def _refuse_papers_of_its_own(db: Handle, ids: list[str]) -> None:
    """A paper left out because the target already has another paper at its number (someone wrote into
    a half-copied store): its sightings and decisions could never follow, so the copy stops here."""
    present = {r[0] for r in db.execute(f"SELECT id FROM papers WHERE id IN ({marks(ids)})", ids)}
    missing = [pid for pid in ids if pid not in present]
    if missing:
        raise StoreRefused(f"paper {missing[0]} cannot be copied: the target has papers of its own at the same "
                           "numbers (was the half-copied store written to?); copy into an empty store instead")


# PostgreSQL's identity columns the copy writes explicitly (SQLite assigns its integer keys itself).
_IDENTITY = {"sightings": "id", "attempts": "id", "suggestions": "rowid", "batches": "rowid"}


def _continue_after_max(db: Handle, table: str, column: str) -> None:
    db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
               f"coalesce(max({column}), 0) + 1, false) FROM {table}")


@guarded
def table_digest(db: Handle, table: Table) -> str:
    """A hash of every row of the table in key order, alike on both backends (NUL counted as the U+FFFD
    PostgreSQL stores for it): two stores hold the same rows exactly when their digests agree."""
    digest = hashlib.sha256()
    for rows in read_rows(db, table, after=None, chunk=5_000):
        for row in rows:
            digest.update(repr(tuple(v.replace("\x00", "\ufffd") if isinstance(v, str) else v
                                     for v in row)).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


@guarded
def finish_copy(db: Handle) -> None:
    """What the target needs once the rows are in: SQLite's search index is rebuilt from the papers;
    PostgreSQL's identity columns continue after the highest key copied."""
    with transaction(db):
        if pg.is_handle(db):
            for table, column in _IDENTITY.items():
                _continue_after_max(db, table, column)
        else:
            db.execute("INSERT INTO papers_fts (papers_fts) VALUES ('rebuild')")
