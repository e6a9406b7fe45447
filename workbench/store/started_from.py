"""What edit effort and `compare --against REVIEWER` read: each decided annotation with the
suggestion it started from (its id and the snapshot of the fields the reviewer saw)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterator

from workbench.records import Values
from workbench.store._base import Handle, guarded
from workbench.vocab import FIELDS


@dataclass(frozen=True, slots=True)
class StartedFrom:
    paper_id: str
    title: str
    annotator: str
    status: str
    values: Values  # the decided fields
    suggestion_id: str | None  # the suggestion it started from (None: there was none)
    suggested: Values | None  # that suggestion's fields as the reviewer saw them (None: none)
    prompt_id: str | None = None  # its prompt version and model, from the snapshot
    model: str | None = None


@guarded
def decisions_started_from(db: Handle, annotator: str | None = None) -> Iterator[StartedFrom]:
    """Every decided annotation (of one annotator), in paper order, with what it started from."""
    where, params = "a.status IS NOT NULL", []
    if annotator is not None:
        where += " AND a.annotator = ?"
        params.append(annotator)
    rows = db.execute(
        "SELECT a.paper_id, p.title, a.annotator, a.status, a.suggestion_id, a.suggested, "
        f"a.technique, a.claimed_gain, a.compute FROM annotations a JOIN papers p ON p.id = a.paper_id "
        f"WHERE {where} ORDER BY p.seq, a.annotator", params)
    for pid, title, who, status, suggestion_id, suggested, *values in rows:
        snapshot = json.loads(suggested) if suggested else None
        fields = snapshot.get("fields") if snapshot else None
        yield StartedFrom(pid, title, who, status, dict(zip(FIELDS, values)), suggestion_id,
                          None if fields is None else {f: fields.get(f) for f in FIELDS},
                          snapshot.get("prompt_hash") if snapshot else None, snapshot.get("model") if snapshot else None)
