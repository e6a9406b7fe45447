"""Queries and writes on the store: papers, prompts, suggestions, attempts, annotations, events.

Every function takes the `Database` from `open_db()`. Rows leave this module as
the named records of `workbench.records`. Multi-row units of work (a decision
and its event, a suggestion and its attempts, an undo) run in one
`write_transaction()`, so a crash leaves either all of it or none of it.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, replace
from typing import Any, Iterable, Iterator, NamedTuple

from sqlite_utils import Database

from workbench.db import write_transaction
from workbench.errors import Conflict, InputError
from workbench.grounding import Span
from workbench.json_text import mend
from workbench.records import (
    AnnotationRow, AttemptRow, BatchRow, Call, PaperRow, SearchHit, SuggestionRow, TitledAnnotation, Values, no_values,
)
from workbench.vocab import ENGINE_API, FIELDS, OK, STATUSES, collapse_whitespace, prompt_label, utc_now


def _one(db: Database, sql: str, params: tuple | list = ()) -> dict | None:
    return next(db.query(sql, params), None)


def _marks(values: Iterable) -> str:
    return ", ".join("?" for _ in values)


# --------------------------------------------------------------------------- papers

_PAPER_COLUMNS = ("id, seq, title, abstract, authors_count, published, published_iso, upvotes, organization, "
                  "content_hash")


def count_papers(db: Database) -> int:
    return db.execute("SELECT count(*) FROM papers").fetchone()[0]


def get_paper(db: Database, paper_id: str) -> PaperRow | None:
    row = db.execute(f"SELECT {_PAPER_COLUMNS} FROM papers WHERE id = ?", [paper_id]).fetchone()
    return PaperRow(*row) if row else None


def get_papers(db: Database, paper_ids: list[str]) -> dict[str, PaperRow]:
    rows = db.execute(f"SELECT {_PAPER_COLUMNS} FROM papers WHERE id IN ({_marks(paper_ids)})", paper_ids)
    return {r[0]: PaperRow(*r) for r in rows}


def iter_papers(db: Database, paper_ids: list[str], chunk: int = 256) -> Iterator[PaperRow]:
    """The papers in the order given (unknown ids skipped), read `chunk` at a time: one query per
    chunk, not per paper, and memory flat for any number of ids."""
    for start in range(0, len(paper_ids), chunk):
        part = paper_ids[start:start + chunk]
        found = get_papers(db, part)
        yield from (found[pid] for pid in part if pid in found)


def paper_order(db: Database) -> list[tuple[int, str]]:
    """(seq, id) of every paper in paper order: small, so a queue can hold it all."""
    return db.execute("SELECT seq, id FROM papers ORDER BY seq").fetchall()


def paper_seq(db: Database, paper_id: str) -> int | None:
    row = db.execute("SELECT seq FROM papers WHERE id = ?", [paper_id]).fetchone()
    return row[0] if row else None


def paper_with_number(db: Database, number: int) -> str | None:
    """The id of paper #`number` (its fixed number: the order it was first ingested in)."""
    row = db.execute("SELECT id FROM papers WHERE seq = ?", [number]).fetchone()
    return row[0] if row else None


def remember_position(db: Database, annotator: str, queue: str, paper_id: str) -> None:
    """Where the annotator is in this queue. Best effort: a store busy with another writer for
    longer than the busy timeout costs the resume point, never the reviewer's move."""
    try:
        with write_transaction(db):
            db.execute("INSERT INTO review_positions (annotator, queue, paper_id, at) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT (annotator, queue) DO UPDATE SET paper_id = excluded.paper_id, at = excluded.at",
                       [annotator, queue, paper_id, utc_now()])
    except sqlite3.OperationalError:
        pass


def remembered_position(db: Database, annotator: str, queue: str) -> str | None:
    row = db.execute("SELECT paper_id FROM review_positions WHERE annotator = ? AND queue = ?",
                     [annotator, queue]).fetchone()
    return row[0] if row else None


def unknown_paper_ids(db: Database, paper_ids: Iterable[str]) -> list[str]:
    return [pid for pid in paper_ids if paper_seq(db, pid) is None]


def find_papers(db: Database, text: str, limit: int = 50) -> list[SearchHit]:
    """Papers whose title contains `text` (case-insensitive), or whose id starts with it."""
    text = text.strip()
    if not text:
        return []
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = db.execute(
        "SELECT id, seq, title FROM papers WHERE id LIKE ? ESCAPE '\\' OR title LIKE ? ESCAPE '\\' "
        "ORDER BY (id LIKE ? ESCAPE '\\') DESC, seq LIMIT ?",
        [text.lower() + "%", pattern, text.lower() + "%", limit],
    )
    return [SearchHit(*r) for r in rows]


