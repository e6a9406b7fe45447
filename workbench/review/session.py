"""A review session: the queue, the position in it, every decision, and the suggestions the
reviewer needs next. No Textual here: the TUI renders a `PaperView` and calls these methods.

Each decision is committed (with its event) before the method returns, so what the reviewer has seen
decided is on disk. Suggestions come from a `SuggestionFeed`: an instant model's (the offline rules) are
made with the paper, so one is never pending; a remote model's are fetched in the background by the
screen (`feed.fetch` in a worker) and stored here, on the app's thread.
"""

from __future__ import annotations

import bisect
import time
import uuid
from collections import Counter
from contextlib import suppress
from dataclasses import replace
from pathlib import Path

from workbench.db import close_db, open_db
from workbench.errors import Conflict, NothingToSave, ReadOnlyStore, StoreBusy, UndoBlocked
from workbench.models.base import Model
from workbench.prompts import Prompt
from workbench.records import AnnotationRow, PaperRow, SearchHit, SuggestionKey, SuggestionRow, Values, no_values
from workbench.review.adjudication import TeamFigures, team_figures
from workbench.review.feed import SuggestionFeed
from workbench.review.queues import Scope, check_queue, select
from workbench.review.views import Composition, Notice, PaperView
from workbench.stats import SessionStats, session_stats
from workbench.store import (
    Decision, Handle, annotation_statuses, annotations_of, clean_value, confirm_on_text, decide_in_slot, find_papers,
    get_annotation, get_distribution, get_paper, open_papers, paper_order, paper_seq, paper_with_number, release,
    remember_position, remembered_position, search, set_flag, suggestions_for_paper, transaction, undo_last,
)
from workbench.review.outside import Outside, TakesInOutside
from workbench.review.team_leases import TeamLeases
from workbench.suggest import recall_format, remember_prompt
from workbench.vocab import ACCEPTED, ALL, DISAGREEMENTS, DOUBT, EDITED, FIELDS, REJECTED, TODO

# A visit longer than this is someone who walked away: count at most this much.
MAX_SECONDS_PER_VISIT = 900.0
# The current paper and the next ones always have a suggestion made or under way.
PREFETCH = 5
# The TUI waits at most this long for a store lock, then says so instead of freezing.
TUI_BUSY_TIMEOUT = 3.0


