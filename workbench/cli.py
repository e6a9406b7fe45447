"""The `workbench` command line. Thin: parse options, call the modules, report.

Every line printed goes through `echo` (or a Rich table of `safe_text.plain`
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

import json
import os
import sys
from pathlib import Path

if "review" in sys.argv[1:]:  # before the imports below: a ctrl+s typed at once must not be the terminal's
    from workbench.terminal import keep_flow_control_keys

    keep_flow_control_keys()

import click

from workbench import __version__
from workbench.cli_batch import batch_group
from workbench.cli_serve import serve, serve_session
from workbench.cli_team import team_group
from workbench.cli_team_work import team_group as team_work_group
from workbench.cli_common import (
    STORE, store_name,
    DB_HELP, check_annotator, db_option, default_seeds, say, echo_json, fail, fail_bad_value, open_store, read_config,
    TIMEOUT_SECONDS, rich_console,
)
from workbench.cli_copy import copy_command
from workbench.cli_review import review
from workbench.cli_suggest import suggest
from workbench.db import default_db_path, is_url, store_exists, store_location
from workbench.errors import InputError, StoreBusy, StoreRefused, StoreUnreadable, WorkbenchError
from workbench.records import no_decisions
from workbench.vocab import STATUSES

if _gc_was_enabled:
    gc.enable()


class _Group(click.Group):
    """Turn expected failures into one line on stderr and the contract's exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.BadParameter as exc:  # a bad value (--timeout 0, --queue bogus): one line, not the usage block
            fail_bad_value(ctx, exc)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            # `workbench export | head`: the reader took what it wanted and left. Nothing failed:
            # stop quietly with 0, so `set -o pipefail` scripts do not see an error.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(0)
        except StoreBusy as exc:
            if ctx.obj.get("debug"):
                raise
            fail(ctx, f"the store at {store_name(ctx)} failed: {exc}", 1)
        except StoreUnreadable as exc:  # not a database, or damaged (e.g. copied without its -wal)
            if ctx.obj.get("debug"):
                raise
            advice = ("" if is_url(ctx.obj["db_path"]) else
                      ": restore it from a backup (a store copied while open needs its -wal file too)")
            fail(ctx, f"the store at {store_name(ctx)} cannot be read ({exc}){advice}", 2)
        except StoreRefused as exc:  # a value no check stopped before the store: a bug
            if ctx.obj.get("debug"):
                raise
            fail(ctx, f"internal error: {exc} (rerun with --debug)", 1)
        except WorkbenchError as exc:
            if ctx.obj.get("debug"):
                raise
            fail(ctx, str(exc), exc.exit_code)
        except Exception as exc:  # a bug: say so in one line, keep the traceback for --debug
            if ctx.obj.get("debug"):
                raise
            fail(ctx, f"internal error: {type(exc).__name__}: {exc} (rerun with --debug)", 1)


@click.group(cls=_Group)
@click.option("--db", "db_path", type=STORE, default=None, help=DB_HELP)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(__version__)
@click.pass_context
def cli(ctx: click.Context, db_path: Path | str | None, debug: bool) -> None:
    """LLM-assisted review and annotation of research-paper abstracts.

    --db is accepted before the command or after it.
    """
    ctx.ensure_object(dict)
    ctx.obj["db_path"] = store_location(db_path) if db_path else default_db_path()
    ctx.obj["debug"] = debug


cli.add_command(batch_group)
cli.add_command(copy_command)
cli.add_command(review)
cli.add_command(team_group)
for _command in team_work_group.commands.values():  # one `team` group: accounts, and the split of work
    team_group.add_command(_command)
cli.add_command(serve)
cli.add_command(suggest)
cli.add_command(serve_session)


