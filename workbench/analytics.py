"""Read-only reports over the store: `workbench stats` and the TUI's stats screen.

Pace: decisions per hour = decisions / the seconds spent on them; median seconds
per paper. Overall it uses each decided annotation's seconds_spent (so imported
decisions count); for one review session it uses that session's decision events,
leaving out decisions that were undone. Rates by prompt and model use the
suggestion snapshot each annotation keeps (what the reviewer actually saw).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from statistics import median

from sqlite_utils import Database

from workbench.records import edited_fields
from workbench.vocab import FIELDS, STATUSES, prompt_label


def throughput(db: Database, *, annotator: str | None = None, session: str | None = None) -> dict:
    if session:
        where = [f"action IN ({', '.join('?' for _ in STATUSES)})", "session = ?",
                 "id NOT IN (SELECT undoes FROM events WHERE undoes IS NOT NULL)"]
        params = [*STATUSES, session]
        table, column = "events", "seconds"
    else:
        where, params, table, column = ["status IS NOT NULL"], [], "annotations", "seconds_spent"
    if annotator:
        where.append("annotator = ?")
        params.append(annotator)
    seconds = [r[0] or 0.0 for r in db.execute(f"SELECT {column} FROM {table} WHERE {' AND '.join(where)}", params)]
    total = sum(seconds)
    return {
        "decisions": len(seconds),
        "decisions_per_hour": round(len(seconds) * 3600 / total, 1) if total > 0 else None,
        "median_seconds_per_paper": round(median(seconds), 1) if seconds else None,
    }


def rates_by_suggestion(db: Database, annotator: str | None = None) -> list[dict]:
    """Accept / edit / reject rates and per-field edit rates by prompt version and model."""
    where, params = "status IS NOT NULL", []
    if annotator:
        where += " AND annotator = ?"
        params.append(annotator)
    groups: dict[tuple, dict] = {}
    for status, suggested, *values in db.execute(
            f"SELECT status, suggested, technique, claimed_gain, compute FROM annotations WHERE {where}", params):
        snapshot = json.loads(suggested) if suggested else None
        key = (snapshot["prompt"], snapshot["prompt_hash"], snapshot["model"]) if snapshot else ("(none)", "", "")
        group = groups.setdefault(key, {"statuses": Counter(), "kept": 0, "edits": Counter()})
        group["statuses"][status] += 1
        if status != "rejected":
            group["kept"] += 1
            for field in edited_fields(dict(zip(FIELDS, values)), snapshot["fields"] if snapshot else None):
                group["edits"][field] += 1
    rows = []
    for (prompt, prompt_hash, model), group in sorted(groups.items()):
        decided = sum(group["statuses"].values())
        kept = group["kept"]
        rows.append({
            "prompt": prompt if not prompt_hash else prompt_label(prompt, prompt_hash),
            "model": model or "(none)",
            "decided": decided,
            **{f"{s}_rate": round(group["statuses"][s] / decided, 4) for s in STATUSES},
            "field_edit_rates": {f: (round(group["edits"][f] / kept, 4) if kept else None) for f in FIELDS},
        })
    return rows


def store_stats(db: Database, annotator: str | None = None) -> dict:
    one = lambda sql, params=(): db.execute(sql, params).fetchone()[0]  # noqa: E731
    by_status: dict[str, dict[str, int]] = {}
    for who, status, count in db.execute(
            "SELECT annotator, coalesce(status, 'flagged only'), count(*) FROM annotations "
            + ("WHERE annotator = ? " if annotator else "") + "GROUP BY 1, 2 ORDER BY 1, 2",
            [annotator] if annotator else []):
        by_status.setdefault(who, {})[status] = count
    suggestions = [
        {"prompt": prompt_label(name, pid), "model": model, "outcome": outcome, "count": count}
        for name, pid, model, outcome, count in db.execute(
            "SELECT p.name, s.prompt_id, s.model, s.outcome, count(*) FROM suggestions s "
            "JOIN prompts p ON p.id = s.prompt_id GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4")
    ]
    papers = one("SELECT count(*) FROM papers")
    decided = one("SELECT count(DISTINCT paper_id) FROM annotations WHERE status IS NOT NULL"
                  + (" AND annotator = ?" if annotator else ""), [annotator] if annotator else [])
    return {
        "papers": papers,
        "sightings": one("SELECT count(*) FROM sightings"),
        "sources": one("SELECT count(DISTINCT source_hash) FROM sightings"),
        "progress": {"decided_papers": decided, "share": round(decided / papers, 4) if papers else None},
        "annotations": by_status,
        "flagged": one("SELECT count(*) FROM annotations WHERE flagged" + (" AND annotator = ?" if annotator else ""),
                       [annotator] if annotator else []),
        "throughput": {
            "overall": throughput(db, annotator=annotator),
            "by_annotator": {who: throughput(db, annotator=who) for who in by_status},
        },
        "rates": rates_by_suggestion(db, annotator),
        "suggestions": suggestions,
    }


@dataclass(frozen=True)
class SessionStats:
    """What the review screen's statistics show for one annotator."""

    annotator: str
    decided: int
    total: int
    counts: dict[str, int]
    this_session: dict
    overall: dict
    rates: list[dict]


def session_stats(db: Database, annotator: str, session_id: str, decided: int, total: int,
                  counts: Counter) -> SessionStats:
    return SessionStats(annotator, decided, total, {s: counts.get(s, 0) for s in STATUSES},
                        throughput(db, annotator=annotator, session=session_id),
                        throughput(db, annotator=annotator), rates_by_suggestion(db, annotator))
