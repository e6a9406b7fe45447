"""`workbench copy SRC DST`: a whole store from one place to another (SQLite file or PostgreSQL URL, either
way), in chunks, resumable, then verified by row counts and by the exports being identical."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Callable

from workbench.errors import InputError, StoreRefused, WorkbenchError
from workbench.jsonl import export_annotation_lines, export_suggestion_lines
from workbench.store import (
    COPY_TABLES as TABLES, Handle, finish_copy, last_key, read_rows, row_at, row_counts, table_digest, write_rows,
)

CHUNK = 5_000  # rows a transaction: large enough to be fast, small enough that a stop loses little


@dataclass
class CopyReport:
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows written now
    already: dict[str, int] = field(default_factory=dict)  # table -> rows the target had
    seconds: float = 0.0
    verified: bool = False

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def _digest(db: Handle) -> str:
    h = hashlib.sha256()
    for lines in (export_annotation_lines(db), ["\x00suggestions\x00"], export_suggestion_lines(db)):
        for line in lines:  # NUL as PostgreSQL stores it (U+FFFD): a store copied there is the same store
            h.update(line.replace("\\u0000", "\ufffd").encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def copy_store(source: Handle, target: Handle, *, into_existing: bool = False, target_name: str = "the target",
               chunk: int = CHUNK, on_rows: Callable[[str, int, int], None] | None = None) -> CopyReport:
    """Copy every table; `on_rows(table, done, total)` as chunks land. Raises InputError for a non-empty
    target without `into_existing`, WorkbenchError when the verification finds the stores differ."""
    have = row_counts(target)
    if any(have.values()) and not into_existing:
        rows = sum(have.values())
        raise InputError(f"{target_name}: the target store is not empty ({rows:,} rows); --into-existing adds "
                         "to it (and resumes a copy that stopped)")
    totals = row_counts(source)
    report = CopyReport(already=have)
    started = time.perf_counter()
    for table in TABLES:
        after = last_key(target, table) if into_existing else None
        if after is not None and row_at(target, table, after) != row_at(source, table, after):
            # Resuming goes on after the target's last key: only right when those rows are the source's.
            raise WorkbenchError(f"{target_name}: the target has {table.name} of its own (its last, key {after}, "
                                 "is not the source's; was a half-copied store written to?): copy into an empty store")
        done = have[table.name] if after is not None else 0
        report.rows[table.name] = 0
        for rows in read_rows(source, table, after=after, chunk=chunk):
            try:
                report.rows[table.name] += write_rows(target, table, rows)
            except StoreRefused as exc:
                raise WorkbenchError(f"{target_name}: the target refused a row of {table.name} ({exc}); what was "
                                     "copied before it stays, and --into-existing goes on from there") from None
            done += len(rows)
            if on_rows:
                on_rows(table.name, min(done, totals[table.name]), totals[table.name])
    finish_copy(target)
    report.seconds = time.perf_counter() - started
    copied = row_counts(target)
    differ = [f"{name} {copied[name]:,} in the target, {totals[name]:,} in the source"
              for name in totals if copied[name] != totals[name]]
    if differ:
        raise WorkbenchError(f"{target_name}: copied, but the stores differ: {'; '.join(differ)}")
    differ = [t.name for t in TABLES if table_digest(source, t) != table_digest(target, t)]
    if differ:
        raise WorkbenchError(f"{target_name}: copied, but the stores differ in {', '.join(differ)} (the target "
                             "held rows of its own under the same keys)")
    if _digest(source) != _digest(target):
        raise WorkbenchError(f"{target_name}: copied, but the exports of the two stores differ")
    report.verified = True
    return report
