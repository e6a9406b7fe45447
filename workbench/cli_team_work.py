"""`workbench team per-paper|show|status`: how the work is split across a team, and its progress.
(`team add|revoke|list`, the accounts, live in cli_team.py; both are the `team` group.)"""

from __future__ import annotations

import json

import click
from workbench.cli_common import FiniteNumber, db_option, echo_json, open_store, rich_console, say
from workbench.errors import InputError
from workbench.vocab import LEASE_SECONDS, MAX_PER_PAPER


@click.group("team")
def team_group() -> None:
    """Work split across annotators: decisions per paper, leases, progress."""


class _CountOrOff(click.ParamType):
    name = "COUNT|off"

    def convert(self, value, param, ctx):
        if str(value).strip().lower() == "off":
            return None
        try:
            count = int(value)
        except ValueError:
            count = 0
        if not 1 <= count <= MAX_PER_PAPER:  # the one-line error, not click's usage block
            raise InputError(f"team per-paper takes a number from 1 to {MAX_PER_PAPER}, or off; not {value!r}")
        return count


@team_group.command("per-paper")
@click.argument("count", type=_CountOrOff())
@click.option("--overlap", type=FiniteNumber(0, 1, "a share of the papers"), default=None,
              help="Only this share of the papers (chosen by a hash of the paper id) needs COUNT decisions; the rest need 1.")
@click.option("--lease-minutes", type=click.IntRange(1, 24 * 60), default=LEASE_SECONDS // 60, show_default=True,
              help="How long a paper on screen holds its slot without being renewed.")
@db_option
@click.pass_context
def per_paper(ctx, count: int, overlap: float | None, lease_minutes: int) -> None:
    """Every paper needs COUNT decisions (or a share of them does, with --overlap); `off`: no split."""
    from workbench.store import clear_distribution, set_distribution

    if count is None:
        if overlap is not None:
            raise InputError("--overlap goes with a COUNT, not with off")
        clear_distribution(open_store(ctx, create=False))
        say(_setting_text(None))
        return
    if overlap is not None and count == 1:
        raise InputError("--overlap goes with a COUNT of 2 or more (with 1, every paper needs 1 decision anyway)")
    dist = set_distribution(open_store(ctx, create=False), count, overlap, lease_minutes * 60)
    say(_setting_text(dist))


def _setting_text(dist) -> str:
    if dist is None:
        return "no distribution set: every annotator's todo holds every paper they have not decided"
    share = "every paper needs" if dist.overlap is None else \
        f"{dist.overlap:.0%} of the papers (by a hash of the paper id) need"
    rest = "" if dist.overlap is None else "; the rest need 1"
    return f"{share} {dist.per_paper} decision{'s' * (dist.per_paper != 1)}{rest}; a lease lasts " \
           f"{dist.lease_seconds // 60} min"


@team_group.command("show")
@db_option
@click.pass_context
def show(ctx) -> None:
    """The distribution setting."""
    from workbench.store import get_distribution

    say(_setting_text(get_distribution(open_store(ctx, create=False))))


@team_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@db_option
@click.pass_context
def status(ctx, as_json: bool) -> None:
    """Each annotator's decisions, pace, rates, agreement and leases; the papers' progress."""
    from workbench.tables import team_status_table
    from workbench.team_agreement import team_status

    report = team_status(open_store(ctx, create=False))
    if as_json:
        return echo_json(json.dumps(report, indent=2))
    rich_console().print(team_status_table(report))
    papers = report["papers"]
    say(f"papers: {papers['complete']:,} complete, {papers['in_progress']:,} in progress, "
        f"{papers['not_started']:,} not started, {papers['awaiting_adjudication']:,} waiting for adjudication")