# --------------------------------------------------------------------------- prompts


class StoredPrompt(NamedTuple):
    id: str
    name: str
    description: str | None

    @property
    def label(self) -> str:
        return prompt_label(self.name, self.id)


def ensure_prompt(db: Database, prompt_id: str, name: str, description: str | None, body: str | None) -> None:
    """Store a prompt version the first time it is used (content-hash id)."""
    db.execute(
        "INSERT INTO prompts (id, name, description, body, created_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET body = coalesce(prompts.body, excluded.body), "
        "description = coalesce(prompts.description, excluded.description)",
        [prompt_id, name, description, body, utc_now()],
    )


def stored_prompts(db: Database) -> list[StoredPrompt]:
    return [StoredPrompt(*r) for r in db.execute("SELECT id, name, description FROM prompts ORDER BY name, created_at")]


def suggestion_counts_by_prompt(db: Database) -> dict[str, dict[str, int]]:
    """prompt id -> outcome -> stored suggestions."""
    counts: dict[str, dict[str, int]] = {}
    for pid, outcome, count in db.execute("SELECT prompt_id, outcome, count(*) FROM suggestions GROUP BY 1, 2"):
        counts.setdefault(pid, {})[outcome] = count
    return counts


def prompt_versions(db: Database, name: str, hash_prefix: str = "") -> list[str]:
    """Stored prompt ids with this name (and hash prefix)."""
    rows = db.execute("SELECT id FROM prompts WHERE name = ? AND id LIKE ? ORDER BY created_at",
                      [name, hash_prefix + "%"])
    return [r[0] for r in rows]


# --------------------------------------------------------------------------- suggestions

_SUGGESTION_COLUMNS = (
    "id", "paper_id", "prompt_id", "model", "params", "outcome", "error", *FIELDS, "evidence", "warnings", "raw",
    "input_tokens", "output_tokens", "latency_ms", "attempts", "created_at", "batch_id", "content_hash",
)
_INSERT_SUGGESTION = (
    f"INSERT OR REPLACE INTO suggestions ({', '.join(_SUGGESTION_COLUMNS)}) VALUES ({_marks(_SUGGESTION_COLUMNS)})"
)
_ATTEMPT_COLUMNS = (
    "suggestion_id", "paper_id", "prompt_id", "model", "params", "request_hash", "ask", "attempt", "outcome",
    "http_status", "error", "raw", "raw_chars", "input_tokens", "output_tokens", "latency_ms", "batch_id", "at",
)
_INSERT_ATTEMPT = f"INSERT INTO attempts ({', '.join(_ATTEMPT_COLUMNS)}) VALUES ({_marks(_ATTEMPT_COLUMNS)})"


def _evidence_json(evidence: dict[str, Span | None]) -> str:
    return json.dumps({f: (span.as_dict() if span else None) for f, span in evidence.items()}, ensure_ascii=False)


def _mended(values: list) -> list:
    """The last guard: SQLite cannot store a lone surrogate (UnicodeEncodeError would end the run)."""
    return [mend(v) if isinstance(v, str) else v for v in values]


def _suggestion_values(s: SuggestionRow) -> list:
    return _mended([s.id, s.paper_id, s.prompt_id, s.model, s.params, s.outcome, s.error,
                    *(s.values.get(f) for f in FIELDS), _evidence_json(s.evidence),
                    json.dumps(s.warnings, ensure_ascii=False), s.raw, s.input_tokens, s.output_tokens, s.latency_ms,
                    s.attempts, s.created_at, s.batch_id, s.content_hash])


def _attempt_values(s: SuggestionRow, call: Call) -> list:
    return _mended([s.id, s.paper_id, s.prompt_id, s.model, s.params, call.request_hash, call.ask, call.attempt,
                    call.outcome, call.http_status, call.error, call.raw, call.raw_chars, call.input_tokens,
                    call.output_tokens, call.latency_ms, call.batch_id, call.at or s.created_at])


def save_suggestion(db: Database, suggestion: SuggestionRow, calls: list[Call]) -> None:
    """Make this the current suggestion of its key and append its calls to the attempts log."""
    save_suggestions(db, [(suggestion, calls)])


