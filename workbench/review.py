"""A review session: the queue, the position in it, and every decision. No Textual here.

The TUI renders a `PaperView` and calls these methods; each decision is
committed (with its event) before the method returns, so what the reviewer
has seen decided is on disk.
"""

from __future__ import annotations

import bisect
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

from sqlite_utils import Database

from workbench.schema import FIELDS
from workbench.store import (
    Decision, annotation_statuses, clean_value, decide, find_papers, flagged_ids, get_annotation, get_paper, paper_order,
    set_flag, suggestions_for_paper, undo_last,
)

QUEUES = ("todo", "all", "flagged", "rejected", "edited", "disagreements")
# A visit longer than this is someone who walked away: count at most this much.
MAX_SECONDS_PER_VISIT = 900.0


@dataclass(frozen=True)
class ActiveKey:
    """The prompt version, model and parameters new suggestions are made with."""

    prompt_id: str
    model: str
    params: str


@dataclass
class PaperView:
    paper: dict
    annotation: dict | None
    suggestions: list[dict]  # every stored suggestion of the paper, oldest first
    shown: int | None  # index in `suggestions` of the one on screen
    others: list[dict] = field(default_factory=list)  # the decisions being adjudicated

    @property
    def suggestion(self) -> dict | None:
        return None if self.shown is None else self.suggestions[self.shown]


