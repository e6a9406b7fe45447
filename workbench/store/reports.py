"""What the reports read: the prompt report (`compare`), statistics, agreement between annotators,
the doubt queue and the suggestions export. Each returns records; the arithmetic on them lives with
the report (`prompt_report`, `stats`, `agreement`, `doubt`). Aggregates over every suggestion run
here, in the store, so only decided pairs travel."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterable, Iterator, NamedTuple

from workbench.grounding import Span
from workbench.records import SuggestionKey, SuggestionRow, Values
from workbench.store._base import Handle, guarded, json_text, marks
from workbench.store.suggestions import ON_CURRENT_TEXT, suggestion_from_row
from workbench.vocab import FIELDS, NUMBER_NOT_IN_ABSTRACT, OK, REJECTED, STATUSES

_IN_KEY = "prompt_id = ? AND model = ? AND params = ?"


def _key(key: SuggestionKey) -> list[str]:
    return [key.prompt_id, key.model, key.params]


# --------------------------------------------------------------------------- the prompt report


class KeyedPrompt(NamedTuple):
    """A suggestion key that has stored suggestions, with its prompt's name."""

    key: SuggestionKey
    prompt: str


@guarded
def suggestion_keys(db: Handle, prompt_ids: list[str] | None = None,
                    models: list[str] | None = None) -> list[KeyedPrompt]:
    """Every (prompt version, model, parameters) with stored suggestions, by prompt name and age."""
    where, params = [], []
    if prompt_ids:
        where.append(f"s.prompt_id IN ({marks(prompt_ids)})")
        params += prompt_ids
    if models:
        where.append(f"s.model IN ({marks(models)})")
        params += models
    rows = db.execute(
        "SELECT DISTINCT s.prompt_id, p.name, s.model, s.params, p.created_at FROM suggestions s "
        "JOIN prompts p ON p.id = s.prompt_id "
        + (f"WHERE {' AND '.join(where)} " if where else "")
        + "ORDER BY p.name, p.created_at, s.model, s.params", params).fetchall()
    return [KeyedPrompt(SuggestionKey(pid, model, params), name) for pid, name, model, params, _ in rows]


@guarded
def decided_values(db: Handle, annotator: str | None = None) -> Iterator[tuple[str, str, Values]]:
    """(paper id, status, final fields) of every decided annotation (of one annotator)."""
    where, params = "", []
    if annotator:
        where, params = " AND annotator = ?", [annotator]
    for pid, status, *values in db.execute(
            f"SELECT paper_id, status, technique, claimed_gain, compute FROM annotations "
            f"WHERE status IS NOT NULL{where}", params):
        yield pid, status, dict(zip(FIELDS, values))


@guarded
def ok_values(db: Handle, key: SuggestionKey) -> dict[str, Values]:
    """paper id -> fields of this key's `ok` suggestions."""
    return {pid: dict(zip(FIELDS, values)) for pid, *values in db.execute(
        f"SELECT paper_id, technique, claimed_gain, compute FROM suggestions s WHERE {_IN_KEY} AND outcome = '{OK}' "
        f"AND {ON_CURRENT_TEXT}", _key(key))}


@dataclass
class KeyTotals:
    """What one suggestion key's stored suggestions add up to."""

    outcomes: dict[str, int]
    papers: int
    input_tokens: int
    output_tokens: int
    batch_input_tokens: int  # of those, made by a batch (they cost the batch price)
    batch_output_tokens: int
    latencies: list[int]  # of its ok suggestions
    rejected: int  # rejected decisions on papers it has an ok suggestion for
    quotes: int = 0  # evidence quotes of its ok suggestions, and how they were found
    exact: int = 0
    fuzzy: int = 0
    ungrounded: int = 0
    numbers_not_in_abstract: int = 0


@guarded
def key_totals(db: Handle, key: SuggestionKey, annotator: str | None = None) -> KeyTotals:
    values = _key(key)
    outcomes = dict(db.execute(f"SELECT outcome, count(*) FROM suggestions WHERE {_IN_KEY} GROUP BY outcome",
                               values).fetchall())
    papers, tokens_in, tokens_out, batch_in, batch_out = db.execute(
        "SELECT count(DISTINCT paper_id), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0), "
        "coalesce(sum(input_tokens) FILTER (WHERE batch_id IS NOT NULL), 0), "
        "coalesce(sum(output_tokens) FILTER (WHERE batch_id IS NOT NULL), 0) "
        f"FROM suggestions WHERE {_IN_KEY}", values).fetchone()
    latencies = [r[0] for r in db.execute(
        f"SELECT latency_ms FROM suggestions WHERE {_IN_KEY} AND outcome = '{OK}' AND latency_ms IS NOT NULL", values)]
    totals = KeyTotals(outcomes, papers, tokens_in, tokens_out, batch_in, batch_out, latencies,
                       _rejected_with_suggestion(db, values, annotator))
    _count_grounding(db, values, totals)
    return totals


