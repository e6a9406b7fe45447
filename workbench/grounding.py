"""Tie every field to the abstract: align quotes to character spans, check values and numbers.

Alignment of a quote, three tries in order: the exact quote (in the stored abstract, then in the
abstract as it prints, `plain_text.py`, mapped back to the stored text); a match after
`fold_for_matching` (case, white space, Unicode forms, typographic quotes and
dashes), with offsets mapped back to the original text; a fuzzy match of most
of the quote's tokens, in order, in a tight window. Status `exact` for the
first, `fuzzy` for the other two (`method` says which), `ungrounded` otherwise.

A quote found in the abstract is not enough: the field's value must be
supported by its quote (its numbers appear in the quote, most of its words
too), or the field is marked `value_not_in_quote`. A value without a quote (a
human's edit, a reply whose evidence is missing) is grounded by aligning the
value itself. Numbers that appear nowhere in the abstract, and text that reads
as instructions to a model, are flagged.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from workbench.plain_text import plain_text
from workbench.vocab import (
    EVIDENCE_MISSING, EXACT, FUZZY, INSTRUCTION_IN_TEXT, NUMBER_FIELDS, NUMBER_NOT_IN_ABSTRACT, UNGROUNDED,
    UNGROUNDED_QUOTE, VALUE_NOT_IN_QUOTE,
)

_PUNCT = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
                        "\u2014": "-", "\u2212": "-", "\u2010": "-", "\u2011": "-", "\u00d7": "x"})
_TOKEN_RE = re.compile(r"\w+")
# A token of three or more characters that is not all digits (for ASCII text, where \d is 0-9).
_CONTENT_WORD_RE = re.compile(r"\b(?!\d+\b)\w{3,}")
_NUMBER_RE = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")
_NOT_NUMBER_CHARS = {code: " " for code in range(128) if chr(code) not in "0123456789,."}
# Share of the quote's tokens that must appear, in order, for a fuzzy match.
MIN_TOKEN_SHARE = 0.75
# Share of a value's content words its quote must contain to support it.
MIN_SUPPORT_SHARE = 0.5
# Longest quote or value aligned token by token (the dynamic programme is quadratic).
MAX_FUZZY_TOKENS = 200
_STOPWORDS = frozenset(
    "a an the of in on for to with and or by from as at is are be we our this that which its their it than "
    "over vs via using based into up".split())
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+)*"
    r"(?:previous|prior|above|earlier|preceding|system|original)\s+(?:instructions?|prompts?|directions?|rules?)"
    r"|\b(?:you are now|new instructions|system prompt|act as an?|pretend to be)\b"
    r"|\b(?:output|respond with|reply with|return|answer with|set)\s+(?:the\s+)?"
    r"(?:technique|claimed[_ ]gain|compute|json|summary)\s*(?:=|:|as\b)",
    re.I,
)
# A word each branch of _INSTRUCTION requires (case-insensitively): a quick test before the pattern.
_INSTRUCTION_WORDS = ("ignore", "disregard", "forget", "override", "you are now", "new instructions", "system prompt",
                      "act as", "pretend to be", "output", "respond with", "reply with", "return", "answer with", "set")


@dataclass(slots=True, frozen=True)
class Span:
    quote: str | None
    start: int | None
    end: int | None
    status: str  # exact | fuzzy | ungrounded
    # exact | printed (exact on the abstract as it prints: LaTeX escapes and inline math turned into what they
    # print, see plain_text.py) | normalized | tokens | value (the value itself was aligned)
    method: str | None = None

    def as_dict(self) -> dict:
        # Not dataclasses.asdict: it deep-copies each value, and every stored suggestion calls this.
        return {"quote": self.quote, "start": self.start, "end": self.end, "status": self.status, "method": self.method}

    @property
    def located(self) -> bool:
        return self.start is not None


# --------------------------------------------------------------------------- alignment


def _fold_with_map(text: str) -> tuple[str, list[int]]:
    """Folded text and, for each of its characters, the index in `text`."""
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


def fold_for_matching(text: str) -> str:
    """Case, Unicode form, typographic quotes/dashes and white space folded; punctuation kept."""
    if text.isascii():  # the common case, at C speed: NFKC and the quote/dash table leave ASCII alone
        return " ".join(text.lower().split())
    return _fold_with_map(text)[0]


def align(quote: str | None, abstract: str) -> Span:
    if not quote or not quote.strip():
        return Span(None, None, None, UNGROUNDED)
    quote = quote.strip()
    start = abstract.find(quote)
    if start >= 0:
        return Span(quote, start, start + len(quote), EXACT, "exact")
    printed = plain_text(abstract)  # the abstract as it prints ("5\\%" is "5%"), as the model was sent it
    if printed.changed:
        start = printed.text.find(quote)
        if start >= 0:
            start, end = printed.to_stored(start, start + len(quote))
            return Span(quote, start, end, EXACT, "printed")
    folded_quote = fold_for_matching(quote).strip(" .")
    if folded_quote:
        for text, mapping in ((abstract, None), (printed.text, printed)) if printed.changed else ((abstract, None),):
            folded_text, where = _fold_with_map(text)
            found = folded_text.find(folded_quote)
            if found >= 0:
                start, end = where[found], where[found + len(folded_quote) - 1] + 1
                if mapping is not None:
                    start, end = mapping.to_stored(start, end)
                return Span(quote, start, end, FUZZY, "normalized")
    span = _token_match(quote, abstract)
    if span is not None:
        return Span(quote, span[0], span[1], FUZZY, "tokens")
    return Span(quote, None, None, UNGROUNDED)


def _tokens(text: str) -> list[tuple[str, int, int]]:
    return [(fold_for_matching(m.group()), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]


def _token_match(quote: str, abstract: str) -> tuple[int, int] | None:
    """Most of the quote's tokens, in order, within a window not much longer than the quote."""
    wanted = [t for t, _, _ in _tokens(quote)]
    if len(wanted) < 3 or len(wanted) > MAX_FUZZY_TOKENS:
        return None  # too short to match loosely without false hits; too long to align affordably
    have = _tokens(abstract)
    window = int(len(wanted) * 1.5) + 2
    need = MIN_TOKEN_SHARE * len(wanted)
    starts = set(wanted[:3])
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


