"""What the command line's modules share: the one safe way to print (`say`: every line cleaned of
control characters; `echo_json` for JSON the code made), failing with one line, the store opened once
per command, the config read once, choosing a model and its price."""

from __future__ import annotations

import getpass
import math
from pathlib import Path

import click

from workbench.db import batches_dir, close_db, describe_store, open_db, open_for_reading, store_location
from workbench.errors import InputError
from workbench.records import annotator_problem
from workbench.safe_text import clean, one_line
from workbench.vocab import MAX_PRICE, MAX_TIMEOUT_SECONDS, OFFLINE, QUEUES, SEARCH_QUEUE_PREFIX

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_annotator() -> str:
    try:
        return getpass.getuser() or "reviewer"
    except Exception:  # no login name in some containers
        return "reviewer"


def check_annotator(annotator: str) -> str:
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


def say(text: str = "", *, err: bool = False) -> None:
    click.echo(clean(text), err=err)


def fail(ctx: click.Context, message: str, code: int) -> None:
    say(f"workbench: {message}", err=True)
    ctx.exit(code)


def fail_bad_value(ctx: click.Context, exc: click.BadParameter) -> None:
    """A bad option value in one line (click's message; the value shown bounded, control characters
    visible), exit 2: the usage block would bury it."""
    fail(ctx, one_line(exc.format_message(), 300), exc.exit_code)


def parse_queue(value: str) -> str:
    if value in QUEUES or (value.startswith(SEARCH_QUEUE_PREFIX) and value[len(SEARCH_QUEUE_PREFIX):].strip()):
        return value
    raise click.BadParameter(f"{value!r} is not one of {', '.join(QUEUES)}, or search:\"QUERY\"")


def _remember_db(ctx: click.Context, param, value: Path | str | None) -> None:
    if value is not None:
        ctx.obj["db_path"] = store_location(value)  # a bad one: the one-line error, within the command


class StoreParam(click.ParamType):
    """--db: a path (the SQLite file) or a postgresql:// URL (without a password). Checked by
    `store_location` where it is used, so a bad one is the project's one-line error, not click's usage."""

    name = "PATH|URL"

    def convert(self, value, param, ctx):
        return str(value)


STORE = StoreParam()


class WholeNumber(click.ParamType):
    """A count option (--workers, --concurrency, --limit): a whole number from `low` to `high` (None: no
    bound). A bad value is the project's one-line error naming the option and what is allowed, exit 2, not
    click's usage block: it is raised as an InputError, which the group turns into that line like every
    other bad input (`click.BadParameter` would print the usage block)."""

    name = "INTEGER"

    def __init__(self, low: int, high: int | None = None):
        self.low, self.high = low, high

    def convert(self, value, param, ctx):
        try:
            number = value if isinstance(value, int) and not isinstance(value, bool) else int(str(value).strip(), 10)
        except ValueError:
            number = None
        if number is None or number < self.low or (self.high is not None and number > self.high):
            allowed = f"from {self.low} to {self.high}" if self.high is not None else f"from {self.low} up"
            shown = one_line(str(value), 40)  # from the command line: bounded, control characters shown
            raise InputError(f"{param.opts[0] if param else 'the value'} must be a whole number {allowed} "
                             f"(got '{shown}')")
        return number


def _shown_bound(number: float) -> str:
    """86400 as 86,400 (as the config's messages say it), 0.05 as 0.05."""
    return f"{int(number):,}" if number == int(number) else f"{number:g}"


class FiniteNumber(click.FloatRange):
    """A number option (--timeout, --rpm, prices, --overlap): a finite number from `low` to `high` (None: no
    bound), else the same one line as WholeNumber. click.FloatRange alone lets 'nan' through (no comparison
    with NaN is true): it surfaced as a config file's error, or was stored as NULL. A FloatRange still, so
    --help shows the range. `what` is the line's noun: 'a number of seconds', 'USD per million tokens'."""

    def __init__(self, low: float, high: float | None = None, what: str = "a number"):
        super().__init__(low, high)
        self.what = what

    def convert(self, value, param, ctx):
        try:
            number = None if isinstance(value, bool) else float(value)
        except (TypeError, ValueError):
            number = None
        low, high = self.min, self.max
        if number is None or not math.isfinite(number) or number < low or (high is not None and number > high):
            allowed = f"from {_shown_bound(low)} " + (f"to {_shown_bound(high)}" if high is not None else "up")
            shown = one_line(str(value), 40)  # from the command line: bounded, control characters shown
            raise InputError(f"{param.opts[0] if param else 'the value'} must be {self.what} {allowed} (got '{shown}')")
        return number


