"""`t`: progress, pace for this session and overall, rates by prompt and model, with bars."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from workbench.analytics import rates_by_suggestion, throughput
from workbench.report import bar, rates_table
from workbench.review import ReviewSession


def stats_renderable(session: ReviewSession) -> Group:
    db, who = session.db, session.annotator
    decided, total = session.decided, session.total_papers
    head = Text()
    head.append(f"{who}: {decided} of {total} papers decided  ", style="bold")
    head.append_text(bar(decided / total if total else None, 30))
    counts = session.counts
    head.append(f"\n✓ {counts['accepted']} accepted   ✎ {counts['edited']} edited   ✗ {counts['rejected']} rejected")
    pace = Table(title="Pace", title_justify="left")
    for column in ("", "decisions", "per hour", "median s/paper"):
        pace.add_column(column, justify="right" if column else "left")
    for label, numbers in (("this session", throughput(db, annotator=who, session=session.session_id)),
                           ("overall", throughput(db, annotator=who))):
        pace.add_row(label, str(numbers["decisions"]),
                     "—" if numbers["decisions_per_hour"] is None else f"{numbers['decisions_per_hour']:.1f}",
                     "—" if numbers["median_seconds_per_paper"] is None else f"{numbers['median_seconds_per_paper']:.1f}")
    rates = rates_by_suggestion(db, who)
    parts = [head, pace, rates_table(rates) if rates else Text("No decisions yet.", style="dim")]
    return Group(*parts)


class StatsScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,t,q", "dismiss(None)", "Close")]

    def __init__(self, session: ReviewSession) -> None:
        super().__init__()
        self.session = session

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide", id="stats"):
            yield Static(Text("Statistics", style="bold"))
            yield Static(stats_renderable(self.session))
            yield Static(Text("esc close", style="dim"))
