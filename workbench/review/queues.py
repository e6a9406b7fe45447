"""Which papers a review session steps through, and in which order: one named selector per queue
(the names are the vocabulary's QUEUES), plus `search:QUERY`. A selector gets every paper in paper
order and the reviewer's statuses and returns the queue's (seq, id) entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from workbench.doubt import Doubt, doubts
from workbench.errors import InputError
from workbench.records import SearchHit
from workbench.store import Handle, changed_since_decided, flagged_ids
from workbench.team_agreement import disagreeing_papers
from workbench.vocab import (
    ALL, CHANGED, DISAGREEMENTS, DOUBT, EDITED, FLAGGED, QUEUES, REJECTED, SEARCH_QUEUE_PREFIX, TODO,
)

Entries = list[tuple[int, str]]  # (seq, paper id)


@dataclass
class Scope:
    """What a selector may read."""

    db: Handle
    annotator: str
    statuses: dict[str, str | None]  # paper id -> the reviewer's status (None: only flagged)
    order: Entries  # every paper, in paper order
    others: tuple[str, ...] | None  # the annotators whose decisions a disagreements queue compares
    search: Callable[[str], tuple[list[SearchHit], str | None]]  # every hit, unranked


@dataclass
class Queue:
    name: str
    entries: Entries
    doubts: dict[str, Doubt] = field(default_factory=dict)  # the doubt queue: why each paper is where it is
    in_paper_order: bool = True  # entries sorted by seq (every queue but doubt)

    def doubt_of(self, paper_id: str) -> Doubt:
        return self.doubts.get(paper_id) or Doubt(0.0, ["no suggestions yet"])


def _undecided(scope: Scope) -> Entries:
    return [(seq, pid) for seq, pid in scope.order if not scope.statuses.get(pid)]


def _todo(scope: Scope) -> Queue:
    return Queue(TODO, _undecided(scope))


def _all(scope: Scope) -> Queue:
    return Queue(ALL, scope.order)


def _among(name: str, wanted: set[str], scope: Scope) -> Queue:
    return Queue(name, [(seq, pid) for seq, pid in scope.order if pid in wanted])


def _flagged(scope: Scope) -> Queue:
    return _among(FLAGGED, flagged_ids(scope.db, scope.annotator), scope)


def _changed(scope: Scope) -> Queue:
    return _among(CHANGED, changed_since_decided(scope.db, scope.annotator), scope)


def _disagreements(scope: Scope) -> Queue:
    return _among(DISAGREEMENTS, set(disagreeing_papers(scope.db, scope.others)), scope)


def _doubt(scope: Scope) -> Queue:
    """Undecided papers, the most doubtful first (see workbench/doubt.py)."""
    queue = Queue(DOUBT, [], doubts(scope.db), in_paper_order=False)
    queue.entries = sorted(_undecided(scope), key=lambda entry: (-queue.doubt_of(entry[1]).score, entry[0]))
    return queue


def _with_status(status: str) -> Callable[[Scope], Queue]:
    def select(scope: Scope) -> Queue:
        return Queue(status, [(seq, pid) for seq, pid in scope.order if scope.statuses.get(pid) == status])
    return select


SELECTORS: dict[str, Callable[[Scope], Queue]] = {
    TODO: _todo, ALL: _all, FLAGGED: _flagged, REJECTED: _with_status(REJECTED), EDITED: _with_status(EDITED),
    DISAGREEMENTS: _disagreements, DOUBT: _doubt, CHANGED: _changed,
}
assert tuple(SELECTORS) == QUEUES, "every queue of the vocabulary has its selector"


def check_queue(name: str, others: tuple[str, ...] | None) -> None:
    if name not in SELECTORS and not name.startswith(SEARCH_QUEUE_PREFIX):
        raise ValueError(f"unknown queue {name!r}")
    if name == DISAGREEMENTS and not others:
        raise ValueError("the disagreements queue needs the annotators whose decisions it compares")


def select(name: str, scope: Scope) -> Queue:
    """The queue `name`: a named selector, or `search:QUERY` (the `/` dialog's syntax, in paper order)."""
    if name.startswith(SEARCH_QUEUE_PREFIX):
        hits, problem = scope.search(name[len(SEARCH_QUEUE_PREFIX):])
        if problem:
            raise InputError(f"--queue {name}: {problem}")
        return Queue(name, [(hit.seq, hit.id) for hit in hits])
    return SELECTORS[name](scope)
