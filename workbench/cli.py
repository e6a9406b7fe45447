"""The `workbench` command line. Thin: parse options, call the modules, report.

Every line printed goes through `_echo` (or a Rich table of `safe_text.plain`
cells): text from the store, a file or a server is cleaned of control
characters before it reaches the terminal.
"""

from __future__ import annotations

import gc

# Start-up creates hundreds of thousands of long-lived objects (modules, classes, Textual's
# CSS) and frees almost none: garbage collections during imports are wasted work, about a
# sixth of `workbench review`'s launch (measured). Off while importing; back on below, and
# `review` keeps it off until its first screen is drawn (ReviewApp freezes what exists then).
_gc_was_enabled = gc.isenabled()
gc.disable()

import getpass
import json
import os
import sqlite3
import sys
import time
from pathlib import Path

import click

from workbench import __version__
from workbench.db import ReadOnlyStore, close_db, default_db_path, open_db, open_for_reading
from workbench.errors import InputError, WorkbenchError
from workbench.records import annotator_problem
from workbench.safe_text import clean
from workbench.vocab import OFFLINE, QUEUES, SEARCH_QUEUE_PREFIX, STATUSES

PROJECT_ROOT = Path(__file__).resolve().parent.parent

if _gc_was_enabled:
    gc.enable()


def default_annotator() -> str:
    try:
        return getpass.getuser() or "reviewer"
    except Exception:  # no login name in some containers
        return "reviewer"


def _check_annotator(annotator: str) -> str:
    problem = annotator_problem(annotator)
    if problem:
        raise InputError(f"--annotator {annotator!r} {problem}")
    return annotator


def default_seeds() -> Path:
    """`seeds/` here, else the checkout's own seeds (an editable install run elsewhere)."""
    local = Path("seeds")
    if local.is_dir() or not (PROJECT_ROOT / "seeds").is_dir():
        return local
    return PROJECT_ROOT / "seeds"


def _echo(text: str = "", *, err: bool = False) -> None:
    click.echo(clean(text), err=err)


def _fail(ctx: click.Context, message: str, code: int) -> None:
    _echo(f"workbench: {message}", err=True)
    ctx.exit(code)


class _Group(click.Group):
    """Turn expected failures into one line on stderr and the contract's exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            # `workbench export | head`: the reader took what it wanted and left. Nothing failed:
            # stop quietly with 0, so `set -o pipefail` scripts do not see an error.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(0)
        except WorkbenchError as exc:
            if ctx.obj.get("debug"):
                raise
            _fail(ctx, str(exc), exc.exit_code)
        except sqlite3.OperationalError as exc:
            if ctx.obj.get("debug"):
                raise
            _fail(ctx, f"the store at {ctx.obj['db_path']} failed: {exc}", 1)
        except sqlite3.DatabaseError as exc:  # not a database, or damaged (e.g. copied without its -wal)
            if ctx.obj.get("debug"):
                raise
            _fail(ctx, f"the store at {ctx.obj['db_path']} cannot be read ({exc}): restore it from a backup "
                       "(a store copied while open needs its -wal file too)", 2)
        except Exception as exc:  # a bug: say so in one line, keep the traceback for --debug
            if ctx.obj.get("debug"):
                raise
            _fail(ctx, f"internal error: {type(exc).__name__}: {exc} (rerun with --debug)", 1)


def _queue(value: str) -> str:
    if value in QUEUES or (value.startswith(SEARCH_QUEUE_PREFIX) and value[len(SEARCH_QUEUE_PREFIX):].strip()):
        return value
    raise click.BadParameter(f"{value!r} is not one of {', '.join(QUEUES)}, or search:\"QUERY\"")


def _remember_db(ctx: click.Context, param, value: Path | None) -> None:
    if value is not None:
        ctx.obj["db_path"] = value


_DB_HELP = "Store path (default: $WORKBENCH_DB or annotations/workbench.db)."
db_option = click.option("--db", "db_here", type=click.Path(dir_okay=False, path_type=Path), default=None,
                         expose_value=False, callback=_remember_db, help=_DB_HELP)


@click.group(cls=_Group)
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help=_DB_HELP)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(__version__)
@click.pass_context
def cli(ctx: click.Context, db_path: Path | None, debug: bool) -> None:
    """LLM-assisted review and annotation of research-paper abstracts.

    --db is accepted before the command or after it.
    """
    ctx.ensure_object(dict)
    ctx.obj["db_path"] = db_path or default_db_path()
    ctx.obj["debug"] = debug


def _db(ctx: click.Context, *, create: bool = True):
    """The store, opened once per command and closed (checkpointed into the one file) at exit.
    Read-only commands pass create=False: no store there is an error, not a new empty store,
    and a store that cannot be written is read as it is."""
    if "db" not in ctx.obj:
        db = open_db(ctx.obj["db_path"]) if create else open_for_reading(ctx.obj["db_path"])
        ctx.obj["db"] = db
        ctx.find_root().call_on_close(lambda: close_db(db))
    return ctx.obj["db"]


# --------------------------------------------------------------------------- ingest


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@db_option
@click.pass_context
def ingest(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Add papers from dumps or JSONL files (default: seeds/)."""
    from workbench.ingest import ingest as run_ingest

    report = run_ingest(_db(ctx), list(paths) or [default_seeds()])
    for warning in report.warnings:
        _echo(f"workbench: warning: {warning}", err=True)
    for error in report.errors:
        _echo(f"workbench: {error}", err=True)
    _echo(report.summary())
    if report.errors:
        ctx.exit(2)