def _made_on_current(db: Database, items: list[tuple[SuggestionRow, list[Call]]]) -> None:
    """A suggestion that does not say which text it was made from was made from the current one."""
    unsaid = [s for s, _ in items if s.content_hash is None]
    if unsaid:
        hashes = dict(db.execute(f"SELECT id, content_hash FROM papers WHERE id IN ({_marks(unsaid)})",
                                 [s.paper_id for s in unsaid]).fetchall())
        for s in unsaid:
            s.content_hash = hashes.get(s.paper_id)


def save_suggestions(db: Database, items: list[tuple[SuggestionRow, list[Call]]]) -> None:
    """Several suggestions in one transaction (a run commits in small groups, not one by one)."""
    with write_transaction(db):
        _made_on_current(db, items)
        db.conn.executemany(_INSERT_SUGGESTION, [_suggestion_values(s) for s, _ in items])
        db.conn.executemany(_INSERT_ATTEMPT, [_attempt_values(s, c) for s, calls in items for c in calls])


_UPSERT_FROM_BATCH = (
    f"INSERT INTO suggestions ({', '.join(_SUGGESTION_COLUMNS)}) VALUES ({_marks(_SUGGESTION_COLUMNS)}) "
    "ON CONFLICT(id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in _SUGGESTION_COLUMNS[1:])
    + f" WHERE suggestions.outcome != '{OK}' OR suggestions.content_hash IS NOT excluded.content_hash"
)


def save_batch_suggestions(db: Database, items: list[tuple[SuggestionRow, list[Call]]]) -> set[str]:
    """Suggestions from a batch, in one transaction: each becomes the current one of its key unless
    that key already has an `ok` one (made some other way meanwhile), which stays; the calls are
    appended either way, as history. Returns the ids whose `ok` suggestion stayed."""
    if not items:
        return set()
    ids = [s.id for s, _ in items]
    with write_transaction(db):
        _made_on_current(db, items)
        kept = {r[0] for r in db.execute(
            f"SELECT s.id FROM suggestions s JOIN papers p ON p.id = s.paper_id AND p.content_hash = s.content_hash "
            f"WHERE s.outcome = '{OK}' AND s.id IN ({_marks(ids)})", ids)}
        db.conn.executemany(_UPSERT_FROM_BATCH, [_suggestion_values(s) for s, _ in items])
        db.conn.executemany(_INSERT_ATTEMPT, [_attempt_values(s, c) for s, calls in items for c in calls])
    return kept


_SUGGESTION_SELECT = (
    "SELECT s.id, s.paper_id, s.prompt_id, p.name, s.model, s.params, s.outcome, s.error, "
    "s.technique, s.claimed_gain, s.compute, s.evidence, s.warnings, s.raw, s.input_tokens, s.output_tokens, "
    "s.latency_ms, s.attempts, s.created_at, s.batch_id, s.content_hash "
    "FROM suggestions s JOIN prompts p ON p.id = s.prompt_id"
)


def suggestion_from_row(row: tuple | list) -> SuggestionRow:
    """A SuggestionRow from the columns of _SUGGESTION_SELECT (in that order)."""
    (sid, pid, prompt_id, prompt_name, model, params, outcome, error, technique, gain, compute, evidence, warnings,
     raw, tokens_in, tokens_out, latency, attempts, created, batch_id, content_hash) = row
    spans = json.loads(evidence) if evidence else {}
    return SuggestionRow(
        id=sid, paper_id=pid, prompt_id=prompt_id, prompt_name=prompt_name, model=model, params=params,
        outcome=outcome, error=error, values={"technique": technique, "claimed_gain": gain, "compute": compute},
        evidence={f: (Span(**spans[f]) if spans.get(f) else None) for f in FIELDS},
        warnings=json.loads(warnings) if warnings else [], raw=raw, input_tokens=tokens_in,
        output_tokens=tokens_out, latency_ms=latency, attempts=attempts, created_at=created, batch_id=batch_id,
        content_hash=content_hash,
    )


def get_suggestion(db: Database, suggestion_id: str) -> SuggestionRow | None:
    row = db.execute(f"{_SUGGESTION_SELECT} WHERE s.id = ?", [suggestion_id]).fetchone()
    return suggestion_from_row(row) if row else None


_ON_CURRENT_TEXT = "s.content_hash = (SELECT content_hash FROM papers WHERE id = s.paper_id)"


