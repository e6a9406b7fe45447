"""Read-only reports over the store: `workbench stats` and the TUI's stats screen.

Pace: decisions per hour = decisions / the seconds spent on them; median seconds
per paper. Overall it uses each decided annotation's seconds_spent (so imported
decisions count); for one review session it uses that session's decision events,
leaving out decisions that were undone. Rates by prompt and model use the
suggestion snapshot each annotation keeps (what the reviewer actually saw), and so
does the edit effort from it to the decision (`workbench.effort`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from statistics import median

from workbench.effort import EffortTally, decision_effort
from workbench.records import edited_fields
from workbench.store import Handle, decision_seconds, decisions_with_snapshot, store_counts
from workbench.vocab import FIELDS, STATUSES, prompt_label


def throughput(db: Handle, *, annotator: str | None = None, session: str | None = None) -> dict:
    seconds = decision_seconds(db, annotator=annotator, session=session)
    total = sum(seconds)
    return {
        "decisions": len(seconds),
        "decisions_per_hour": round(len(seconds) * 3600 / total, 1) if total > 0 else None,
        "median_seconds_per_paper": round(median(seconds), 1) if seconds else None,
    }


def rates_by_suggestion(db: Handle, annotator: str | None = None) -> list[dict]:
    """Accept / edit / reject rates and per-field edit rates by prompt version and model."""
    groups: dict[tuple, dict] = {}
    for status, snapshot, values in decisions_with_snapshot(db, annotator):
        key = (snapshot["prompt"], snapshot["prompt_hash"], snapshot["model"]) if snapshot else ("(none)", "", "")
        group = groups.setdefault(key, {"statuses": Counter(), "kept": 0, "edits": Counter(), "effort": EffortTally()})
        group["statuses"][status] += 1
        group["effort"].add(decision_effort(snapshot["fields"] if snapshot else None, values, status))
        if status != "rejected":
            group["kept"] += 1
            for field in edited_fields(values, snapshot["fields"] if snapshot else None):
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
            "effort": group["effort"].as_dict(),
        })
    return rows


def store_stats(db: Handle, annotator: str | None = None) -> dict:
    counts = store_counts(db, annotator)
    suggestions = [
        {"prompt": prompt_label(name, pid), "model": model, "outcome": outcome, "count": count}
        for name, pid, model, outcome, count in counts.suggestions
    ]
    papers, decided = counts.papers, counts.decided_papers
    return {
        "papers": papers,
        "sightings": counts.sightings,
        "sources": counts.sources,
        "progress": {"decided_papers": decided, "share": round(decided / papers, 4) if papers else None},
        "annotations": counts.by_status,
        "flagged": counts.flagged,
        "throughput": {
            "overall": throughput(db, annotator=annotator),
            "by_annotator": {who: throughput(db, annotator=who) for who in counts.by_status},
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


def session_stats(db: Handle, annotator: str, session_id: str, decided: int, total: int,
                  counts: Counter) -> SessionStats:
    return SessionStats(annotator, decided, total, {s: counts.get(s, 0) for s in STATUSES},
                        throughput(db, annotator=annotator, session=session_id),
                        throughput(db, annotator=annotator), rates_by_suggestion(db, annotator))
