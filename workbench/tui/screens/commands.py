"""The command list (ctrl+p on the review screen): every action its keys could do now, by name.

Textual's own palette searches in a worker and runs the chosen command after it has closed, so in a
burst (`ctrl+p reject enter a`) the `a` was routed before the rejection ran and acted first. This one
filters as each key is typed, and Enter takes the first match of what is typed then; the chosen
action runs as the dialog's answer, which the next key waits for (tui/keys.py).
"""

from __future__ import annotations

from typing import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from workbench.tui.screens.dialogs import Dialog

Entry = tuple[str, str, Callable[[], object]]  # keys, description, action (paper_keys.palette_entries)


def matching(entries: list[Entry], query: str) -> list[Entry]:
    """The entries whose description and keys hold every typed word; those whose description starts with
    the first word come first, each group in the entries' order."""
    words = query.casefold().split()
    found = [e for e in entries if all(w in f"{e[1]} {e[0]}".casefold() for w in words)]
    return sorted(found, key=lambda e: not (words and e[1].casefold().startswith(words[0])))


class CommandsScreen(Dialog["Callable[[], object] | None"]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Close", priority=True),
                Binding("enter", "run", "Run", priority=True),
                Binding("down", "focus_list", show=False, priority=True)]

    def __init__(self, entries: list[Entry]) -> None:
        super().__init__()
        self.entries = entries
        self.shown: list[Entry] = []
        self.listed_for: str | None = None

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "focus_list":  # in the list, down moves the highlight
            return isinstance(self.focused, Input)
        return True

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(Text("Commands", style="bold"))
            yield Input(placeholder="type to narrow: accept, go to, search, flag…", id="commands-input")
            yield OptionList(id="commands-list")

    def on_mount(self) -> None:
        self.list_for("")

    @on(Input.Changed)
    def changed(self, event: Input.Changed) -> None:
        self.list_for(event.value)

    def list_for(self, query: str) -> None:
        if query == self.listed_for:
            return
        self.listed_for, self.shown = query, matching(self.entries, query)
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options([Option(Text.assemble(description, (f"  {keys}", "dim")))
                             for keys, description, _ in self.shown])
        if self.shown:
            options.highlighted = 0

    def action_run(self) -> None:
        """Enter: the highlighted command of what is typed now (the list is brought up to date first)."""
        if isinstance(self.focused, Input):
            self.list_for(self.query_one(Input).value)
        highlighted = self.query_one(OptionList).highlighted
        if highlighted is not None and highlighted < len(self.shown):
            self.dismiss(self.shown[highlighted][2])

    @on(OptionList.OptionSelected)
    def selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.shown[event.option_index][2])

    def action_focus_list(self) -> None:
        self.query_one(OptionList).focus()
