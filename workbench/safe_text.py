"""Untrusted text made safe to show: the one way data reaches a screen.

Titles, abstracts, organisation lines, annotator names, model replies and
servers' error messages are data. Shown anywhere (a TUI widget, a dialog, a
notification, an option list, a CLI table or line) they go through here:

- `clean()` replaces every control character except newline and tab with a
  visible stand-in (ESC becomes "␛", so `\\x1b[2J` shows as text instead of
  clearing the screen), and neutralises BIDI overrides, invisible format
  characters (zero-width space and joiners, BOM, soft hyphen), characters whose width terminals
  disagree on (Hangul fillers, variation selectors, skin-tone modifiers) and lone surrogates.
  It keeps the length, so evidence spans still index the cleaned text.
- `plain()` makes a Rich `Text` of it: Text is never parsed as markup, so
  `[@click=app.quit]` in a title stays those characters.
- `one_line()` is `clean()` for a single line of limited length.

Markup strings are for text we write ourselves; data never goes into one.
`tests/test_untrusted_text.py` walks the source to keep it that way.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

_REPLACEMENT = "\ufffd"
_BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))

_TABLE: dict[int, str] = {code: chr(0x2400 + code) for code in range(0x20) if code not in (0x09, 0x0A)}
_TABLE[0x7F] = "\u2421"  # ␡
_TABLE.update({code: _REPLACEMENT for code in range(0x80, 0xA0)})  # C1 controls (8-bit CSI, OSC, ...)
_TABLE.update({code: _REPLACEMENT for code in _BIDI})
_TABLE.update({code: _REPLACEMENT for code in range(0xD800, 0xE000)})  # lone surrogates cannot be encoded
_TABLE.update({0x2028: " ", 0x2029: " "})  # line and paragraph separators
# Invisible format characters (Unicode category Cf: zero-width space and joiners, word joiner,
# BOM, soft hyphen, tags...). Rich counts them as no cell and some terminals as one, so a title
# holding them pushed the pane's border out of line (seen in tmux at 80x24); they also hide text.
_FORMAT = (0x00AD, *range(0x0600, 0x0606), 0x06DD, 0x070F, 0x180E, *range(0x200B, 0x200E), *range(0x2060, 0x2066),
           *range(0x206A, 0x2070), 0xFEFF, *range(0xFFF9, 0xFFFC), 0xE0001, *range(0xE0020, 0xE0080))
_TABLE.update({code: _REPLACEMENT for code in _FORMAT})
# Characters terminals and Rich disagree on the width of, or draw as nothing: Hangul fillers,
# variation selectors, lone emoji skin-tone modifiers, the combining grapheme joiner and the
# noncharacters U+FFFE/U+FFFF. They too moved the pane's border, and a variation selector left
# marks painted on screen after its paper had gone (seen in tmux at 80x24).
_AMBIGUOUS = (0x034F, 0x115F, 0x1160, 0x3164, 0xFFA0, 0xFFFE, 0xFFFF, *range(0xFE00, 0xFE10),
              *range(0x1F3FB, 0x1F400), *range(0xE0100, 0xE01F0))
_TABLE.update({code: _REPLACEMENT for code in _AMBIGUOUS})



def _character_class(codes: list[int]) -> str:
    """A regex class of these code points written as ranges: a class of 600 single characters
    (astral ones among them) is tested one by one, and scanning a 100,000-character abstract took
    34 ms instead of 0.7 ms."""
    parts, start = [], None
    for index, code in enumerate(codes):
        start = code if start is None else start
        if index + 1 == len(codes) or codes[index + 1] != code + 1:
            parts.append(re.escape(chr(start)) + ("" if start == code else "-" + re.escape(chr(code))))
            start = None
    return "[" + "".join(parts) + "]"


_UNSAFE = re.compile(_character_class(sorted(_TABLE)))
_LINE_BREAKS = re.compile(r"[\t\n]+")


def clean(text: str | None) -> str:
    """`text` with every character a terminal would act on replaced, same length."""
    if not text:
        return ""
    if _UNSAFE.search(text) is None:  # the common case: one C-speed scan
        return text
    return text.translate(_TABLE)


def plain(text: str | None, style: str = "") -> Text:
    """A Rich Text of untrusted text: cleaned, never parsed as markup."""
    from rich.text import Text  # here, not at the top: a command that prints lines never loads rich

    return Text(clean(text), style=style)


def one_line(text: str | None, limit: int | None = None) -> str:
    """Cleaned text on one line (tabs and newlines become spaces), cut to `limit` with "…"."""
    line = _LINE_BREAKS.sub(" ", clean(text))
    if limit is not None and len(line) > limit:
        line = line[: max(0, limit - 1)] + "…"
    return line


def is_clean(text: str) -> bool:
    return _UNSAFE.search(text) is None


def safe_console(**options):
    """The console for CLI reports: nothing printed is parsed as markup, and control
    characters in any segment are made visible before they reach the terminal (the last
    guard for CLI tables: every painted segment is cleaned). Built on Rich's public render
    hook: each renderable is rendered and its text segments cleaned on the way out."""
    from rich.console import Console, RenderHook
    from rich.segment import Segment

    class Cleaned:
        def __init__(self, renderable):
            self.renderable = renderable

        def __rich_console__(self, console, options):
            for segment in console.render(self.renderable, options):
                yield segment if segment.control else Segment(clean(segment.text), segment.style)

    class CleanEverything(RenderHook):
        def process_renderables(self, renderables):
            return [Cleaned(renderable) for renderable in renderables]

    console = Console(markup=False, emoji=False, highlight=False, **options)
    console.push_render_hook(CleanEverything())
    return console
