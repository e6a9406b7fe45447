"""`c`: this paper's suggestions (and, when adjudicating, each annotator's decision) side by side,
and a decision composed from them.

1-9 picks a source for the row under the cursor: on "all fields" every field takes it, on a
field row only that field (technique from one prompt, gain from a reviewer...). The last
column shows the result; `a` saves it, `e` opens it in the form. A value differing from
the most common one is yellow.
"""

from __future__ import annotations

from collections import Counter

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from workbench.metrics import normalise_for_comparison
from workbench.review import Composition, PaperView, Source, sources
from workbench.safe_text import plain
from workbench.tui.notices import tell
from workbench.vocab import FIELDS, field_label

ROWS = ("all fields", *FIELDS)


def comparison_table(view: PaperView, columns: list[Source], choice: dict[str, int], row: int) -> Table:
    table = Table(show_lines=True, expand=True)
    table.add_column("", style="bold", no_wrap=True)
    for number, source in enumerate(columns, start=1):
        header = plain(f"{number}. {source.heading}")
        if all(choice[f] == number - 1 for f in FIELDS):
            header.stylize("reverse")
        table.add_column(header)
    table.add_column(Text("→ your decision", style="bold"))
    marker = lambda index: "▸ " if index == row else "  "  # noqa: E731
    heading = [Text(marker(0) + "all fields", style="bold")]
    heading += [Text("") for _ in columns]
    decision = view.annotation if view.decided else None
    heading.append(Text(f"now: {decision.status}" if decision else "now: not decided", style="dim"))
    table.add_row(*heading)
    for index, field in enumerate(FIELDS, start=1):
        values = [source.values.get(field) for source in columns]
        common = Counter(normalise_for_comparison(v) for v in values).most_common(1)[0][0]
        cells = [Text(marker(index) + field_label(field), style="bold")]
        for number, value in enumerate(values):
            cell = plain(value or "—", style="" if value else "dim")
            if normalise_for_comparison(value) != common:
                cell.stylize("yellow")
            if choice[field] == number:
                cell.stylize("bold reverse")
            cells.append(cell)
        chosen = values[choice[field]]
        result = plain(chosen or "—", style="bold" if chosen else "dim")
        result.append(f"  ({choice[field] + 1})", style="dim")
        cells.append(result)
        table.add_row(*cells)
    return table


class CompareScreen(ModalScreen[tuple[str, Composition] | None]):
    BINDINGS = [
        Binding("escape,c,q", "dismiss(None)", "Close"),
        Binding("a", "choose('accept')", "Save this decision"),
        Binding("e", "choose('edit')", "Edit it"),
        Binding("up,k", "row(-1)", "Field up", show=False, priority=True),  # not the scroll view's scrolling
        Binding("down,j", "row(1)", "Field down", show=False, priority=True),
        *[Binding(str(n), f"select({n})", show=False) for n in range(1, 10)],
    ]

    def __init__(self, view: PaperView) -> None:
        super().__init__()
        self.view = view
        self.columns = sources(view)
        shown = view.suggestion
        start = next((i for i, s in enumerate(self.columns) if shown is not None and s.suggestion is shown), 0)
        self.choice = {f: start for f in FIELDS}
        self.row = 0

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide", id="compare"):
            yield Static(plain(self.view.paper.title, style="bold"))
            yield Static(Text("↑ ↓ a row · 1-9 take that column for the row (all fields, or one field) · "
                              "a save · e edit · esc close · yellow: differs from the most common value",
                              style="dim"))
            yield Static(id="compare-table")

    def on_mount(self) -> None:
        self._draw()

    def _draw(self) -> None:
        self.query_one("#compare-table", Static).update(
            comparison_table(self.view, self.columns, self.choice, self.row))

    def action_row(self, delta: int) -> None:
        self.row = max(0, min(len(ROWS) - 1, self.row + delta))
        self._draw()

    def action_select(self, number: int) -> None:
        if number > len(self.columns):
            return
        fields = FIELDS if self.row == 0 else (FIELDS[self.row - 1],)
        for field in fields:
            self.choice[field] = number - 1
        self._draw()

    def action_choose(self, what: str) -> None:
        composition = Composition.of(self.columns, self.choice, self.view.suggestion)
        if what == "accept" and not composition.rejects and \
                any(not self.columns[i].usable for i in set(self.choice.values())):
            tell(self, "A column you took has no values (a failed suggestion, or a rejection taken for only "
                       "some fields); choose another, or e to edit.", severity="warning")
            return
        self.dismiss((what, composition))