# --------------------------------------------------------------------------- export / import


@cli.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here (default: stdout).")
@click.option("--status", type=click.Choice(STATUSES), help="Only this status.")
@click.option("--annotator", help="Only this annotator.")
@click.option("--flagged", is_flag=True, help="Only flagged annotations.")
@click.option("--suggestions", is_flag=True, help="Export stored suggestions instead of annotations.")
@click.option("--prompt", "prompt_ref", help="With --suggestions: only this prompt (name, name@hash or path).")
@click.option("--model", help="With --suggestions: only this model.")
@db_option
@click.pass_context
def export(ctx, output, status, annotator, flagged, suggestions, prompt_ref, model) -> None:
    """Write annotations (or suggestions) as JSONL, in paper order."""
    from workbench import jsonl
    from workbench.store import resolve_prompt_versions

    db = _db(ctx, create=False)
    if suggestions:
        if status or annotator or flagged:
            raise InputError("--status, --annotator and --flagged apply to annotations, not to --suggestions")
        prompt_ids = resolve_prompt_versions(db, prompt_ref) if prompt_ref else None
        lines = jsonl.export_suggestion_lines(db, prompt_ids=prompt_ids, model=model)
    else:
        if prompt_ref or model:
            raise InputError("--prompt and --model apply only with --suggestions")
        lines = jsonl.export_annotation_lines(db, status=status, annotator=annotator, flagged=flagged)
    count = jsonl.write_lines(lines, output, sys.stdout)
    if output:
        _echo(f"exported {count} {'suggestions' if suggestions else 'annotations'} to {output}", err=True)


@cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--annotator", default=None,
              help="Annotator for records that name none (required when a record names none).")
@click.option("--on-conflict", type=click.Choice(["refuse", "skip", "newer", "replace"]), default="refuse",
              show_default=True,
              help="A record that would change a stored decision: refuse the import (nothing written), skip it, "
                   "take it if its updated_at is newer, or take it.")
@db_option
@click.pass_context
def import_(ctx, file: Path, annotator: str | None, on_conflict: str) -> None:
    """Read annotations back from JSONL (the export format)."""
    from workbench.jsonl import import_annotations

    if annotator is not None:
        _check_annotator(annotator)
    report = import_annotations(_db(ctx), file, annotator, on_conflict)
    _echo(report.summary(file))


# --------------------------------------------------------------------------- suggestions