def _rejected_with_suggestion(db: Handle, key: list, annotator: str | None) -> int:
    where, params = "", list(key)
    if annotator:
        where, params = " AND a.annotator = ?", params + [annotator]
    return db.execute(
        f"SELECT count(*) FROM annotations a WHERE a.status = '{REJECTED}' AND EXISTS (SELECT 1 FROM suggestions s "
        f"WHERE s.paper_id = a.paper_id AND s.prompt_id = ? AND s.model = ? AND s.params = ? AND s.outcome = '{OK}')"
        f"{where}",
        params).fetchone()[0]


_WARNING = NUMBER_NOT_IN_ABSTRACT


def _count_grounding(db: Handle, key: list, totals: KeyTotals) -> None:
    """Quotes exact / fuzzy / ungrounded, and numbers not in the abstract: one scan.

    Warnings are counted by substring (length arithmetic) rather than json_each:
    the kind name cannot occur in a warning any other way, and it is 5x faster.
    """
    statuses = ", ".join(f"{json_text(db, 'evidence', f, 'status')} AS s{i}" for i, f in enumerate(FIELDS))
    count = lambda status: " + ".join(  # noqa: E731
        f"coalesce(sum(CASE WHEN s{i} = '{status}' THEN 1 ELSE 0 END), 0)" for i in range(3))
    (totals.exact, totals.fuzzy, totals.ungrounded, totals.quotes, totals.numbers_not_in_abstract) = db.execute(
        f"SELECT {count('exact')}, {count('fuzzy')}, {count('ungrounded')}, count(s0) + count(s1) + count(s2), "
        f"coalesce(sum((length(warnings) - length(replace(warnings, '{_WARNING}', ''))) / {len(_WARNING)}), 0) "
        f"FROM (SELECT {statuses}, warnings FROM suggestions WHERE {_IN_KEY} AND outcome = '{OK}') AS ok",
        key).fetchone()


class HumanDecision(NamedTuple):
    annotator: str
    status: str
    values: Values


@guarded
def first_decision(db: Handle, paper_id: str, annotator: str | None = None) -> HumanDecision | None:
    """The decision on a paper (of one annotator, else the first by name)."""
    row = db.execute(
        "SELECT annotator, status, technique, claimed_gain, compute FROM annotations "
        "WHERE paper_id = ? AND status IS NOT NULL" + (" AND annotator = ?" if annotator else "")
        + " ORDER BY annotator", [paper_id] + ([annotator] if annotator else [])).fetchone()
    return None if row is None else HumanDecision(row[0], row[1], dict(zip(FIELDS, row[2:])))


# --------------------------------------------------------------------------- statistics


@guarded
def decision_seconds(db: Handle, *, annotator: str | None = None, session: str | None = None) -> list[float]:
    """Seconds spent on each decided annotation; for one `session`, on each of its decision events that
    was not undone."""
    if session:
        where = [f"action IN ({marks(STATUSES)})", "session = ?",
                 "id NOT IN (SELECT undoes FROM events WHERE undoes IS NOT NULL)"]
        params = [*STATUSES, session]
        table, column = "events", "seconds"
    else:
        where, params, table, column = ["status IS NOT NULL"], [], "annotations", "seconds_spent"
    if annotator:
        where.append("annotator = ?")
        params.append(annotator)
    return [r[0] or 0.0 for r in db.execute(f"SELECT {column} FROM {table} WHERE {' AND '.join(where)}", params)]


@guarded
def decisions_with_snapshot(db: Handle, annotator: str | None = None) -> Iterator[tuple[str, dict | None, Values]]:
    """(status, the suggestion snapshot the decision started from, final fields) of each decided annotation."""
    where, params = "status IS NOT NULL", []
    if annotator:
        where += " AND annotator = ?"
        params.append(annotator)
    for status, suggested, *values in db.execute(
            f"SELECT status, suggested, technique, claimed_gain, compute FROM annotations WHERE {where}", params):
        yield status, json.loads(suggested) if suggested else None, dict(zip(FIELDS, values))


@dataclass
class StoreCounts:
    papers: int
    sightings: int
    sources: int
    decided_papers: int
    flagged: int
    by_status: dict[str, dict[str, int]]  # annotator -> status ("flagged only" for none) -> annotations
    suggestions: list[tuple[str, str, str, str, int]] = field(default_factory=list)  # prompt, id, model, outcome, n


