"""Batches: every request file written and every batch submitted to an engine, with its papers."""

from __future__ import annotations

import json

from workbench.records import BatchRow, SuggestionKey
from workbench.store._base import Handle, guarded, marks, mended, transaction
from workbench.vocab import ENGINE_API, utc_now

_BATCH_COLUMNS = (
    "id", "engine", "prompt_id", "model", "params", "key", "requests", "state", "created_at", "updated_at", "endpoint",
    "input_file", "input_file_id", "output_file_id", "error_file_id", "bytes", "completed", "failed", "errors",
    "stored", "input_tokens", "output_tokens", "submitted_at", "ended_at", "collected_at",
)
# What the engine or a collect may change after a batch is recorded.
_BATCH_UPDATABLE = frozenset(_BATCH_COLUMNS[6:]) - {"created_at", "endpoint"}


def _batch_from(row: tuple) -> BatchRow:
    (bid, engine, prompt_id, model, params, key, requests, state, created, updated, *rest, prompt_name) = row
    batch = BatchRow(bid, engine, prompt_id, prompt_name, model, params, key, requests, state, created, updated,
                     *rest)
    batch.errors = json.loads(batch.errors) if batch.errors else None
    return batch


@guarded
def add_batch(db: Handle, batch: BatchRow, papers: list[str]) -> None:
    """Record a batch (a request file written, about to be uploaded) with the papers it asks for."""
    values = {c: getattr(batch, c) for c in _BATCH_COLUMNS}
    values["errors"] = json.dumps(batch.errors) if batch.errors is not None else None
    columns = (*_BATCH_COLUMNS, "papers")
    with transaction(db):
        db.execute(f"INSERT INTO batches ({', '.join(columns)}) VALUES ({marks(columns)})",
                   [*values.values(), json.dumps(papers)])


@guarded
def update_batch(db: Handle, batch_id: str, **changes) -> None:
    """Change a recorded batch: its state, counts, files, times, or its id once the engine gives one."""
    unknown = set(changes) - _BATCH_UPDATABLE - {"id"}
    if unknown:
        raise ValueError(f"batches has no updatable column {sorted(unknown)}")
    if "errors" in changes and changes["errors"] is not None:
        changes["errors"] = json.dumps(changes["errors"], ensure_ascii=False)
    changes["updated_at"] = utc_now()
    with transaction(db):  # mended: an engine's status or message with a lone surrogate cannot be stored
        db.execute(f"UPDATE batches SET {', '.join(f'{c} = ?' for c in changes)} WHERE id = ?",
                   [*mended(list(changes.values())), batch_id])


_BATCH_SELECT = (f"SELECT {', '.join(f'b.{c}' for c in _BATCH_COLUMNS)}, p.name FROM batches b "
                 "JOIN prompts p ON p.id = b.prompt_id")


@guarded
def get_batch(db: Handle, batch_id: str) -> BatchRow | None:
    row = db.execute(f"{_BATCH_SELECT} WHERE b.id = ?", [batch_id]).fetchone()
    return _batch_from(row) if row else None


@guarded
def list_batches(db: Handle, *, uncollected: bool = False, engine: str | None = None) -> list[BatchRow]:
    """Recorded batches, oldest first; `uncollected`: those whose results are not stored yet."""
    where, params = [], []
    if uncollected:
        where.append("b.collected_at IS NULL")
    if engine:
        where.append("b.engine = ?")
        params.append(engine)
    sql = _BATCH_SELECT + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY b.created_at, b.rowid"
    return [_batch_from(r) for r in db.execute(sql, params)]


@guarded
def batch_papers(db: Handle, batch_id: str) -> list[str]:
    row = db.execute("SELECT papers FROM batches WHERE id = ?", [batch_id]).fetchone()
    return json.loads(row[0]) if row else []


@guarded
def papers_in_flight(db: Handle, key: str) -> set[str]:
    """Papers a batch at an engine is asking for with this suggestion key, and whose results are not stored
    yet: asking again would pay twice."""
    rows = db.execute("SELECT papers FROM batches WHERE key = ? AND collected_at IS NULL AND engine = ?",
                      [key, ENGINE_API])
    return {pid for (papers,) in rows for pid in json.loads(papers)}


@guarded
def batch_keys(db: Handle) -> dict[str, SuggestionKey]:
    """key hash as recorded -> every suggestion key a batch was made with."""
    return {r[0]: SuggestionKey(r[1], r[2], r[3])
            for r in db.execute("SELECT DISTINCT key, prompt_id, model, params FROM batches")}


@guarded
def batch_totals(db: Handle, batch_id: str) -> tuple[int, int, int]:
    """(result lines stored, input tokens, output tokens) of a batch, counted from the attempts log."""
    row = db.execute("SELECT count(*), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0) "
                     "FROM attempts WHERE batch_id = ?", [batch_id]).fetchone()
    return row[0], row[1], row[2]


@guarded
def collected_suggestion_ids(db: Handle, batch_id: str, suggestion_ids: list[str]) -> set[str]:
    """Of these suggestion keys, those whose line from this batch is already stored."""
    if not suggestion_ids:
        return set()
    rows = db.execute(f"SELECT suggestion_id FROM attempts WHERE suggestion_id IN ({marks(suggestion_ids)}) "
                      "AND batch_id = ?", [*suggestion_ids, batch_id])
    return {r[0] for r in rows}