def model_options(func):
    """Options shared by `suggest` and `review` for choosing and reaching a model."""
    options = [
        click.option("--prompt", "prompt_ref", default=None, help="Prompt name in prompts/ or a path (default: summary)."),
        click.option("--model", "model_name", default=OFFLINE, show_default=True,
                     help="'offline' (built in) or a model at OPENAI_BASE_URL."),
        click.option("--response-format", type=click.Choice(["auto", "json_schema", "json_object_schema", "json_object",
                                                             "text"]), default=None,
                     help="How to ask for JSON. auto (default): the best mode the endpoint supports, learned by "
                          "`workbench models` or by falling back once and remembered."),
        click.option("--timeout", type=click.FloatRange(min=1), default=None,
                     help="Seconds a request may take in all (default 60)."),
        click.option("--rpm", type=click.FloatRange(min=0.1), default=None, help="At most this many requests a minute."),
        db_option,
    ]
    for option in reversed(options):
        func = option(func)
    return func


def make_model(model_name: str, response_format: str | None, timeout: float | None, rpm: float | None, *,
               sends: bool = True):
    """The model by name. `sends=False`: nothing will be sent (request files are only written), so no
    key is needed even for the official endpoint."""
    from dataclasses import replace

    from workbench.config import endpoint_settings, load_config
    from workbench.models import get_model

    if model_name == OFFLINE:
        return get_model(OFFLINE)
    settings = endpoint_settings(load_config(), timeout=timeout, response_format=response_format)
    if not sends and not settings.api_key:
        settings = replace(settings, api_key="no-key: files only")
    return get_model(model_name, settings, rpm=rpm)


def _price(model_name: str, price_in: float | None, price_out: float | None, *, batch: bool = False):
    """--price-in/--price-out as given, else the config's price for the model (halved for a batch)."""
    from workbench.config import load_config, prices
    from workbench.vocab import batch_price

    if price_in is not None or price_out is not None:
        return price_in or 0.0, price_out or 0.0
    price = prices(load_config()).get(model_name)
    return batch_price(price) if batch else price


@cli.command()
@model_options
@click.option("--concurrency", type=click.IntRange(1, 256), default=None,
              help="Requests in flight (default: the server's slots when `workbench models` found them, else 8).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Request at most N papers this run.")
@click.option("--paper", "paper_ids", multiple=True, help="Only this paper id (repeatable).")
@click.option("--force", is_flag=True, help="Redo suggestions that are already ok.")
@click.option("--price-in", type=float, default=None, help="USD per million input tokens (for the cost estimate).")
@click.option("--price-out", type=float, default=None, help="USD per million output tokens.")
@click.option("--batch", "as_batch", is_flag=True,
              help="Submit the requests to the endpoint's Batch API (half price, done within 24 h) and return at "
                   "once; `workbench batch collect` stores the results.")
@click.option("--batch-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --batch: only write request files FILE-1.jsonl, FILE-2.jsonl, ... for `vllm run-batch` "
                   "(nothing is sent; --model is the model vLLM will serve).")
@click.pass_context
def suggest(ctx, prompt_ref, model_name, response_format, timeout, rpm, concurrency, limit, paper_ids, force,
            price_in, price_out, as_batch, batch_file) -> None:
    """Suggest summaries for the papers that lack an ok one (this prompt version and model)."""
    import asyncio

    from workbench.progress import SuggestProgress
    from workbench.prompts import resolve_prompt
    from workbench.store import count_papers, unknown_paper_ids
    from workbench.suggest import RunReport, default_concurrency, run_suggestions

    db = _db(ctx)
    if count_papers(db) == 0:
        raise InputError(f"the store at {ctx.obj['db_path']} has no papers yet; add some with `workbench ingest`")
    if batch_file and not as_batch:
        raise InputError("--batch-file goes with --batch")
    if as_batch and model_name == OFFLINE:
        raise InputError("--batch is for a model at an endpoint (--model NAME); the offline model needs no batch")
    prompt = resolve_prompt(prompt_ref)
    model = make_model(model_name, response_format, timeout, rpm, sends=batch_file is None)
    missing = unknown_paper_ids(db, paper_ids)
    if missing:
        raise InputError(f"--paper {missing[0]}: no such paper in {ctx.obj['db_path']}")
    if as_batch:
        return _submit_batches(ctx, db, prompt, model, batch_file, list(paper_ids) or None, limit, force)
    price = _price(model_name, price_in, price_out)
    note = model.note(prompt) if hasattr(model, "note") else None  # the offline model and a prompt it ignores
    if note:
        _echo(f"workbench: note: {note}", err=True)
    report = RunReport()
    progress = SuggestProgress(enabled=sys.stderr.isatty())
    concurrency = concurrency or default_concurrency(db, model)

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
    _echo(f"{prompt.label} · {model.name}: {report.summary(price)}")
    if report.aborted:
        _fail(ctx, report.aborted, 1)
    if report.interrupted:
        ctx.exit(1)
    if report.all_failed:
        _fail(ctx, report.why_all_failed(), 1)


