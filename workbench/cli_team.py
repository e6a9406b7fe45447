"""The `team` group: annotator accounts for `workbench serve` (add, revoke, list).

Other team commands join this group (`team_group.add_command`)."""

from __future__ import annotations

import click

from workbench import accounts
from workbench.cli_common import db_option, open_store, say
from workbench.store import list_accounts


@click.group("team")
def team_group() -> None:
    """The team: accounts for `workbench serve` (add, revoke, list), and the split of work (per-paper, show, status)."""


@team_group.command("add")
@click.argument("name")
@db_option
@click.pass_context
def add(ctx: click.Context, name: str) -> None:
    """Make an account for NAME and print its token (shown this once; only a hash is stored)."""
    token = accounts.add(open_store(ctx), name)
    say(f"annotator {name} added. Their token (shown only now; give it to them privately):", err=True)
    say(token)  # alone on stdout: `token=$(workbench team add ana)` takes it


@team_group.command("revoke")
@click.argument("name")
@db_option
@click.pass_context
def revoke(ctx: click.Context, name: str) -> None:
    """NAME can no longer sign in (their decisions stay theirs; a served session ends within a minute)."""
    accounts.revoke(open_store(ctx), name)
    say(f"annotator {name} revoked")


@team_group.command("list")
@db_option
@click.pass_context
def list_(ctx: click.Context) -> None:
    """Every account: name, state, when its token was issued, last sign-in."""
    rows = list_accounts(open_store(ctx, create=False))
    if not rows:
        say("no annotator accounts; add one with `workbench team add NAME`")
    for row in rows:
        state = "active" if row.active else f"revoked {row.revoked_at}"
        if row.active and row.locked_until:
            state += f", locked until {row.locked_until}"
        elif row.active and row.failures:
            state += f", {row.failures} failed sign-in{'s' if row.failures != 1 else ''}"
        say(f"{row.name}\t{state}\tissued {row.created_at}\tlast sign-in {row.last_sign_in_at or 'never'}")
