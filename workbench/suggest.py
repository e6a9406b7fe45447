"""Suggestion runs: one paper (the TUI's entry point) or a batch (`workbench suggest`).

A suggestion is identified by (paper, prompt version, model, parameters); a
rerun requests only what is missing or not `ok`. Results are written as they
complete, from the event loop's thread, so Ctrl-C keeps everything finished.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from sqlite_utils import Database

from workbench.errors import AbortedRun
from workbench.grounding import ground_summary
from workbench.models.base import Model, Reply
from workbench.prompts import Prompt
from workbench.schema import FIELDS
from workbench.store import ensure_prompt, get_paper, ok_suggestion_ids, save_suggestion, utc_now


def canonical_params(model: Model, prompt: Prompt) -> str:
    return json.dumps(model.params(prompt), sort_keys=True, separators=(",", ":"))


def suggestion_id(paper_id: str, prompt_id: str, model_name: str, params: str) -> str:
    key = "\x1f".join((paper_id, prompt_id, model_name, params))
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def build_record(paper: dict, prompt: Prompt, model: Model, reply: Reply) -> dict:
    """The store row for one reply, with evidence grounded in the abstract."""
    params = canonical_params(model, prompt)
    fields = reply.summary.fields() if reply.summary else {f: None for f in FIELDS}
    evidence, warnings = (
        ground_summary(reply.summary.quotes(), fields, paper["abstract"]) if reply.summary else ({}, [])
    )
    return {
        "id": suggestion_id(paper["id"], prompt.id, model.name, params),
        "paper_id": paper["id"],
        "prompt_id": prompt.id,
        "model": model.name,
        "params": params,
        "outcome": reply.outcome,
        "error": reply.error,
        **fields,
        "evidence": evidence,
        "warnings": warnings,
        "raw": reply.raw,
        "input_tokens": reply.input_tokens,
        "output_tokens": reply.output_tokens,
        "latency_ms": reply.latency_ms,
        "attempts": reply.attempts,
        "created_at": utc_now(),
    }


async def suggest_paper(paper: dict, prompt: Prompt, model: Model) -> dict:
    """Suggest for one paper; returns the record to store (the caller stores it).

    Model faults come back as outcomes; only a run-stopping fault (bad key)
    raises AbortedRun.
    """
    reply = await model.summarise(paper["title"], paper["abstract"], prompt)
    return build_record(paper, prompt, model, reply)


def remember_prompt(db: Database, prompt: Prompt) -> None:
    ensure_prompt(db, prompt.id, prompt.name, prompt.description, prompt.body)


# --------------------------------------------------------------------------- batch


@dataclass
class RunReport:
    total: int = 0  # papers in scope
    cached: int = 0  # already `ok`, no request
    to_request: int = 0
    outcomes: Counter = field(default_factory=Counter)
    input_tokens: int = 0
    output_tokens: int = 0
    started: float = field(default_factory=time.perf_counter)
    finished: float | None = None
    aborted: str | None = None
    interrupted: bool = False

    @property
    def done(self) -> int:
        return sum(self.outcomes.values())

    @property
    def failed(self) -> int:
        return self.done - self.outcomes["ok"]

    @property
    def wall_seconds(self) -> float:
        return (self.finished or time.perf_counter()) - self.started

    def cost(self, prices: tuple[float, float] | None) -> float | None:
        if prices is None:
            return None
        return self.input_tokens / 1e6 * prices[0] + self.output_tokens / 1e6 * prices[1]

    def summary(self, prices: tuple[float, float] | None = None) -> str:
        failures = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()) if k != "ok")
        text = f"suggested {self.done} (ok {self.outcomes['ok']}"
        text += f"; failed: {failures})" if failures else ")"
        text += f", cached {self.cached}"
        if self.done < self.to_request:
            text += f", not run {self.to_request - self.done}"
        text += f", tokens {self.input_tokens:,} in / {self.output_tokens:,} out"
        cost = self.cost(prices)
        text += f", est. cost ${cost:.4f}" if cost is not None else ", est. cost n/a (no prices)"
        text += f", wall {self.wall_seconds:.1f} s"
        if self.aborted:
            text += f" — aborted: {self.aborted}"
        elif self.interrupted:
            text += " — interrupted; finished suggestions are kept"
        return text


def papers_to_request(db: Database, prompt: Prompt, model: Model, *, paper_ids: list[str] | None = None,
                      limit: int | None = None, force: bool = False) -> tuple[list[str], int, int]:
    """(ids to request in paper order, papers in scope, cached) for a run."""
    if paper_ids:
        scope = [r[0] for r in db.execute(
            f"SELECT id FROM papers WHERE id IN ({', '.join('?' for _ in paper_ids)}) ORDER BY seq", paper_ids)]
    else:
        scope = [r[0] for r in db.execute("SELECT id FROM papers ORDER BY seq")]
    done = set() if force else ok_suggestion_ids(db, prompt.id, model.name, canonical_params(model, prompt))
    todo = [pid for pid in scope if pid not in done]
    cached = len(scope) - len(todo)
    if limit is not None:
        todo = todo[:limit]
    return todo, len(scope), cached


async def run_suggestions(
    db: Database, prompt: Prompt, model: Model, *, paper_ids: list[str] | None = None, limit: int | None = None,
    force: bool = False, concurrency: int = 8, on_progress: Callable[[RunReport], None] | None = None,
    report: RunReport | None = None,
) -> RunReport:
    """Request every missing suggestion with at most `concurrency` in flight.

    A pool of `concurrency` workers pulls paper ids in order (rather than one task
    per paper), so memory stays flat on 100,000 papers and stopping is prompt.
    Pass `report` to keep it when Ctrl-C ends the event loop (asyncio.run then
    raises KeyboardInterrupt instead of returning).
    """
    remember_prompt(db, prompt)
    todo, total, cached = papers_to_request(db, prompt, model, paper_ids=paper_ids, limit=limit, force=force)
    report = report or RunReport()
    report.total, report.cached, report.to_request = total, cached, len(todo)
    pending = iter(todo)

    async def worker() -> None:
        for pid in pending:
            paper = get_paper(db, pid)
            record = await suggest_paper(paper, prompt, model)
            save_suggestion(db, record)  # same thread as the loop: one writer
            report.outcomes[record["outcome"]] += 1
            report.input_tokens += record["input_tokens"] or 0
            report.output_tokens += record["output_tokens"] or 0
            if on_progress:
                on_progress(report)

    workers = [asyncio.create_task(worker()) for _ in range(max(1, min(concurrency, len(todo) or 1)))]
    try:
        await asyncio.gather(*workers)
    except AbortedRun as exc:
        report.aborted = str(exc)
    except asyncio.CancelledError:
        report.interrupted = True
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        report.finished = time.perf_counter()
    return report
