"""Following a recorded batch: its state at the engine (refresh, cancel), finding it by id, and how it
reads: one status line, its `--json` record, the engine's validation errors."""

from __future__ import annotations

import calendar
import time
from typing import Callable, Iterable

from workbench.errors import InputError
from workbench.models.openai_batch import BatchAPI
from workbench.records import BatchRow
from workbench.store import Handle, get_batch, list_batches, update_batch
from workbench.vocab import BATCH_ENDED, ENGINE_API, ENGINE_FILE, UPLOADED, WRITTEN, prompt_label, utc_now


def validation_errors(row: BatchRow, shown: int = 20) -> list[str]:
    """The engine's reasons for rejecting a batch, one line each, for one readable block."""
    if not row.errors:
        return []
    lines = [f"{row.id} ({row.label}) failed validation at {row.endpoint}: {len(row.errors)} "
             f"error{'s' * (len(row.errors) != 1)}, nothing was run:"]
    for error in row.errors[:shown]:
        where = f"line {error['line']}" if error.get("line") is not None else "the file"
        text = f"  {where}: {error.get('code') or 'error'}: {' '.join(str(error.get('message') or '').split())}"
        lines.append(text + (f" (param {error['param']})" if error.get("param") else ""))
    if len(row.errors) > shown:
        lines.append(f"  … and {len(row.errors) - shown} more")
    return lines


def status_line(row: BatchRow, now: float | None = None) -> str:
    """One line: id, state, counts, age, what it asks for."""
    state = row.state + (", collected" if row.collected_at else "")
    if row.engine == ENGINE_FILE:
        counts = f"{row.requests:,} requests" if row.state == WRITTEN else f"{row.stored:,} lines stored"
    else:
        counts = counts_text(row) if row.completed is not None else f"{row.requests:,} requests"
    if row.collected_at and row.engine == ENGINE_API:
        counts += f", {row.stored:,} stored"
    return f"{row.id}  {state:<22} {counts:<34} {age(row.created_at, now):>8}  {row.label}"


def status_record(row: BatchRow, now: float | None = None) -> dict:
    """A batch for `batch status --json`."""
    return {"id": row.id, "engine": row.engine, "state": row.state, "collected": row.collected_at is not None,
            "prompt": row.prompt_name, "prompt_hash": row.prompt_id, "prompt_label": prompt_label(row.prompt_name,
                                                                                                  row.prompt_id),
            "model": row.model, "endpoint": row.endpoint, "requests": row.requests, "completed": row.completed,
            "failed": row.failed, "stored": row.stored, "input_tokens": row.input_tokens,
            "output_tokens": row.output_tokens, "input_file": row.input_file, "input_file_id": row.input_file_id,
            "output_file_id": row.output_file_id, "error_file_id": row.error_file_id, "errors": row.errors,
            "created_at": row.created_at, "submitted_at": row.submitted_at, "ended_at": row.ended_at,
            "collected_at": row.collected_at, "age_seconds": round(_seconds_since(row.created_at, now))}


def _seconds_since(stamp: str, now: float | None = None) -> float:
    then = calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))
    return max(0.0, (now if now is not None else time.time()) - then)


def age(stamp: str, now: float | None = None) -> str:
    seconds = int(_seconds_since(stamp, now))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 86400} days"


def counts_text(row: BatchRow) -> str:
    return f"{(row.completed or 0) + (row.failed or 0):,}/{row.requests:,} done, {row.failed or 0:,} failed"


def record_status(db: Handle, row_id: str, batch, redact: Callable[[str | None], str | None]) -> BatchRow:
    """Store what the engine says about a batch: status, counts, files, validation errors (text from
    outside: redacted, and mended by the store)."""
    counts = batch.request_counts
    changes = {"state": batch.status, "output_file_id": batch.output_file_id, "error_file_id": batch.error_file_id,
               "completed": counts.completed if counts else None, "failed": counts.failed if counts else None}
    errors = batch.errors.data if batch.errors and batch.errors.data else None
    if errors:
        changes["errors"] = [{"line": e.line, "code": redact(e.code), "message": redact(e.message),
                              "param": redact(e.param)} for e in errors]
    row = get_batch(db, row_id)
    if batch.status in BATCH_ENDED and row.ended_at is None:
        changes["ended_at"] = utc_now()
    update_batch(db, row_id, **changes)
    return get_batch(db, row_id)


def refresh(db: Handle, api: BatchAPI, row: BatchRow) -> BatchRow:
    """The batch's state as the engine has it now (unchanged for a file, an ended or an unsent batch)."""
    if row.engine != ENGINE_API or row.ended or row.state in (WRITTEN, UPLOADED) or row.endpoint != api.endpoint:
        return row
    return record_status(db, row.id, api.retrieve(row.id), api.model.redact)


def cancel(db: Handle, api: BatchAPI, row: BatchRow) -> BatchRow:
    if row.engine != ENGINE_API:
        raise InputError(f"{row.id} is a file for an offline engine, not a batch at an endpoint: nothing to cancel")
    if row.ended or row.collected_at:
        raise InputError(f"batch {row.id} has ended already ({row.state})")
    if row.state in (WRITTEN, UPLOADED):  # never created: nothing runs, nothing to collect
        update_batch(db, row.id, state="cancelled", ended_at=utc_now(), collected_at=utc_now())
        return get_batch(db, row.id)
    if row.endpoint != api.endpoint:
        raise InputError(f"batch {row.id} was submitted to {row.endpoint}; set OPENAI_BASE_URL to it to cancel it")
    return record_status(db, row.id, api.cancel(row.id), api.model.redact)


def find_batches(db: Handle, refs: Iterable[str]) -> list[BatchRow]:
    """Recorded batches by id (or a unique start of one)."""
    rows = list_batches(db)
    found = []
    for ref in refs:
        matches = [r for r in rows if r.id == ref] or [r for r in rows if r.id.startswith(ref)]
        if len(matches) != 1:
            raise InputError(f"{ref}: {'no' if not matches else 'more than one'} batch on record "
                             f"{'has that id' if not matches else 'starts so'} (see `workbench batch status`)")
        found.append(matches[0])
    return found
