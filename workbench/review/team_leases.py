"""Working as a team (`workbench team per-paper K`): the paper on screen holds one of its open slots, a lease
(workbench/store/leases.py), and a `todo` queue passes over papers whose slots others hold. A part of
`ReviewSession`, kept apart: the session's `team`, `order`, `index`, `leased` and statuses are its state."""

from __future__ import annotations

from workbench.store import FULL, HELD, StoreBusy, claim, release
from workbench.vocab import TODO


class TeamLeases:
    def _take(self, index: int) -> bool:
        """Hold a lease on the paper at `index` (giving back the last); False: its slots are taken."""
        if self.team is None:
            return True
        pid = self.order[index][1]
        try:  # never waited for: a move must not freeze while another writer holds the store
            if self.leased not in (None, pid):
                release(self.db, self.annotator, self.leased, wait=False)
                self.leased = None
            taken = claim(self.db, pid, self.annotator, self.session_id, wait=False)
        except StoreBusy:  # an ingest, a copy: shown without a hold; a decision checks the slots again,
            return True  # and the screen's renewal takes the hold once it can
        self.leased = pid if taken == HELD else None  # outside todo a full paper is shown, not held
        return taken != FULL or self.queue_name != TODO

    def _next_taken(self, start: int, step: int, *, skip_decided: bool) -> int | None:
        """After `start`, in direction `step`, the first paper this session could hold (others leave)."""
        index = start + step
        while 0 <= index < len(self.order):
            pid = self.order[index][1]
            if not (skip_decided and self.statuses.get(pid)):
                if self._take(index):
                    return index
                self._queued.discard(pid)
                self._undecided -= not self.statuses.get(pid)
                del self.order[index]  # stepping forward, the next paper is at `index` now
                self.index -= index < self.index  # the paper on screen keeps its place (a decision lands on it)
                index = index if step > 0 else index - 1
                continue
            index += step
        return None

    def keep_lease(self) -> bool:
        """Renew the hold on the paper on screen; False when it lapsed and others took the slots."""
        pid = self.current_id
        if self.team is None or pid is None or self.statuses.get(pid):
            return True
        if self.leased not in (None, pid):  # a busy store kept the move from giving the last one back
            release(self.db, self.annotator, self.leased, wait=False)
        held, taken = self.leased == pid, claim(self.db, pid, self.annotator, self.session_id, wait=False)
        self.leased = pid if taken == HELD else None  # also when a busy store kept the move from taking it
        return taken != FULL or not held  # lapsed: it was held, and others took the slots
