"""Candidate figures for a prompt's `{figures}`: the abstract's numbers, each with a few words around it.

A small model misses figures and paraphrases them; given the list, it only has to say which are
gains against something and which are compute. The numbers are found deterministically, by the
offline model's number finder (`offline._NUMBER`, its sentences, its rule for numbers that are part of
a name, its figures and word figures such as "doubles", its words of comparison): nothing here is a
second copy of those rules.

Bounded whatever the abstract: the offline model's readable part only, at most MAX_LINES lines of at
most MAX_LINE_CHARS characters; control and format characters (ESC, BIDI overrides) become spaces;
LaTeX's `\\%`, `$\\times$` and `\\sim` are written as they print, so a figure can be copied into JSON.
"""

from __future__ import annotations

import re
import unicodedata

from workbench.plain_text import as_printed
from workbench.models.offline import (
    _COMPARISON, _CUE_BEFORE, _DELTA_WORDS, _NUM, _NUMBER, WINDOW, _figures, _in_a_name, _readable_part,
    split_sentences,
)

MAX_LINES = 24  # lines listed; a figure that can compare comes before a bare number
MAX_LINE_CHARS = 200
WORDS_AROUND = 6  # words kept on each side of a number
NONE_FOUND = "(none: the abstract states no number)"
GAINS_HEADING = "May be gains (figures with a word of comparison or change near them):"
OTHERS_HEADING = "Other numbers (sizes, counts, compute, scores, shares, dates):"
NONE = "(none)"
MAX_CHECKED_CHARS = 4_000  # of a claimed gain, for figure_numbers
# A figure the offline finder found that states a comparison: its own kind says so ("+1.5", "70.8 vs.
# 68.3", "by 3 points", "a factor of 2", "doubles"), or it has a relative unit and the offline model's
# words of comparison or change stand near it ("2x faster", "35% less memory than", "outperforms ... 4%").
# Not an absolute quantity ("16 GB", "3 hours"), a bare pair, nor a share with no such word near it
# ("preserves 97% of the accuracy", "a ratio of around 45%").
_CHANGE_KINDS = ("plus", "versus", "word", "factor", "by", "from", "fraction")
_NOT_COMPARING = ("absolute", "pair", "slash")
_COMPARED_NEAR = re.compile(rf"{_COMPARISON.pattern}|{_CUE_BEFORE.pattern}|\b(?:{_DELTA_WORDS})\b", re.I)
NEAR = WINDOW  # characters looked at on each side of a figure for a word of comparison (the offline rules' own)


def _compares(sentence: str, figure) -> bool:
    if figure.kind in _CHANGE_KINDS or figure.prefix == "by":
        return True
    if not figure.unit or figure.kind in _NOT_COMPARING:
        return False
    return _COMPARED_NEAR.search(sentence, max(0, figure.start - NEAR), figure.end + NEAR) is not None


_TOKEN = re.compile(r"\S+")

def candidate_figures(abstract: str) -> list[tuple[str, bool]]:
    """The lines `{figures}` lists, each with whether it holds a figure that can compare: each number of the
    abstract (or a run of close ones) with the words around it, in the abstract's order; lines with such a
    figure win a place first when there are too many."""
    text = _printable(_readable_part(abstract))
    found: list[tuple[int, int, str, bool]] = []  # (priority, position, line, holds a figure that compares)
    for start, end in split_sentences(text):
        sentence = text[start:end]
        tokens = [m.span() for m in _TOKEN.finditer(sentence)]
        if not tokens:
            continue
        figures = _figures(sentence)
        spans = [(f.start, f.end) for f in figures if _compares(sentence, f)]
        hits = [(m.start(), any(a <= m.start() < b for a, b in spans)) for m in _NUMBER.finditer(sentence)
                if not (m.start() and _in_a_name(sentence, m.start()))]  # "75% and 84.5%": both numbers compare
        hits += [(f.start, True) for f in figures if f.kind == "word"]  # "doubles": a figure without a digit
        for first, last, strong in _runs(sorted(hits), tokens):
            line = " ".join(sentence[a:b] for a, b in tokens[first:last + 1])
            if len(line) > MAX_LINE_CHARS:
                line = line[:MAX_LINE_CHARS - 1].rstrip() + "…"
            line = ("…" if first else "") + line + ("…" if last < len(tokens) - 1 else "")
            found.append((0 if strong else 1, start + tokens[first][0], line, strong))
        if len(found) > 4 * MAX_LINES:
            break  # a table or noise, not an abstract: enough to choose from
    kept = sorted(sorted(found)[:MAX_LINES], key=lambda item: item[1])
    lines, seen = [], set()
    for _, _, line, strong in kept:
        if line not in seen:
            seen.add(line)
            lines.append((line, strong))
    return lines


