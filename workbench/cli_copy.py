"""`workbench copy SRC DST`: move a whole store between a SQLite file and a PostgreSQL database (or any two)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from workbench.cli_common import STORE, say
from workbench.copying import copy_store
from workbench.db import close_db, describe_store, open_db, open_for_reading, store_location
from workbench.errors import InputError, WorkbenchError
from workbench.progress import CopyProgress


def _same(source, target) -> bool:
    """One store under two spellings (./a.db and a.db, a link to it; the same URL): refused."""
    if isinstance(source, Path) and isinstance(target, Path):
        return source.resolve() == target.resolve()
    return describe_store(source) == describe_store(target)


@click.command("copy")
@click.argument("source", type=STORE)
@click.argument("target", type=STORE)
@click.option("--into-existing", is_flag=True,
              help="Add to a target that already holds rows (resumes a copy that stopped).")
def copy_command(source, target, into_existing: bool) -> None:
    """Copy a whole store: papers with revisions and sightings, prompts, suggestions, attempts, annotations,
    events, batches. SOURCE and TARGET are each a SQLite file or a postgresql:// URL."""
    source, target = store_location(source), store_location(target)
    if _same(source, target):
        raise InputError(f"{describe_store(source)}: the source and the target are the same store")
    src = open_for_reading(source)
    try:
        dst = open_db(target)
        try:
            with CopyProgress(enabled=sys.stderr.isatty()) as progress:
                try:
                    report = copy_store(src, dst, into_existing=into_existing, target_name=describe_store(target),
                                        on_rows=progress.rows)
                except KeyboardInterrupt:
                    raise WorkbenchError(f"{describe_store(target)}: interrupted; the rows copied so far stay: run "
                                         "the same command with --into-existing to go on") from None
        finally:
            close_db(dst)
    finally:
        close_db(src)
    tables = ", ".join(f"{name} {n:,}" for name, n in report.rows.items() if n)
    rate = report.total / max(report.seconds, 1e-6)
    say(f"copied {report.total:,} row{'s' * (report.total != 1)} in {report.seconds:.1f} s ({rate:,.0f} rows/s){': ' + tables if tables else ''}")
    say(f"verified: {describe_store(target)} holds every row of {describe_store(source)} (every table's rows "
        "and both exports are identical)")
