"""The suggestion feed: which papers need a suggestion from the active prompt and model, which are
under way, which gave up, and storing what comes back (on the app's thread). An instant model's
suggestions are made with the paper; a remote model's are fetched by the screen in a worker
(`fetch`, which never touches the store) and stored by `receive`."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.errors import AbortedRun, StoreBusy
from workbench.models.base import Model
from workbench.prompts import Prompt
from workbench.records import PaperRow, SuggestionKey
from workbench.review.views import Notice
from workbench.store import Handle, get_paper, get_papers, papers_with_suggestion, save_suggestions
from workbench.suggest import (
    NewSuggestion, keep_learned_format, suggest_paper, suggest_paper_now, suggestion_key,
)
from workbench.vocab import source_label


@dataclass(slots=True)
class FeedResult:
    """What one background request produced: a suggestion to store, or why there is none."""

    paper_id: str
    new: NewSuggestion | None = None
    error: str | None = None
    fatal: bool = False  # the endpoint refuses every request: stop asking this session


class SuggestionFeed:
    """Which papers need a suggestion from the active prompt and model, which are under way,
    which gave up, and storing what comes back."""

    def __init__(self, db: Handle, prompt: Prompt, model: Model):
        self.db, self.prompt, self.model = db, prompt, model
        self.in_flight: set[str] = set()
        self.gave_up: dict[str, str] = {}  # paper id -> why (a request that raised): asked again only on ctrl+r
        self.again: set[str] = set()  # ctrl+r: request these even though they have a suggestion
        self.stopped: str | None = None  # a run-stopping fault: no more requests this session

    @property
    def key(self) -> SuggestionKey:
        """The key new suggestions are made with. Computed each time: a response-format fallback changes
        the parameters mid-session."""
        return suggestion_key(self.prompt, self.model)

    @property
    def label(self) -> str:
        return source_label(self.prompt.name, self.prompt.id, self.model.name)

    @property
    def instant(self) -> bool:
        return self.model.instant

    def pending(self, paper_id: str) -> bool:
        return paper_id in self.in_flight

    def missing(self, paper_ids: list[str]) -> list[str]:
        if not paper_ids:
            return []
        have = papers_with_suggestion(self.db, paper_ids, self.key)
        return [pid for pid in paper_ids if pid not in have]

    def fill_now(self, paper_ids: list[str]) -> None:
        """An instant model's suggestions for these papers, made and stored at once (one transaction)."""
        if self.stopped:
            return
        todo = [pid for pid in self.missing(paper_ids) if pid not in self.gave_up]
        if not todo:
            return
        papers = get_papers(self.db, todo)
        made = [suggest_paper_now(papers[pid], self.prompt, self.model) for pid in todo if pid in papers]
        try:
            save_suggestions(self.db, [(new.suggestion, new.calls) for new in made])
        except StoreBusy as exc:
            for pid in todo:
                self.gave_up[pid] = f"could not store its suggestion ({exc})"

    def claim(self, paper_ids: list[str]) -> list[PaperRow]:
        """The papers to request in the background now; they count as under way from here."""
        if self.stopped or self.instant:
            return []
        wanted = self.missing(paper_ids) + [pid for pid in paper_ids if pid in self.again]
        todo = [pid for pid in dict.fromkeys(wanted) if pid not in self.in_flight and pid not in self.gave_up]
        self.again.difference_update(todo)
        papers = get_papers(self.db, todo) if todo else {}
        self.in_flight.update(papers)
        return [papers[pid] for pid in todo if pid in papers]

    async def fetch(self, paper: PaperRow) -> FeedResult:
        """Ask the model (in a worker); never touches the store, never raises for a model fault."""
        try:
            return FeedResult(paper.id, new=await suggest_paper(paper, self.prompt, self.model))
        except AbortedRun as exc:
            return FeedResult(paper.id, new=exc.record, error=str(exc), fatal=True)
        except Exception as exc:  # a bug or an unexpected fault: report it, keep reviewing
            return FeedResult(paper.id, error=f"{type(exc).__name__}: {exc}")

    def receive(self, result: FeedResult) -> Notice | None:
        """Store a fetched suggestion (on the app's thread) and say what the reviewer should know."""
        self.in_flight.discard(result.paper_id)
        if result.new is not None:
            try:
                save_suggestions(self.db, [(result.new.suggestion, result.new.calls)])
                learned = keep_learned_format(self.db, self.model)
            except StoreBusy as exc:
                return Notice(f"Could not store a suggestion ({exc}); it will be requested again.", "warning")
            if learned:
                return Notice(f"The endpoint does not take this response format; using {learned} from now on "
                              "(remembered for this endpoint and model).", "warning")
        if result.fatal:
            first = self.stopped is None
            self.stopped = result.error
            self.in_flight.clear()
            return Notice(result.error or "", "error", "Suggestions stopped") if first else None
        if result.error is not None and result.new is None:
            # Nothing was stored, so prefetching would ask again at once: wait for ctrl+r.
            self.gave_up[result.paper_id] = result.error
            return Notice(f"Suggestion failed: {result.error} (ctrl+r retries)", "warning")
        return None

    def retry(self, paper_id: str) -> Notice | None:
        """ctrl+r: ask again for this paper (its current suggestion stays until the new one lands)."""
        if self.stopped:
            return Notice(f"Suggestions are stopped: {self.stopped}", "error")
        self.gave_up.pop(paper_id, None)
        if self.instant:
            paper = get_paper(self.db, paper_id)
            new = suggest_paper_now(paper, self.prompt, self.model)
            save_suggestions(self.db, [(new.suggestion, new.calls)])
            return Notice(f"Suggested again with {self.label}.")
        self.again.add(paper_id)
        return Notice(f"Asking {self.label} again…")
