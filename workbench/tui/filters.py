"""The last guard before the terminal: no control character from any widget reaches it.

Everything the TUI shows from data is already cleaned (`safe_text`), visibly.
This filter catches what might slip past (a widget that renders text we did not
clean): it drops control characters from every painted line. Dropping, not
replacing, keeps each line's width, which was measured with them at zero width.
"""

from __future__ import annotations

import re

from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class DropControlCharacters(LineFilter):
    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        if not any(_CONTROL.search(s.text) for s in segments if not s.control):
            return segments
        return [s if s.control else Segment(_CONTROL.sub("", s.text), s.style, s.control) for s in segments]