def suggestions_for_paper(db: Database, paper_id: str) -> list[SuggestionRow]:
    """The suggestions made from the paper's current text, oldest first (the order keys 1-9 follow).
    Those made from an older revision are kept but not served: their values and spans are of that text."""
    rows = db.execute(f"{_SUGGESTION_SELECT} WHERE s.paper_id = ? AND {_ON_CURRENT_TEXT} "
                      "ORDER BY s.created_at, s.rowid", [paper_id])
    return [suggestion_from_row(r) for r in rows]


def papers_lacking_ok(db: Database, prompt_id: str, model: str, params: str, *, only: list[str] | None = None,
                      force: bool = False, columns: str = "p.id") -> Iterator[tuple]:
    """The cache rule, as a cursor: the papers (of `only`, else all) in paper order that have no `ok`
    suggestion made from their current text for this prompt version, model and parameters (`force`:
    all of them). Streams, so a million papers cost no more memory than one."""
    where, args = [], []
    if only:
        where.append(f"p.id IN ({_marks(only)})")
        args += only
    if not force:
        where.append("NOT EXISTS (SELECT 1 FROM suggestions s WHERE s.paper_id = p.id AND s.prompt_id = ? "
                     f"AND s.model = ? AND s.params = ? AND s.outcome = '{OK}' AND s.content_hash = p.content_hash)")
        args += [prompt_id, model, params]
    return db.execute(f"SELECT {columns} FROM papers p" + (f" WHERE {' AND '.join(where)}" if where else "")
                      + " ORDER BY p.seq", args)


def count_lacking_ok(db: Database, prompt_id: str, model: str, params: str, *, only: list[str] | None = None,
                     force: bool = False) -> tuple[int, int]:
    """(papers in scope, of which lacking an `ok` suggestion): what papers_lacking_ok would give, counted."""
    scope = db.execute("SELECT count(*) FROM papers" + (f" WHERE id IN ({_marks(only)})" if only else ""),
                       only or []).fetchone()[0]
    if force:
        return scope, scope
    (lacking,) = next(iter(papers_lacking_ok(db, prompt_id, model, params, only=only, columns="count(*)")))
    return scope, lacking


def papers_with_suggestion(db: Database, paper_ids: list[str], prompt_id: str, model: str, params: str) -> set[str]:
    rows = db.execute(
        f"SELECT s.paper_id FROM suggestions s WHERE s.prompt_id = ? AND s.model = ? AND s.params = ? "
        f"AND s.paper_id IN ({_marks(paper_ids)}) AND {_ON_CURRENT_TEXT}", [prompt_id, model, params, *paper_ids])
    return {r[0] for r in rows}


# --------------------------------------------------------------------------- endpoint formats


class EndpointFormat(NamedTuple):
    endpoint: str
    model: str
    response_format: str
    concurrency: int | None
    source: str
    detail: dict | None
    learned_at: str


def remembered_format(db: Database, endpoint: str, model: str) -> EndpointFormat | None:
    row = db.execute("SELECT endpoint, model, response_format, concurrency, source, detail, learned_at "
                     "FROM endpoint_formats WHERE endpoint = ? AND model = ?", [endpoint, model]).fetchone()
    if row is None:
        return None
    return EndpointFormat(*row[:5], json.loads(row[5]) if row[5] else None, row[6])


def remember_format(db: Database, endpoint: str, model: str, response_format: str, *, source: str,
                    concurrency: int | None = None, detail: dict | None = None) -> None:
    with write_transaction(db):  # a fallback learned later keeps what a probe found about slots
        db.execute(
            "INSERT INTO endpoint_formats (endpoint, model, response_format, concurrency, source, detail, learned_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(endpoint, model) DO UPDATE SET "
            "response_format = excluded.response_format, source = excluded.source, learned_at = excluded.learned_at, "
            "concurrency = coalesce(excluded.concurrency, endpoint_formats.concurrency), "
            "detail = coalesce(excluded.detail, endpoint_formats.detail)",
            [endpoint, model, response_format, concurrency, source,
             json.dumps(detail, ensure_ascii=False) if detail is not None else None, utc_now()])


# --------------------------------------------------------------------------- batches

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


