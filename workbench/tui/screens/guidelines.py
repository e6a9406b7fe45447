"""`h`: the annotation guidelines (a Markdown file) beside the task."""

from __future__ import annotations

from textual.widgets import Markdown, Static

from workbench.config import Guidelines
from workbench.safe_text import clean, plain
from workbench.tui.screens.dialogs import ReadingScreen


def guidelines_screen(guidelines: Guidelines, open_keys: tuple[str, ...]) -> ReadingScreen:
    footer = plain(str(guidelines.path), style="dim")
    footer.append("  ·  esc close", style="dim")
    return ReadingScreen("guidelines", open_keys, lambda: [Markdown(clean(guidelines.text)), Static(footer)])
