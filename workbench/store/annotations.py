"""Annotations (one row per paper and annotator) and the events log (append-only: every decision,
flag, undo and import, with the row before and after). A write names the version it was based on;
a stale one is a Conflict, never an overwrite."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any, Iterable, Iterator

from workbench.errors import Conflict, StoreBusy, TooLong, UndoBlocked
from workbench.records import AnnotationRow, SuggestionRow, TitledAnnotation, Values, no_values
from workbench.store._base import Handle, guarded, marks, one, transaction
from workbench.store.papers import current_text
from workbench.vocab import FIELDS, MAX_DECISION_VALUE_CHARS, MAX_NOTES_CHARS, STATUSES, collapse_whitespace, utc_now

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


@guarded
def get_annotation(db: Handle, paper_id: str, annotator: str) -> AnnotationRow | None:
    row = db.execute(f"{_ANNOTATION_SELECT} WHERE paper_id = ? AND annotator = ?", [paper_id, annotator]).fetchone()
    return _annotation_from(row) if row else None


@guarded
def annotations_of(db: Handle, paper_id: str, annotators: Iterable[str]) -> list[AnnotationRow]:
    """The decided annotations of these annotators on one paper, in the order given."""
    rows = [get_annotation(db, paper_id, who) for who in annotators]
    return [r for r in rows if r is not None and r.decided]


@guarded
def annotation_statuses(db: Handle, annotator: str, paper_ids: list[str] | None = None) -> dict[str, str | None]:
    """paper id -> status (None when only flagged) for one annotator: of every paper, or of these (a paper
    with no annotation is left out)."""
    if paper_ids is None:
        return dict(db.execute("SELECT paper_id, status FROM annotations WHERE annotator = ?", [annotator]).fetchall())
    found = {}
    for start in range(0, len(paper_ids), 500):
        chunk = paper_ids[start:start + 500]
        found.update(db.execute(f"SELECT paper_id, status FROM annotations WHERE annotator = ? AND paper_id IN "
                                f"({marks(chunk)})", [annotator, *chunk]).fetchall())
    return found


@guarded
def last_event_id(db: Handle) -> int:
    """The newest event's id (every change of an annotation writes one): 0 when there is none."""
    return db.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]


@guarded
def changed_by_others(db: Handle, annotator: str, session: str, after: int) -> tuple[int, list[str]]:
    """(the newest event id, the papers whose annotation by `annotator` changed after event `after` in any
    session but `session`: an import, another window)."""
    rows = db.execute("SELECT id, paper_id, session FROM events WHERE id > ? AND annotator = ? ORDER BY id",
                      [after, annotator]).fetchall()
    return (rows[-1][0] if rows else after), list(dict.fromkeys(pid for _, pid, s in rows if s != session))


@guarded
def flagged_ids(db: Handle, annotator: str) -> set[str]:
    rows = db.execute("SELECT paper_id FROM annotations WHERE annotator = ? AND flagged != 0", [annotator])
    return {r[0] for r in rows}


def _write_annotation(db: Handle, row: AnnotationRow) -> None:
    columns = _as_columns(row)
    columns["flagged"] = int(bool(row.flagged))
    for key in ("suggested", "field_sources"):
        if columns[key] is not None:
            columns[key] = json.dumps(columns[key], ensure_ascii=False)
    db.execute(_WRITE_ANNOTATION, [columns[c] for c in _ANNOTATION_COLUMNS])


_WRITE_ANNOTATION = (
    f"INSERT INTO annotations ({', '.join(_ANNOTATION_COLUMNS)}) VALUES ({marks(_ANNOTATION_COLUMNS)}) "
    "ON CONFLICT (paper_id, annotator) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _ANNOTATION_COLUMNS[2:])
)


