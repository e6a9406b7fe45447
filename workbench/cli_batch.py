"""`workbench batch status|collect|cancel`, and submitting batches for `suggest --batch`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from workbench.cli_common import (
    PRICE, FiniteNumber, WholeNumber, batches_folder, db_option, say, echo_json, fail, make_model, open_store, price_for,
    read_config,
)
from workbench.errors import WorkbenchError
from workbench.vocab import ENGINE_API, FAILED
from workbench.workers import MAX_WORKERS, default_workers


def submit_batches(ctx, db, prompt, model, batch_file: Path | None, paper_ids, limit, force) -> None:
    from workbench import batch
    from workbench.models.openai_batch import BatchAPI

    options = {"paper_ids": paper_ids, "limit": limit, "force": force}
    if batch_file is not None:
        report = batch.write_files(db, prompt, model, batch_file, **options)
    else:
        api = BatchAPI(model)
        try:
            report = batch.submit(db, prompt, model, api, batches_folder(ctx), **options)
        finally:
            api.close()
    say(report.summary())
    for row in report.resumed:
        say(f"submitted {row.id} ({row.requests:,} requests, left by an interrupted run)")
    for row in report.batches:
        if batch_file is None:
            say(f"submitted {row.id} ({row.requests:,} requests)")
        else:
            say(f"wrote {row.input_file} ({row.requests:,} requests, {row.bytes / 1e6:.1f} MB)")
    if batch_file is not None and report.batches:
        first = Path(report.batches[0].input_file)
        results = first.with_name(first.name.replace(batch_file.stem, "results", 1))
        say(f"next: vllm run-batch -i {first} -o {results} --model {model.name}  (each file), "
              f"then: workbench batch collect --file {results}")
    elif report.batches or report.resumed:
        say("next: workbench batch collect --wait  (the engine has up to 24 h)")


@click.group("batch")
def batch_group() -> None:
    """Follow and collect batches: `suggest --batch` submits them."""


def _batch_api(rows):
    """The Batch API client for the configured endpoint, when any of these batches needs one."""
    from workbench.models.openai_batch import BatchAPI

    wanted = [r for r in rows if r.engine == ENGINE_API and not r.collected_at]
    return BatchAPI(make_model(wanted[0].model, None, None, None)) if wanted else None


def _redactor():
    """Redacts the configured key (and anything key-shaped) from text a results file brings in."""
    from functools import partial

    from workbench.config import endpoint_settings
    from workbench.models.transport import redact_key

    return partial(redact_key, key=endpoint_settings(read_config()).api_key)


@batch_group.command("status")
@click.argument("ids", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per batch.")
@db_option
@click.pass_context
def batch_status(ctx, ids, as_json) -> None:
    """One line per batch: id, state, counts, age, prompt and model (asks the engine for news)."""
    from workbench import batch_status as batch_info
    from workbench.store import list_batches

    db = open_store(ctx, create=False)
    rows = batch_info.find_batches(db, ids) if ids else list_batches(db)
    try:
        api = _batch_api([r for r in rows if not r.ended])
    except WorkbenchError as exc:
        api = None
        say(f"workbench: warning: showing the states on record; cannot ask the engine ({exc})", err=True)
    if api is not None:
        try:
            rows = [batch_info.refresh(db, api, row) for row in rows]
        except WorkbenchError as exc:
            say(f"workbench: warning: showing the states on record; {exc}", err=True)
        finally:
            api.close()
    if as_json:
        echo_json(json.dumps([batch_info.status_record(row) for row in rows], indent=2))
        return
    if not rows:
        say("no batches on record; `workbench suggest --batch` submits some")
    for row in rows:
        say(batch_info.status_line(row))
    for row in rows:
        for line in batch_info.validation_errors(row):
            say(line)


@batch_group.command("collect")
@click.argument("ids", nargs=-1)
@click.option("--wait", is_flag=True, help="Poll until every named batch (default: every uncollected one) has ended.")
@click.option("--file", "files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Store a results file from `vllm run-batch` (or any engine writing that format). Repeatable.")
@click.option("--poll", type=FiniteNumber(0.05, what="a number of seconds"), default=30.0, show_default=True,
              help="With --wait: seconds between two looks at the engine.")
@click.option("--timeout", type=FiniteNumber(1, what="a number of seconds"), default=25 * 3600.0, show_default=True,
              help="With --wait: give up after this many seconds (the engine itself gives up after 24 h).")
@click.option("--price-in", type=PRICE, default=None,
              help="USD per million input tokens in a batch (default: half the config's price).")
@click.option("--price-out", type=PRICE, default=None, help="USD per million output tokens in a batch.")
@click.option("--workers", type=WholeNumber(1, MAX_WORKERS), default=None,
              help="Processes that read and ground a results file's lines  [default: the core count]")
@db_option
@click.pass_context
def batch_collect(ctx, ids, wait, files, poll, timeout, price_in, price_out, workers) -> None:
    """Store the results of ended batches (or of results files) as suggestions."""
    from workbench import batch
    from workbench import batch_status as batch_info
    from workbench.progress import BatchProgress
    from workbench.store import get_batch, list_batches

    db = open_store(ctx, create=False)
    redact = _redactor()
    for path in files:
        report = batch.collect_file(db, path, redact=redact, workers=workers or default_workers())
        say(report.summary(price_for(get_batch(db, report.batch_id).model, price_in, price_out, batch=True)))
    if files and not ids:
        return
    rows = batch_info.find_batches(db, ids) if ids else list_batches(db, uncollected=True, engine=ENGINE_API)
    if not rows:
        say("no batches wait to be collected")
        return
    api = _batch_api(rows)
    reports, interrupted = [], False
    with BatchProgress(enabled=wait and sys.stderr.isatty()) as progress:
        try:
            for report in batch.collect_all(db, api, rows, wait=wait, poll=poll, timeout=timeout, redact=redact,
                                            on_state=progress.state, on_progress=progress.stored):
                reports.append(report)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if api is not None:
                api.close()
    for report in reports:
        row = get_batch(db, report.batch_id)
        say(report.summary(price_for(row.model, price_in, price_out, batch=True)))
        for line in batch_info.validation_errors(row) if report.state == FAILED else []:
            say(line)
    if interrupted:
        fail(ctx, "interrupted; what was stored is kept; run `workbench batch collect` again to go on", 1)
    if wait and any(r.running for r in reports):
        fail(ctx, f"still running after {timeout:g} s; run `workbench batch collect --wait` again later", 1)


@batch_group.command("cancel")
@click.argument("batch_id")
@db_option
@click.pass_context
def batch_cancel(ctx, batch_id) -> None:
    """Ask the engine to stop a batch (what it finished can still be collected)."""
    from workbench import batch_status as batch_info

    db = open_store(ctx, create=False)
    row = batch_info.find_batches(db, [batch_id])[0]
    api = _batch_api([row])
    try:
        row = batch_info.cancel(db, api, row)
    finally:
        if api is not None:
            api.close()
    say(batch_info.status_line(row))
