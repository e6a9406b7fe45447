"""`workbench suggest`: a run of suggestions, live at an endpoint, on every core for the offline model, or
handed to a batch engine (`--batch`, in cli_batch)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from workbench.cli_batch import submit_batches
from workbench.cli_common import PRICE, WholeNumber, fail, make_model, model_options, open_store, price_for, say, store_name
from workbench.errors import InputError
from workbench.vocab import MAX_CONCURRENCY, OFFLINE
from workbench.workers import MAX_WORKERS


@click.command()
@model_options
@click.option("--concurrency", type=WholeNumber(1, MAX_CONCURRENCY), default=None,
              help=f"Requests in flight, 1 to {MAX_CONCURRENCY} (default: the server's slots when `workbench models` found them, else 8).")
@click.option("--workers", type=WholeNumber(1, MAX_WORKERS), default=None,
              help=f"The offline model: processes to run it in, 1 to {MAX_WORKERS} (default: every core).")
@click.option("--limit", type=WholeNumber(1), default=None, help="Request at most N papers this run.")
@click.option("--paper", "paper_ids", multiple=True, help="Only this paper id (repeatable).")
@click.option("--force", is_flag=True, help="Redo suggestions that are already ok.")
@click.option("--price-in", type=PRICE, default=None, help="USD per million input tokens (for the cost estimate).")
@click.option("--price-out", type=PRICE, default=None, help="USD per million output tokens.")
@click.option("--batch", "as_batch", is_flag=True,
              help="Submit the requests to the endpoint's Batch API (half price, done within 24 h) and return at "
                   "once; `workbench batch collect` stores the results.")
@click.option("--batch-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --batch: only write request files FILE-1.jsonl, FILE-2.jsonl, ... for `vllm run-batch` "
                   "(nothing is sent; --model is the model vLLM will serve).")
@click.pass_context
def suggest(ctx, prompt_ref, model_name, response_format, timeout, rpm, concurrency, workers, limit, paper_ids, force,
            price_in, price_out, as_batch, batch_file) -> None:
    """Suggest summaries for the papers that lack an ok one (this prompt version and model)."""
    import asyncio

    from workbench.progress import SuggestProgress
    from workbench.prompts import resolve_prompt
    from workbench.store import count_papers, unknown_paper_ids
    from workbench.suggest import RunReport, default_concurrency, run_suggestions

    db = open_store(ctx)
    if count_papers(db) == 0:
        raise InputError(f"the store at {store_name(ctx)} has no papers yet; add some with `workbench ingest`")
    if batch_file and not as_batch:
        raise InputError("--batch-file goes with --batch")
    if as_batch and model_name == OFFLINE:
        raise InputError("--batch is for a model at an endpoint (--model NAME); the offline model needs no batch")
    if workers is not None and model_name != OFFLINE:
        raise InputError("--workers is for the offline model; a model at an endpoint takes --concurrency")
    if concurrency is not None and model_name == OFFLINE:
        raise InputError("--concurrency is for a model at an endpoint (--model NAME); the offline model takes --workers")
    prompt = resolve_prompt(prompt_ref)
    model = make_model(model_name, response_format, timeout, rpm, sends=batch_file is None)
    missing = unknown_paper_ids(db, paper_ids)
    if missing:
        raise InputError(f"--paper {missing[0]}: no such paper in {store_name(ctx)}")
    if as_batch:
        return submit_batches(ctx, db, prompt, model, batch_file, list(paper_ids) or None, limit, force)
    price = price_for(model_name, price_in, price_out)
    note = model.note(prompt)  # the offline model and a prompt it ignores
    if note:
        say(f"workbench: note: {note}", err=True)
    report = RunReport()
    progress = SuggestProgress(enabled=sys.stderr.isatty())
    concurrency = concurrency or default_concurrency(db, model)

    if model.instant:  # all CPU: every core, not an event loop
        from workbench.suggest_cores import run_on_cores
        from workbench.workers import default_workers

        with progress:
            run_on_cores(db, prompt, model, workers=workers or default_workers(), paper_ids=list(paper_ids) or None,
                         limit=limit, force=force, on_progress=progress.update, report=report)
        return _suggest_said(ctx, prompt, model, report, price)

    async def run():
        try:
            return await run_suggestions(db, prompt, model, paper_ids=list(paper_ids) or None, limit=limit,
                                         force=force, concurrency=concurrency, on_progress=progress.update,
                                         report=report)
        finally:
            await model.aclose()

    with progress:
        try:
            asyncio.run(run())
        except KeyboardInterrupt:
            report.interrupted = True
            report.finished = report.finished or time.perf_counter()
    _suggest_said(ctx, prompt, model, report, price)


def _suggest_said(ctx, prompt, model, report, price) -> None:
    """A run's one-line summary, and its exit code."""
    say(f"{prompt.label} · {model.name}: {report.summary(price)}")
    if report.aborted:
        fail(ctx, report.aborted, 1)
    if report.interrupted:
        ctx.exit(1)
    if report.all_failed:
        fail(ctx, report.why_all_failed(), 1)
