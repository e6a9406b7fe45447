"""`t`: progress, pace for this session and overall, rates by prompt and model, with bars."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from workbench.review import SessionStats
from workbench.safe_text import one_line, plain
from workbench.tables import bar, rates_table
from workbench.tui.screens.dialogs import ReadingScreen
from workbench.vocab import STATUS_MARKS


def _pace_cell(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def stats_renderable(stats: SessionStats, width: int = 120) -> Group:
    head = Text()
    head.append_text(plain(f"{one_line(stats.annotator, 40)}: {stats.decided} of {stats.total} papers decided  ",
                           style="bold"))
    head.append_text(bar(stats.decided / stats.total if stats.total else None, 30 if width >= 100 else 16))
    head.append("\n" + "   ".join(f"{STATUS_MARKS[s]} {n} {s}" for s, n in stats.counts.items()))
    pace = Table(title="Pace", title_justify="left")
    for column in ("", "decisions", "per hour", "median s/paper"):
        pace.add_column(column, justify="right" if column else "left", no_wrap=True)
    for label, numbers in (("this session", stats.this_session), ("overall", stats.overall)):
        pace.add_row(label, str(numbers["decisions"]), _pace_cell(numbers["decisions_per_hour"]),
                     _pace_cell(numbers["median_seconds_per_paper"]))
    rates = rates_table(stats.rates, width) if stats.rates else Text("No decisions yet.", style="dim")
    return Group(head, pace, rates)


def stats_screen(stats: SessionStats, width: int, open_keys: tuple[str, ...]) -> ReadingScreen:
    return ReadingScreen("stats", open_keys, lambda: [
        Static(Text("Statistics", style="bold")), Static(stats_renderable(stats, width), id="stats-body"),
        Static(Text("esc close", style="dim"))])
