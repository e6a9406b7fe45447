"""An instant model's suggestions (the offline rules) on every core: `suggest --workers N`.

The offline model needs no network, so a run is all CPU: extracting and grounding take ~85% of it.
Paper ids go out in chunks to worker processes (`workers.ordered_map`); each reads its papers from its
own handle on the store, runs the model, grounds the summary and encodes the rows
(`store.encode_batch_suggestion`). This process only writes, one transaction a chunk, in the order the
chunks went out, so an interrupted run keeps every chunk it wrote and the store has one writer.

The rule is the live path's (`suggest.run_suggestions`): the papers lacking an `ok` suggestion of this
prompt version and model (all of them with --force), each result the key's current suggestion, every
call appended to the attempts log. A model that raises fails that paper, never the run.
"""

from __future__ import annotations

import time
from typing import Callable

from workbench.models.base import Model
from workbench.prompts import Prompt
from workbench.store import (
    WRITE_CHUNK, EncodedSuggestion, Handle, bulk_writes, encode_batch_suggestion, get_papers, open_reader, save_encoded,
    store_location,
)
from workbench.suggest import RunReport, papers_to_request, remember_prompt, suggest_paper_now
from workbench.workers import BULK_NICE, ordered_map

CHUNK = 500  # papers a worker takes at once: big enough to hide the hand-over, small enough to stop soon
# Fewer papers than this run in this process: starting a worker (its imports) costs ~0.5-0.9 s, more than
# a second core saves below a few thousand papers (504 seeds: 0.3 s in one process, 1.2 s with two workers).
MIN_PAPERS_FOR_WORKERS = 5_000


class _Suggester:
    """One worker's part: a chunk of paper ids -> their encoded suggestions, in the ids' order."""

    def __init__(self, db: Handle, prompt: Prompt, model: Model):
        self.db, self.prompt, self.model = db, prompt, model

    def run(self, paper_ids: list[str]) -> list[EncodedSuggestion]:
        papers = get_papers(self.db, paper_ids)
        out = []
        for pid in paper_ids:
            paper = papers.get(pid)
            if paper is None:  # deleted since the run began: nothing to suggest for
                continue
            new = suggest_paper_now(paper, self.prompt, self.model)
            out.append(encode_batch_suggestion(new.suggestion, new.calls))
        return out


_worker: _Suggester | None = None


def _start_worker(location: str, prompt: Prompt, model_name: str) -> None:
    global _worker
    from workbench.models import get_model

    _worker = _Suggester(open_reader(location), prompt, get_model(model_name))


def _suggest_in_worker(paper_ids: list[str]) -> list[EncodedSuggestion]:
    return _worker.run(paper_ids)


def run_on_cores(db: Handle, prompt: Prompt, model: Model, *, workers: int, paper_ids: list[str] | None = None,
                 limit: int | None = None, force: bool = False,
                 on_progress: Callable[[RunReport], None] | None = None, report: RunReport | None = None) -> RunReport:
    """Suggest with an instant model in `workers` processes (1: in this one, no processes started)."""
    remember_prompt(db, prompt)
    todo, cached = papers_to_request(db, prompt, model, paper_ids=paper_ids, limit=limit, force=force)
    report = report or RunReport()
    report.cached, report.to_request = cached, len(todo)
    chunks = [todo[start:start + CHUNK] for start in range(0, len(todo), CHUNK)]
    if workers > 1 and len(chunks) > 1 and len(todo) >= MIN_PAPERS_FOR_WORKERS:
        results = ordered_map(_suggest_in_worker, chunks, workers, _start_worker,
                              (store_location(db), prompt, model.name), nice=BULK_NICE)
    else:
        results = map(_Suggester(db, prompt, model).run, chunks)
    try:
        with bulk_writes(db):
            for items in results:
                for start in range(0, len(items), WRITE_CHUNK):  # short transactions, as a collect's
                    written = items[start:start + WRITE_CHUNK]
                    save_encoded(db, written)
                    for item in written:  # counted as written: a ctrl+c between two says what was stored
                        report.count(item.outcome, item.error, item.input_tokens, item.output_tokens)
                if on_progress:
                    on_progress(report)
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        close = getattr(results, "close", None)
        if close:
            close()  # stops the workers (ordered_map's generator cancels what is queued)
        report.finished = time.perf_counter()
    return report