def _submit_batches(ctx, db, prompt, model, batch_file: Path | None, paper_ids, limit, force) -> None:
    from workbench import batch
    from workbench.models.openai_batch import BatchAPI

    options = {"paper_ids": paper_ids, "limit": limit, "force": force}
    if batch_file is not None:
        report = batch.write_files(db, prompt, model, batch_file, **options)
    else:
        api = BatchAPI(model)
        try:
            report = batch.submit(db, prompt, model, api, Path(ctx.obj["db_path"]).parent / "batches", **options)
        finally:
            api.close()
    _echo(report.summary())
    for row in report.resumed:
        _echo(f"submitted {row.id} ({row.requests:,} requests, left by an interrupted run)")
    for row in report.batches:
        if batch_file is None:
            _echo(f"submitted {row.id} ({row.requests:,} requests)")
        else:
            _echo(f"wrote {row.input_file} ({row.requests:,} requests, {row.bytes / 1e6:.1f} MB)")
    if batch_file is not None and report.batches:
        first = Path(report.batches[0].input_file)
        results = first.with_name(first.name.replace(batch_file.stem, "results", 1))
        _echo(f"next: vllm run-batch -i {first} -o {results} --model {model.name}  (each file), "
              f"then: workbench batch collect --file {results}")
    elif report.batches or report.resumed:
        _echo("next: workbench batch collect --wait  (the engine has up to 24 h)")


@cli.group("batch")
def batch_group() -> None:
    """Follow and collect batches: `suggest --batch` submits them."""


def _batch_api(rows):
    """The Batch API client for the configured endpoint, when any of these batches needs one."""
    from workbench.models.openai_batch import BatchAPI
    from workbench.vocab import ENGINE_API

    wanted = [r for r in rows if r.engine == ENGINE_API and not r.collected_at]
    return BatchAPI(make_model(wanted[0].model, None, None, None)) if wanted else None


def _redactor():
    """Redacts the configured key (and anything key-shaped) from text a results file brings in."""
    from functools import partial

    from workbench.config import endpoint_settings, load_config
    from workbench.models.openai_compat import redact_key

    return partial(redact_key, key=endpoint_settings(load_config()).api_key)


