"""Suggestion runs: one paper (the review session's entry point) or many (`workbench suggest`).

A suggestion is identified by (paper, prompt version, model, parameters); a
rerun requests only what is missing or not `ok`. Every model call is appended
to the attempts log. A model that raises for one paper records a failed
suggestion for that paper; only a run-stopping fault (a bad key, an endpoint
that is down) ends a run.

Results are written from the event loop's thread in small groups (every 64
results or 0.2 s, and whatever is pending when the run ends, Ctrl-C included),
so the store is not the bottleneck against a fast server and an interrupted run
keeps everything it finished.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Callable

from workbench.checks import check_values, keep_warnings
from workbench.errors import AbortedRun, StoreBusy, refusal
from workbench.grounding import ground_summary
from workbench.models.base import Model, Reply, shorten
from workbench.prompts import Prompt
from workbench.records import Call, PaperRow, SuggestionKey, SuggestionRow, no_values
from workbench.store import (
    Handle, count_lacking_ok, ensure_prompt, iter_papers, papers_lacking_ok, remember_format, remembered_format,
    save_suggestions,
)
from workbench.vocab import ERROR, OK, estimated_cost, utc_now

FLUSH_EVERY_RESULTS = 64
FLUSH_EVERY_SECONDS = 0.2


def canonical_params(model: Model, prompt: Prompt) -> str:
    return json.dumps(model.params(prompt), sort_keys=True, separators=(",", ":"))


def suggestion_key(prompt: Prompt, model: Model) -> SuggestionKey:
    """The key this prompt version and model make suggestions with now."""
    return SuggestionKey(prompt.id, model.name, canonical_params(model, prompt))


@dataclass(slots=True)
class NewSuggestion:
    """A suggestion to store, with the calls that made it."""

    suggestion: SuggestionRow
    calls: list[Call]


def build_record(paper: PaperRow, prompt: Prompt, model: Model, reply: Reply, params: str | None = None) -> NewSuggestion:
    """The store row for one reply, checked and grounded in the abstract."""
    if params is None:
        params = json.dumps(reply.params, sort_keys=True, separators=(",", ":")) if reply.params \
            else canonical_params(model, prompt)
    return record_from_reply(paper, prompt, model.name, reply, params)


def record_from_reply(paper: PaperRow, prompt: Prompt, model_name: str, reply: Reply, params: str,
                      batch_id: str | None = None) -> NewSuggestion:
    """`build_record` once the parameters are known (a batch line: from the batch, not a live model).

    Every reply, from any model and path, goes through the prompt's checks here: the stored values are
    the checked ones, each change a warning; the reply as received stays in `raw` and the attempts log."""
    values, evidence, warnings = no_values(), {}, []
    if reply.summary is not None:
        try:
            from workbench.models.figures import figure_numbers  # the offline finder: what a figure is

            checks = prompt.checks
            values, changed = check_values(reply.summary.fields(), paper.abstract, checks, figures_of=figure_numbers)
            quotes = reply.summary.quotes() if reply.evidence_given else None
            evidence, warnings = ground_summary(values, quotes, paper.abstract)
            warnings = keep_warnings(warnings, checks) + changed
        except Exception as exc:  # a bug grounding one hostile reply fails that paper, never the run
            values, evidence, warnings = no_values(), {}, []
            reply.outcome = ERROR
            reply.error = shorten(f"could not ground the reply: {type(exc).__name__}: {exc}")
    row = SuggestionRow(
        id=SuggestionKey(prompt.id, model_name, params).suggestion_id(paper.id), paper_id=paper.id, prompt_id=prompt.id,
        prompt_name=prompt.name, model=model_name, params=params, outcome=reply.outcome, error=reply.error,
        values=values, evidence=evidence, warnings=warnings, raw=reply.raw, input_tokens=reply.input_tokens,
        output_tokens=reply.output_tokens, latency_ms=reply.latency_ms, attempts=reply.attempts,
        created_at=utc_now(), batch_id=batch_id, content_hash=paper.content_hash,
    )
    for call in reply.calls:
        call.batch_id = batch_id
    return NewSuggestion(row, reply.calls)


def crash_reply(exc: BaseException) -> Reply:
    """A model that raised (a bug, a hostile abstract it could not handle): one failed paper."""
    text = shorten(f"{type(exc).__name__}: {exc}")
    return Reply(outcome=ERROR, error=text, calls=[Call(ask=1, attempt=1, outcome=ERROR, error=text, at=utc_now())])


async def suggest_paper(paper: PaperRow, prompt: Prompt, model: Model) -> NewSuggestion:
    """Suggest for one paper; returns what to store (the caller stores it, on its thread).

    Model faults come back as outcomes, and so does an exception from the model
    (it fails this paper, not the run); only AbortedRun propagates, carrying
    the record of the request that stopped the run as `exc.record`.
    """
    try:
        reply = await model.summarise(paper.title, paper.abstract, prompt)
    except AbortedRun as exc:
        if exc.reply is not None:
            exc.record = build_record(paper, prompt, model, exc.reply)
        raise
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        reply = crash_reply(exc)
    return build_record(paper, prompt, model, reply)


def suggest_paper_now(paper: PaperRow, prompt: Prompt, model: Model) -> NewSuggestion:
    """The same for an instant model, without an event loop."""
    try:
        reply = model.summarise_now(paper.title, paper.abstract, prompt)
    except Exception as exc:
        reply = crash_reply(exc)
    return build_record(paper, prompt, model, reply)


def remember_prompt(db: Handle, prompt: Prompt) -> None:
    ensure_prompt(db, prompt.id, prompt.name, prompt.description, prompt.body)


def recall_format(db: Handle, model: Model) -> None:
    """--response-format auto: start from the mode this endpoint and model are known to support."""
    if model.endpoint is not None:
        known = remembered_format(db, model.endpoint, model.name)
        if known is not None:
            model.use_format(known.response_format)


DEFAULT_CONCURRENCY = 8


def default_concurrency(db: Handle, model: Model) -> int:
    """The server's slots when `workbench models` found them (llama-server -np N), else 8."""
    known = remembered_format(db, model.endpoint, model.name) if model.endpoint else None
    return known.concurrency if known is not None and known.concurrency else DEFAULT_CONCURRENCY


