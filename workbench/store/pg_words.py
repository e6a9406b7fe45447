"""PostgreSQL's search index, made here: a paper's words as a tsvector literal, a query's as a tsquery.

PostgreSQL's own parser (to_tsvector) cost 0.4 ms an abstract, eight times the rest of an ingest, and
splits words unlike FTS5 ("Kinetics-400" became "kinetics" and "-400"). Both sides are tokenised here
instead, the way SQLite's FTS5 (unicode61) does it: runs of letters and digits, lower-cased, accents
removed. The literals are then cast (`::tsvector`, `::tsquery`), which parses nothing.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W_]+")
MAX_POSITION = 16_383  # PostgreSQL's largest tsvector position
MAX_POSITIONS = 255  # positions kept per word (PostgreSQL keeps at most 256)
MAX_WORD_BYTES = 2_000  # PostgreSQL refuses a lexeme of 2 KB or more
# The combining marks NFKD splits accents into (the Unicode blocks of combining diacritics).
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def words(text: str, *, every: bool = False) -> list[str]:
    """The words of a text as the index holds them (`every`: a word too long to index too)."""
    text = text.lower()
    if not text.isascii():  # accents off, as FTS5's remove_diacritics; lower again: NFKD can
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text)).lower()  # make capitals ('𝛢' is 'Α')
    return [w for w in _WORD.findall(text) if every or len(w.encode("utf-8")) < MAX_WORD_BYTES]


def tsvector(title: str, abstract: str) -> str:
    """The tsvector literal of a paper: title words weight A, abstract words weight B (a position
    apart, so a phrase never spans the two)."""
    positions: dict[str, list[str]] = {}
    position = 0
    for weight, text in (("A", title), ("B", abstract)):
        for word in words(text):
            position = min(position + 1, MAX_POSITION)
            kept = positions.setdefault(word, [])
            if len(kept) < MAX_POSITIONS:
                kept.append(f"{position}{weight}")
        position = min(position + 1, MAX_POSITION)
    return " ".join(f"'{word}':{','.join(kept)}" for word, kept in positions.items())


def tsquery(terms: list[tuple[list[str], bool]]) -> str:
    """The tsquery literal for search terms: each a phrase of words (one word: a word) and whether its
    last word is a prefix; all of them must match. Empty when no term has a word."""
    parts = []
    for phrase, prefix in terms:
        tokens = [w for term in phrase for w in words(term, every=True)]
        if not tokens:
            continue
        if any(len(w.encode("utf-8")) >= MAX_WORD_BYTES for w in tokens):
            return ""  # no paper holds a word the index cannot: nothing matches (as in FTS5)
        quoted = [f"'{w}'" for w in tokens]
        if prefix:
            quoted[-1] += ":*"
        parts.append(quoted[0] if len(quoted) == 1 else "(" + " <-> ".join(quoted) + ")")
    return " & ".join(parts)
