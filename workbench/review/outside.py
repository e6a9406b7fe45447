"""What other writers stored since a review session last looked.

A session reads the papers and its reviewer's decisions once, when it starts. Other writers go on:
`workbench ingest` adds papers, `workbench import` or a second window of the same reviewer decides
papers. Without a second look the review would count the start's numbers, end a `todo` queue with
thousands of new papers left, and serve papers decided elsewhere (each key then a conflict dialog).

`Outside.look()` is that second look, cheap enough for every key: one indexed query for papers numbered
after the last one known, one for events after the last one known (every change of an annotation writes
an event, tagged with the session that made it; this session's own are not news).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.store import Handle, annotation_statuses, changed_by_others, last_event_id, open_papers, papers_after
from workbench.vocab import ALL, TODO


@dataclass
class News:
    papers: list[tuple[int, str]] = field(default_factory=list)  # (seq, id) ingested since, in paper order
    decided: list[str] = field(default_factory=list)  # papers whose decision by this reviewer changed elsewhere

    def __bool__(self) -> bool:
        return bool(self.papers or self.decided)


class Outside:
    def __init__(self, db: Handle, annotator: str, session: str):
        """Made before the session reads its statuses: a change made in between is read twice, never missed.
        The session sets `last_seq` once it has read the papers."""
        self.db, self.annotator, self.session = db, annotator, session
        self.last_seq = 0
        self.last_event = last_event_id(db)

    def look(self) -> News:
        news = News(papers_after(self.db, self.last_seq))
        if news.papers:
            self.last_seq = news.papers[-1][0]
        self.last_event, news.decided = changed_by_others(self.db, self.annotator, self.session, self.last_event)
        return news


class TakesInOutside:
    """A part of `ReviewSession`, kept apart: taking in what `Outside.look()` found (the session's `outside`,
    `order`, statuses and counts are its state)."""

    def catch_up(self) -> bool:
        """Take in what other writers stored since the last look (review/outside.py): papers ingested join `todo`
        or `all`; decisions made elsewhere count (`todo` and `doubt` pass over them)."""
        news = self.outside.look()
        stored = annotation_statuses(self.db, self.annotator, news.decided) if news.decided else {}
        for pid in news.decided:  # counted; not `seen`: a decision on a paper shown before the change conflicts
            self._record_status(pid, stored.get(pid), forget=pid not in stored)
        self.total_papers += len(news.papers)
        if news.papers and self.queue_name in (TODO, ALL):
            fresh = [(seq, pid) for seq, pid in news.papers if pid not in self._queued
                     and not (self.queue_name == TODO and self.statuses.get(pid))]  # imported with its decision
            if self.team is not None and self.queue_name == TODO:
                open_now = open_papers(self.db, self.annotator, [pid for _, pid in fresh])
                fresh = [entry for entry in fresh if entry[1] in open_now]
            self.order.extend(fresh)
            self._queued.update(pid for _, pid in fresh)
            self._undecided += sum(1 for _, pid in fresh if not self.statuses.get(pid))
        return bool(news)