TIMEOUT_SECONDS = FiniteNumber(1, MAX_TIMEOUT_SECONDS, "a number of seconds")
PRICE = FiniteNumber(0, MAX_PRICE, "USD per million tokens")  # the range [prices."MODEL"] allows

DB_HELP = ("Store: a SQLite file, or postgresql://user@host:port/dbname for a team's server "
           "(default: $WORKBENCH_DB or annotations/workbench.db).")
db_option = click.option("--db", "db_here", type=STORE, default=None, expose_value=False, callback=_remember_db,
                         help=DB_HELP)


def batches_folder(ctx: click.Context) -> Path:
    return batches_dir(ctx.obj["db_path"])


def store_name(ctx: click.Context) -> str:
    """The store in messages: its path, or host:port/dbname."""
    return describe_store(ctx.obj["db_path"])


def open_store(ctx: click.Context, *, create: bool = True):
    """The store, opened once per command and closed (checkpointed into the one file) at exit.
    Read-only commands pass create=False: no store there is an error, not a new empty store,
    and a store that cannot be written is read as it is."""
    if "db" not in ctx.obj:
        db = open_db(ctx.obj["db_path"]) if create else open_for_reading(ctx.obj["db_path"])
        ctx.obj["db"] = db
        ctx.find_root().call_on_close(lambda: close_db(db))
    return ctx.obj["db"]


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
        click.option("--timeout", type=TIMEOUT_SECONDS, default=None,
                     help="Seconds a request may take in all (default 60)."),
        click.option("--rpm", type=FiniteNumber(0.1, what="a number of requests a minute"), default=None,
                     help="At most this many requests a minute."),
        db_option,
    ]
    for option in reversed(options):
        func = option(func)
    return func


def read_config():
    """The config file, read and checked once per command (the first use reads it)."""
    from workbench.config import load_config

    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return load_config()
    obj = ctx.find_root().ensure_object(dict)
    if "config" not in obj:
        obj["config"] = load_config()
    return obj["config"]


def make_model(model_name: str, response_format: str | None, timeout: float | None, rpm: float | None, *,
               sends: bool = True):
    """The model by name. `sends=False`: nothing will be sent (request files are only written), so no
    key is needed even for the official endpoint."""
    from dataclasses import replace

    from workbench.config import endpoint_settings
    from workbench.models import get_model

    if model_name == OFFLINE:
        given = [name for name, value in (("--response-format", response_format), ("--timeout", timeout),
                                          ("--rpm", rpm)) if value is not None]
        if given:  # a setting that would change nothing is refused, not ignored
            raise InputError(f"{given[0]} is for a model at an endpoint (--model NAME); the offline model sends nothing")
        return get_model(OFFLINE)
    settings = endpoint_settings(read_config(), timeout=timeout, response_format=response_format)
    if not sends and not settings.api_key:
        settings = replace(settings, api_key="no-key: files only")
    return get_model(model_name, settings, rpm=rpm)


def price_for(model_name: str, price_in: float | None, price_out: float | None, *, batch: bool = False):
    """--price-in/--price-out as given, else the config's price for the model (halved for a batch)."""
    from workbench.config import prices
    from workbench.vocab import batch_price

    if price_in is not None or price_out is not None:
        return price_in or 0.0, price_out or 0.0
    price = prices(read_config()).get(model_name)
    return batch_price(price) if batch else price


def rich_console():
    from workbench.safe_text import safe_console

    return safe_console(soft_wrap=False)


def echo_json(text: str) -> None:
    """JSON the code serialised (json.dumps escapes control characters): printed as it is."""
    click.echo(text)
