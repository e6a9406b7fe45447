"""A fixed-size text view drawn line by line (Textual's Line API), scrolled by lines.

The review screen shows a new paper on every decision. With ordinary widgets
whose height follows their content, each new paper cost a layout pass plus a
second one when the new sizes landed (measured: p95 45 ms from `a` to the next
paper). These panels keep their size, so new text is only a repaint.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget


class TextPanel(Widget, can_focus=False):
    DEFAULT_CSS = """
    TextPanel {
        height: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._text = Text()
        self._offset = 0
        self._strips: list[Strip] | None = None
        self._wrapped_width = -1

    # ------------------------------------------------------------------ content

    def set_text(self, text: Text) -> None:
        """Show `text` (styles on its spans; a base style on the Text itself would be lost)."""
        self._text = text
        self._offset = 0
        self._strips = None
        self.refresh()  # a repaint, not a layout: the panel's size does not change

    @property
    def plain(self) -> str:
        return self._text.plain

    def scroll_lines(self, delta: int) -> None:
        lines = len(self._wrapped())
        top = max(0, lines - self.size.height)
        offset = max(0, min(top, self._offset + delta))
        if offset != self._offset:
            self._offset = offset
            self.refresh()

    # ------------------------------------------------------------------ drawing

    def _wrapped(self) -> list[Strip]:
        width = max(1, self.content_size.width)
        if self._strips is None or width != self._wrapped_width:
            console = self.app.console
            lines = self._text.wrap(console, width, overflow="fold")
            self._strips = [Strip(line.render(console), line.cell_len) for line in lines]
            self._wrapped_width = width
        return self._strips

    def on_resize(self) -> None:
        self._strips = None
        self._offset = 0

    def render_line(self, y: int) -> Strip:
        strips = self._wrapped()
        width, height = self.size.width, self.size.height
        base = self.rich_style
        hidden_below = len(strips) - (self._offset + height)
        if y == height - 1 and hidden_below > 0:
            more = f" ↓ {hidden_below + 1} more lines "
            return Strip([Segment(more, Style(dim=True, reverse=True))]).apply_style(base).extend_cell_length(width, base)
        index = self._offset + y
        if index >= len(strips):
            return Strip.blank(width, base)
        return strips[index].apply_style(base).extend_cell_length(width, base)