def _append_event(
    db: Handle, paper_id: str, annotator: str, action: str, before: AnnotationRow | None,
    after: AnnotationRow | None, *, seconds: float | None = None, session: str | None = None,
    undoes: int | None = None, at: str | None = None, event_id: int,
) -> int:
    db.execute(
        "INSERT INTO events (id, paper_id, annotator, action, before, after, seconds, session, undoes, at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            event_id, paper_id, annotator, action,
            json.dumps(_as_columns(before), ensure_ascii=False) if before is not None else None,
            json.dumps(_as_columns(after), ensure_ascii=False) if after is not None else None,
            seconds, session, undoes, at or utc_now(),
        ],
    )
    return event_id


def _next_event_id(db: Handle) -> int:
    """The id the next event gets (the caller holds the write transaction): the version of the row it makes."""
    return db.execute("SELECT coalesce(max(id), 0) + 1 FROM events").fetchone()[0]


def _version(row: AnnotationRow | None) -> int | None:
    return row.version if row is not None else None


def _change(db: Handle, action: str, before: AnnotationRow | None, after: AnnotationRow | None,
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


@guarded
def decide(db: Handle, decision: Decision) -> AnnotationRow:
    """Record a decision and its event in one transaction; returns the new row. Raises Conflict (and
    writes nothing) when the stored annotation is not the version the decision was based on."""
    if decision.status not in STATUSES:
        raise ValueError(f"unknown status {decision.status!r}")
    values = {f: clean_value(decision.values.get(f)) for f in FIELDS}
    notes = clean_value(decision.notes) if decision.notes is not None else None
    _within_limits(values, notes)
    now = utc_now()
    with transaction(db):
        before = get_annotation(db, decision.paper_id, decision.annotator)
        suggestion = decision.suggestion
        after = AnnotationRow(
            paper_id=decision.paper_id, annotator=decision.annotator, status=decision.status,
            flagged=before.flagged if before else False, values=values,
            notes=notes if decision.notes is not None else (before.notes if before else None),
            suggestion_id=suggestion.id if suggestion else None,
            suggested=suggestion.snapshot() if suggestion else None,
            seconds_spent=round((before.seconds_spent if before else 0.0) + decision.seconds, 1),
            created_at=before.created_at if before else now, updated_at=now,
            field_sources=decision.field_sources or None,
            decided_on=decision.decided_on or current_text(db, decision.paper_id),
        )
        return _change(db, decision.status, before, after, decision.based_on,
                       seconds=round(decision.seconds, 2), session=decision.session, at=now)


def _within_limits(values: Values, notes: str | None) -> None:
    """What is saved must export and import back: the import's limits hold here too (on the cleaned text)."""
    texts = [(f, values[f], MAX_DECISION_VALUE_CHARS) for f in FIELDS]
    for name, text, limit in [*texts, ("notes", notes, MAX_NOTES_CHARS)]:
        if text is not None and len(text) > limit:
            raise TooLong(f"{name.replace('_', ' ')} has {len(text):,} characters; the most a decision keeps is "
                          f"{limit:,}: shorten it")


@guarded
def changed_since_decided(db: Handle, annotator: str) -> set[str]:
    """Papers whose text changed after the annotator decided them (decided on an older revision)."""
    rows = db.execute("SELECT a.paper_id FROM annotations a JOIN papers p ON p.id = a.paper_id "
                      "WHERE a.annotator = ? AND a.status IS NOT NULL AND a.decided_on IS NOT NULL "
                      "AND a.decided_on != p.content_hash", [annotator])
    return {r[0] for r in rows}


@guarded
def confirm_on_text(db: Handle, shown: AnnotationRow, content_hash: str, *,
                    session: str | None = None) -> AnnotationRow:
    """The decision shown stands on the paper's text now shown (`a` on *text changed since decided*): the same
    decision, decided on `content_hash`, based on the version shown (Conflict when it is not the stored one)."""
    now = utc_now()
    with transaction(db):
        before = get_annotation(db, shown.paper_id, shown.annotator)
        after = replace(before or shown, decided_on=content_hash, updated_at=now)
        return _change(db, shown.status, before, after, shown.version, session=session, at=now)


@guarded
def set_flag(db: Handle, paper_id: str, annotator: str, flagged: bool, *, based_on: int | None,
             session: str | None = None) -> AnnotationRow:
    """Flag or unflag, based on the version shown (Conflict when it is not the stored one)."""
    now = utc_now()
    with transaction(db):
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


@guarded
def undo_last(db: Handle, annotator: str, *, session: str | None = None, passing: Iterable[int] = ()) -> str | None:
    """Undo the annotator's latest change (a review decision or flag; not an import) that is not undone
    yet, other than the events `passing` names; returns its paper id. UndoBlocked, with nothing written,
    when the paper changed since that change (an import, say): undo never replaces what it did not write."""
    passed = sorted(set(passing))
    with transaction(db):
        event = one(
            db,
            "SELECT * FROM events WHERE annotator = ? AND action NOT IN ('undo', 'import') AND id NOT IN "
            "(SELECT undoes FROM events WHERE annotator = ? AND undoes IS NOT NULL) "
            + (f"AND id NOT IN ({', '.join('?' * len(passed))}) " if passed else "")
            + "ORDER BY id DESC LIMIT 1",
            [annotator, annotator, *passed],
        )
        if event is None:
            return None
        paper_id = event["paper_id"]
        current = get_annotation(db, paper_id, annotator)
        made = json.loads(event["after"]) if event["after"] else None
        restored = _from_columns(json.loads(event["before"])) if event["before"] else None
        if not _same_state(current, made):
            raise UndoBlocked(paper_id, event["id"], current.status if current else None)
        _change(db, "undo", current, restored, _version(current), session=session, undoes=event["id"])
    return paper_id


@guarded
def import_annotation(db: Handle, row: AnnotationRow, based_on: int | None) -> AnnotationRow:
    """Write one imported annotation row and its event (caller holds the transaction)."""
    before = get_annotation(db, row.paper_id, row.annotator)
    return _change(db, "import", before, row, based_on)


@guarded
def iter_annotations(
    db: Handle, *, status: str | None = None, annotator: str | None = None, flagged: bool = False,
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
        where.append("a.flagged != 0")
    columns = ", ".join(f"a.{c}" for c in _ANNOTATION_COLUMNS)
    sql = (f"SELECT p.title, {columns} FROM annotations a JOIN papers p ON p.id = a.paper_id "
           f"WHERE {' AND '.join(where)} ORDER BY p.seq, a.annotator")
    for title, *values in db.execute(sql, params):
        yield TitledAnnotation(title, _annotation_from(values))


@guarded
def annotators(db: Handle) -> list[str]:
    return [r[0] for r in db.execute(
        "SELECT DISTINCT annotator FROM annotations WHERE status IS NOT NULL ORDER BY annotator")]



# --------------------------------------------------------------------------- where a reviewer is


@guarded
def remember_position(db: Handle, annotator: str, queue: str, paper_id: str) -> None:
    """Where the annotator is in this queue. Best effort, and never waited for: while another writer
    holds the store (an ingest, a collect) the move goes on at once and this point is not kept (the
    session writes it again when it closes); waiting the busy timeout froze each move 3 s."""
    try:
        with transaction(db, wait=False):
            db.execute("INSERT INTO review_positions (annotator, queue, paper_id, at) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT (annotator, queue) DO UPDATE SET paper_id = excluded.paper_id, at = excluded.at",
                       [annotator, queue, paper_id, utc_now()])
    except StoreBusy:
        pass


@guarded
def remembered_position(db: Handle, annotator: str, queue: str) -> str | None:
    row = db.execute("SELECT paper_id FROM review_positions WHERE annotator = ? AND queue = ?",
                     [annotator, queue]).fetchone()
    return row[0] if row else None
