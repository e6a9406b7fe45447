"""The command list (ctrl+p on the review screen): every action its keys could do now, by name.

Textual's own palette searches in a worker and runs the chosen command after it has closed, so in a
burst (`ctrl+p reject enter a`) the `a` was routed before the rejection ran and acted first. This one
filters as each key is typed, and Enter takes the first match of what is typed then; the chosen
action runs as the dialog's answer, which the next key waits for (tui/keys.py).
"""

from __future__ import annotations

from typing import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, OptionList, Static

from workbench.tui.screens.dialogs import PickDialog

Entry = tuple[str, str, Callable[[], object]]  # keys, description, action (paper_keys.palette_entries)


def matching(entries: list[Entry], query: str) -> list[Entry]:
    """The entries whose description and keys hold every typed word; those whose description starts with
    the first word come first, each group in the entries' order."""
    words = query.casefold().split()
    found = [e for e in entries if all(w in f"{e[1]} {e[0]}".casefold() for w in words)]
    return sorted(found, key=lambda e: not (words and e[1].casefold().startswith(words[0])))


class CommandsScreen(PickDialog["Callable[[], object] | None"]):
    def __init__(self, entries: list[Entry]) -> None:
        super().__init__()
        self.entries = entries
        self.shown: list[Entry] = []  # the entries listed now, in order

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(Text("Commands", style="bold"))
            yield Input(placeholder="type to narrow: accept, go to, search, flag…", id="commands-input")
            yield OptionList(id="commands-list")

    def on_mount(self) -> None:
        self.list_for("")

    def entries_for(self, query: str) -> list[tuple[Text, Callable[[], object]]]:
        self.shown = matching(self.entries, query)
        return [(Text.assemble(description, (f"  {keys}", "dim")), action) for keys, description, action in self.shown]
