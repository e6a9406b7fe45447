"""Modal dialogs: go to a paper, search titles, help."""

from __future__ import annotations

from typing import Callable

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option


class GotoScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Close")]

    def __init__(self, queue_length: int) -> None:
        super().__init__()
        self.queue_length = queue_length

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text("Go to a paper", style="bold"))
            yield Static(Text(f"A position in the queue (1-{self.queue_length}) or a paper id (or its start).",
                              style="dim"))
            yield Input(placeholder="position or id", id="goto-input")

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)


class SearchScreen(ModalScreen[str | None]):
    """Type to filter titles; Enter or a click opens the highlighted paper."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Close"), Binding("down", "focus_results", show=False)]

    def __init__(self, find: Callable[[str], list[dict]]) -> None:
        super().__init__()
        self.find = find

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(Text("Search titles", style="bold"))
            yield Input(placeholder="words from the title, or an id", id="search-input")
            yield OptionList(id="search-results")

    @on(Input.Changed)
    def changed(self, event: Input.Changed) -> None:
        results = self.query_one(OptionList)
        results.clear_options()
        for row in self.find(event.value):
            results.add_option(Option(f"#{row['seq']:<6} {row['title']}", id=row["id"]))
        if results.option_count:
            results.highlighted = 0

    @on(Input.Submitted)
    def submitted(self) -> None:
        results = self.query_one(OptionList)
        if results.highlighted is not None:
            self.dismiss(results.get_option_at_index(results.highlighted).id)

    @on(OptionList.OptionSelected)
    def selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_focus_results(self) -> None:
        self.query_one(OptionList).focus()


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss(None)", "Close")]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for key, description in self.keys:
            table.add_row(key, description)
        with VerticalScroll(classes="dialog wide", id="help"):
            yield Static(Text("Keys", style="bold"))
            yield Static(table)
            yield Static(Text(
                "\nWhile a form field has focus, letters and digits go into the field: ctrl+s saves, "
                "escape leaves the form without saving, Tab and Enter move between fields, "
                "ctrl+a selects a whole field so typing replaces it.\n"
                "Highlights in the abstract: technique (blue), claimed gain (green), compute (underlined).\n"
                "Keys can be remapped in the config file's [keys] table (binding id = \"keys\").\n"
                "ctrl+p opens the command palette. Press escape to close this help.", style="dim"))
