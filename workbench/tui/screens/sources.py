"""`c`: this paper's suggestions (and, when adjudicating, each annotator's decision) side by side,
and a decision composed from them.

1-9 picks a source for the row under the cursor: on "all fields" every field takes it, on a
field row only that field (technique from one prompt, gain from a reviewer...). The last
column shows the result; `a` saves it, `e` opens it in the form. A value differing from
the most common one is yellow.
"""

from __future__ import annotations

from collections import Counter

from rich import box
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from workbench.review import Composition, PaperView, Source, comparable, sources
from workbench.safe_text import one_line, plain
from workbench.tui.notices import tell
from workbench.tui.screens.dialogs import Dialog
from workbench.vocab import FIELDS, field_label

ROWS = ("all fields", *FIELDS)
NARROW = 100  # below this many columns the screen shows one source at a time beside the result
LABEL_WIDTH = 15


def _table(headers: list[Text]) -> Table:
    """One row of the comparison. Every row is its own table (so the screen can scroll to the
    cursor's row), with the same column widths: the labels' fixed, the others shared equally."""
    table = Table(box=box.SQUARE, show_header=any(h.plain for h in headers), show_edge=False, expand=True)
    table.add_column("", style="bold", no_wrap=True, width=LABEL_WIDTH)
    for header in headers:
        table.add_column(header, ratio=1)
    return table


def comparison_tables(view: PaperView, columns: list[Source], choice: dict[str, int], row: int,
                      visible: list[int] | None = None) -> list[Table]:
    """The headings, then one table per row (all fields, then each field): the `visible`
    columns (0-based indexes; all by default) and the result."""
    visible = list(range(len(columns))) if visible is None else visible
    headers = []
    for index in visible:
        header = plain(f"{index + 1}. {columns[index].heading}")
        if all(choice[f] == index for f in FIELDS):
            header.stylize("reverse")
        headers.append(header)
    tables = [_table([*headers, Text("→ your decision", style="bold")])]
    blank = [Text("") for _ in range(len(visible) + 1)]
    marker = lambda index: "▸ " if index == row else "  "  # noqa: E731
    decision = view.annotation if view.decided else None
    first = _table(blank)
    first.add_row(Text(marker(0) + "all fields", style="bold"), *blank[1:],
                  Text(f"now: {decision.status}" if decision else "now: not decided", style="dim"))
    tables.append(first)
    for index, field in enumerate(FIELDS, start=1):
        values = [source.values.get(field) for source in columns]
        common = Counter(comparable(v) for v in values).most_common(1)[0][0]
        cells = [Text(marker(index) + field_label(field), style="bold")]
        for number in visible:
            value = values[number]
            cell = plain(value or "—", style="" if value else "dim")
            if comparable(value) != common:
                cell.stylize("yellow")
            if choice[field] == number:
                cell.stylize("bold reverse")
            cells.append(cell)
        chosen = values[choice[field]]
        result = plain(chosen or "—", style="bold" if chosen else "dim")
        result.append(f"  ({choice[field] + 1})", style="dim")
        cells.append(result)
        table = _table(blank)
        table.add_row(*cells)
        tables.append(table)
    return tables


class CompareScreen(Dialog[tuple[str, Composition] | None]):
    BINDINGS = [  # priority: run as each key is routed (tui/keys.py); up/down are not the scroll view's
        Binding("escape,c,q", "dismiss(None)", "Close", priority=True),
        Binding("a", "choose('accept')", "Save this decision", priority=True),
        Binding("e", "choose('edit')", "Edit it", priority=True),
        Binding("up,k", "row(-1)", "Field up", show=False, priority=True),
        Binding("down,j", "row(1)", "Field down", show=False, priority=True),
        Binding("left", "source(-1)", "Source before", show=False, priority=True),
        Binding("right", "source(1)", "Source after", show=False, priority=True),
        *[Binding(str(n), f"select({n})", show=False, priority=True) for n in range(1, 10)],
    ]

    def __init__(self, view: PaperView) -> None:
        super().__init__()
        self.view = view
        self.columns = sources(view)
        shown = view.suggestion
        start = next((i for i, s in enumerate(self.columns) if shown is not None and s.suggestion is shown), 0)
        self.choice = {f: start for f in FIELDS}
        self.row = 0
        self.source = start  # the one source shown beside the result on a narrow terminal

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide", id="compare"):
            yield Static(plain(f"#{self.view.paper.seq}  {one_line(self.view.paper.title, 240)}", style="bold"))
            yield Static(id="compare-hint")
            yield Static(id="compare-head")
            for index in range(len(ROWS)):
                yield Static(id=f"compare-row-{index}", classes="compare-row")

    @property
    def narrow(self) -> bool:
        """One source at a time beside the result (← → move between sources)."""
        return self.app.size.width < NARROW and len(self.columns) > 1

    def on_mount(self) -> None:
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        visible = [self.source] if self.narrow else None
        hint = Text("↑ ↓ a row · ", style="dim")
        if self.narrow:
            hint.append(f"← → source {self.source + 1} of {len(self.columns)}", style="bold")
            hint.append(" · ", style="dim")
        hint.append("1-9 take that column for the row (all fields, or one) · a save · e edit · esc close · "
                    "yellow: differs from the most common value", style="dim")
        self.query_one("#compare-hint", Static).update(hint)
        head, *rows = comparison_tables(self.view, self.columns, self.choice, self.row, visible)
        self.query_one("#compare-head", Static).update(head)
        for index, table in enumerate(rows):
            self.query_one(f"#compare-row-{index}", Static).update(table)
        # The cursor's row stays in sight (after this refresh has laid the rows out).
        self.call_after_refresh(self.query_one("#compare", VerticalScroll).scroll_to_widget,
                                self.query_one(f"#compare-row-{self.row}"), animate=False)

    def action_row(self, delta: int) -> None:
        self.row = max(0, min(len(ROWS) - 1, self.row + delta))
        self._draw()

    def action_source(self, delta: int) -> None:
        self.source = (self.source + delta) % len(self.columns)
        self._draw()

    def action_select(self, number: int) -> None:
        if number > len(self.columns):
            return
        fields = FIELDS if self.row == 0 else (FIELDS[self.row - 1],)
        for field in fields:
            self.choice[field] = number - 1
        self.source = number - 1
        self._draw()

    def action_choose(self, what: str) -> None:
        composition = Composition.of(self.columns, self.choice, self.view.suggestion)
        if what == "accept" and not composition.rejects and \
                any(not self.columns[i].usable for i in set(self.choice.values())):
            tell(self, "A column you took has no values (a failed suggestion, or a rejection taken for only "
                       "some fields); choose another, or e to edit.", severity="warning")
            return
        self.dismiss((what, composition))
