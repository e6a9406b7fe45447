"""Align evidence quotes to character spans of the abstract, and check numbers.

Three tries, in order: the exact quote; a normalised match (case, white space,
Unicode forms, typographic quotes and dashes), with offsets mapped back to the
original text; a fuzzy match of most of the quote's tokens, in order, in a
tight window. The status is `exact` for the first, `fuzzy` for the other two
(the `method` says which), `ungrounded` when none holds.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass

_PUNCT = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
                        "\u2014": "-", "\u2212": "-", "\u2010": "-", "\u2011": "-", "\u00d7": "x"})
_TOKEN_RE = re.compile(r"\w+")
_NUMBER_RE = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")
# Share of the quote's tokens that must appear, in order, for a fuzzy match.
MIN_TOKEN_SHARE = 0.75


@dataclass(slots=True, frozen=True)
class Span:
    quote: str | None
    start: int | None
    end: int | None
    status: str  # exact | fuzzy | ungrounded
    method: str | None = None  # exact | normalized | tokens

    def as_dict(self) -> dict:
        return asdict(self)


def _normalise_with_map(text: str) -> tuple[str, list[int]]:
    """Normalised text and, for each of its characters, the index in `text`."""
    out: list[str] = []
    where: list[int] = []
    pending_space = False
    for index, char in enumerate(text):
        piece = unicodedata.normalize("NFKC", char).translate(_PUNCT).casefold()
        for c in piece:
            if c.isspace():
                pending_space = bool(out)
                continue
            if pending_space:
                out.append(" ")
                where.append(index)
                pending_space = False
            out.append(c)
            where.append(index)
    return "".join(out), where


def normalise(text: str) -> str:
    return _normalise_with_map(text)[0]


def align(quote: str | None, abstract: str) -> Span:
    if not quote or not quote.strip():
        return Span(None, None, None, "ungrounded")
    quote = quote.strip()
    start = abstract.find(quote)
    if start >= 0:
        return Span(quote, start, start + len(quote), "exact", "exact")
    norm_abstract, where = _normalise_with_map(abstract)
    norm_quote = normalise(quote).strip(" .")
    if norm_quote:
        found = norm_abstract.find(norm_quote)
        if found >= 0:
            last = where[found + len(norm_quote) - 1]
            return Span(quote, where[found], last + 1, "fuzzy", "normalized")
    span = _token_match(quote, abstract)
    if span is not None:
        return Span(quote, span[0], span[1], "fuzzy", "tokens")
    return Span(quote, None, None, "ungrounded")


def _tokens(text: str) -> list[tuple[str, int, int]]:
    return [(normalise(m.group()), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]


def _token_match(quote: str, abstract: str) -> tuple[int, int] | None:
    """Most of the quote's tokens, in order, within a window not much longer than the quote."""
    wanted = [t for t, _, _ in _tokens(quote)]
    if len(wanted) < 3:
        return None  # too short to match loosely without false hits
    have = _tokens(abstract)
    window = int(len(wanted) * 1.5) + 2
    need = MIN_TOKEN_SHARE * len(wanted)
    starts = {t for t in wanted[:3]}
    best: tuple[int, int, int] | None = None  # (matched, start index, end index)
    for i, (token, _, _) in enumerate(have):
        if token not in starts:
            continue
        matched, first, last = _lcs_in_window(wanted, have, i, window)
        if matched >= need and (best is None or matched > best[0]):
            best = (matched, first, last)
    if best is None:
        return None
    return have[best[1]][1], have[best[2]][2]


def _lcs_in_window(wanted: list[str], have: list[tuple[str, int, int]], start: int, window: int) -> tuple[int, int, int]:
    """Longest common subsequence of `wanted` and have[start:start+window], with its first/last positions."""
    segment = [t for t, _, _ in have[start:start + window]]
    rows = len(wanted) + 1
    # table[i][j]: (length, first j, last j) for wanted[:i] vs segment[:j]
    previous = [(0, -1, -1)] * (len(segment) + 1)
    for i in range(1, rows):
        current = [(0, -1, -1)]
        for j in range(1, len(segment) + 1):
            if wanted[i - 1] == segment[j - 1]:
                length, first, _ = previous[j - 1]
                current.append((length + 1, first if length else j - 1, j - 1))
            else:
                current.append(max(previous[j], current[j - 1], key=lambda t: t[0]))
        previous = current
    length, first, last = previous[-1]
    return length, start + max(first, 0), start + max(last, 0)


# --------------------------------------------------------------------------- numbers


def numbers_in(text: str | None) -> set[str]:
    """Canonical numbers in a text ("1,000" -> "1000", "2.50" -> "2.5")."""
    if not text:
        return set()
    found = set()
    for raw in _NUMBER_RE.findall(text):
        value = float(raw.replace(",", ""))
        found.add(f"{value:g}" if value < 1e15 else raw)
    return found


def numbers_not_in_abstract(value: str | None, abstract: str) -> list[str]:
    """Numbers of a field value that appear nowhere in the abstract (likely hallucinated)."""
    missing = numbers_in(value) - numbers_in(abstract)
    return sorted(missing, key=lambda n: (len(n), n))


def ground_summary(quotes: dict[str, str | None], values: dict[str, str | None], abstract: str) -> tuple[dict, list[dict]]:
    """Evidence spans for every field, and warnings for numbers not in the abstract."""
    evidence = {field: align(quote, abstract).as_dict() if quote else None for field, quote in quotes.items()}
    warnings = []
    for field in ("claimed_gain", "compute"):
        for number in numbers_not_in_abstract(values.get(field), abstract):
            warnings.append({"field": field, "kind": "number_not_in_abstract", "number": number})
    for field, span in evidence.items():
        if span is not None and span["status"] == "ungrounded":
            warnings.append({"field": field, "kind": "ungrounded_quote"})
    return evidence, warnings