# --------------------------------------------------------------------------- numbers and words


def numbers_in(text: str | None) -> set[str]:
    """Canonical numbers in a text ("1,000" -> "1000", "2.50" -> "2.5")."""
    return set(_numbers(text)) if text else set()


@lru_cache(maxsize=64)
def _numbers(text: str) -> frozenset[str]:
    # Cached: grounding one summary asks for the same abstract's numbers once per field.
    found = set()
    for raw in _NUMBER_RE.findall(_number_runs(text)):
        digits = raw.replace(",", "")
        found.add(f"{float(digits):g}" if len(digits) < 16 else digits)
    return frozenset(found)


def _number_runs(text: str) -> str:
    """The text's runs of digits, commas and points, space-separated: the same numbers, a shorter scan.
    A number never spans another character, so for ASCII text (where \\d is 0-9) nothing changes."""
    return " ".join(text.translate(_NOT_NUMBER_CHARS).split()) if text.isascii() else text


def numbers_not_in(value: str | None, text: str) -> list[str]:
    """Numbers of a value that appear nowhere in `text` (in the abstract: likely invented)."""
    if not value:
        return []
    missing = _numbers(value) - _numbers(text) if text else _numbers(value)
    return sorted(missing, key=lambda n: (len(n), n))


def _content_words(text: str) -> set[str]:
    if text.isascii():  # an ASCII word folds to its lower case: fold the whole text once, filter in C
        return set(_CONTENT_WORD_RE.findall(text.lower())) - _STOPWORDS
    words = [fold_for_matching(w) for w in _TOKEN_RE.findall(text)]
    return {w for w in words if len(w) > 2 and w not in _STOPWORDS and not w.isdigit()}


def supports(quote: str, value: str) -> bool:
    """Does the quote back the value: all of its numbers, and most of its words?"""
    if numbers_not_in(value, quote):
        return False
    words = _content_words(value)
    if not words:
        return True
    return len(words & _content_words(quote)) >= MIN_SUPPORT_SHARE * len(words)


def reads_as_instruction(text: str | None) -> bool:
    """Text that addresses a model ("ignore previous instructions", "output technique=")."""
    if not text:
        return False
    if text.isascii():  # every match holds one of these words: most texts are cleared by substring tests
        lower = text.lower()
        if not any(word in lower for word in _INSTRUCTION_WORDS):
            return False
    return _INSTRUCTION.search(text) is not None


# --------------------------------------------------------------------------- one field, a summary


def ground_field(field: str, value: str | None, quote: str | None, abstract: str, *,
                 quote_expected: bool = True) -> tuple[Span | None, list[dict]]:
    """The span to highlight for one field and its warnings.

    With a quote, the quote is aligned and must support the value. Without one
    (a human's value, or a reply that left its evidence out when
    `quote_expected`), the value itself is aligned to the abstract.
    """
    if value is None:
        return None, []
    warnings: list[dict] = []
    if quote:
        span = align(quote, abstract)
        if span.status == UNGROUNDED:
            warnings.append({"field": field, "kind": UNGROUNDED_QUOTE})
        elif not supports(quote, value):
            warnings.append({"field": field, "kind": VALUE_NOT_IN_QUOTE})
    else:
        found = align(value, abstract)
        span = Span(found.quote, found.start, found.end, found.status, "value")
        if quote_expected:
            warnings.append({"field": field, "kind": EVIDENCE_MISSING})
    if field in NUMBER_FIELDS:
        for number in numbers_not_in(value, abstract):
            warnings.append({"field": field, "kind": NUMBER_NOT_IN_ABSTRACT, "number": number})
    if reads_as_instruction(quote) or reads_as_instruction(value):
        warnings.append({"field": field, "kind": INSTRUCTION_IN_TEXT})
    return span, warnings


def ground_summary(values: dict[str, str | None], quotes: dict[str, str | None] | None,
                   abstract: str) -> tuple[dict[str, Span | None], list[dict]]:
    """Evidence spans and warnings for every field. `quotes` None: the reply had no usable evidence."""
    evidence: dict[str, Span | None] = {}
    warnings: list[dict] = []
    for field, value in values.items():
        quote = quotes.get(field) if quotes is not None else None
        evidence[field], found = ground_field(field, value, quote, abstract)
        warnings.extend(found)
    return evidence, warnings