@guarded
def store_counts(db: Handle, annotator: str | None = None) -> StoreCounts:
    one = lambda sql, params=(): db.execute(sql, params).fetchone()[0]  # noqa: E731
    who = [annotator] if annotator else []
    by_status: dict[str, dict[str, int]] = {}
    for name, status, count in db.execute(
            "SELECT annotator, coalesce(status, 'flagged only'), count(*) FROM annotations "
            + ("WHERE annotator = ? " if annotator else "") + "GROUP BY 1, 2 ORDER BY 1, 2", who):
        by_status.setdefault(name, {})[status] = count
    return StoreCounts(
        papers=one("SELECT count(*) FROM papers"),
        sightings=one("SELECT count(*) FROM sightings"),
        sources=one("SELECT count(DISTINCT source_hash) FROM sightings"),
        decided_papers=one("SELECT count(DISTINCT paper_id) FROM annotations WHERE status IS NOT NULL"
                           + (" AND annotator = ?" if annotator else ""), who),
        flagged=one("SELECT count(*) FROM annotations WHERE flagged != 0" + (" AND annotator = ?" if annotator else ""),
                    who),
        by_status=by_status,
        suggestions=db.execute(
            "SELECT p.name, s.prompt_id, s.model, s.outcome, count(*) FROM suggestions s "
            "JOIN prompts p ON p.id = s.prompt_id GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4").fetchall(),
    )


# --------------------------------------------------------------------------- agreement


class Decided(NamedTuple):
    status: str
    values: dict[str, str | None]


@guarded
def decision_pairs(db: Handle, a: str, b: str) -> list[tuple[str, str, Decided, Decided]]:
    """(paper id, title, a's decision, b's decision) of each paper both decided, in paper order."""
    rows = db.execute(
        "SELECT x.paper_id, p.title, x.status, x.technique, x.claimed_gain, x.compute, "
        "y.status, y.technique, y.claimed_gain, y.compute FROM annotations x "
        "JOIN annotations y ON y.paper_id = x.paper_id AND y.annotator = ? "
        "JOIN papers p ON p.id = x.paper_id "
        "WHERE x.annotator = ? AND x.status IS NOT NULL AND y.status IS NOT NULL ORDER BY p.seq", [b, a])
    return [(pid, title, Decided(s1, dict(zip(FIELDS, (t1, g1, c1)))), Decided(s2, dict(zip(FIELDS, (t2, g2, c2)))))
            for pid, title, s1, t1, g1, c1, s2, t2, g2, c2 in rows]


# --------------------------------------------------------------------------- doubt


class Grounded(NamedTuple):
    """One stored suggestion as the doubt score reads it."""

    outcome: str
    values: tuple[str | None, ...]  # in FIELDS order
    evidence: dict[str, Span | None]
    warnings: list[dict]


@guarded
def grounded_suggestions(db: Handle, paper_ids: Iterable[str] | None = None) -> dict[str, list[Grounded]]:
    """paper id -> its stored suggestions (every key), for every paper with one (or the ones given)."""
    where, params = f"WHERE {ON_CURRENT_TEXT}", []
    if paper_ids is not None:
        params = list(paper_ids)
        where += f" AND paper_id IN ({marks(params)})"
    rows: dict[str, list[Grounded]] = {}
    for pid, outcome, technique, gain, compute, evidence, warnings in db.execute(
            f"SELECT paper_id, outcome, technique, claimed_gain, compute, evidence, warnings FROM suggestions s {where} "
            "ORDER BY paper_id", params):
        spans = json.loads(evidence) if evidence else {}
        rows.setdefault(pid, []).append(Grounded(
            outcome, (technique, gain, compute),
            {f: (Span(**spans[f]) if spans.get(f) else None) for f in FIELDS},
            json.loads(warnings) if warnings else []))
    return rows


# --------------------------------------------------------------------------- the suggestions export


@guarded
def iter_suggestions(db: Handle, *, prompt_ids: list[str] | None = None,
                     model: str | None = None) -> Iterator[tuple[str, SuggestionRow]]:
    """(paper title, suggestion) of every stored suggestion, in paper order, then by prompt and model."""
    where, params = [], []
    if prompt_ids:
        where.append(f"s.prompt_id IN ({marks(prompt_ids)})")
        params.extend(prompt_ids)
    if model:
        where.append("s.model = ?")
        params.append(model)
    sql = (
        "SELECT pa.title, s.id, s.paper_id, s.prompt_id, pr.name, s.model, s.params, s.outcome, s.error, "
        "s.technique, s.claimed_gain, s.compute, s.evidence, s.warnings, s.raw, s.input_tokens, s.output_tokens, "
        "s.latency_ms, s.attempts, s.created_at, s.batch_id, s.content_hash FROM suggestions s "
        "JOIN papers pa ON pa.id = s.paper_id JOIN prompts pr ON pr.id = s.prompt_id "
        + (f"WHERE {' AND '.join(where)} " if where else "")
        + "ORDER BY pa.seq, pr.name, s.prompt_id, s.model, s.params"
    )
    for title, *columns in db.execute(sql, params):
        yield title, suggestion_from_row(columns)