def add_batch(db: Database, batch: BatchRow, papers: list[str]) -> None:
    """Record a batch (a request file written, about to be uploaded) with the papers it asks for."""
    values = {c: getattr(batch, c) for c in _BATCH_COLUMNS}
    values["errors"] = json.dumps(batch.errors) if batch.errors is not None else None
    columns = (*_BATCH_COLUMNS, "papers")
    with write_transaction(db):
        db.execute(f"INSERT INTO batches ({', '.join(columns)}) VALUES ({_marks(columns)})",
                   [*values.values(), json.dumps(papers)])


def update_batch(db: Database, batch_id: str, **changes) -> None:
    """Change a recorded batch: its state, counts, files, times, or its id once the engine gives one."""
    unknown = set(changes) - _BATCH_UPDATABLE - {"id"}
    if unknown:
        raise ValueError(f"batches has no updatable column {sorted(unknown)}")
    if "errors" in changes and changes["errors"] is not None:
        changes["errors"] = json.dumps(changes["errors"], ensure_ascii=False)
    changes["updated_at"] = utc_now()
    with write_transaction(db):
        db.execute(f"UPDATE batches SET {', '.join(f'{c} = ?' for c in changes)} WHERE id = ?",
                   [*changes.values(), batch_id])


_BATCH_SELECT = (f"SELECT {', '.join(f'b.{c}' for c in _BATCH_COLUMNS)}, p.name FROM batches b "
                 "JOIN prompts p ON p.id = b.prompt_id")


def get_batch(db: Database, batch_id: str) -> BatchRow | None:
    row = db.execute(f"{_BATCH_SELECT} WHERE b.id = ?", [batch_id]).fetchone()
    return _batch_from(row) if row else None


def list_batches(db: Database, *, uncollected: bool = False, engine: str | None = None) -> list[BatchRow]:
    """Recorded batches, oldest first; `uncollected`: those whose results are not stored yet."""
    where, params = [], []
    if uncollected:
        where.append("b.collected_at IS NULL")
    if engine:
        where.append("b.engine = ?")
        params.append(engine)
    sql = _BATCH_SELECT + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY b.created_at, b.rowid"
    return [_batch_from(r) for r in db.execute(sql, params)]


def batch_papers(db: Database, batch_id: str) -> list[str]:
    row = db.execute("SELECT papers FROM batches WHERE id = ?", [batch_id]).fetchone()
    return json.loads(row[0]) if row else []


def papers_in_flight(db: Database, key: str) -> set[str]:
    """Papers a batch at an engine is asking for with this suggestion key, and whose results are not stored
    yet: asking again would pay twice."""
    rows = db.execute("SELECT papers FROM batches WHERE key = ? AND collected_at IS NULL AND engine = ?",
                      [key, ENGINE_API])
    return {pid for (papers,) in rows for pid in json.loads(papers)}


def batch_keys(db: Database) -> dict[str, tuple[str, str, str]]:
    """key -> (prompt id, model, params) of every suggestion key a batch was made with."""
    return {r[0]: (r[1], r[2], r[3]) for r in db.execute("SELECT DISTINCT key, prompt_id, model, params FROM batches")}


def batch_totals(db: Database, batch_id: str) -> tuple[int, int, int]:
    """(result lines stored, input tokens, output tokens) of a batch, counted from the attempts log."""
    row = db.execute("SELECT count(*), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0) "
                     "FROM attempts WHERE batch_id = ?", [batch_id]).fetchone()
    return row[0], row[1], row[2]


def collected_suggestion_ids(db: Database, batch_id: str, suggestion_ids: list[str]) -> set[str]:
    """Of these suggestion keys, those whose line from this batch is already stored."""
    if not suggestion_ids:
        return set()
    rows = db.execute(f"SELECT suggestion_id FROM attempts WHERE suggestion_id IN ({_marks(suggestion_ids)}) "
                      "AND batch_id = ?", [*suggestion_ids, batch_id])
    return {r[0] for r in rows}


def prompt_body(db: Database, prompt_id: str) -> str | None:
    row = db.execute("SELECT body FROM prompts WHERE id = ?", [prompt_id]).fetchone()
    return row[0] if row else None


# --------------------------------------------------------------------------- attempts


