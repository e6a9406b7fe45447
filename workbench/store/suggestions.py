"""Suggestions (the current one of each key) and the attempts log (every model call, append-only).

Evidence spans and warnings are JSON in the store; they are encoded and decoded here and nowhere else.
"""

from __future__ import annotations

import json
from typing import Iterator

from workbench.grounding import Span
from workbench.records import AttemptRow, Call, SuggestionKey, SuggestionRow
from workbench.store._base import Handle, executemany, guarded, marks, mended, transaction
from workbench.store.papers import current_texts
from workbench.vocab import FIELDS, OK, prompt_label

_SUGGESTION_COLUMNS = (
    "id", "paper_id", "prompt_id", "model", "params", "outcome", "error", *FIELDS, "evidence", "warnings", "raw",
    "input_tokens", "output_tokens", "latency_ms", "attempts", "created_at", "batch_id", "content_hash",
)
_INSERT_SUGGESTION = (
    f"INSERT INTO suggestions ({', '.join(_SUGGESTION_COLUMNS)}) VALUES ({marks(_SUGGESTION_COLUMNS)}) "
    "ON CONFLICT (id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in _SUGGESTION_COLUMNS[1:])
)
_ATTEMPT_COLUMNS = (
    "suggestion_id", "paper_id", "prompt_id", "model", "params", "request_hash", "ask", "attempt", "outcome",
    "http_status", "error", "raw", "raw_chars", "input_tokens", "output_tokens", "latency_ms", "batch_id", "at",
)
_INSERT_ATTEMPT = f"INSERT INTO attempts ({', '.join(_ATTEMPT_COLUMNS)}) VALUES ({marks(_ATTEMPT_COLUMNS)})"


def _evidence_json(evidence: dict[str, Span | None]) -> str:
    return json.dumps({f: (span.as_dict() if span else None) for f, span in evidence.items()}, ensure_ascii=False)


def _suggestion_values(s: SuggestionRow) -> list:
    return mended([s.id, s.paper_id, s.prompt_id, s.model, s.params, s.outcome, s.error,
                    *(s.values.get(f) for f in FIELDS), _evidence_json(s.evidence),
                    json.dumps(s.warnings, ensure_ascii=False), s.raw, s.input_tokens, s.output_tokens, s.latency_ms,
                    s.attempts, s.created_at, s.batch_id, s.content_hash])


def _attempt_values(s: SuggestionRow, call: Call) -> list:
    return mended([s.id, s.paper_id, s.prompt_id, s.model, s.params, call.request_hash, call.ask, call.attempt,
                    call.outcome, call.http_status, call.error, call.raw, call.raw_chars, call.input_tokens,
                    call.output_tokens, call.latency_ms, call.batch_id, call.at or s.created_at])


@guarded
def save_suggestion(db: Handle, suggestion: SuggestionRow, calls: list[Call]) -> None:
    """Make this the current suggestion of its key and append its calls to the attempts log."""
    save_suggestions(db, [(suggestion, calls)])


def _made_on_current(db: Handle, items: list[tuple[SuggestionRow, list[Call]]]) -> None:
    """A suggestion that does not say which text it was made from was made from the current one."""
    unsaid = [s for s, _ in items if s.content_hash is None]
    if unsaid:
        hashes = current_texts(db, [s.paper_id for s in unsaid])
        for s in unsaid:
            s.content_hash = hashes.get(s.paper_id)


@guarded
def save_suggestions(db: Handle, items: list[tuple[SuggestionRow, list[Call]]]) -> None:
    """Several suggestions in one transaction (a run commits in small groups, not one by one)."""
    with transaction(db):
        _made_on_current(db, items)
        executemany(db, _INSERT_SUGGESTION, [_suggestion_values(s) for s, _ in items])
        executemany(db, _INSERT_ATTEMPT, [_attempt_values(s, c) for s, calls in items for c in calls])


_UPSERT_FROM_BATCH = (
    f"INSERT INTO suggestions ({', '.join(_SUGGESTION_COLUMNS)}) VALUES ({marks(_SUGGESTION_COLUMNS)}) "
    "ON CONFLICT(id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in _SUGGESTION_COLUMNS[1:])
    # Replaced unless it is the key's `ok` suggestion of the current text: exactly what `kept` reports.
    + f" WHERE NOT (suggestions.outcome = '{OK}' AND suggestions.content_hash IS NOT DISTINCT FROM "
    "(SELECT content_hash FROM papers WHERE id = excluded.paper_id))"
)


@guarded
def save_batch_suggestions(db: Handle, items: list[tuple[SuggestionRow, list[Call]]]) -> set[str]:
    """Suggestions from a batch, in one transaction: each becomes the current one of its key unless
    that key already has an `ok` one (made some other way meanwhile), which stays; the calls are
    appended either way, as history. Returns the ids whose `ok` suggestion stayed."""
    if not items:
        return set()
    ids = [s.id for s, _ in items]
    with transaction(db):
        _made_on_current(db, items)
        kept = {r[0] for r in db.execute(
            f"SELECT s.id FROM suggestions s JOIN papers p ON p.id = s.paper_id AND p.content_hash = s.content_hash "
            f"WHERE s.outcome = '{OK}' AND s.id IN ({marks(ids)})", ids)}
        executemany(db, _UPSERT_FROM_BATCH, [_suggestion_values(s) for s, _ in items])
        executemany(db, _INSERT_ATTEMPT, [_attempt_values(s, c) for s, calls in items for c in calls])
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


