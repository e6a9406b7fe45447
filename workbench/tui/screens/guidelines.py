"""`h`: the annotation guidelines (a Markdown file) beside the task."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown, Static

from workbench.config import Guidelines
from workbench.safe_text import clean, plain


class GuidelinesScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,h,q", "dismiss(None)", "Close")]

    def __init__(self, guidelines: Guidelines) -> None:
        super().__init__()
        self.guidelines = guidelines

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide", id="guidelines"):
            yield Markdown(clean(self.guidelines.text))
            footer = plain(str(self.guidelines.path), style="dim")
            footer.append("  ·  esc close", style="dim")
            yield Static(footer)
            yield Static(Text(""))
