"""`h`: the annotation guidelines (a Markdown file): beside the task from 120 columns, over it below."""

from __future__ import annotations

from textual.widget import Widget
from textual.widgets import Markdown, Static

from workbench.config import Guidelines
from workbench.safe_text import clean, plain
from workbench.tui.screens.dialogs import ReadingScreen


def guidelines_widgets(guidelines: Guidelines, closing: str = "h hides them") -> list[Widget]:
    footer = plain(str(guidelines.path), style="dim")
    footer.append(f"  ·  {closing}", style="dim")
    return [Markdown(clean(guidelines.text)), Static(footer)]


def guidelines_screen(guidelines: Guidelines, open_keys: tuple[str, ...]) -> ReadingScreen:
    """Below 120 columns: over the task, closed by esc, q or the key that opened it."""
    return ReadingScreen("guidelines", open_keys, lambda: guidelines_widgets(guidelines, "esc close"))
