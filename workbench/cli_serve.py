"""`workbench serve` (the review in browsers, each annotator signed in) and `serve-session`, the
command it runs for each browser connection (hidden: it is the served app, not for a terminal)."""

from __future__ import annotations

import functools
import os
import shlex
import sys

import click

from workbench.cli_common import (
    check_annotator, default_seeds, make_model, model_options, open_store, parse_queue, read_config, say,
)
from workbench.db import close_db, open_db
from workbench.serve import DEFAULT_MAX_SESSIONS, check_bind, check_public_url, make_server
from workbench.vocab import DISAGREEMENTS, QUEUES



def _forwarded(prompt_ref, model_name, response_format, timeout, rpm, queue) -> list[str]:
    args = ["--model", model_name, "--queue", queue]
    for option, value in (("--prompt", prompt_ref), ("--response-format", response_format), ("--timeout", timeout),
                          ("--rpm", rpm)):
        if value is not None:
            args += [option, str(value)]
    return args


def _queue(ctx, param, value: str) -> str:
    value = parse_queue(value)
    if value == DISAGREEMENTS:
        raise click.BadParameter("the disagreements queue is for an adjudicator in `workbench review`")
    return value


@click.command("serve")
@model_options
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but 127.0.0.1 or ::1 needs an annotator account first.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--public-url", default=None,
              help="Where browsers reach the server when a proxy stands in front, e.g. https://review.example.org "
                   "(https makes the socket wss). Default: the address the browser used.")
@click.option("--max-sessions", type=click.IntRange(1, 1000), default=DEFAULT_MAX_SESSIONS, show_default=True,
              help="Browser connections at once (each is an app process).")
@click.option("--queue", default="todo", show_default=True, callback=_queue,
              help="The queue every annotator steps through (as `workbench review --queue`).")
@click.pass_context
def serve(ctx, prompt_ref, model_name, response_format, timeout, rpm, host, port, public_url, max_sessions,
          queue) -> None:
    """Serve the review to browsers: each annotator signs in with the token `workbench team add` gave them."""
    from workbench.ingest import ingest as run_ingest
    from workbench.prompts import resolve_prompt
    from workbench.store import count_active_accounts, count_papers

    public_url = check_public_url(public_url)
    db = open_store(ctx)
    accounts = count_active_accounts(db)
    check_bind(host, accounts)
    if count_papers(db) == 0:
        report = run_ingest(db, [default_seeds()])
        say(report.summary(), err=True)
    resolve_prompt(prompt_ref)  # a bad prompt or model is one line here, not an error in every browser
    make_model(model_name, response_format, timeout, rpm)
    if accounts == 0:
        say("workbench serve: note: nobody can sign in yet; add an annotator with `workbench team add NAME`", err=True)
    close_db(ctx.obj.pop("db"))
    # The store reaches each app process as WORKBENCH_DB, exactly the --db given (a path or a URL): through
    # the environment textual-serve hands on, not the command line (`ps` shows that to every user).
    os.environ["WORKBENCH_DB"] = os.fspath(ctx.obj["db_path"])
    command = shlex.join([sys.executable, "-m", "workbench", "serve-session",
                          *_forwarded(prompt_ref, model_name, response_format, timeout, rpm, queue)])
    make_server(command, host=host, port=port, public_url=public_url, max_sessions=max_sessions).serve()


@click.command("serve-session", hidden=True)
@model_options
@click.option("--queue", default="todo", callback=_queue)
@click.pass_context
def serve_session(ctx, prompt_ref, model_name, response_format, timeout, rpm, queue) -> None:
    """One browser's review: sign in, then review as that annotator (run by `workbench serve`)."""
    from workbench import accounts
    from workbench.config import guidelines
    from workbench.prompts import prompts_dir, resolve_prompt
    from workbench.review import open_session
    from workbench.tui.served import create_served_app

    db_path = ctx.obj["db_path"]
    prompt = resolve_prompt(prompt_ref)
    model = make_model(model_name, response_format, timeout, rpm)
    config = read_config()
    opener = functools.partial(open_db, db_path)

    def start(annotator: str):
        return open_session(db_path, prompt=prompt, model=model, annotator=check_annotator(annotator), queue=queue)

    app = create_served_app(start, functools.partial(accounts.sign_in, opener, close_db),
                            functools.partial(accounts.still_active, opener, close_db),
                            keymap=dict(config.keys), guidelines=guidelines(config, prompts_dir()))
    app.run()
    if app.return_code:
        ctx.exit(1)
