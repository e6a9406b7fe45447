"""`t`: statistics in three tabs. You: progress, pace for this session and overall, rates and edit
effort by prompt and model, with bars. Agreement: every annotator's, per field (`workbench agreement`). Team: each annotator's
work and the papers' progress (`workbench team status`). ← → (or 1-3) switch tabs."""

from __future__ import annotations

from typing import Callable

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.widgets import Static

from workbench.review import ReviewSession, SessionStats, TeamFigures
from workbench.safe_text import one_line, plain
from workbench.tables import bar, effort_table, rates_table, team_agreement_report, team_status_table
from workbench.tui.screens.dialogs import ReadingScreen
from workbench.vocab import (
    AWAITING_ADJUDICATION, COMPLETE, FIELDS, IN_PROGRESS, NOT_STARTED, STATUS_MARKS, STATUSES, field_name,
)

TABS = ("You", "Agreement", "Team")
PAPER_STATES = ((COMPLETE, "complete"), (IN_PROGRESS, "in progress"), (NOT_STARTED, "not started"),
                (AWAITING_ADJUDICATION, "waiting for adjudication"))


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
    if not stats.rates:
        return Group(head, pace, Text("No decisions yet.", style="dim"))
    return Group(head, pace, effort_table(stats.rates, width), rates_table(stats.rates, width))  # effort: the headline


WIDE = 100  # from this many columns the tabs show `workbench agreement`'s and `team status`'s tables


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _coefficient(c: dict) -> str:
    if c["value"] is None:
        return "—"
    return f"{c['value']:.2f}" + (f" [{c['ci95'][0]:.2f}, {c['ci95'][1]:.2f}]" if c["ci95"] else "")


def _narrow_agreement(report: dict) -> Text:
    """The agreement tab below WIDE columns: two lines per field, one per annotator."""
    text = plain(f"{len(report['annotators'])} annotators; {report['papers']:,} papers decided by two or more\n",
                 style="bold")
    for field in FIELDS:
        score = report["fields"][field]
        value = score["value"]
        text.append(f"\n{field_name(field)}", style="bold")
        text.append(f"\n  presence α {_coefficient(score['presence']['alpha'])} · "
                    f"AC1 {_coefficient(score['presence']['ac1'])}\n  value on {value['papers']:,} papers: token F1 "
                    + ("—" if value["token_f1"] is None else f"{value['token_f1']:.2f}") + f", exact {_pct(value['exact'])}"
                    + (f", same numbers {_pct(value['same_numbers'])}" if "same_numbers" in value else ""))
    text.append("\n\nEach against the others' consensus (exact)", style="bold")
    for who in report["annotators"]:
        text.append("\n")
        text.append_text(plain(one_line(who, 16), style="bold"))
        text.append(" " + " · ".join(f"{field_name(f)} {_pct(report['against_consensus'][who][f]['exact'])}"
                                     for f in FIELDS))
    return text


def agreement_renderable(figures: TeamFigures, width: int = 120) -> RenderableType:
    if figures.agreement is None:
        count = len(figures.status["annotators"])
        return Text(f"Agreement needs two or more annotators with decisions; this store has {count}.", style="dim")
    return team_agreement_report(figures.agreement) if width >= WIDE else _narrow_agreement(figures.agreement)


def _narrow_team(annotators: list[dict]) -> Text:
    """The team tab's annotators below WIDE columns: two lines each."""
    text = Text()
    for a in annotators:
        text.append("\n")
        text.append_text(plain(one_line(a["annotator"], 24), style="bold"))
        per_hour = "—" if a["decisions_per_hour"] is None else f"{a['decisions_per_hour']:.0f}"
        text.append(f"  {a['decisions']:,} decisions · {a['active_seconds'] / 60:.0f} min active · {per_hour}/hour"
                    f"\n  " + " ".join(f"{STATUS_MARKS[s]} {_pct(a['rates'][s])}" for s in STATUSES)
                    + f" · consensus {_pct(a['agreement_with_consensus'])} · leases {a['live_leases']}")
    return text


def team_renderable(figures: TeamFigures, width: int = 120) -> Group:
    status = figures.status
    papers = status["papers"]
    line = Text("Papers: ", style="bold")
    line.append("  ·  ".join(f"{papers[key]:,} {label}" for key, label in PAPER_STATES))
    dist = status["distribution"]
    setting = Text("No distribution set: every annotator's todo holds every paper they have not decided.", style="dim") \
        if dist is None else Text(f"Each paper needs {dist['per_paper']} decision{'s' * (dist['per_paper'] != 1)}"
                                  + ("" if dist["overlap"] is None else f" ({dist['overlap']:.0%} of them; the rest 1)")
                                  + f"; a lease lasts {dist['lease_seconds'] // 60} min.", style="dim")
    table = Text("No decisions yet.", style="dim") if not status["annotators"] else \
        team_status_table(status) if width >= WIDE else _narrow_team(status["annotators"])
    return Group(line, setting, table)


class StatsScreen(ReadingScreen):
    BINDINGS = [
        Binding("right", "tab(1)", "Next tab", show=False, priority=True),
        Binding("left", "tab(-1)", "Tab before", show=False, priority=True),
        *[Binding(str(n), f"show_tab({n - 1})", show=False, priority=True) for n in range(1, len(TABS) + 1)],
    ]

    def __init__(self, stats: SessionStats, width: int, open_keys: tuple[str, ...],
                 team: Callable[[], TeamFigures]) -> None:
        super().__init__("stats", open_keys, lambda: [
            Static(Text("Statistics", style="bold")), Static(id="stats-tabs"),
            Static(stats_renderable(stats, width), id="stats-body"), Static(Text("esc close", style="dim"))])
        self.stats, self.width, self.team = stats, width, team
        self.tab = 0
        self._figures: TeamFigures | None = None  # read when a team tab is first shown

    def on_mount(self) -> None:
        self._draw()

    def action_tab(self, delta: int) -> None:
        self.action_show_tab((self.tab + delta) % len(TABS))

    def action_show_tab(self, index: int) -> None:
        self.tab = index
        self._draw()

    def _draw(self) -> None:
        tabs = Text()
        for index, name in enumerate(TABS):
            tabs.append(f" {index + 1} {name} ", style="bold reverse" if index == self.tab else "dim")
            tabs.append(" ")
        tabs.append("  ← → switch", style="dim")
        self.query_one("#stats-tabs", Static).update(tabs)
        if self.tab == 0:
            body: RenderableType = stats_renderable(self.stats, self.width)
        else:
            if self._figures is None:
                self._figures = self.team()
            render = agreement_renderable if self.tab == 1 else team_renderable
            body = render(self._figures, self.width)
        self.query_one("#stats-body", Static).update(body)


def stats_screen(session: ReviewSession, width: int, open_keys: tuple[str, ...]) -> StatsScreen:
    """The reviewer's own figures now; the team's when their tab is first shown."""
    return StatsScreen(session.stats(), width, open_keys, session.team_figures)