def recent_attempts(db: Database, *, paper_id: str | None = None, limit: int = 50) -> list[AttemptRow]:
    """The attempts log, newest first."""
    where, params = ("WHERE a.paper_id = ? ", [paper_id]) if paper_id else ("", [])
    rows = db.execute(
        "SELECT a.id, a.suggestion_id, a.paper_id, p.title, pr.name, a.prompt_id, a.model, a.ask, a.attempt, "
        "a.outcome, a.http_status, a.error, a.raw, a.raw_chars, a.input_tokens, a.output_tokens, a.latency_ms, "
        "a.batch_id, a.at FROM attempts a JOIN papers p ON p.id = a.paper_id JOIN prompts pr ON pr.id = a.prompt_id "
        f"{where}ORDER BY a.id DESC LIMIT ?", [*params, limit])
    return [AttemptRow(r[0], r[1], r[2], r[3], prompt_label(r[4], r[5]), *r[6:]) for r in rows]


def count_attempts(db: Database, suggestion_id: str | None = None) -> int:
    if suggestion_id:
        return db.execute("SELECT count(*) FROM attempts WHERE suggestion_id = ?", [suggestion_id]).fetchone()[0]
    return db.execute("SELECT count(*) FROM attempts").fetchone()[0]


# --------------------------------------------------------------------------- annotations

_ANNOTATION_COLUMNS = (
    "paper_id", "annotator", "status", "flagged", *FIELDS, "notes", "suggestion_id", "suggested", "seconds_spent",
    "created_at", "updated_at", "field_sources", "version", "decided_on",
)
_ANNOTATION_SELECT = f"SELECT {', '.join(_ANNOTATION_COLUMNS)} FROM annotations"


def _annotation_from(values: tuple | list) -> AnnotationRow:
    (pid, who, status, flagged, technique, gain, compute, notes, suggestion_id, suggested, seconds, created, updated,
     sources, version, decided_on) = values
    return AnnotationRow(
        paper_id=pid, annotator=who, status=status, flagged=bool(flagged),
        values={"technique": technique, "claimed_gain": gain, "compute": compute}, notes=notes,
        suggestion_id=suggestion_id, suggested=json.loads(suggested) if suggested else None,
        seconds_spent=seconds, created_at=created, updated_at=updated,
        field_sources=json.loads(sources) if sources else None, version=version, decided_on=decided_on,
    )


def _as_columns(row: AnnotationRow) -> dict[str, Any]:
    """The row as the events log keeps it (before/after JSON)."""
    return {
        "paper_id": row.paper_id, "annotator": row.annotator, "status": row.status, "flagged": row.flagged,
        **{f: row.values.get(f) for f in FIELDS}, "notes": row.notes, "suggestion_id": row.suggestion_id,
        "suggested": row.suggested, "seconds_spent": row.seconds_spent, "created_at": row.created_at,
        "updated_at": row.updated_at, "field_sources": row.field_sources, "version": row.version,
        "decided_on": row.decided_on,
    }


def _from_columns(c: dict) -> AnnotationRow:
    """An events log before/after JSON back as a row (older events lack field_sources)."""
    return AnnotationRow(
        paper_id=c["paper_id"], annotator=c["annotator"], status=c["status"], flagged=bool(c["flagged"]),
        values={f: c.get(f) for f in FIELDS}, notes=c.get("notes"), suggestion_id=c.get("suggestion_id"),
        suggested=c.get("suggested"), seconds_spent=c.get("seconds_spent") or 0.0, created_at=c["created_at"],
        updated_at=c["updated_at"], field_sources=c.get("field_sources"), version=c.get("version", 0),
        decided_on=c.get("decided_on"),
    )


def get_annotation(db: Database, paper_id: str, annotator: str) -> AnnotationRow | None:
    row = db.execute(f"{_ANNOTATION_SELECT} WHERE paper_id = ? AND annotator = ?", [paper_id, annotator]).fetchone()
    return _annotation_from(row) if row else None


def annotations_of(db: Database, paper_id: str, annotators: Iterable[str]) -> list[AnnotationRow]:
    """The decided annotations of these annotators on one paper, in the order given."""
    rows = [get_annotation(db, paper_id, who) for who in annotators]
    return [r for r in rows if r is not None and r.decided]


def annotation_statuses(db: Database, annotator: str) -> dict[str, str | None]:
    """paper id -> status (None when only flagged) for one annotator."""
    rows = db.execute("SELECT paper_id, status FROM annotations WHERE annotator = ?", [annotator])
    return dict(rows.fetchall())


def flagged_ids(db: Database, annotator: str) -> set[str]:
    rows = db.execute("SELECT paper_id FROM annotations WHERE annotator = ? AND flagged", [annotator])
    return {r[0] for r in rows}