def keep_learned_format(db: Handle, model: Model) -> str | None:
    """A fallback found during a run is remembered for the next one; returns it (to say so)."""
    learned = model.learned_format
    if learned:
        remember_format(db, model.endpoint, model.name, learned, source="fallback")
        model.learned_format = None
    return learned


# --------------------------------------------------------------------------- runs


def outcomes_text(outcomes: Counter) -> str:
    """"(ok 475; failed: error 2, invalid 3)" """
    failures = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()) if k != OK)
    return f"(ok {outcomes[OK]}" + (f"; failed: {failures})" if failures else ")")


def usage_text(input_tokens: int, output_tokens: int, price: tuple[float, float] | None, what: str = "") -> str:
    """"tokens 310,200 in / 52,310 out, est. cost $0.0779" (`what` says which price, when it matters)."""
    cost = estimated_cost(input_tokens, output_tokens, price)
    return f"tokens {input_tokens:,} in / {output_tokens:,} out, " + \
        (f"est. cost ${cost:.4f}{what}" if cost is not None else "est. cost n/a (no prices)")


@dataclass
class RunReport:
    cached: int = 0  # already `ok`, no request
    to_request: int = 0
    outcomes: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)  # failure message -> papers
    input_tokens: int = 0
    output_tokens: int = 0
    started: float = field(default_factory=time.perf_counter)
    finished: float | None = None
    aborted: str | None = None
    interrupted: bool = False
    learned_format: str | None = None  # the endpoint rejected the asked-for response format; this one worked

    @property
    def done(self) -> int:
        return sum(self.outcomes.values())

    @property
    def failed(self) -> int:
        return self.done - self.outcomes[OK]

    @property
    def all_failed(self) -> bool:
        return self.done > 0 and self.outcomes[OK] == 0

    @property
    def wall_seconds(self) -> float:
        return (self.finished or time.perf_counter()) - self.started

    def add(self, row: SuggestionRow) -> None:
        self.count(row.outcome, row.error, row.input_tokens, row.output_tokens)

    def count(self, outcome: str, error: str | None, input_tokens: int | None, output_tokens: int | None) -> None:
        self.outcomes[outcome] += 1
        if outcome != OK and error:
            self.errors[error] += 1
        self.input_tokens += input_tokens or 0
        self.output_tokens += output_tokens or 0

    def summary(self, price: tuple[float, float] | None = None) -> str:
        text = f"suggested {self.done} {outcomes_text(self.outcomes)}, cached {self.cached}"
        if self.done < self.to_request:
            text += f", not run {self.to_request - self.done}"
        text += f", {usage_text(self.input_tokens, self.output_tokens, price)}, wall {self.wall_seconds:.1f} s"
        if self.learned_format:
            text += f"; the endpoint needed --response-format {self.learned_format} (remembered)"
        if self.aborted:
            text += f" — aborted: {self.aborted}"
        elif self.interrupted:
            text += " — interrupted; finished suggestions are kept"
        return text

    def why_all_failed(self) -> str:
        message, count = self.errors.most_common(1)[0] if self.errors else ("no error message", self.done)
        return f"every request failed ({count} of {self.done}: {message})"