class ReviewSession:
    def __init__(self, db: Database, annotator: str, active: ActiveKey, queue: str = "todo",
                 clock=time.monotonic, others: tuple[str, str] | None = None):
        if queue not in QUEUES:
            raise ValueError(f"unknown queue {queue!r}")
        if queue == "disagreements" and not others:
            raise ValueError("the disagreements queue needs the two annotators to adjudicate")
        self.db, self.annotator, self.active, self.queue_name = db, annotator, active, queue
        self.others = others
        self.session_id = uuid.uuid4().hex[:12]
        self.clock = clock
        self.statuses = annotation_statuses(db, annotator)  # paper id -> status (None: only flagged)
        self.counts = Counter(s for s in self.statuses.values() if s)
        order = paper_order(db)
        self.total_papers = len(order)
        self.order: list[tuple[int, str]] = self._select(order)
        self.index = self._start_index()
        self.shown_at = clock()
        self.preferred: dict[str, str] = {}  # paper id -> suggestion id picked with 1-9

    # ------------------------------------------------------------------ queue

    def _select(self, order: list[tuple[int, str]]) -> list[tuple[int, str]]:
        if self.queue_name == "todo":
            return [(seq, pid) for seq, pid in order if not self.statuses.get(pid)]
        if self.queue_name == "all":
            return order
        if self.queue_name == "disagreements":
            from workbench.agreement import disagreement_ids

            disputed = set(disagreement_ids(self.db, *self.others))
            return [(seq, pid) for seq, pid in order if pid in disputed]
        if self.queue_name == "flagged":
            flagged = flagged_ids(self.db, self.annotator)
            return [(seq, pid) for seq, pid in order if pid in flagged]
        wanted = self.queue_name  # rejected | edited
        return [(seq, pid) for seq, pid in order if self.statuses.get(pid) == wanted]

    def _start_index(self) -> int:
        if self.queue_name in ("all", "disagreements"):  # resume at the first paper not decided yet
            return next((i for i, (_, pid) in enumerate(self.order) if not self.statuses.get(pid)), 0)
        return 0

    def __len__(self) -> int:
        return len(self.order)

    @property
    def current_id(self) -> str | None:
        return self.order[self.index][1] if self.order else None

    def upcoming(self, count: int) -> list[str]:
        """The current paper and the next ones: what to prefetch suggestions for."""
        return [pid for _, pid in self.order[self.index:self.index + count]]

    def move(self, delta: int) -> bool:
        target = self.index + delta
        if not self.order or not 0 <= target < len(self.order):
            return False
        self._arrive(target)
        return True

    def go_to_position(self, position: int) -> bool:
        return self.move(position - 1 - self.index) if self.order else False

    def go_to_paper(self, paper_id: str) -> bool:
        """Go to a paper, adding it to the queue (in paper order) if this queue lacks it."""
        row = self.db.execute("SELECT seq FROM papers WHERE id = ?", [paper_id]).fetchone()
        if row is None:
            return False
        entry = (row[0], paper_id)
        at = bisect.bisect_left(self.order, entry)
        if at == len(self.order) or self.order[at] != entry:
            self.order.insert(at, entry)
        self._arrive(at)
        return True

    def _arrive(self, index: int) -> None:
        self.index = index
        self.shown_at = self.clock()

    def find(self, text: str, limit: int = 50) -> list[dict]:
        return find_papers(self.db, text, limit)

    # ------------------------------------------------------------------ what is on screen

    def view(self) -> PaperView | None:
        pid = self.current_id
        if pid is None:
            return None
        suggestions = suggestions_for_paper(self.db, pid)
        others = [a for a in (get_annotation(self.db, pid, who) for who in self.others or ()) if a]
        return PaperView(get_paper(self.db, pid), get_annotation(self.db, pid, self.annotator),
                         suggestions, self._shown(pid, suggestions), others)

    def _shown(self, pid: str, suggestions: list[dict]) -> int | None:
        """The suggestion picked with 1-9, else the active prompt/model's, else the latest ok."""
        if not suggestions:
            return None
        picked = self.preferred.get(pid)
        for i, s in enumerate(suggestions):
            if s["id"] == picked:
                return i
        for i, s in enumerate(suggestions):
            if (s["prompt_id"], s["model"], s["params"]) == (self.active.prompt_id, self.active.model, self.active.params):
                return i
        ok = [i for i, s in enumerate(suggestions) if s["outcome"] == "ok"]
        return ok[-1] if ok else len(suggestions) - 1

    def has_active_suggestion(self, pid: str) -> bool:
        return self.db.execute(
            "SELECT 1 FROM suggestions WHERE paper_id = ? AND prompt_id = ? AND model = ? AND params = ?",
            [pid, self.active.prompt_id, self.active.model, self.active.params],
        ).fetchone() is not None

    def pick(self, number: int) -> bool:
        """Show the paper's suggestion number `number` (1-based, oldest first)."""
        pid = self.current_id
        suggestions = suggestions_for_paper(self.db, pid) if pid else []
        if not 1 <= number <= len(suggestions):
            return False
        self.preferred[pid] = suggestions[number - 1]["id"]
        return True

    # ------------------------------------------------------------------ decisions

    def seconds_here(self) -> float:
        return min(self.clock() - self.shown_at, MAX_SECONDS_PER_VISIT)

    def decide(self, status: str, fields: dict[str, str | None], suggestion: dict | None,
               notes: str | None = None) -> dict:
        """Commit a decision on the current paper (and its event). Does not move."""
        pid = self.current_id
        row = decide(self.db, Decision(pid, self.annotator, status, fields, suggestion, self.seconds_here(),
                                       notes, self.session_id))
        self._record_status(pid, status)
        self.shown_at = self.clock()  # time on a paper counts once
        return row

    def accept(self, suggestion: dict, notes: str | None = None) -> dict:
        return self.decide("accepted", {f: suggestion.get(f) for f in FIELDS}, suggestion, notes)

    def save_fields(self, fields: dict[str, str | None], suggestion: dict | None, notes: str | None) -> dict:
        """`edited`, unless the fields are exactly the suggestion's (then it was accepted as is)."""
        cleaned = {f: clean_value(fields.get(f)) for f in FIELDS}  # as decide() will store them
        unchanged = suggestion is not None and suggestion["outcome"] == "ok" and all(
            cleaned[f] == suggestion.get(f) for f in FIELDS)
        return self.decide("accepted" if unchanged else "edited", cleaned, suggestion, notes)

    def reject(self, suggestion: dict | None, notes: str | None = None) -> dict:
        return self.decide("rejected", {f: None for f in FIELDS}, suggestion, notes)

    def toggle_flag(self) -> bool:
        pid = self.current_id
        current = get_annotation(self.db, pid, self.annotator)
        flagged = not (current and current["flagged"])
        set_flag(self.db, pid, self.annotator, flagged, session=self.session_id)
        if pid not in self.statuses:
            self.statuses[pid] = None
        return flagged

    def undo(self) -> str | None:
        """Undo the annotator's last change and go to that paper."""
        pid = undo_last(self.db, self.annotator, session=self.session_id)
        if pid is None:
            return None
        restored = get_annotation(self.db, pid, self.annotator)
        self._record_status(pid, restored["status"] if restored else None, forget=restored is None)
        self.go_to_paper(pid)
        return pid

    def _record_status(self, pid: str, status: str | None, forget: bool = False) -> None:
        old = self.statuses.get(pid)
        if old:
            self.counts[old] -= 1
        if forget:
            self.statuses.pop(pid, None)
        else:
            self.statuses[pid] = status
        if status:
            self.counts[status] += 1

    # ------------------------------------------------------------------ progress

    @property
    def decided(self) -> int:
        return sum(self.counts.values())