def _write_annotation(db: Database, row: AnnotationRow) -> None:
    columns = _as_columns(row)
    columns["flagged"] = int(bool(row.flagged))
    for key in ("suggested", "field_sources"):
        if columns[key] is not None:
            columns[key] = json.dumps(columns[key], ensure_ascii=False)
    db.execute(
        f"INSERT OR REPLACE INTO annotations ({', '.join(_ANNOTATION_COLUMNS)}) VALUES ({_marks(_ANNOTATION_COLUMNS)})",
        [columns[c] for c in _ANNOTATION_COLUMNS],
    )


def _append_event(
    db: Database, paper_id: str, annotator: str, action: str, before: AnnotationRow | None,
    after: AnnotationRow | None, *, seconds: float | None = None, session: str | None = None,
    undoes: int | None = None, at: str | None = None, event_id: int | None = None,
) -> int:
    cursor = db.execute(
        "INSERT INTO events (id, paper_id, annotator, action, before, after, seconds, session, undoes, at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            event_id, paper_id, annotator, action,
            json.dumps(_as_columns(before), ensure_ascii=False) if before is not None else None,
            json.dumps(_as_columns(after), ensure_ascii=False) if after is not None else None,
            seconds, session, undoes, at or utc_now(),
        ],
    )
    return cursor.lastrowid


def _next_event_id(db: Database) -> int:
    """The id the next event gets (the caller holds the write transaction): the version of the row it makes."""
    return db.execute("SELECT coalesce(max(id), 0) + 1 FROM events").fetchone()[0]


def _version(row: AnnotationRow | None) -> int | None:
    return row.version if row is not None else None


def _change(db: Database, action: str, before: AnnotationRow | None, after: AnnotationRow | None,
            based_on: int | None, **event) -> AnnotationRow | None:
    """The one way an annotation changes (the caller holds the transaction): check that the write was
    based on the stored version, write the row with its new version and the event that made it.
    `after` None deletes the row (an undo back to nothing)."""
    if _version(before) != based_on:
        raise Conflict(before, after)
    pid, who = (after or before).paper_id, (after or before).annotator
    event_id = _next_event_id(db)
    if after is None:
        db.execute("DELETE FROM annotations WHERE paper_id = ? AND annotator = ?", [pid, who])
    else:
        after = replace(after, version=event_id)
        _write_annotation(db, after)
    _append_event(db, pid, who, action, before, after, event_id=event_id, **event)
    return after


@dataclass(slots=True)
class Decision:
    paper_id: str
    annotator: str
    status: str
    values: Values
    suggestion: SuggestionRow | None = None  # the suggestion it started from
    seconds: float = 0.0
    notes: str | None = None
    session: str | None = None
    field_sources: dict[str, str] | None = None
    based_on: int | None = None  # the version of the annotation the decision was made on (None: there was none)
    decided_on: str | None = None  # content hash of the paper text shown (None: the current one)


def clean_value(value: str | None) -> str | None:
    """Form values are single-line; empty means "not stated"."""
    if value is None:
        return None
    return collapse_whitespace(value) or None


def decide(db: Database, decision: Decision) -> AnnotationRow:
    """Record a decision and its event in one transaction; returns the new row. Raises Conflict (and
    writes nothing) when the stored annotation is not the version the decision was based on."""
    if decision.status not in STATUSES:
        raise ValueError(f"unknown status {decision.status!r}")
    now = utc_now()
    with write_transaction(db):
        before = get_annotation(db, decision.paper_id, decision.annotator)
        suggestion = decision.suggestion
        after = AnnotationRow(
            paper_id=decision.paper_id, annotator=decision.annotator, status=decision.status,
            flagged=before.flagged if before else False,
            values={f: clean_value(decision.values.get(f)) for f in FIELDS},
            notes=clean_value(decision.notes) if decision.notes is not None else (before.notes if before else None),
            suggestion_id=suggestion.id if suggestion else None,
            suggested=suggestion.snapshot() if suggestion else None,
            seconds_spent=round((before.seconds_spent if before else 0.0) + decision.seconds, 1),
            created_at=before.created_at if before else now, updated_at=now,
            field_sources=decision.field_sources or None,
            decided_on=decision.decided_on or _current_text(db, decision.paper_id),
        )
        return _change(db, decision.status, before, after, decision.based_on,
                       seconds=round(decision.seconds, 2), session=decision.session, at=now)


def _current_text(db: Database, paper_id: str) -> str | None:
    row = db.execute("SELECT content_hash FROM papers WHERE id = ?", [paper_id]).fetchone()
    return row[0] if row else None


