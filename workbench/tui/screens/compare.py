"""`c`: this paper's suggestions from every prompt and model side by side, with the human decision."""

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
from workbench.review import PaperView
from workbench.safe_text import plain
from workbench.tui.notices import tell
from workbench.vocab import FIELDS, field_label


def comparison_table(view: PaperView, selected: int) -> Table:
    """Columns: suggestions 1-9 and the decision; a value differing from the most common one is yellow."""
    suggestions = view.suggestions[:9]
    table = Table(show_lines=True, expand=True)
    table.add_column("", style="bold", no_wrap=True)
    for number, s in enumerate(suggestions, start=1):
        header = plain(f"{number}. {s.prompt_label}\n{s.model} · {s.outcome}")
        if number == selected:
            header.stylize("reverse")
        table.add_column(header)
    decision = view.annotation if view.decided else None
    table.add_column(Text(f"yours: {decision.status}" if decision else "yours: not decided", style="bold"))
    for field in FIELDS:
        values = [s.values.get(field) if s.ok else None for s in suggestions]
        common = Counter(normalise_for_comparison(v) for v in values).most_common(1)[0][0]
        cells = []
        for value in values:
            text = plain(value or "—", style="" if value else "dim")
            if normalise_for_comparison(value) != common:
                text.stylize("bold yellow")
            cells.append(text)
        mine = decision.values.get(field) if decision else None
        table.add_row(field_label(field), *cells, plain(mine or "—", style="" if mine else "dim"))
    return table


class CompareScreen(ModalScreen[tuple[str, int] | None]):
    BINDINGS = [
        Binding("escape,c,q", "dismiss(None)", "Close"),
        Binding("a", "choose('accept')", "Accept selected"),
        Binding("e", "choose('edit')", "Edit selected"),
        *[Binding(str(n), f"select({n})", show=False) for n in range(1, 10)],
    ]

    def __init__(self, view: PaperView) -> None:
        super().__init__()
        self.view = view
        self.selected = (view.shown or 0) + 1

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide", id="compare"):
            yield Static(plain(self.view.paper.title, style="bold"))
            yield Static(id="compare-table")
            yield Static(Text("1-9 select a suggestion · a accept it · e edit it · esc close. "
                              "Yellow: differs from the most common value.", style="dim"))

    def on_mount(self) -> None:
        self._draw()

    def _draw(self) -> None:
        self.query_one("#compare-table", Static).update(comparison_table(self.view, self.selected))

    def action_select(self, number: int) -> None:
        if number <= min(9, len(self.view.suggestions)):
            self.selected = number
            self._draw()

    def action_choose(self, what: str) -> None:
        suggestion = self.view.suggestions[self.selected - 1]
        if what == "accept" and not suggestion.ok:
            tell(self, "That suggestion failed; choose another or edit it.", severity="warning")
            return
        self.dismiss((what, self.selected))
