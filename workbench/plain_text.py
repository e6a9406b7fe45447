"""An abstract as it prints: LaTeX escapes and simple inline math turned into their characters, with a
map from every character of that text back to the stored abstract.

A model copies what it reads. Sent `5\\%`, a small model wrote `5\\` under a strict JSON schema (`\\%` is
not a JSON escape) and the figure was lost; sent `5%`, it copies `5%`. Grounding aligns a quote with this
text too and maps the span back, so evidence and highlights stay exact on the stored abstract.

What is turned into what it prints (everything else is kept as it is, character for character):
- escapes `\\%` `\\&` `\\_` `\\$` `\\#` `\\{` `\\}`, the spaces `\\,` `\\;` `\\:` and `\\ ` (a space), `\\!` (nothing);
- symbol commands (`\\times` ×, `\\sim` ~, `\\approx` ≈, `\\leq` ≤, Greek letters, …: `COMMANDS`) anywhere;
- font commands with one braced argument (`\\textbf{x}`, `\\emph{x}`, `\\mathrm{x}`, …): the argument;
- inline math `$…$`: its content, with the braces of `^{5}` dropped and the rules above applied. A `$`
  opens math only when the next `$` closes it within `MAX_MATH_CHARS`, with no space just inside either
  delimiter and no line break (pandoc's rule): "costs $5 and $10" stays as it is. A `$` that opens
  nothing is kept;
- `~` (LaTeX's tied space) is a space when it ties a letter or digit to what follows ("wav2vec~2.0");
  elsewhere it is kept ("5.5 ~ 221.3X", "(~billion") - scraped abstracts use it for "about".
Unknown commands (`\\methodname`) are kept as written.

The text is made of units, each a run of the stored abstract and what it prints: one character that
prints as itself, or an escape, a command, a font command or a whole math group. A span of the plain
text maps back to the units it touches; a span that cuts a unit (half of `$2\\times$`) is widened to
the whole unit, so the stored span always prints exactly the (widened) plain text.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

MAX_MATH_CHARS = 80  # the longest $…$ read as inline math (content); longer is not "simple"
MAX_ARGUMENT_CHARS = 200  # the longest braced argument of a font command
_ESCAPES = {"%": "%", "&": "&", "_": "_", "$": "$", "#": "#", "{": "{", "}": "}", ",": " ", ";": " ", ":": " ",
            " ": " ", "!": ""}
COMMANDS = {
    "times": "×", "sim": "~", "approx": "≈", "simeq": "≃", "leq": "≤", "le": "≤", "geq": "≥", "ge": "≥",
    "lesssim": "≲", "gtrsim": "≳", "ll": "≪", "gg": "≫", "neq": "≠", "ne": "≠", "pm": "±", "mp": "∓",
    "cdot": "·", "div": "÷", "to": "→", "rightarrow": "→", "leftarrow": "←", "uparrow": "↑", "downarrow": "↓",
    "infty": "∞", "ldots": "…", "dots": "…", "cdots": "⋯", "percent": "%", "textasciitilde": "~",
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "zeta": "ζ",
    "eta": "η", "theta": "θ", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π",
    "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ", "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
    "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Pi": "Π", "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ",
    "Omega": "Ω", "textdegree": "°", "circ": "∘", "prime": "′",
}
FONT_COMMANDS = frozenset({"textbf", "textit", "texttt", "textsc", "textrm", "textsf", "emph", "underline", "text",
                           "mathrm", "mathbf", "mathit", "mathsf", "mathtt", "mathcal", "mathbb", "boldsymbol",
                           "operatorname"})
_LATEX_CHARS = re.compile(r"[\\$~]")


@dataclass(frozen=True, slots=True)
class PlainText:
    """The printed text and its units: `starts[k]`, `ends[k]` in the stored text and `plain_starts[k]` in
    this text (a unit's plain end is the next unit's plain start)."""

    stored: str
    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    plain_starts: tuple[int, ...]

    @property
    def changed(self) -> bool:
        return self.text != self.stored

    def _unit_at(self, plain_index: int) -> int:
        """The unit that printed this character of the plain text (the last of those starting there:
        units that print nothing share their plain start with the one that follows)."""
        return bisect_right(self.plain_starts, plain_index) - 1

    def _plain_end(self, unit: int) -> int:
        return self.plain_starts[unit + 1] if unit + 1 < len(self.plain_starts) else len(self.text)

    def widen(self, start: int, end: int) -> tuple[int, int]:
        """A span of the plain text widened to whole units (unchanged when it cuts none)."""
        if not self.changed or end <= start:
            return start, end
        first, last = self._unit_at(start), self._unit_at(end - 1)
        return self.plain_starts[first], self._plain_end(last)

    def to_stored(self, start: int, end: int) -> tuple[int, int]:
        """The span of the stored text that prints this span of the plain text (widened to whole units)."""
        if not self.changed:
            return start, end
        if end <= start:
            at = self.starts[self._unit_at(start)] if start < len(self.text) else len(self.stored)
            return at, at
        return self.starts[self._unit_at(start)], self.ends[self._unit_at(end - 1)]


def needs_plain(text: str) -> bool:
    return _LATEX_CHARS.search(text) is not None


def as_printed(text: str) -> str:
    """The text as it prints (what the model is sent)."""
    return plain_text(text).text if needs_plain(text) else text


@lru_cache(maxsize=64)
def plain_text(stored: str) -> PlainText:
    """The printed text of `stored` with its map (cached: grounding asks once per field)."""
    if not needs_plain(stored):
        return PlainText(stored, stored, (), (), ())
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    plain_starts: list[int] = []
    length = 0
    position = 0
    size = len(stored)
    while position < size:
        end, printed = _unit(stored, position)
        starts.append(position)
        ends.append(end)
        plain_starts.append(length)
        out.append(printed)
        length += len(printed)
        position = end
    return PlainText(stored, "".join(out), tuple(starts), tuple(ends), tuple(plain_starts))


def _unit(text: str, i: int) -> tuple[int, str]:
    """(end, printed) of the unit starting at `i`."""
    char = text[i]
    if char == "\\":
        return _command(text, i, in_math=False)
    if char == "$":
        close = _math_close(text, i)
        if close is not None:
            return close + 1, _render_math(text[i + 1:close])
        return i + 1, "$"
    if char == "~" and i > 0 and text[i - 1].isalnum() and i + 1 < len(text) and not text[i + 1].isspace():
        return i + 1, " "
    return i + 1, char


def _command(text: str, i: int, *, in_math: bool) -> tuple[int, str]:
    """A backslash at `i`: an escape, a known command, a font command with its argument, or itself."""
    following = text[i + 1] if i + 1 < len(text) else ""
    if following in _ESCAPES:
        return i + 2, _ESCAPES[following]
    j = i + 1
    while j < len(text) and text[j].isascii() and text[j].isalpha():
        j += 1
    name = text[i + 1:j]
    if not name:
        return i + 1, "\\"
    if name in COMMANDS:
        return j, COMMANDS[name]
    if name in FONT_COMMANDS and j < len(text) and text[j] == "{":
        close = _brace_close(text, j)
        if close is not None:
            inner = text[j + 1:close]
            return close + 1, _render_math(inner) if in_math else _render_text(inner)
    return j, text[i:j]


def _brace_close(text: str, i: int) -> int | None:
    """The index of the `}` closing the `{` at `i` (nested braces counted, escaped ones not), or None."""
    depth, j, limit = 0, i, min(len(text), i + MAX_ARGUMENT_CHARS + 2)
    while j < limit:
        char = text[j]
        if char == "\\":
            j += 2
            continue
        if char == "$" or char == "\n":
            return None
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    return None


def _math_close(text: str, i: int) -> int | None:
    """The `$` closing inline math opened at `i`, or None when the `$` at `i` opens nothing: the next
    unescaped `$` within MAX_MATH_CHARS, no line break between, no space just inside either one."""
    if i + 1 >= len(text) or text[i + 1].isspace() or text[i + 1] == "$":
        return None
    j, limit = i + 1, min(len(text), i + MAX_MATH_CHARS + 2)
    while j < limit:
        char = text[j]
        if char == "\\":
            j += 2
            continue
        if char == "\n":
            return None
        if char == "$":
            return j if not text[j - 1].isspace() else None
        j += 1
    return None


def _render_math(content: str) -> str:
    """Inline math's content as it prints: commands and escapes as above, braces dropped, `~` a space."""
    out, j = [], 0
    while j < len(content):
        char = content[j]
        if char == "\\":
            j, printed = _command(content, j, in_math=True)
            out.append(printed)
            continue
        if char not in "{}":
            out.append(" " if char == "~" else char)
        j += 1
    return "".join(out)


def _render_text(content: str) -> str:
    """A font command's argument as it prints (it cannot hold math: `_brace_close` stops at a `$`)."""
    return "".join(_unit(content, j)[1] for j in _unit_starts(content))


def _unit_starts(content: str):
    j = 0
    while j < len(content):
        yield j
        j = _unit(content, j)[0]