@batch_group.command("status")
@click.argument("ids", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per batch.")
@db_option
@click.pass_context
def batch_status(ctx, ids, as_json) -> None:
    """One line per batch: id, state, counts, age, prompt and model (asks the engine for news)."""
    from workbench import batch
    from workbench.store import list_batches

    db = _db(ctx, create=False)
    rows = batch.find_batches(db, ids) if ids else list_batches(db)
    try:
        api = _batch_api([r for r in rows if not r.ended])
    except WorkbenchError as exc:
        api = None
        _echo(f"workbench: warning: showing the states on record; cannot ask the engine ({exc})", err=True)
    if api is not None:
        try:
            rows = [batch.refresh(db, api, row) for row in rows]
        except WorkbenchError as exc:
            _echo(f"workbench: warning: showing the states on record; {exc}", err=True)
        finally:
            api.close()
    if as_json:
        click.echo(json.dumps([batch.status_record(row) for row in rows], indent=2))
        return
    if not rows:
        _echo("no batches on record; `workbench suggest --batch` submits some")
    for row in rows:
        _echo(batch.status_line(row))
    for row in rows:
        for line in batch.validation_errors(row):
            _echo(line)


@batch_group.command("collect")
@click.argument("ids", nargs=-1)
@click.option("--wait", is_flag=True, help="Poll until every named batch (default: every uncollected one) has ended.")
@click.option("--file", "files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Store a results file from `vllm run-batch` (or any engine writing that format). Repeatable.")
@click.option("--poll", type=click.FloatRange(min=0.05), default=30.0, show_default=True,
              help="With --wait: seconds between two looks at the engine.")
@click.option("--timeout", type=click.FloatRange(min=1), default=25 * 3600.0, show_default=True,
              help="With --wait: give up after this many seconds (the engine itself gives up after 24 h).")
@click.option("--price-in", type=float, default=None,
              help="USD per million input tokens in a batch (default: half the config's price).")
@click.option("--price-out", type=float, default=None, help="USD per million output tokens in a batch.")
@db_option
@click.pass_context
def batch_collect(ctx, ids, wait, files, poll, timeout, price_in, price_out) -> None:
    """Store the results of ended batches (or of results files) as suggestions."""
    from workbench import batch
    from workbench.progress import BatchProgress
    from workbench.store import get_batch, list_batches
    from workbench.vocab import ENGINE_API, FAILED

    db = _db(ctx, create=False)
    redact = _redactor()
    for path in files:
        report = batch.collect_file(db, path, redact=redact)
        _echo(report.summary(_price(get_batch(db, report.batch_id).model, price_in, price_out, batch=True)))
    if files and not ids:
        return
    rows = batch.find_batches(db, ids) if ids else list_batches(db, uncollected=True, engine=ENGINE_API)
    if not rows:
        _echo("no batches wait to be collected")
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
        _echo(report.summary(_price(row.model, price_in, price_out, batch=True)))
        for line in batch.validation_errors(row) if report.state == FAILED else []:
            _echo(line)
    if interrupted:
        _fail(ctx, "interrupted; what was stored is kept; run `workbench batch collect` again to go on", 1)
    if wait and any(r.running for r in reports):
        _fail(ctx, f"still running after {timeout:g} s; run `workbench batch collect --wait` again later", 1)


@batch_group.command("cancel")
@click.argument("batch_id")
@db_option
@click.pass_context
def batch_cancel(ctx, batch_id) -> None:
    """Ask the engine to stop a batch (what it finished can still be collected)."""
    from workbench import batch

    db = _db(ctx, create=False)
    row = batch.find_batches(db, [batch_id])[0]
    api = _batch_api([row])
    try:
        row = batch.cancel(db, api, row)
    finally:
        if api is not None:
            api.close()
    _echo(batch.status_line(row))


@cli.command("prompts")
@db_option
@click.pass_context
def prompts_(ctx) -> None:
    """List prompts: name, short hash, description, stored suggestions."""
    from workbench.prompts import list_prompts, prompts_dir
    from workbench.store import stored_prompts, suggestion_counts_by_prompt

    db = _db(ctx, create=False) if Path(ctx.obj["db_path"]).is_file() else None
    counts = suggestion_counts_by_prompt(db) if db else {}
    current = list_prompts()
    current_ids = {p.id for p in current}
    if not current:
        _echo(f"no prompt files in {prompts_dir()}")
    for prompt in current:
        _echo(f"{prompt.label:<20} {prompt.description}  [{_counts_text(counts.get(prompt.id))}]")
    for stored in stored_prompts(db) if db else []:
        if stored.id not in current_ids:
            _echo(f"{stored.label:<20} (older version) {stored.description or ''}  [{_counts_text(counts.get(stored.id))}]")


def _counts_text(counts: dict[str, int] | None) -> str:
    if not counts:
        return "no suggestions"
    total = sum(counts.values())
    return f"{total} suggestions: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


@cli.command("models")
@click.option("--model", "model_name", default=None, help="Probe this model (default: the endpoint's only model).")
@click.option("--timeout", type=click.FloatRange(min=1), default=None, help="Seconds a probe request may take.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@db_option
@click.pass_context
def models(ctx, model_name: str | None, timeout: float | None, as_json: bool) -> None:
    """List the endpoint's models and find which response formats work (remembered for auto)."""
    import asyncio

    from workbench.config import endpoint_settings, load_config
    from workbench.endpoint import probe
    from workbench.prompts import resolve_prompt
    from workbench.store import remember_format

    settings = endpoint_settings(load_config(), timeout=timeout)
    result = asyncio.run(probe(settings, model_name, resolve_prompt(None)))
    if result.model and result.best:
        remember_format(_db(ctx), result.endpoint, result.model, result.best, source="probe",
                        concurrency=result.slots, detail=result.detail())
    if as_json:
        click.echo(json.dumps({"endpoint": result.endpoint, "models": result.models, "model": result.model,
                               "formats": result.detail(), "best": result.best, "slots": result.slots}, indent=2))
    if result.models is None and result.model is None:  # no server, or one that lists nothing: nothing was probed
        _fail(ctx, f"the model list at {result.endpoint} is not available ({result.list_error}); is the server "
                   "running? (--model NAME probes a model without the list)", 1)
    if not as_json:
        for line in _probe_lines(result):
            _echo(line)
    if result.model and not result.best:
        _fail(ctx, f"no response format worked for model '{result.model}' at {result.endpoint}", 1)


def _probe_lines(result) -> list[str]:
    if result.models is None:
        lines = [f"{result.endpoint}: the model list is not available ({result.list_error})"]
    else:
        lines = [f"{result.endpoint}: {len(result.models)} model{'s' if len(result.models) != 1 else ''}"]
        lines += [f"  {name}" for name in result.models[:50]]
    if result.model is None:
        return lines + ["name one with --model to find which response formats it takes"]
    lines.append(f"response formats for {result.model} (one small request each):")
    for r in result.results:
        state = "works" if r.works and r.evidence else "works, without quotes" if r.works else f"{r.outcome}: {r.error}"
        lines.append(f"  {r.mode:<20} {state}  ({r.seconds:.1f} s)")
    if result.best:
        lines.append(f"best: {result.best} (remembered: --response-format auto uses it)")
    if result.slots:
        lines.append(f"the server works on {result.slots} request{'s' if result.slots != 1 else ''} at once: "
                     f"suggest runs {result.slots} at a time by default here")
    return lines


@cli.command("log")
@click.option("--paper", "paper_id", default=None, help="Only this paper's model calls.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="How many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line, for scripts.")
@db_option
@click.pass_context
def log(ctx, paper_id: str | None, limit: int, as_json: bool) -> None:
    """Every model call on record (retries, re-asks, reruns), newest first."""
    from dataclasses import asdict

    from workbench import report
    from workbench.jsonl import dumps
    from workbench.store import recent_attempts

    attempts = recent_attempts(_db(ctx, create=False), paper_id=paper_id, limit=limit)
    if as_json:
        for attempt in attempts:
            click.echo(dumps(asdict(attempt)))
    elif attempts:
        console = _console()
        console.print(report.log_table(attempts, console.width))
    else:
        _echo("no model calls on record" + (f" for paper {paper_id}" if paper_id else ""))


# --------------------------------------------------------------------------- review


@cli.command()
@model_options
@click.option("--annotator", default=None, help="Whose decisions these are (default: $WORKBENCH_ANNOTATOR or login name).")
@click.option("--queue", default="todo", show_default=True, callback=lambda ctx, param, value: _queue(value),
              help=f"Which papers to step through: {', '.join(QUEUES)}, or search:\"QUERY\" (the / dialog's syntax).")
@click.option("--annotators", "pair", default=None,
              help="With --queue disagreements: the two annotators A,B (default: the only two besides you).")
@click.pass_context
def review(ctx, prompt_ref, model_name, response_format, timeout, rpm, annotator, queue, pair) -> None:
    """Review suggestions paper by paper in the terminal (ingests seeds/ into an empty store)."""
    from workbench.config import guidelines, load_config, section
    from workbench.ingest import ingest as run_ingest
    from workbench.prompts import prompts_dir, resolve_prompt
    from workbench.store import count_papers

    try:
        db = _db(ctx)
    except ReadOnlyStore:
        db = _db(ctx, create=False)  # browse it: the session opens it read-only and says so
    if count_papers(db) == 0:
        report = run_ingest(db, [default_seeds()])
        _echo(report.summary(), err=True)
        if report.errors:
            for error in report.errors:
                _echo(f"workbench: {error}", err=True)
            if report.new == 0:
                raise InputError("the store is empty and nothing could be ingested; run `workbench ingest PATH`")
    prompt = resolve_prompt(prompt_ref)
    annotator = _check_annotator(annotator or os.environ.get("WORKBENCH_ANNOTATOR") or default_annotator())
    others = None
    if queue == "disagreements":
        from workbench.agreement import choose_pair

        others = choose_pair(db, pair, exclude=annotator)
    elif pair:
        raise InputError("--annotators goes with --queue disagreements")
    model = make_model(model_name, response_format, timeout, rpm)
    config = load_config()
    keymap = section(config, "keys")
    notes = guidelines(config, prompts_dir())
    close_db(ctx.obj.pop("db"))  # the session opens its own connection
    gc.disable()  # until the first screen is drawn (see the top of this module)
    try:
        from workbench.tui.app import create_app

        app = create_app(ctx.obj["db_path"], prompt=prompt, model=model, annotator=annotator, queue=queue,
                         keymap=keymap, others=others, guidelines=notes)
        app.run()
    finally:
        gc.enable()
    if app.return_code:  # the app crashed (Textual printed why)
        ctx.exit(1)


# --------------------------------------------------------------------------- stats


def _console():
    from workbench.safe_text import safe_console

    return safe_console(soft_wrap=False)


@cli.command()
@click.option("--annotator", default=None, help="Only this annotator's decisions.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@db_option
@click.pass_context
def stats(ctx, annotator: str | None, as_json: bool) -> None:
    """Progress, decisions, throughput, accept and edit rates by prompt and model."""
    from workbench import analytics, report

    result = analytics.store_stats(_db(ctx, create=False), annotator)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        _console().print(report.stats_report(result))


@cli.command()
@click.option("--prompt", "prompt_refs", multiple=True, help="Only this prompt: name (every version), name@hash or path. Repeatable.")
@click.option("--model", "models", multiple=True, help="Only this model. Repeatable.")
@click.option("--annotator", default=None, help="Only this annotator's decisions as the reference.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per (prompt version, model, parameters).")
@click.option("--diff", "diff_count", type=click.IntRange(min=0), default=0, help="Also show the N papers where the suggestions differ most.")
@db_option
@click.pass_context
def compare(ctx, prompt_refs, models, annotator, as_json, diff_count) -> None:
    """Compare prompts and models against the human decisions."""
    from workbench import compare as comparison
    from workbench import report
    from workbench.config import load_config, prices
    from workbench.store import resolve_prompt_versions

    db = _db(ctx, create=False)
    prompt_ids = [pid for ref in prompt_refs for pid in resolve_prompt_versions(db, ref)] or None
    results = comparison.compare(db, prompt_ids=prompt_ids, models=list(models) or None, annotator=annotator,
                                 prices=prices(load_config()))
    if not results:
        raise InputError("no suggestions match; run `workbench suggest` first (or check --prompt/--model)")
    differing = comparison.differing_papers(db, comparison.groups(db, prompt_ids, list(models) or None),
                                            diff_count, annotator) if diff_count else []
    if as_json:
        for item in results:
            item.pop("label")
        click.echo(json.dumps(results if not diff_count else {"groups": results, "diff": differing}, indent=2))
        return
    console = _console()
    console.print(report.compare_table(results))
    for table in report.diff_tables(differing):
        console.print(table)
    if diff_count and not differing:
        _echo("--diff: the suggestions do not differ on any paper" if len(results) > 1 else
              "--diff: there is only one group of suggestions; nothing to compare it with")


@cli.command()
@click.option("--annotators", "pair", default=None, help="The two annotators, A,B (default: the only two in the store).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Disagreements to list.")
@db_option
@click.pass_context
def agreement(ctx, pair, as_json, limit) -> None:
    """Agreement between two annotators: Cohen's kappa, per-field agreement, disagreements."""
    from workbench import report
    from workbench.agreement import agreement as measure, choose_pair

    db = _db(ctx, create=False)
    a, b = choose_pair(db, pair)
    result = measure(db, a, b)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        _console().print(report.agreement_report(result, limit))


def main() -> None:
    cli(obj={}, prog_name="workbench")