class ReviewSession(TeamLeases, TakesInOutside):
    def __init__(self, db: Handle, annotator: str, feed: SuggestionFeed, queue: str = TODO,
                 clock=time.monotonic, others: tuple[str, ...] | None = None, read_only: bool = False):
        check_queue(queue, others)
        self.db, self.annotator, self.feed, self.queue_name = db, annotator, feed, queue
        self.others, self.read_only, self.clock, self.session_id = others, read_only, clock, uuid.uuid4().hex[:12]
        self.outside = Outside(db, annotator, self.session_id)  # before reading: nothing stored meanwhile is missed
        self.statuses = annotation_statuses(db, annotator)  # paper id -> status (None: only flagged)
        self.counts = Counter(s for s in self.statuses.values() if s)
        order = paper_order(db)
        self.total_papers, self.outside.last_seq = len(order), (order[-1][0] if order else 0)
        self.queue = select(queue, Scope(db, annotator, self.statuses, order, others, self._every_hit))
        # A team (`team per-paper K`, not when adjudicating): the paper on screen holds one of its open slots.
        self.team = get_distribution(db) if not read_only and queue != DISAGREEMENTS else None
        self.leased: str | None = None  # the paper this session holds a lease on
        if self.team is not None and queue == TODO:
            open_now = open_papers(db, annotator, [pid for _, pid in self.queue.entries])
            self.queue.entries = [entry for entry in self.queue.entries if entry[1] in open_now]
        self.order: list[tuple[int, str]] = self.queue.entries
        self._queued = {pid for _, pid in self.order}
        self._undecided = sum(1 for pid in self._queued if not self.statuses.get(pid))  # kept live
        self.index = self._start_index()
        if self.order and not self._take(self.index):  # the first paper's slots went meanwhile: the next one
            self.index = self._next_taken(self.index - 1, 1, skip_decided=False) or 0
        self.shown_at = clock()
        self.preferred: dict[str, str] = {}  # paper id -> suggestion id picked with 1-9
        self.source_numbers: dict[SuggestionKey, int] = {}  # its number for 1-9: as first seen, kept all session
        # paper id -> the annotation as last shown (None: none existed): what a decision is based on. Drawn again
        # on the same visit (a pick, a reply, a refused key), a paper keeps it: a change found then is a conflict.
        self.seen: dict[str, AnnotationRow | None] = {}
        self.on_screen: str | None = None  # the paper whose visit the last view() was part of
        self.seen_text: dict[str, str] = {}  # paper id -> content hash of the text last shown: what it is decided on
        self.undo_passed: set[int] = set()  # events undo found changed since by another writer: passed over next
        self.notices_at_start: list[Notice] = []  # shown once when the screen opens
        if read_only:
            feed.stopped = "the store is read-only: new suggestions cannot be stored"
            self.notices_at_start.append(Notice(
                "This store is read-only: you can browse papers and stored suggestions, but decisions, flags "
                "and new suggestions cannot be saved.", "warning", "Read-only"))

    @property
    def active(self) -> SuggestionKey:
        return self.feed.key

    # ------------------------------------------------------------------ queue

    def doubt_text(self, pid: str) -> str | None:
        """Why this paper is where it is in the doubt queue (None in other queues)."""
        return self.queue.doubt_of(pid).text() if self.queue_name == DOUBT else None

    def _start_index(self) -> int:
        """Where the reviewer was in this queue when they left it; else, in `all` and
        `disagreements`, the first paper not decided yet; else the start."""
        was_on = remembered_position(self.db, self.annotator, self.queue_name)
        if was_on is not None:
            seq = paper_seq(self.db, was_on)
            if seq is not None and self.order:
                at = bisect.bisect_left(self.order, (seq, was_on)) if self.queue.in_paper_order else next(
                    (i for i, (_, pid) in enumerate(self.order) if pid == was_on), len(self.order))
                if at < len(self.order):  # that paper, or (decided since, in todo) the next one after it
                    return at
        if self.queue_name in (ALL, DISAGREEMENTS):
            return next((i for i, (_, pid) in enumerate(self.order) if not self.statuses.get(pid)), 0)
        return 0

    def __len__(self) -> int:
        return len(self.order)

    @property
    def current_id(self) -> str | None:
        return self.order[self.index][1] if self.order else None

    def upcoming(self, count: int = PREFETCH) -> list[str]:
        """The current paper and the next ones: what suggestions are made for ahead of time."""
        return [pid for _, pid in self.order[self.index:self.index + count]]

    def move(self, delta: int) -> bool:
        self.catch_up()
        target = self.index + delta
        if not self.order or not 0 <= target < len(self.order):
            return False
        if self.team is not None and self.queue_name == TODO:  # past papers whose slots others took
            found = self._next_taken(self.index, delta, skip_decided=False)
            if found is None:
                return False
            target = found
        self._arrive(target)
        return True

    def go_to_paper(self, paper_id: str) -> bool:
        """Go to a paper, adding it to the queue (in paper order) if this queue lacks it."""
        seq = paper_seq(self.db, paper_id)
        if seq is None:
            return False
        entry = (seq, paper_id)
        at = bisect.bisect_left(self.order, entry)
        if at == len(self.order) or self.order[at] != entry:
            self.order.insert(at, entry)
            self._queued.add(paper_id)
            self._undecided += not self.statuses.get(paper_id)
        self._arrive(at)
        return True

    def go_to_number(self, number: int) -> bool:
        """Go to paper #`number`: its fixed number, as the paper pane, search and compare show it."""
        paper_id = paper_with_number(self.db, number)
        return paper_id is not None and self.go_to_paper(paper_id)

    def go_to_id(self, text: str) -> int:
        """Go to the one paper whose id is or starts with `text`; how many ids start so (at most 2; 1: there)."""
        matches = [hit for hit in find_papers(self.db, text, limit=2) if hit.id.startswith(text.lower())]
        return len(matches) if len(matches) != 1 or self.go_to_paper(matches[0].id) else 0

    def advance(self) -> bool:
        """After a decision: the next paper of the queue; in `todo`, the next one still undecided
        (a paper reached with g or /, or decided elsewhere, may sit among decided ones); so in `doubt`."""
        if self.queue_name not in (TODO, DOUBT):
            return self.move(1)
        self.catch_up()
        if self.team is not None and self.queue_name == TODO:
            found = self._next_taken(self.index, 1, skip_decided=True)
            if found is not None:
                self._arrive(found)
            return found is not None
        for index in range(self.index + 1, len(self.order)):
            if not self.statuses.get(self.order[index][1]):
                self._arrive(index)
                return True
        return False

    def undecided_left(self) -> int:
        return self._undecided

    def end_of_queue_text(self) -> str:
        left = self.undecided_left()
        text = "End of the queue."
        if left:
            text += (" 1 paper before this one is still undecided (skipped)." if left == 1 else
                     f" {left} papers before this one are still undecided (skipped).")
        return text + " g or / goes elsewhere, q quits."

    def _arrive(self, index: int) -> None:
        if self.team is not None and self.order[index][1] != self.leased:
            self._take(index)  # outside todo a full paper is still shown: a decision on it says so
        self.index, self.shown_at, self.on_screen = index, self.clock(), None  # a visit: its first view() rebases
        if not self.read_only:  # a restart comes back here
            remember_position(self.db, self.annotator, self.queue_name, self.order[index][1])

    def find(self, text: str, limit: int = 50) -> tuple[list[SearchHit], str | None]:
        """The `/` dialog: ranked hits for `text` (words, phrases, filters) and what was not understood."""
        return self._search(text, limit=limit, ranked=True)

    def _search(self, text: str, *, limit: int | None, ranked: bool) -> tuple[list[SearchHit], str | None]:
        return search(self.db, text, annotator=self.annotator, limit=limit, ranked=ranked, active=self.active)

    def _every_hit(self, text: str) -> tuple[list[SearchHit], str | None]:
        """A search queue: every match, in paper order."""
        return self._search(text, limit=None, ranked=False)

    # ------------------------------------------------------------------ what is on screen

    def view(self, *, fill: bool = True) -> PaperView | None:
        """What to show of the current paper. An instant model's suggestion for it is made first, unless
        `fill` is False: the first frame shows the paper without it (the rules and pydantic's import
        cost ~80 ms of a 0.5 s launch) and the screen asks again once the paper is drawn."""
        pid = self.current_id
        if pid is None:
            return None
        if self.feed.instant and fill:
            self.feed.fill_now([pid])  # the papers ahead: fill_ahead(), once the screen has drawn this one
        suggestions = suggestions_for_paper(self.db, pid)
        shown, picked = self._shown(pid, suggestions)
        annotation = self.reload(pid, rebase=pid != self.on_screen or pid not in self.seen)
        self.on_screen = pid
        paper = get_paper(self.db, pid)
        self.seen_text[pid] = paper.content_hash
        return PaperView(paper, annotation, suggestions, shown, self._others_on(pid), self.feed.pending(pid), picked,
                         [self._source_number(s) for s in suggestions])

    def _source_number(self, suggestion: SuggestionRow) -> int:
        """The number 1-9 picks this suggestion's source by, the same on every paper this session."""
        return self.source_numbers.setdefault(suggestion.key, len(self.source_numbers) + 1)

    def reload(self, pid: str, rebase: bool = True) -> AnnotationRow | None:
        """Read the paper's annotation as stored now: what the next decision on it is based on (`rebase`)."""
        annotation = get_annotation(self.db, pid, self.annotator)
        if rebase:
            self.seen[pid] = annotation
        status = annotation.status if annotation else None
        if self.statuses.get(pid) != status or (annotation is None) != (pid not in self.statuses):
            self._record_status(pid, status, forget=annotation is None)
        return annotation

    def confirm(self, shown: AnnotationRow) -> None:
        """`a` on your own decision as shown: it stays. Changed elsewhere since (not a flag alone): a Conflict, as for
        any decision: the dialog asks which stands, and keys typed ahead go to it, not to the paper as stored now."""
        pid = shown.paper_id
        stored, mine = get_annotation(self.db, pid, self.annotator), self.seen.get(pid, shown)
        if (stored.version if stored else None) == self._based_on(pid):
            if stored and stored.decided_on not in (None, self.seen_text.get(pid, stored.decided_on)):  # new text:
                self._wrote(confirm_on_text(self.db, stored, self.seen_text[pid], session=self.session_id))  # stands
            return
        if self._flag_alone(pid, stored):
            self.seen[pid] = stored  # the same decision: a flag or an undone change
            return
        self.reload(pid)  # the dialog shows the stored one (or, with no decision of yours seen, the notice)
        raise Conflict(stored, mine)

    def _based_on(self, pid: str) -> int | None:
        """The version shown for this paper (read now if it never was shown)."""
        if pid not in self.seen:
            self.reload(pid)
        return self.seen[pid].version if self.seen[pid] else None

    def _others_on(self, pid: str) -> list[AnnotationRow]:
        """The decisions to adjudicate (the disagreements queue). Elsewhere none: a reviewer who sees
        a colleague's answer first is anchored by it, and agreement stops meaning anything."""
        return annotations_of(self.db, pid, self.others) if self.others else []

    def _shown(self, pid: str, suggestions: list[SuggestionRow]) -> tuple[int | None, bool]:
        """(index, picked): the suggestion picked with 1-9, else the active prompt/model's, else the latest ok."""
        if not suggestions:
            return None, False
        picked = self.preferred.get(pid)
        for i, s in enumerate(suggestions):
            if s.id == picked:
                return i, True
        key = self.active
        for i, s in enumerate(suggestions):
            if s.key == key:
                return i, False
        ok = [i for i, s in enumerate(suggestions) if s.ok]
        return (ok[-1] if ok else len(suggestions) - 1), False

    def pick(self, number: int) -> bool:
        """Show this paper's suggestion from source `number` (numbered as first seen this session)."""
        pid = self.current_id
        for suggestion in suggestions_for_paper(self.db, pid) if pid else []:
            if self._source_number(suggestion) == number:
                self.preferred[pid] = suggestion.id
                return True
        return False

    def fill_ahead(self) -> None:
        """An instant model's suggestions for the next papers, so each is ready when it comes up."""
        if self.feed.instant:
            self.feed.fill_now(self.upcoming())

    def prefetch(self) -> list[PaperRow]:
        """Papers whose suggestion the screen should now request in the background."""
        return self.feed.claim(self.upcoming())

    def resuggest(self) -> Notice | None:
        pid = self.current_id
        if pid is None:
            return None
        self.preferred.pop(pid, None)
        return self.feed.retry(pid)

    # ------------------------------------------------------------------ decisions

    def seconds_here(self) -> float:
        return min(self.clock() - self.shown_at, MAX_SECONDS_PER_VISIT)

    def decide(self, status: str, values: Values, suggestion: SuggestionRow | None,
               notes: str | None = None, field_sources: dict[str, str] | None = None) -> AnnotationRow:
        """Commit a decision on the current paper (and its event). Does not move."""
        if self.read_only:
            raise ReadOnlyStore("this store is open read-only: decisions cannot be saved")
        pid = self.current_id
        decision = Decision(pid, self.annotator, status, values, suggestion, self.seconds_here(), notes,
                            self.session_id, field_sources, based_on=self._based_on(pid),
                            decided_on=self.seen_text.get(pid))
        try:
            row = decide_in_slot(self.db, decision)
        except Conflict as conflict:
            if self._flag_alone(pid, conflict.stored):  # a flag set elsewhere is no change of the decision seen
                self.seen[pid] = conflict.stored
                return self.decide(status, values, suggestion, notes, field_sources)
            if conflict.stored is None or not conflict.stored.says_the_same(conflict.attempted):
                self.reload(pid)  # the next key works on what is stored now
                raise
            self.rebase_on(conflict)  # another window stored exactly this: nothing to choose, no dialog
            row = conflict.stored
        self._wrote(row)
        self.shown_at = self.clock()  # time on a paper counts once
        return row

    def _flag_alone(self, pid: str, stored: AnnotationRow | None) -> bool:
        """Does the stored annotation differ from the one last shown only by its flag (or its version)?"""
        seen = self.seen.get(pid)
        if stored is None:
            return False
        return stored.status is None if seen is None or seen.status is None else stored.says_the_same(seen)

    def _wrote(self, row: AnnotationRow) -> None:
        self.seen[row.paper_id] = row
        if self.leased == row.paper_id:
            self.leased = None  # deciding gave it back
        self._record_status(row.paper_id, row.status)

    def rebase_on(self, conflict: Conflict) -> None:
        """The reviewer has seen the stored decision in the conflict dialog: the next write on that
        paper is based on it (not on whatever is stored by the time they save)."""
        self.seen[conflict.attempted.paper_id] = conflict.stored

    def keep_mine(self, conflict: Conflict) -> AnnotationRow:
        """After a conflict: write the reviewer's attempted decision again, based on the stored version
        (the reviewer has seen it now). Conflict again if it changed once more meanwhile."""
        mine = conflict.attempted
        self.rebase_on(conflict)
        row = decide_in_slot(self.db, Decision(mine.paper_id, self.annotator, mine.status, dict(mine.values),
                                       self.suggestion_as_shown(mine), self.seconds_here(), mine.notes, self.session_id,
                                       mine.field_sources, based_on=self._based_on(mine.paper_id),
                                       decided_on=mine.decided_on))
        self._wrote(row)
        self.shown_at = self.clock()
        return row

    def suggestion_as_shown(self, row: AnnotationRow) -> SuggestionRow | None:
        """The suggestion a decision started from, as the reviewer saw it: redone since under the same key
        (`--force`, ctrl+r elsewhere), its values are the ones shown, not the new ones."""
        if row.suggestion_id is None:
            return None
        found = next((s for s in suggestions_for_paper(self.db, row.paper_id) if s.id == row.suggestion_id), None)
        seen = (row.suggested or {}).get("fields")
        if found is not None and isinstance(seen, dict) and dict(found.values) != seen:
            found = replace(found, values=dict(seen))
        return found

    def accept(self, suggestion: SuggestionRow, notes: str | None = None) -> AnnotationRow:
        return self.decide(ACCEPTED, dict(suggestion.values), suggestion, notes)

    def save_fields(self, values: Values, suggestion: SuggestionRow | None, notes: str | None,
                    field_sources: dict[str, str] | None = None) -> AnnotationRow:
        """`edited`, unless the fields are exactly the suggestion's (then it was accepted as is). `field_sources`
        (from the compare screen) is kept when the fields come from more than the one suggestion."""
        cleaned = {f: clean_value(values.get(f)) for f in FIELDS}  # as decide() will store them
        unchanged = suggestion is not None and suggestion.ok and all(
            cleaned[f] == suggestion.values.get(f) for f in FIELDS)
        if not unchanged and all(cleaned[f] is None for f in FIELDS):  # `e` then save on a failed suggestion
            raise NothingToSave("every field is empty; reject the paper instead, or close the form")
        if field_sources and suggestion is not None and set(field_sources.values()) == {f"suggestion:{suggestion.label}"}:
            field_sources = None  # all of it is the suggestion: nothing to record beyond suggestion_id
        return self.decide(ACCEPTED if unchanged else EDITED, cleaned, suggestion, notes, field_sources)

    def save_composition(self, composition: Composition, notes: str | None) -> AnnotationRow:
        """`a` in the compare screen: a reviewer's rejection taken whole is a rejection; anything
        else is saved as fields, measured against the composition's suggestion."""
        if composition.rejects:
            return self.reject(composition.suggestion, notes, composition.field_sources)
        return self.save_fields(composition.values, composition.suggestion, notes, composition.field_sources)

    def reject(self, suggestion: SuggestionRow | None, notes: str | None = None,
               field_sources: dict[str, str] | None = None) -> AnnotationRow:
        return self.decide(REJECTED, no_values(), suggestion, notes, field_sources)

    def toggle_flag(self) -> bool:
        if self.read_only:
            raise ReadOnlyStore("this store is open read-only: flags cannot be saved")
        # A flag is a marker, not a decision: it toggles what is stored now (a change made elsewhere included);
        # only a change between this read and the write is refused. The base of the next decision moves only
        # when the decision is the one seen: changed elsewhere, a decision still conflicts (the dialog).
        pid = self.current_id
        current = get_annotation(self.db, pid, self.annotator)
        flagged = not (current and current.flagged)
        row = set_flag(self.db, pid, self.annotator, flagged, based_on=current.version if current else None,
                       session=self.session_id)
        if self._flag_alone(pid, row):
            self.seen[pid] = row
        if pid not in self.statuses:
            self.statuses[pid] = None
        return flagged

    def undo(self) -> str | None:
        """Undo the annotator's last change and go to that paper."""
        if self.read_only:
            raise ReadOnlyStore("this store is open read-only: nothing to undo")
        try:
            pid = undo_last(self.db, self.annotator, session=self.session_id, passing=self.undo_passed)
        except UndoBlocked as blocked:  # shown on its paper; the next undo goes to the change before it
            self.undo_passed.add(blocked.event_id)
            self.reload(blocked.paper_id)
            self.go_to_paper(blocked.paper_id)
            raise
        if pid is None:
            return None
        self.reload(pid)
        self.go_to_paper(pid)
        return pid

    def _record_status(self, pid: str, status: str | None, forget: bool = False) -> None:
        old = self.statuses.get(pid)
        if pid in self._queued and bool(old) != bool(status):
            self._undecided += 1 if old else -1
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

    def stats(self) -> SessionStats:
        """This annotator's progress, pace (this session and overall) and rates (for the stats screen)."""
        return session_stats(self.db, self.annotator, self.session_id, self.decided, self.total_papers, self.counts)

    def team_figures(self) -> TeamFigures:
        """The stats screen's agreement and team tabs, read now (`workbench agreement`, `team status`)."""
        return team_figures(self.db)

    def close(self) -> None:
        """Keep where the reviewer is (a move's write may have been skipped while the store was
        busy), write everything into the store file itself (checkpoint) and close it."""
        if not self.read_only and self.order:
            remember_position(self.db, self.annotator, self.queue_name, self.order[self.index][1])
        if self.leased is not None:
            with suppress(StoreBusy):  # given back, waiting the busy timeout at most; else it runs out
                release(self.db, self.annotator, self.leased)
            self.leased = None
        close_db(self.db)


def open_session(db_path: str | Path, *, prompt: Prompt, model: Model, annotator: str, queue: str = TODO,
                 others: tuple[str, ...] | None = None) -> ReviewSession:
    """Open the store, record the prompt version, and start a session on the queue. A store that
    cannot be written opens read-only, for browsing."""
    db = None
    try:
        db = open_db(db_path, busy_timeout=TUI_BUSY_TIMEOUT, interactive=True)
        with transaction(db):
            remember_prompt(db, prompt)
        read_only = False
    except (ReadOnlyStore, StoreBusy) as exc:
        if isinstance(exc, StoreBusy) and not exc.read_only:
            raise
        if db is not None:
            close_db(db)
        db, read_only = open_db(db_path, read_only=True), True
    recall_format(db, model)
    session = ReviewSession(db, annotator, SuggestionFeed(db, prompt, model), queue, others=others,
                            read_only=read_only)
    note = model.note(prompt)
    if note:
        session.notices_at_start.append(Notice(note[:1].upper() + note[1:] + ".", "warning"))
    return session