def papers_to_request(db: Handle, prompt: Prompt, model: Model, *, paper_ids: list[str] | None = None,
                      limit: int | None = None, force: bool = False) -> tuple[list[str], int]:
    """(ids to request in paper order, cached) for a run."""
    key = suggestion_key(prompt, model)
    todo = [r[0] for r in papers_lacking_ok(db, key, only=paper_ids, force=force)]
    cached = count_lacking_ok(db, key, only=paper_ids, force=True)[0] - len(todo)
    if limit is not None:
        todo = todo[:limit]
    return todo, cached


class _GroupWriter:
    """Store results in small transactions: every FLUSH_EVERY_RESULTS or FLUSH_EVERY_SECONDS."""

    def __init__(self, db: Handle):
        self.db = db
        self.pending: list[tuple[SuggestionRow, list[Call]]] = []
        self.oldest = 0.0

    def add(self, new: NewSuggestion) -> None:
        if not self.pending:
            self.oldest = time.monotonic()
        self.pending.append((new.suggestion, new.calls))
        if len(self.pending) >= FLUSH_EVERY_RESULTS or time.monotonic() - self.oldest >= FLUSH_EVERY_SECONDS:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        try:
            save_suggestions(self.db, self.pending)
        except StoreBusy:
            raise  # the store itself (locked, disk full), not one result: the run says so
        except Exception:  # a value the store refuses: each result alone, so one cannot lose the others
            for suggestion, calls in self.pending:
                store_alone(self.db, suggestion, calls)
        self.pending = []


def store_alone(db: Handle, suggestion: SuggestionRow, calls: list[Call]) -> None:
    """Store one result; one the store refuses is stored as that paper's error, with the reason."""
    try:
        save_suggestions(db, [(suggestion, calls)])
    except StoreBusy:
        raise
    except Exception as exc:
        text = shorten(f"the result could not be stored ({refusal(exc)})")
        failed = replace(suggestion, outcome=ERROR, error=text, values=no_values(), evidence={}, warnings=[], raw=None,
                         input_tokens=None, output_tokens=None)
        save_suggestions(db, [(failed, [Call(ask=1, attempt=1, outcome=ERROR, error=text, at=utc_now())])])


async def run_suggestions(
    db: Handle, prompt: Prompt, model: Model, *, paper_ids: list[str] | None = None, limit: int | None = None,
    force: bool = False, concurrency: int = DEFAULT_CONCURRENCY, on_progress: Callable[[RunReport], None] | None = None,
    report: RunReport | None = None,
) -> RunReport:
    """Request every missing suggestion with at most `concurrency` in flight.

    A pool of `concurrency` workers pulls paper ids in order (rather than one task
    per paper), so memory stays flat on 100,000 papers and stopping is prompt.
    Pass `report` to keep it when Ctrl-C ends the event loop (asyncio.run then
    raises KeyboardInterrupt instead of returning).
    """
    remember_prompt(db, prompt)
    recall_format(db, model)
    todo, cached = papers_to_request(db, prompt, model, paper_ids=paper_ids, limit=limit, force=force)
    report = report or RunReport()
    report.cached, report.to_request = cached, len(todo)
    pending = iter_papers(db, todo)  # shared by the workers, read from the store a chunk at a time
    writer = _GroupWriter(db)

    def finish(new: NewSuggestion) -> None:
        writer.add(new)  # same thread as the loop: one writer
        report.add(new.suggestion)
        if on_progress:
            on_progress(report)

    async def worker() -> None:
        for paper in pending:
            # Stopped or interrupted: no new paper. A cancellation can be swallowed inside a request
            # (the HTTP stack's own time-out and retry handling, seen under load: ctrl+c then ran on
            # through every paper); the task still counts it as requested, so it ends here.
            if report.aborted or report.interrupted or asyncio.current_task().cancelling():
                return
            try:
                new = await suggest_paper(paper, prompt, model)
            except AbortedRun as exc:
                # The run stops: no new papers; requests already under way end (quickly:
                # the model refuses further calls) and are stored with the rest.
                report.aborted = report.aborted or str(exc)
                if exc.record is not None:
                    finish(exc.record)
                return
            finish(new)

    workers = [asyncio.create_task(worker()) for _ in range(max(1, min(concurrency, len(todo) or 1)))]
    try:
        await asyncio.gather(*workers)
    except asyncio.CancelledError:
        report.interrupted = True
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        writer.flush()
        report.learned_format = keep_learned_format(db, model)
        report.finished = time.perf_counter()
    return report