@guarded
def get_suggestion(db: Handle, suggestion_id: str) -> SuggestionRow | None:
    row = db.execute(f"{_SUGGESTION_SELECT} WHERE s.id = ?", [suggestion_id]).fetchone()
    return suggestion_from_row(row) if row else None


# A suggestion counts (shown, cached, compared, searched, weighed for doubt) only when it was made
# from the paper's current text: every read of suggestions `s` that means "the paper's" uses this.
ON_CURRENT_TEXT = "s.content_hash = (SELECT content_hash FROM papers WHERE id = s.paper_id)"


@guarded
def suggestions_for_paper(db: Handle, paper_id: str) -> list[SuggestionRow]:
    """The suggestions made from the paper's current text, oldest first (the order keys 1-9 follow).
    Those made from an older revision are kept but not served: their values and spans are of that text."""
    rows = db.execute(f"{_SUGGESTION_SELECT} WHERE s.paper_id = ? AND {ON_CURRENT_TEXT} "
                      "ORDER BY s.created_at, s.rowid", [paper_id])
    return [suggestion_from_row(r) for r in rows]


def _lacking(db: Handle, columns: str, key: SuggestionKey, only: list[str] | None, force: bool):
    where, args = [], []
    if only:
        where.append(f"p.id IN ({marks(only)})")
        args += only
    if not force:
        where.append("NOT EXISTS (SELECT 1 FROM suggestions s WHERE s.paper_id = p.id AND s.prompt_id = ? "
                     f"AND s.model = ? AND s.params = ? AND s.outcome = '{OK}' AND s.content_hash = p.content_hash)")
        args += [key.prompt_id, key.model, key.params]
    return db.execute(f"SELECT {columns} FROM papers p" + (f" WHERE {' AND '.join(where)}" if where else "")
                      + ("" if columns == "count(*)" else " ORDER BY p.seq"), args)


@guarded
def papers_lacking_ok(db: Handle, key: SuggestionKey, *, only: list[str] | None = None,
                      force: bool = False, with_text: bool = False) -> Iterator[tuple]:
    """The cache rule, streamed: (id,) - or (id, title, abstract) `with_text` - of the papers (of `only`,
    else all) in paper order that have no `ok` suggestion made from their current text for this prompt
    version, model and parameters (`force`: all of them). A million papers cost no more memory than one."""
    yield from _lacking(db, "p.id, p.title, p.abstract" if with_text else "p.id", key, only, force)


@guarded
def count_lacking_ok(db: Handle, key: SuggestionKey, *, only: list[str] | None = None,
                     force: bool = False) -> tuple[int, int]:
    """(papers in scope, of which lacking an `ok` suggestion): what papers_lacking_ok would give, counted."""
    scope = db.execute("SELECT count(*) FROM papers" + (f" WHERE id IN ({marks(only)})" if only else ""),
                       only or []).fetchone()[0]
    if force:
        return scope, scope
    (lacking,) = _lacking(db, "count(*)", key, only, False).fetchone()
    return scope, lacking


@guarded
def papers_with_suggestion(db: Handle, paper_ids: list[str], key: SuggestionKey) -> set[str]:
    rows = db.execute(
        f"SELECT s.paper_id FROM suggestions s WHERE s.prompt_id = ? AND s.model = ? AND s.params = ? "
        f"AND s.paper_id IN ({marks(paper_ids)}) AND {ON_CURRENT_TEXT}", [key.prompt_id, key.model, key.params, *paper_ids])
    return {r[0] for r in rows}


# --------------------------------------------------------------------------- attempts


@guarded
def recent_attempts(db: Handle, *, paper_id: str | None = None, limit: int = 50) -> list[AttemptRow]:
    """The attempts log, newest first."""
    where, params = ("WHERE a.paper_id = ? ", [paper_id]) if paper_id else ("", [])
    rows = db.execute(
        "SELECT a.id, a.suggestion_id, a.paper_id, p.title, pr.name, a.prompt_id, a.model, a.ask, a.attempt, "
        "a.outcome, a.http_status, a.error, a.raw, a.raw_chars, a.input_tokens, a.output_tokens, a.latency_ms, "
        "a.batch_id, a.at FROM attempts a JOIN papers p ON p.id = a.paper_id JOIN prompts pr ON pr.id = a.prompt_id "
        f"{where}ORDER BY a.id DESC LIMIT ?", [*params, limit])
    return [AttemptRow(r[0], r[1], r[2], r[3], prompt_label(r[4], r[5]), *r[6:]) for r in rows]

