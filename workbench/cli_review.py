"""`workbench review`: the review screen, and adjudication (`--queue disagreements`, `--adjudicate`)."""

from __future__ import annotations

import gc
import os

import click
from workbench.cli_common import (
    check_annotator, default_annotator, default_seeds, make_model, model_options, open_store, parse_queue, read_config,
    say,
)
from workbench.db import ReadOnlyStore, close_db
from workbench.errors import InputError
from workbench.vocab import QUEUES


@click.command()
@model_options
@click.option("--annotator", default=None, help="Whose decisions these are (default: $WORKBENCH_ANNOTATOR or login name).")
@click.option("--queue", default="todo", show_default=True, callback=lambda ctx, param, value: parse_queue(value),
              help=f"Which papers to step through: {', '.join(QUEUES)}, or search:\"QUERY\" (the / dialog's syntax).")
@click.option("--annotators", "names", default=None,
              help="With --queue disagreements or --adjudicate: only these annotators' decisions, A,B[,C...] "
                   "(default: every annotator; without --adjudicate, every one but you).")
@click.option("--adjudicate", is_flag=True,
              help="Adjudicate the disagreements queue: your decisions are stored as NAME@adjudicated, apart "
                   "from your own.")
@click.pass_context
def review(ctx, prompt_ref, model_name, response_format, timeout, rpm, annotator, queue, names, adjudicate) -> None:
    """Review suggestions paper by paper in the terminal (ingests seeds/ into an empty store)."""
    from workbench.config import guidelines
    from workbench.ingest import ingest as run_ingest
    from workbench.prompts import prompts_dir, resolve_prompt
    from workbench.review.adjudication import adjudication_plan
    from workbench.store import count_papers

    # An explicit --annotator '' is refused, not replaced by the default: checked before anything is written.
    annotator = check_annotator(annotator if annotator is not None else
                                os.environ.get("WORKBENCH_ANNOTATOR") or default_annotator())
    try:
        db = open_store(ctx)
    except ReadOnlyStore:
        db = open_store(ctx, create=False)  # browse it: the session opens it read-only and says so
    if count_papers(db) == 0:
        report = run_ingest(db, [default_seeds()])
        say(report.summary(), err=True)
        if report.errors:
            for error in report.errors:
                say(f"workbench: {error}", err=True)
            if report.new == 0:
                raise InputError("the store is empty and nothing could be ingested; run `workbench ingest PATH`")
    prompt = resolve_prompt(prompt_ref)
    annotator, queue, others = adjudication_plan(db, annotator, queue, names, adjudicate)
    model = make_model(model_name, response_format, timeout, rpm)
    config = read_config()
    keymap = dict(config.keys)
    notes = guidelines(config, prompts_dir())
    close_db(ctx.obj.pop("db"))  # the session opens its own connection
    gc.disable()  # until the first screen is drawn (see the top of cli.py)
    try:
        from workbench.tui.app import create_app

        app = create_app(ctx.obj["db_path"], prompt=prompt, model=model, annotator=annotator, queue=queue,
                         keymap=keymap, others=others, guidelines=notes)
        app.run()
    finally:
        gc.enable()
    if app.return_code:  # the app crashed (Textual printed why)
        ctx.exit(1)
