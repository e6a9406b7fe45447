"""`workbench export --final`: one training-ready record per paper that has a final decision.

A paper's final decision is its adjudicated one (the `NAME@adjudicated` role; the latest updated when
several adjudicators decided it) where there is one; otherwise the agreed one: the paper has every
decision the team's distribution asks of it (`team per-paper`; 1 without a setting) and they all agree
(`team_agreement.decision_key`: rejected or not, and every field after normalisation); otherwise the paper
has none and is left out. Lines are in paper order, one JSON object each (the record shape is in the
README, "Working as a team")."""

from __future__ import annotations

from itertools import groupby
from typing import Iterator

from workbench.jsonl import dumps
from workbench.records import AnnotationRow
from workbench.store import Handle, get_distribution, get_papers, iter_annotations
from workbench.team_agreement import decision_key, decision_values
from workbench.vocab import FIELDS, is_adjudication

ADJUDICATED, AGREED = "adjudicated", "agreed"
_CHUNK = 256  # papers read at once for their abstracts


def final_decision(rows: list[AnnotationRow], needs: int) -> tuple[str, AnnotationRow] | None:
    """(ADJUDICATED or AGREED, the decision whose values are final) for one paper's decided rows, or None."""
    adjudicated = [row for row in rows if is_adjudication(row.annotator)]
    if adjudicated:
        return ADJUDICATED, max(adjudicated, key=lambda row: (row.updated_at, row.annotator))
    people = [row for row in rows if not is_adjudication(row.annotator)]
    if people and len(people) >= needs and len({decision_key(decision_values(row)) for row in people}) == 1:
        return AGREED, people[0]
    return None


def _record(paper, kind: str, row: AnnotationRow, annotators: list[str]) -> dict:
    return {
        "paper_id": paper.id, "title": paper.title, "abstract": paper.abstract, "final": kind,
        "status": row.status, "annotation": {f: row.values.get(f) for f in FIELDS},
        "decided_by": row.annotator, "annotators": annotators,
        "text_changed": row.decided_on is not None and row.decided_on != paper.content_hash,
    }


def final_records(db: Handle) -> Iterator[dict]:
    dist = get_distribution(db)
    waiting: list[tuple[str, AnnotationRow, list[str]]] = []

    def flush() -> Iterator[dict]:
        papers = get_papers(db, [row.paper_id for _, row, _ in waiting])
        for kind, row, annotators in waiting:
            yield _record(papers[row.paper_id], kind, row, annotators)
        waiting.clear()

    for pid, items in groupby(iter_annotations(db), key=lambda item: item.annotation.paper_id):
        rows = [item.annotation for item in items]
        found = final_decision(rows, dist.needs(pid) if dist else 1)
        if found is not None:
            annotators = [row.annotator for row in rows if not is_adjudication(row.annotator)]
            waiting.append((found[0], found[1], annotators))
        if len(waiting) >= _CHUNK:
            yield from flush()
    if waiting:
        yield from flush()


def export_final_lines(db: Handle) -> Iterator[str]:
    for record in final_records(db):
        yield dumps(record) + "\n"
