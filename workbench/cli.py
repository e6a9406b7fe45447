"""The `workbench` command line. Thin: parse options, call the modules, report."""

from __future__ import annotations

import getpass
import json
import sqlite3
import sys
from pathlib import Path

import click

from workbench import __version__
from workbench.db import default_db_path, open_db
from workbench.errors import InputError, WorkbenchError
from workbench.migrations import STATUSES

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_annotator() -> str:
    try:
        return getpass.getuser() or "reviewer"
    except Exception:  # no login name in some containers
        return "reviewer"


def default_seeds() -> Path:
    """`seeds/` here, else the checkout's own seeds (an editable install run elsewhere)."""
    local = Path("seeds")
    if local.is_dir() or not (PROJECT_ROOT / "seeds").is_dir():
        return local
    return PROJECT_ROOT / "seeds"


class _Group(click.Group):
    """Turn expected failures into one line on stderr and the contract's exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except WorkbenchError as exc:
            if ctx.params.get("debug"):
                raise
            click.echo(f"workbench: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except sqlite3.OperationalError as exc:
            if ctx.params.get("debug"):
                raise
            click.echo(f"workbench: the store at {ctx.obj['db_path']} failed: {exc}", err=True)
            ctx.exit(1)
        except Exception as exc:  # a bug: say so in one line, keep the traceback for --debug
            if ctx.params.get("debug"):
                raise
            click.echo(f"workbench: internal error: {type(exc).__name__}: {exc} (rerun with --debug)", err=True)
            ctx.exit(1)


@click.group(cls=_Group)
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Store path (default: $WORKBENCH_DB or annotations/workbench.db).")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(__version__)
@click.pass_context
def cli(ctx: click.Context, db_path: Path | None, debug: bool) -> None:
    """LLM-assisted review and annotation of research-paper abstracts."""
    ctx.ensure_object(dict)
    ctx.obj["db_path"] = db_path or default_db_path()
    ctx.obj["debug"] = debug


def _db(ctx: click.Context):
    if "db" not in ctx.obj:
        ctx.obj["db"] = open_db(ctx.obj["db_path"])
    return ctx.obj["db"]


# --------------------------------------------------------------------------- ingest


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.pass_context
def ingest(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Add papers from dumps or JSONL files (default: seeds/)."""
    from workbench.ingest import ingest as run_ingest

    report = run_ingest(_db(ctx), list(paths) or [default_seeds()])
    for warning in report.warnings:
        click.echo(f"workbench: warning: {warning}", err=True)
    for error in report.errors:
        click.echo(f"workbench: {error}", err=True)
    click.echo(report.summary())
    if report.errors:
        ctx.exit(2)


# --------------------------------------------------------------------------- export / import


@cli.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here (default: stdout).")
@click.option("--status", type=click.Choice(STATUSES), help="Only this status.")
@click.option("--annotator", help="Only this annotator.")
@click.option("--flagged", is_flag=True, help="Only flagged annotations.")
@click.pass_context
def export(ctx, output, status, annotator, flagged) -> None:
    """Write annotations as JSONL, in paper order."""
    from workbench import jsonl

    lines = jsonl.export_annotation_lines(_db(ctx), status=status, annotator=annotator, flagged=flagged)
    count = jsonl.write_lines(lines, output, sys.stdout)
    if output:
        click.echo(f"exported {count} annotations to {output}", err=True)


@cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--annotator", default=None, help="Annotator for records that name none (default: login name).")
@click.pass_context
def import_(ctx, file: Path, annotator: str | None) -> None:
    """Read annotations back from JSONL (the export format)."""
    from workbench.jsonl import import_annotations

    count = import_annotations(_db(ctx), file, annotator or default_annotator())
    click.echo(f"imported {count} annotations from {file}")


# --------------------------------------------------------------------------- stats


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def stats(ctx, as_json: bool) -> None:
    """Papers, decisions, throughput and suggestion outcomes."""
    from workbench import analytics

    report = analytics.store_stats(_db(ctx))
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(analytics.format_stats(report))


def main() -> None:
    cli(obj={}, prog_name="workbench")