# --------------------------------------------------------------------------- ingest


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@db_option
@click.pass_context
def ingest(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Add papers from dumps or JSONL files (default: seeds/)."""
    from workbench.ingest import ingest as run_ingest

    report = run_ingest(open_store(ctx), list(paths) or [default_seeds()])
    for warning in report.warnings:
        say(f"workbench: warning: {warning}", err=True)
    for error in report.errors:
        say(f"workbench: {error}", err=True)
    say(report.summary())
    if report.errors:
        ctx.exit(2)


# --------------------------------------------------------------------------- export / import


@cli.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here (default: stdout).")
@click.option("--status", type=click.Choice(STATUSES), help="Only this status.")
@click.option("--annotator", help="Only this annotator.")
@click.option("--flagged", is_flag=True, help="Only flagged annotations.")
@click.option("--suggestions", is_flag=True, help="Export stored suggestions instead of annotations.")
@click.option("--final", is_flag=True,
              help="One training-ready record per paper: its adjudicated decision, else the agreed one, else none.")
@click.option("--prompt", "prompt_ref", help="With --suggestions: only this prompt (name, name@hash or path).")
@click.option("--model", help="With --suggestions: only this model.")
@db_option
@click.pass_context
def export(ctx, output, status, annotator, flagged, suggestions, final, prompt_ref, model) -> None:
    """Write annotations (or suggestions, or final decisions) as JSONL, in paper order."""
    from workbench import jsonl
    from workbench.store import resolve_prompt_versions

    db = open_store(ctx, create=False)
    if final:
        if status or flagged or suggestions or any(v is not None for v in (annotator, prompt_ref, model)):
            raise InputError("--final takes no other filter (--status, --annotator, --flagged, --suggestions, ...)")
        from workbench.final import export_final_lines

        lines = export_final_lines(db)
    elif suggestions:
        if status or flagged or annotator is not None:  # --annotator '' too: a filter given is never ignored
            raise InputError("--status, --annotator and --flagged apply to annotations, not to --suggestions")
        prompt_ids = resolve_prompt_versions(db, prompt_ref) if prompt_ref else None
        lines = jsonl.export_suggestion_lines(db, prompt_ids=prompt_ids, model=model)
    else:
        if prompt_ref is not None or model is not None:
            raise InputError("--prompt and --model apply only with --suggestions")
        _has_decisions(db, annotator)
        lines = jsonl.export_annotation_lines(db, status=status, annotator=annotator, flagged=flagged)
    count = jsonl.write_lines(lines, output, sys.stdout)
    if output:
        say(f"exported {count} {'suggestions' if suggestions else 'final decisions' if final else 'annotations'} "
            f"to {output}", err=True)


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
        check_annotator(annotator)
    report = import_annotations(open_store(ctx), file, annotator, on_conflict)
    say(report.summary(file))


@cli.command("prompts")
@db_option
@click.pass_context
def prompts_(ctx) -> None:
    """List prompts: name, short hash, description, stored suggestions."""
    from workbench.prompts import prompts_dir, scan_prompts, stored_version_notes
    from workbench.store import stored_prompts, suggestion_counts_by_prompt

    db = open_store(ctx, create=False) if store_exists(ctx.obj["db_path"]) else None
    counts = suggestion_counts_by_prompt(db) if db else {}
    current, problems = scan_prompts()
    if not current and not problems:
        say(f"no prompt files in {prompts_dir()}")
    for prompt in current:
        say(f"{prompt.label:<20} {prompt.description}  [{_counts_text(counts.get(prompt.id))}]")
    versions = stored_prompts(db) if db else []
    notes = stored_version_notes(current, versions)  # older version, or from a path (the store keeps no path)
    for stored in versions:
        if stored.id in notes:
            say(f"{stored.label:<20} {notes[stored.id]} {stored.description or ''}  [{_counts_text(counts.get(stored.id))}]")
    for problem in problems:  # the good ones are listed; each bad file is named, and the exit says so
        say(f"workbench: {problem}", err=True)
    if problems:
        ctx.exit(2)


def _counts_text(counts: dict[str, int] | None) -> str:
    if not counts:
        return "no suggestions"
    total = sum(counts.values())
    return f"{total} suggestion{'s' * (total != 1)}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


@cli.command("models")
@click.option("--model", "model_name", default=None, help="Probe this model (default: the endpoint's only model).")
@click.option("--timeout", type=TIMEOUT_SECONDS, default=None,
              help="Seconds a probe request may take (default: [openai] timeout, else 300: a cold server is slow).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@db_option
@click.pass_context
def models(ctx, model_name: str | None, timeout: float | None, as_json: bool) -> None:
    """List the endpoint's models and find which response formats work (remembered for auto)."""
    import asyncio

    from workbench.config import endpoint_settings
    from workbench.endpoint import PROBE_TIMEOUT_SECONDS, probe
    from workbench.prompts import resolve_prompt
    from workbench.store import remember_format

    config = read_config()
    if timeout is None and config.openai.timeout is None:
        timeout = PROBE_TIMEOUT_SECONDS
    settings = endpoint_settings(config, timeout=timeout)
    result = asyncio.run(probe(settings, model_name, resolve_prompt(None)))
    if result.model and result.best:
        remember_format(open_store(ctx), result.endpoint, result.model, result.best, source="probe",
                        concurrency=result.slots, detail=result.detail())
    if as_json:
        echo_json(json.dumps({"endpoint": result.endpoint, "models": result.models, "model": result.model,
                               "formats": result.detail(), "best": result.best, "slots": result.slots,
                               "timeout": result.timeout, "loading_seconds": round(result.loading_seconds, 1)},
                              indent=2))
    if result.models is None and result.model is None:  # no server, or one that lists nothing: nothing was probed
        fail(ctx, f"the model list at {result.endpoint} is not available ({result.list_error}); is the server "
                   "running? (--model NAME probes a model without the list)", 1)
    if not as_json:
        for line in _probe_lines(result):
            say(line)
    if result.model and not result.best:
        if result.timed_out:
            fail(ctx, f"no response format answered model '{result.model}' at {result.endpoint} within "
                      f"{result.timeout:g} s; a cold or busy server can need longer: raise --timeout", 1)
        fail(ctx, f"no response format worked for model '{result.model}' at {result.endpoint}", 1)


def _probe_lines(result) -> list[str]:
    lines = [f"{result.endpoint}: waited {result.loading_seconds:.0f} s while the server loaded its model"] \
        if result.loading_seconds >= 1 else []
    if result.models is None:
        lines += [f"{result.endpoint}: the model list is not available ({result.list_error})"]
    else:
        lines += [f"{result.endpoint}: {len(result.models)} model{'s' if len(result.models) != 1 else ''}"]
        lines += [f"  {name}" for name in result.models[:50]]
    if result.model is None:
        return lines + ["name one with --model to find which response formats it takes"]
    lines.append(f"response formats for {result.model} (one small request each):")
    for r in result.results:
        state = "works" if r.works and r.evidence else "works, without quotes" if r.works else f"{r.outcome}: {r.error}"
        lines.append(f"  {r.mode:<20} {state}  ({r.seconds:.1f} s)")
    if result.best:
        lines.append(f"best: {result.best} (remembered: --response-format auto uses it)")
    if result.timed_out and result.best:
        lines.append(f"{', '.join(result.timed_out)} timed out after {result.timeout:g} s: a cold or busy server "
                     "can need longer; raise --timeout to try again")
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

    from workbench import tables
    from workbench.jsonl import dumps
    from workbench.store import recent_attempts, unknown_paper_ids

    db = open_store(ctx, create=False)
    if paper_id is not None and unknown_paper_ids(db, [paper_id]):  # a typo, not "no calls": as `suggest --paper`
        raise InputError(f"--paper {paper_id}: no such paper in {store_name(ctx)}")
    attempts = recent_attempts(db, paper_id=paper_id, limit=limit)
    if as_json:
        for attempt in attempts:
            echo_json(dumps(asdict(attempt)))
    elif attempts:
        console = rich_console()
        console.print(tables.log_table(attempts, console.width))
    else:
        say("no model calls on record" + (f" for paper {paper_id}" if paper_id else ""))


@cli.command()
@click.option("--annotator", default=None, help="Only this annotator's decisions.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@db_option
@click.pass_context
def stats(ctx, annotator: str | None, as_json: bool) -> None:
    """Progress, decisions, throughput, accept and edit rates by prompt and model."""
    from workbench import stats as statistics, tables

    db = open_store(ctx, create=False)
    _has_decisions(db, annotator)
    result = statistics.store_stats(db, annotator)
    if as_json:
        echo_json(json.dumps(result, indent=2))
    else:
        rich_console().print(tables.stats_report(result))


@cli.command()
@click.option("--prompt", "prompt_refs", multiple=True, help="Only this prompt: name (every version), name@hash or path. Repeatable.")
@click.option("--model", "models", multiple=True, help="Only this model. Repeatable.")
@click.option("--annotator", default=None, help="Only this annotator's decisions as the reference.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per (prompt version, model, parameters).")
@click.option("--diff", "diff_count", type=click.IntRange(min=0), default=0, help="Also show the N papers where the suggestions differ most.")
@click.option("--against", "against", default=None, metavar="ANNOTATOR|FILE.jsonl",
              help="Score against one reviewer's decisions or a gold file: gain figures, nulls, compute, technique, effort.")
@db_option
@click.pass_context
def compare(ctx, prompt_refs, models, annotator, as_json, diff_count, against) -> None:
    """Compare prompts and models against the human decisions."""
    from workbench import prompt_report as comparison
    from workbench import tables
    from workbench.config import prices
    from workbench.store import resolve_prompt_versions

    db = open_store(ctx, create=False)
    prompt_ids = [pid for ref in prompt_refs for pid in resolve_prompt_versions(db, ref)] or None
    if against is not None:
        return _compare_against(db, against, prompt_ids, list(models) or None, annotator, as_json, diff_count)
    _has_decisions(db, annotator)
    results = comparison.compare(db, prompt_ids=prompt_ids, models=list(models) or None, annotator=annotator,
                                 prices=prices(read_config()))
    if not results:
        raise InputError("no suggestions match; run `workbench suggest` first (or check --prompt/--model)")
    differing = comparison.differing_papers(db, comparison.measured(db, prompt_ids, list(models) or None),
                                            diff_count, annotator) if diff_count else []
    if as_json:
        for item in results:
            item.pop("label")
        echo_json(json.dumps(results if not diff_count else {"groups": results, "diff": differing}, indent=2))
        return
    console = rich_console()
    console.print(tables.compare_table(results))
    for table in tables.diff_tables(differing):
        console.print(table)
    if diff_count and not differing:
        say("--diff: the suggestions do not differ on any paper" if len(results) > 1 else
              "--diff: there is only one group of suggestions; nothing to compare it with")


def _compare_against(db, against: str, prompt_ids, models, annotator, as_json: bool, diff_count: int) -> None:
    """`compare --against`: a value naming a file (or ending in .jsonl) is a gold file, else an annotator."""
    from workbench import prompt_report as comparison
    from workbench import tables
    from workbench.gold import load_gold
    from workbench.store import annotators

    if annotator is not None or diff_count:
        raise InputError("--against does not go with --annotator or --diff")
    if Path(against).is_file() or against.endswith(".jsonl"):
        gold, source = load_gold(Path(against)), {"file": against}
    else:
        known = annotators(db)
        if against not in known:
            raise InputError(no_decisions("--against", against, known,
                                          "is neither a gold file nor an annotator with decisions in this store"))
        gold, source = comparison.reviewer_gold(db, against), {"annotator": against}
        if not gold:
            raise InputError(f"--against: {against!r} rejected every paper they decided; there is nothing to score against")
    results = comparison.against(db, gold, prompt_ids=prompt_ids, models=models)
    if not results:
        raise InputError("no suggestions match; run `workbench suggest` first (or check --prompt/--model)")
    if as_json:
        for item in results:
            item.pop("label")
            item["against"] = source
        return echo_json(json.dumps(results, indent=2))
    rich_console().print(tables.against_table(results, f"{'gold file' if 'file' in source else 'reviewer'} {against}"))
    if results[0]["gold_not_in_store"]:
        say(f"{results[0]['gold_not_in_store']} of the {len(gold)} gold papers are not in this store: ingest their source first")


def _has_decisions(db, annotator: str | None) -> None:
    """--annotator naming nobody with decisions here is most likely a typo: one line, exit 2 (stats, export and
    compare alike), never an empty report."""
    from workbench.store import annotators

    if annotator is not None and annotator not in (known := annotators(db)):
        if not annotator.strip():  # '' is no name at all: said as `review --annotator ''` says it
            check_annotator(annotator)
        raise InputError(no_decisions("--annotator", annotator, known))


@cli.command()
@click.option("--annotators", "names", default=None,
              help="Only these annotators, A,B[,C...] (default: every one). Exactly two: Cohen's kappa and their disagreements.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Disagreements to list (two annotators).")
@db_option
@click.pass_context
def agreement(ctx, names, as_json, limit) -> None:
    """Agreement per field for every annotator: alpha, AC1, value agreement, each against the consensus."""
    from workbench import tables
    from workbench.agreement import agreement as measure, choose_pair
    from workbench.team_agreement import team_agreement

    db = open_store(ctx, create=False)
    if names and len([n for n in names.split(",") if n.strip()]) == 2:  # the two-annotator report, as before
        result = measure(db, *choose_pair(db, names))
        return echo_json(json.dumps(result, indent=2)) if as_json else rich_console().print(tables.agreement_report(result, limit))
    chosen = [n.strip() for n in names.split(",") if n.strip()] if names else None
    result = team_agreement(db, chosen)
    if len(result["annotators"]) == 2:
        result["pair"] = measure(db, *result["annotators"])
    if as_json:
        return echo_json(json.dumps(result, indent=2))
    rich_console().print(tables.team_agreement_report(result))
    if "pair" in result:
        rich_console().print(tables.agreement_report(result["pair"], limit))


def main() -> None:
    cli(obj={}, prog_name="workbench")
