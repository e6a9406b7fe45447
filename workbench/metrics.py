"""Agreement metrics between two values of a field, and between two annotators. Stdlib only.

Definitions (the README repeats them):
- normalise_for_comparison: case-folded, punctuation removed, white space collapsed; None stays None.
  (Grounding's fold_for_matching keeps punctuation: it must find quotes verbatim.)
- exact: normalised values equal (two nulls are equal).
- token F1: F1 of the normalised token multisets; two nulls 1.0, one null 0.0.
- number recall: share of the numbers in the human value that the suggestion also has.
- null agreement: of the pairs where at least one side says "not stated", the share where both do.
- Cohen's kappa: (p_o - p_e) / (1 - p_e) over categorical labels.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache
from statistics import median
from typing import Iterable

from workbench.grounding import numbers_in
from workbench.vocab import collapse_whitespace

_PUNCT = re.compile(r"[^\w\s.%]|(?<!\d)\.|\.(?!\d)")  # keep decimal points and % with numbers


@lru_cache(maxsize=1 << 16)  # compare normalises each human value once per prompt/model
def normalise_for_comparison(value: str | None) -> str | None:
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", value).casefold()
    text = collapse_whitespace(_PUNCT.sub(" ", text))
    return text or None


def exact(a: str | None, b: str | None) -> bool:
    return normalise_for_comparison(a) == normalise_for_comparison(b)


def token_f1(predicted: str | None, reference: str | None) -> float:
    return _f1_of_normalised(normalise_for_comparison(predicted), normalise_for_comparison(reference))


def _f1_of_normalised(predicted: str | None, reference: str | None) -> float:
    if predicted == reference:  # the common case when a suggestion was accepted
        return 1.0
    p, r = predicted.split() if predicted else [], reference.split() if reference else []
    if not p and not r:
        return 1.0
    if not p or not r:
        return 0.0
    common = sum((Counter(p) & Counter(r)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(r)
    return 2 * precision * recall / (precision + recall)


def number_counts(predicted: str | None, reference: str | None) -> tuple[int, int]:
    """(numbers of the reference found in the prediction, numbers in the reference)."""
    wanted = _numbers(reference)
    return (len(wanted & _numbers(predicted)) if wanted else 0), len(wanted)


@lru_cache(maxsize=1 << 16)
def _numbers(text: str | None) -> frozenset[str]:
    return frozenset(numbers_in(text))


number_set = _numbers  # the numbers a value states (agreement on a claimed gain's numbers)


def cohen_kappa(pairs: list[tuple[str, str]]) -> float | None:
    """Kappa of two raters' labels; None without pairs; 1.0 when both always agree on one label."""
    if not pairs:
        return None
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    left, right = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(left[label] * right[label] for label in set(left) | set(right)) / (n * n)
    if expected == 1.0:
        return 1.0 if observed == 1.0 else 0.0
    return (observed - expected) / (1 - expected)


class FieldScore:
    """Accumulates one field's agreement over many (suggested, human) pairs."""

    __slots__ = ("pairs", "exact", "f1", "numbers_found", "numbers_wanted", "either_null", "both_null")

    def __init__(self) -> None:
        self.pairs = self.exact = self.numbers_found = self.numbers_wanted = 0
        self.either_null = self.both_null = 0
        self.f1 = 0.0

    def add(self, suggested: str | None, human: str | None) -> None:
        ns, nh = normalise_for_comparison(suggested), normalise_for_comparison(human)  # once per pair, shared by every measure
        self.pairs += 1
        self.exact += ns == nh
        self.f1 += _f1_of_normalised(ns, nh)
        found, wanted = number_counts(suggested, human)
        self.numbers_found += found
        self.numbers_wanted += wanted
        s_null, h_null = ns is None, nh is None
        if s_null or h_null:
            self.either_null += 1
            self.both_null += s_null and h_null

    def as_dict(self, with_numbers: bool) -> dict:
        ratio = lambda a, b: round(a / b, 4) if b else None  # noqa: E731
        result = {"exact": ratio(self.exact, self.pairs), "token_f1": ratio(self.f1, self.pairs)}
        result["number_recall"] = ratio(self.numbers_found, self.numbers_wanted) if with_numbers else None
        result["null_agreement"] = ratio(self.both_null, self.either_null)
        return result


def median_or_none(values: Iterable[float]) -> float | None:
    values = [v for v in values if v is not None]
    return median(values) if values else None
