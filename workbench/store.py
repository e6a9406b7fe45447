"""Queries and writes on the store: papers, prompts, suggestions, annotations, events.

Every function takes the `Database` from `open_db()`. Multi-row units of work
(a decision and its event, an undo) run in one `write_transaction()`, so a crash
leaves either all of it or none of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterator

from sqlite_utils import Database

from workbench.db import write_transaction
from workbench.migrations import STATUSES
from workbench.schema import FIELDS
_ANNOTATION_COLUMNS = (
    "paper_id", "annotator", "status", "flagged", "technique", "claimed_gain", "compute",
    "notes", "suggestion_id", "suggested", "seconds_spent", "created_at", "updated_at",
)


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _one(db: Database, sql: str, params: tuple | list = ()) -> dict | None:
    return next(db.query(sql, params), None)


# --------------------------------------------------------------------------- papers


def count_papers(db: Database) -> int:
    return db.execute("SELECT count(*) FROM papers").fetchone()[0]


def get_paper(db: Database, paper_id: str) -> dict | None:
    return _one(db, "SELECT * FROM papers WHERE id = ?", [paper_id])


def paper_order(db: Database) -> list[tuple[int, str]]:
    """(seq, id) of every paper in paper order: small, so a queue can hold it all."""
    return db.execute("SELECT seq, id FROM papers ORDER BY seq").fetchall()


def find_papers(db: Database, text: str, limit: int = 50) -> list[dict]:
    """Papers whose title contains `text` (case-insensitive), or whose id starts with it."""
    text = text.strip()
    if not text:
        return []
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return list(
        db.query(
            "SELECT id, seq, title FROM papers WHERE id LIKE ? ESCAPE '\\' OR title LIKE ? ESCAPE '\\' "
            "ORDER BY (id LIKE ? ESCAPE '\\') DESC, seq LIMIT ?",
            [text.lower() + "%", pattern, text.lower() + "%", limit],
        )
    )


# --------------------------------------------------------------------------- prompts


def ensure_prompt(db: Database, prompt_id: str, name: str, description: str | None, body: str | None) -> None:
    """Store a prompt version the first time it is used (content-hash id)."""
    db.execute(
        "INSERT INTO prompts (id, name, description, body, created_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET body = coalesce(prompts.body, excluded.body), "
        "description = coalesce(prompts.description, excluded.description)",
        [prompt_id, name, description, body, utc_now()],
    )


# --------------------------------------------------------------------------- suggestions

_SUGGESTION_JSON = ("evidence", "warnings")


def _decode_suggestion(row: dict | None) -> dict | None:
    if row is None:
        return None
    for key in _SUGGESTION_JSON:
        if row.get(key) is not None:
            row[key] = json.loads(row[key])
    return row


def save_suggestion(db: Database, record: dict[str, Any]) -> None:
    """Insert or replace the one suggestion of its (paper, prompt, model, params)."""
    row = dict(record)
    for key in _SUGGESTION_JSON:
        if row.get(key) is not None:
            row[key] = json.dumps(row[key], ensure_ascii=False)
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    db.execute(f"INSERT OR REPLACE INTO suggestions ({columns}) VALUES ({marks})", list(row.values()))


_SUGGESTION_SELECT = (
    "SELECT s.*, p.name AS prompt_name FROM suggestions s JOIN prompts p ON p.id = s.prompt_id"
)


def get_suggestion(db: Database, suggestion_id: str) -> dict | None:
    return _decode_suggestion(_one(db, f"{_SUGGESTION_SELECT} WHERE s.id = ?", [suggestion_id]))


def suggestions_for_paper(db: Database, paper_id: str) -> list[dict]:
    """All suggestions of one paper, oldest first (the order keys 1-9 follow)."""
    rows = db.query(f"{_SUGGESTION_SELECT} WHERE s.paper_id = ? ORDER BY s.created_at, s.rowid", [paper_id])
    return [_decode_suggestion(r) for r in rows]


def ok_suggestion_ids(db: Database, prompt_id: str, model: str, params: str) -> set[str]:
    """Papers that already have an `ok` suggestion for this prompt/model/params."""
    rows = db.execute(
        "SELECT paper_id FROM suggestions WHERE prompt_id = ? AND model = ? AND params = ? AND outcome = 'ok'",
        [prompt_id, model, params],
    )
    return {r[0] for r in rows}


# --------------------------------------------------------------------------- annotations


def get_annotation(db: Database, paper_id: str, annotator: str) -> dict | None:
    row = _one(db, "SELECT * FROM annotations WHERE paper_id = ? AND annotator = ?", [paper_id, annotator])
    return _decode_annotation(row)


def _decode_annotation(row: dict | None) -> dict | None:
    if row is not None:
        row["flagged"] = bool(row["flagged"])
        row["suggested"] = json.loads(row["suggested"]) if row["suggested"] else None
    return row


def annotation_statuses(db: Database, annotator: str) -> dict[str, str | None]:
    """paper id -> status (None when only flagged) for one annotator."""
    rows = db.execute("SELECT paper_id, status FROM annotations WHERE annotator = ?", [annotator])
    return dict(rows.fetchall())


def flagged_ids(db: Database, annotator: str) -> set[str]:
    rows = db.execute("SELECT paper_id FROM annotations WHERE annotator = ? AND flagged", [annotator])
    return {r[0] for r in rows}


def _write_annotation(db: Database, row: dict) -> None:
    values = dict(row)
    values["flagged"] = int(bool(values["flagged"]))
    if values.get("suggested") is not None:
        values["suggested"] = json.dumps(values["suggested"], ensure_ascii=False)
    marks = ", ".join("?" for _ in _ANNOTATION_COLUMNS)
    db.execute(
        f"INSERT OR REPLACE INTO annotations ({', '.join(_ANNOTATION_COLUMNS)}) VALUES ({marks})",
        [values.get(c) for c in _ANNOTATION_COLUMNS],
    )


def _append_event(
    db: Database, paper_id: str, annotator: str, action: str, before: dict | None, after: dict | None,
    *, seconds: float | None = None, session: str | None = None, undoes: int | None = None, at: str | None = None,
) -> int:
    cursor = db.execute(
        "INSERT INTO events (paper_id, annotator, action, before, after, seconds, session, undoes, at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            paper_id, annotator, action,
            json.dumps(before, ensure_ascii=False) if before is not None else None,
            json.dumps(after, ensure_ascii=False) if after is not None else None,
            seconds, session, undoes, at or utc_now(),
        ],
    )
    return cursor.lastrowid


def suggestion_snapshot(suggestion: dict | None) -> tuple[str | None, dict | None]:
    """(id, snapshot) of the suggestion a decision started from, as the reviewer saw it."""
    if suggestion is None:
        return None, None
    return suggestion["id"], {
        "prompt": suggestion["prompt_name"],
        "prompt_hash": suggestion["prompt_id"],
        "model": suggestion["model"],
        "fields": {f: suggestion.get(f) for f in FIELDS},
    }


@dataclass(slots=True)
class Decision:
    paper_id: str
    annotator: str
    status: str
    fields: dict[str, str | None]
    suggestion: dict | None = None  # the stored suggestion row it started from
    seconds: float = 0.0
    notes: str | None = None
    session: str | None = None


def decide(db: Database, decision: Decision) -> dict:
    """Record a decision and its event in one transaction; returns the new row."""
    if decision.status not in STATUSES:
        raise ValueError(f"unknown status {decision.status!r}")
    now = utc_now()
    with write_transaction(db):
        before = get_annotation(db, decision.paper_id, decision.annotator)
        suggestion_id, suggested = suggestion_snapshot(decision.suggestion)
        after = {
            "paper_id": decision.paper_id,
            "annotator": decision.annotator,
            "status": decision.status,
            "flagged": before["flagged"] if before else False,
            **{f: clean_value(decision.fields.get(f)) for f in FIELDS},
            "notes": clean_value(decision.notes) if decision.notes is not None else (before or {}).get("notes"),
            "suggestion_id": suggestion_id,
            "suggested": suggested,
            "seconds_spent": round((before["seconds_spent"] if before else 0.0) + decision.seconds, 1),
            "created_at": before["created_at"] if before else now,
            "updated_at": now,
        }
        _write_annotation(db, after)
        _append_event(
            db, decision.paper_id, decision.annotator, decision.status, before, after,
            seconds=round(decision.seconds, 2), session=decision.session, at=now,
        )
    return after


def clean_value(value: str | None) -> str | None:
    """Form values are single-line; empty means "not stated"."""
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None


def set_flag(db: Database, paper_id: str, annotator: str, flagged: bool, *, session: str | None = None) -> dict:
    now = utc_now()
    with write_transaction(db):
        before = get_annotation(db, paper_id, annotator)
        after = dict(before) if before else {
            "paper_id": paper_id, "annotator": annotator, "status": None,
            **{f: None for f in FIELDS}, "notes": None, "suggestion_id": None, "suggested": None,
            "seconds_spent": 0.0, "created_at": now,
        }
        after["flagged"] = flagged
        after["updated_at"] = now
        _write_annotation(db, after)
        _append_event(db, paper_id, annotator, "flag" if flagged else "unflag", before, after, session=session, at=now)
    return after


def undo_last(db: Database, annotator: str, *, session: str | None = None) -> str | None:
    """Undo the annotator's latest change that is not undone yet; returns its paper id."""
    with write_transaction(db):
        event = _one(
            db,
            "SELECT * FROM events WHERE annotator = ? AND action != 'undo' AND id NOT IN "
            "(SELECT undoes FROM events WHERE annotator = ? AND undoes IS NOT NULL) "
            "ORDER BY id DESC LIMIT 1",
            [annotator, annotator],
        )
        if event is None:
            return None
        paper_id = event["paper_id"]
        current = get_annotation(db, paper_id, annotator)
        restored = json.loads(event["before"]) if event["before"] else None
        if restored is None:
            db.execute("DELETE FROM annotations WHERE paper_id = ? AND annotator = ?", [paper_id, annotator])
        else:
            _write_annotation(db, restored)
        _append_event(db, paper_id, annotator, "undo", current, restored, session=session, undoes=event["id"])
    return paper_id


def import_annotation(db: Database, row: dict) -> None:
    """Write one imported annotation row and its event (caller holds the transaction)."""
    before = get_annotation(db, row["paper_id"], row["annotator"])
    _write_annotation(db, row)
    _append_event(db, row["paper_id"], row["annotator"], "import", before, row)


def iter_annotations(
    db: Database, *, status: str | None = None, annotator: str | None = None, flagged: bool = False,
) -> Iterator[dict]:
    """Decided annotations in paper order, with the paper title."""
    where, params = ["a.status IS NOT NULL"], []
    if status:
        where.append("a.status = ?")
        params.append(status)
    if annotator:
        where.append("a.annotator = ?")
        params.append(annotator)
    if flagged:
        where.append("a.flagged")
    sql = (
        "SELECT a.*, p.title FROM annotations a JOIN papers p ON p.id = a.paper_id "
        f"WHERE {' AND '.join(where)} ORDER BY p.seq, a.annotator"
    )
    cursor = db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    for values in cursor:
        yield _decode_annotation(dict(zip(names, values)))