def changed_since_decided(db: Database, annotator: str) -> set[str]:
    """Papers whose text changed after the annotator decided them (decided on an older revision)."""
    rows = db.execute("SELECT a.paper_id FROM annotations a JOIN papers p ON p.id = a.paper_id "
                      "WHERE a.annotator = ? AND a.status IS NOT NULL AND a.decided_on IS NOT NULL "
                      "AND a.decided_on != p.content_hash", [annotator])
    return {r[0] for r in rows}


def set_flag(db: Database, paper_id: str, annotator: str, flagged: bool, *, based_on: int | None,
             session: str | None = None) -> AnnotationRow:
    """Flag or unflag, based on the version shown (Conflict when it is not the stored one)."""
    now = utc_now()
    with write_transaction(db):
        before = get_annotation(db, paper_id, annotator)
        after = replace(before, flagged=flagged, updated_at=now) if before else AnnotationRow(
            paper_id=paper_id, annotator=annotator, status=None, flagged=flagged, values=no_values(),
            created_at=now, updated_at=now)
        return _change(db, "flag" if flagged else "unflag", before, after, based_on, session=session, at=now)


def _same_state(row: AnnotationRow | None, columns: dict | None) -> bool:
    """Whether a row holds what an event's before/after JSON says (its version aside)."""
    if row is None or columns is None:
        return row is None and columns is None
    kept = _as_columns(row)
    return {k: v for k, v in kept.items() if k != "version"} == \
        {k: v for k, v in _as_columns(_from_columns(columns)).items() if k != "version"}


def undo_last(db: Database, annotator: str, *, session: str | None = None) -> str | None:
    """Undo the annotator's latest change (a review decision or flag; not an import) that is not undone
    yet; returns its paper id. Conflict, with nothing written, when the paper changed since that change
    (an import, say): undo never replaces what it did not write."""
    with write_transaction(db):
        event = _one(
            db,
            "SELECT * FROM events WHERE annotator = ? AND action NOT IN ('undo', 'import') AND id NOT IN "
            "(SELECT undoes FROM events WHERE annotator = ? AND undoes IS NOT NULL) "
            "ORDER BY id DESC LIMIT 1",
            [annotator, annotator],
        )
        if event is None:
            return None
        paper_id = event["paper_id"]
        current = get_annotation(db, paper_id, annotator)
        made = json.loads(event["after"]) if event["after"] else None
        restored = _from_columns(json.loads(event["before"])) if event["before"] else None
        if not _same_state(current, made):
            raise Conflict(current, restored)
        _change(db, "undo", current, restored, _version(current), session=session, undoes=event["id"])
    return paper_id


def import_annotation(db: Database, row: AnnotationRow, based_on: int | None) -> AnnotationRow:
    """Write one imported annotation row and its event (caller holds the transaction)."""
    before = get_annotation(db, row.paper_id, row.annotator)
    return _change(db, "import", before, row, based_on)


def iter_annotations(
    db: Database, *, status: str | None = None, annotator: str | None = None, flagged: bool = False,
) -> Iterator[TitledAnnotation]:
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
    columns = ", ".join(f"a.{c}" for c in _ANNOTATION_COLUMNS)
    sql = (f"SELECT p.title, {columns} FROM annotations a JOIN papers p ON p.id = a.paper_id "
           f"WHERE {' AND '.join(where)} ORDER BY p.seq, a.annotator")
    for title, *values in db.execute(sql, params):
        yield TitledAnnotation(title, _annotation_from(values))


def annotators(db: Database) -> list[str]:
    return [r[0] for r in db.execute(
        "SELECT DISTINCT annotator FROM annotations WHERE status IS NOT NULL ORDER BY annotator")]


def known_paper_ids(db: Database) -> set[str]:
    return {r[0] for r in db.execute("SELECT id FROM papers")}


def resolve_prompt_versions(db: Database, ref: str) -> list[str]:
    """Stored prompt ids matching `ref`: a name (every version), name@hash prefix, or a prompt file path."""
    from workbench.prompts import is_prompt_path, resolve_prompt

    if "@" in ref:
        name, prefix = ref.split("@", 1)
        found = prompt_versions(db, name, prefix)
    elif is_prompt_path(ref):
        return [resolve_prompt(ref).id]
    else:
        found = prompt_versions(db, ref)
    if not found:
        raise InputError(f"no stored suggestions come from a prompt '{ref}'")
    return found
