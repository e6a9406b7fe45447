"""The JSONL contract: annotation export/import and suggestion export.

Key order and line order are stable (paper order, then annotator), so
export -> import into a fresh store -> export is byte-identical.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterable, Iterator

from sqlite_utils import Database

from workbench.corpus import paper_id as title_to_id
from workbench.db import write_transaction
from workbench.errors import InputError, WorkbenchError
from workbench.migrations import STATUSES
from workbench.schema import FIELDS
from workbench.store import import_annotation, iter_annotations, utc_now


def _dumps(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False)


def edited_fields(row: dict) -> list[str]:
    """Fields whose final value differs from the suggestion (all filled ones if none)."""
    suggested = (row.get("suggested") or {}).get("fields")
    if suggested is None:
        return [f for f in FIELDS if row.get(f) is not None]
    return [f for f in FIELDS if row.get(f) != suggested.get(f)]


def annotation_record(row: dict) -> dict:
    suggested = row.get("suggested")
    return {
        "paper_id": row["paper_id"],
        "title": row["title"],
        "annotator": row["annotator"],
        "status": row["status"],
        "flagged": bool(row["flagged"]),
        "annotation": {f: row.get(f) for f in FIELDS},
        "edited_fields": edited_fields(row),
        "notes": row.get("notes"),
        "suggestion": None if suggested is None else {"id": row["suggestion_id"], **suggested},
        "seconds_spent": row["seconds_spent"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def export_annotation_lines(db: Database, **filters) -> Iterator[str]:
    for row in iter_annotations(db, **filters):
        yield _dumps(annotation_record(row)) + "\n"


def suggestion_record(row: dict) -> dict:
    evidence = row.get("evidence") or {}
    return {
        "paper_id": row["paper_id"],
        "title": row["title"],
        "prompt": row["prompt_name"],
        "prompt_hash": row["prompt_id"],
        "model": row["model"],
        "outcome": row["outcome"],
        "error": row["error"],
        "fields": {f: row.get(f) for f in FIELDS},
        "evidence": {f: evidence.get(f) for f in FIELDS},
        "usage": {"input_tokens": row["input_tokens"], "output_tokens": row["output_tokens"]},
        "latency_ms": row["latency_ms"],
        "created_at": row["created_at"],
    }


def export_suggestion_lines(db: Database, *, prompt_ids: list[str] | None = None, model: str | None = None) -> Iterator[str]:
    where, params = [], []
    if prompt_ids:
        where.append(f"s.prompt_id IN ({', '.join('?' for _ in prompt_ids)})")
        params.extend(prompt_ids)
    if model:
        where.append("s.model = ?")
        params.append(model)
    sql = (
        "SELECT s.*, p.title, pr.name AS prompt_name FROM suggestions s "
        "JOIN papers p ON p.id = s.paper_id JOIN prompts pr ON pr.id = s.prompt_id "
        + (f"WHERE {' AND '.join(where)} " if where else "")
        + "ORDER BY p.seq, pr.name, s.prompt_id, s.model, s.params"
    )
    for row in db.query(sql, params):
        row["evidence"] = json.loads(row["evidence"]) if row["evidence"] else None
        yield _dumps(suggestion_record(row)) + "\n"


@contextmanager
def atomic_output(path: Path | None, stdout: IO[str]) -> Iterator[IO[str]]:
    """Write to a temp file beside `path` and rename it in place on success."""
    if path is None:
        yield stdout
        return
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or Path("."))
    except OSError as exc:
        raise WorkbenchError(f"{path}: cannot write ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_lines(lines: Iterable[str], path: Path | None, stdout: IO[str]) -> int:
    count = 0
    with atomic_output(path, stdout) as out:
        for line in lines:
            out.write(line)
            count += 1
    return count


# --------------------------------------------------------------------------- import


def _field_value(value, where: str, key: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise InputError(f"{where}: '{key}' must be a string or null")


def _parse_record(record, where: str, default_annotator: str, known_ids) -> dict:
    if not isinstance(record, dict):
        raise InputError(f"{where}: expected a JSON object")
    pid = record.get("paper_id")
    title = record.get("title")
    if not isinstance(pid, str) or not pid:
        if not isinstance(title, str) or not title.strip():
            raise InputError(f"{where}: a record needs 'paper_id' or 'title'")
        pid = title_to_id(title)
    if pid not in known_ids:
        label = record.get("paper_id") or title
        raise InputError(f"{where}: unknown paper {label!r} (ingest its abstract first)")
    status = record.get("status")
    if status not in STATUSES:
        raise InputError(f"{where}: 'status' must be one of {', '.join(STATUSES)}, got {status!r}")
    annotation = record.get("annotation")
    if not isinstance(annotation, dict):
        raise InputError(f"{where}: 'annotation' must be an object with {', '.join(FIELDS)}")
    unknown = set(annotation) - set(FIELDS)
    if unknown:
        raise InputError(f"{where}: unknown annotation field {sorted(unknown)[0]!r}")
    annotator = record.get("annotator", default_annotator)
    if not isinstance(annotator, str) or not annotator.strip():
        raise InputError(f"{where}: 'annotator' must be a non-empty string")
    flagged = record.get("flagged", False)
    if not isinstance(flagged, bool):
        raise InputError(f"{where}: 'flagged' must be true or false")
    seconds = record.get("seconds_spent", 0.0)
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise InputError(f"{where}: 'seconds_spent' must be a number of seconds")
    now = utc_now()
    row = {
        "paper_id": pid,
        "annotator": annotator,
        "status": status,
        "flagged": flagged,
        **{f: _field_value(annotation.get(f), where, f) for f in FIELDS},
        "notes": _field_value(record.get("notes"), where, "notes"),
        "suggestion_id": None,
        "suggested": None,
        "seconds_spent": float(seconds),
        "created_at": _timestamp(record.get("created_at"), where, "created_at") or now,
        "updated_at": _timestamp(record.get("updated_at"), where, "updated_at") or now,
    }
    suggestion = record.get("suggestion")
    if suggestion is not None:
        row["suggestion_id"], row["suggested"] = _parse_suggestion(suggestion, where)
    return row


def _timestamp(value, where: str, key: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) < 10:
        raise InputError(f"{where}: '{key}' must be an ISO 8601 time")
    return value


def _parse_suggestion(suggestion, where: str) -> tuple[str, dict]:
    if not isinstance(suggestion, dict):
        raise InputError(f"{where}: 'suggestion' must be an object or null")
    for key in ("id", "prompt", "prompt_hash", "model"):
        if not isinstance(suggestion.get(key), str):
            raise InputError(f"{where}: 'suggestion.{key}' must be a string")
    fields = suggestion.get("fields")
    if not isinstance(fields, dict):
        raise InputError(f"{where}: 'suggestion.fields' must be an object")
    snapshot = {
        "prompt": suggestion["prompt"],
        "prompt_hash": suggestion["prompt_hash"],
        "model": suggestion["model"],
        "fields": {f: _field_value(fields.get(f), where, f"suggestion.fields.{f}") for f in FIELDS},
    }
    return suggestion["id"], snapshot


def import_annotations(db: Database, path: Path, default_annotator: str) -> int:
    """Import one JSONL file in one transaction: every line is checked before any is written."""
    path = Path(path)
    try:
        handle = open(path, encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    known_ids = {r[0] for r in db.execute("SELECT id FROM papers")}
    rows = []
    with handle:
        try:
            for number, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                where = f"{path}:{number}"
                try:
                    record = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
                rows.append(_parse_record(record, where, default_annotator, known_ids))
        except UnicodeDecodeError:
            raise InputError(f"{path}: not UTF-8 text") from None
    if not rows:
        raise InputError(f"{path}: no annotations found")
    with write_transaction(db):
        for row in rows:
            import_annotation(db, row)
    return len(rows)
