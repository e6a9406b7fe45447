"""A fixed-size text view drawn line by line (Textual's Line API), scrolled by lines.

The review screen shows a new paper on every decision. With ordinary widgets
whose height follows their content, each new paper cost a layout pass plus a
second one when the new sizes landed (measured: p95 45 ms from `a` to the next
paper). These panels keep their size, so new text is only a repaint.

Text is wrapped lazily, a piece at a time, only as far as the view needs: an
abstract at the 100,000-character limit took 106 ms to wrap whole, more than
three frames. A long text is cut into pieces at sentence or word boundaries
(each piece starts a new line); anything of ordinary length is one piece.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

PIECE_CHARS = 4_000  # texts longer than twice this are wrapped piece by piece


def pieces(text: Text) -> list[Text]:
    """The text cut near every PIECE_CHARS characters, after a sentence (else a space)."""
    plain = text.plain
    if len(plain) <= 2 * PIECE_CHARS:
        return [text]
    cuts, start = [], 0
    while len(plain) - start > PIECE_CHARS:
        limit = start + PIECE_CHARS
        cut = max(plain.rfind(". ", start, limit) + 2, plain.rfind("\n", start, limit) + 1)
        if cut <= start + 1:
            cut = plain.rfind(" ", start, limit) + 1
        if cut <= start + 1:
            cut = limit  # one unbroken word: fold it anywhere
        cuts.append(cut)
        start = cut
    return list(text.divide(cuts))


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
        self._pieces: list[Text] = []
        self._strips: list[Strip] = []
        self._wrapped_pieces = 0
        self._wrapped_width = -1
        self._frame: tuple[Style, int, int] = (Style(), 0, 0)
        self._after_draw: Callable[[], object] | None = None

    # ------------------------------------------------------------------ content

    def set_text(self, text: Text) -> None:
        """Show `text` (styles on its spans; a base style on the Text itself would be lost)."""
        self._text = text
        self._offset = 0
        self._reset()
        self.refresh()  # a repaint, not a layout: the panel's size does not change

    def after_next_draw(self, callback: Callable[[], object]) -> None:
        """Call `callback` once the text set last has been drawn (replacing one still waiting)."""
        self._after_draw = callback

    @property
    def plain(self) -> str:
        return self._text.plain

    def scroll_lines(self, delta: int) -> None:
        height = self.size.height
        self._wrap_until(self._offset + delta + 2 * height)
        top = max(0, len(self._strips) - height)
        offset = max(0, min(top, self._offset + delta))
        if offset != self._offset:
            self._offset = offset
            self.refresh()

    # ------------------------------------------------------------------ drawing

    def _reset(self) -> None:
        self._pieces = pieces(self._text)
        self._strips = []
        self._wrapped_pieces = 0

    @property
    def _complete(self) -> bool:
        return self._wrapped_pieces >= len(self._pieces)

    def _wrap_until(self, lines: int) -> None:
        """Wrap pieces until there are `lines` lines (or the text ends), at the current width."""
        width = max(1, self.content_size.width)
        if width != self._wrapped_width:
            self._reset()
            self._wrapped_width = width
        console = self.app.console
        while len(self._strips) < lines and not self._complete:
            wrapped = self._pieces[self._wrapped_pieces].wrap(console, width, overflow="fold")
            self._strips.extend(Strip(line.render(console), line.cell_len) for line in wrapped)
            self._wrapped_pieces += 1

    def on_resize(self) -> None:
        self._wrapped_width = -1
        self._offset = 0

    def render_lines(self, crop: Region) -> list[Strip]:
        # Once per frame, not per line: the widget's style is resolved from its
        # ancestors on every call, and cost more than wrapping the whole abstract.
        self._frame = (self.rich_style, self.size.width, self.size.height)
        self._wrap_until(self._offset + self.size.height + 1)
        if self._after_draw is not None:  # runs from this panel's queue, after the frame is written
            self.call_next(self._after_draw)
            self._after_draw = None
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        base, width, height = self._frame
        strips = self._strips
        hidden_below = len(strips) - (self._offset + height)
        if y == height - 1 and (hidden_below > 0 or not self._complete):
            more = f" ↓ {hidden_below + 1} more lines " if self._complete else " ↓ more "
            return Strip([Segment(more, Style(dim=True, reverse=True))]).apply_style(base).extend_cell_length(width, base)
        index = self._offset + y
        if index >= len(strips):
            return Strip.blank(width, base)
        return strips[index].apply_style(base).extend_cell_length(width, base)