def list_figures(abstract: str) -> str:
    """The text that replaces `{figures}`: the lines that may hold a gain, numbered, then the other numbers;
    or one line saying the abstract has no number."""
    lines = candidate_figures(abstract)
    if not lines:
        return NONE_FOUND
    gains = [line for line, strong in lines if strong]
    others = [line for line, strong in lines if not strong]
    text = [GAINS_HEADING, *(f"{n}. {line}" for n, line in enumerate(gains, start=1))] + ([] if gains else [NONE])
    text += [OTHERS_HEADING, *(f"- {line}" for line in others)] + ([] if others else [NONE])
    return "\n".join(text)


def _printable(text: str) -> str:
    """The text as it prints (the same reading as what a `latex_as_text` prompt sends: `plain_text`), with
    control, format (BIDI), private and unassigned characters a space each (never into a prompt or a terminal)."""
    text = as_printed(text)
    return "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text)


def _runs(hits: list[tuple[int, bool]], tokens: list[tuple[int, int]]):
    """(first token, last token, holds a figure that compares) for each run of numbers whose windows of words
    touch."""
    runs: list[list] = []
    index = 0
    for position, strong in hits:
        while index + 1 < len(tokens) and tokens[index][1] <= position:
            index += 1
        first, last = max(0, index - WORDS_AROUND), min(len(tokens) - 1, index + WORDS_AROUND)
        if runs and first <= runs[-1][1] + 1 and last - runs[-1][0] <= 4 * WORDS_AROUND:
            runs[-1][1], runs[-1][2] = last, runs[-1][2] or strong
        else:
            runs.append([first, last, strong])
    return [tuple(run) for run in runs]


# A bare number that a noun of change governs: "improvements of 32.17 and 32.72", "a gain of 3.1", "4.2
# improvement". Not an adjective ("3 lower layers"): only these nouns, right before "of"/"by" or right after.
_CHANGE_NOUN = r"(?:improvements?|gains?|increases?|boosts?|reductions?|decreases?|speed-?ups?|drops?)"
_NUMBERS = rf"{_NUM}(?:\s*(?:,|and|or|to)\s*{_NUM})*"
_GOVERNED = re.compile(rf"\b{_CHANGE_NOUN}\s+(?:of|by)\s+(?:about |around |up to |over |nearly |approximately )?"
                       rf"({_NUMBERS})|(?<![\w.,])({_NUM})\s+{_CHANGE_NOUN}\b", re.I)


def figure_numbers(text: str | None) -> set[str]:
    """The canonical numbers of the figures the offline finder sees in a text ("3 Dice points", "83 vs. 176",
    "2.3x", "+20%"), and of bare numbers a noun of change governs ("improvements of 32.17 and 32.72"): what
    a check can ask a claimed gain to hold. Other bare numbers ("7B", "2024", "50 tasks") are not figures."""
    from workbench.grounding import numbers_in

    if not text:
        return set()
    text = _printable(text[:MAX_CHECKED_CHARS])
    found: set[str] = set()
    for start, end in split_sentences(text):
        sentence = text[start:end]
        for figure in _figures(sentence):
            if figure.kind != "word":
                found |= numbers_in(sentence[figure.start:figure.end])
    for match in _GOVERNED.finditer(text):
        found |= numbers_in(match.group(1) or match.group(2))
    return found

