"""Checks that hold any model's reply to the abstract, declared per prompt in its `[checks]` table.

They run on every reply before it is stored (live, batch and offline all go through
`suggest.record_from_reply`): the stored suggestion is the checked one, the raw reply stays in the
attempts log and in the suggestion's `raw`, and each change is a warning stored with the suggestion,
naming what was dropped. Pure functions: no store, no Textual.

- `figures_in_abstract`: an item of `claimed_gain` or `compute` (values are items separated by ";")
  that holds a number the abstract does not have is dropped; the warning keeps the item and the numbers.
- `gain_needs_figure`: a `claimed_gain` left with no figure that appears in the abstract becomes null;
  the warning keeps the value. A figure is what the offline model's finder reads as one in the value
  ("2.3x", "+20%", "3 Dice points", "83 vs. 176", "3 hours", and a bare number a noun of change governs:
  "improvements of 32.17"; not a bare "7B", "GPT-2" or "2024"),
  passed in by the caller as `figures_of` (the finder lives with the models, above this module), or one
  of the words of `FIGURE_WORDS` ("twice", "doubles", "halves", "an order of magnitude", "three-fold",
  "ten times") when the abstract uses the same word: small models write "impressive performance across
  diverse benchmarks" or "8B parameters" for abstracts that claim no gain, and a figure is what makes a
  gain a claim. (Any number at all, as before, let 0.86 of the held-out no-gain abstracts be null
  against 0.95 with the finder: README, *Choosing a model and a prompt*.)
- `evidence_in_abstract`: a field whose evidence quote is not in the abstract (or does not back its
  value, or is missing) is kept but marked: grounding's warnings, as before checks existed.
- `no_repeats`: an item that repeats an earlier one of the same field (case, white space and
  typographic marks aside), or whose words run inside a longer item of it ("2x faster" beside "2x
  faster than the baseline"), is removed.

A prompt without a `[checks]` table only marks evidence (what every prompt did before); a prompt
with the table gets every check it does not switch off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable

from workbench.errors import InputError
from workbench.grounding import fold_for_matching, numbers_in
from workbench.vocab import (
    EVIDENCE_MISSING, FIGURE_NOT_IN_ABSTRACT, GAIN_WITHOUT_FIGURE, NUMBER_FIELDS, REPEATED_ITEM, UNGROUNDED_QUOTE,
    VALUE_NOT_IN_QUOTE,
)

GAIN = "claimed_gain"
EVIDENCE_KINDS = (UNGROUNDED_QUOTE, VALUE_NOT_IN_QUOTE, EVIDENCE_MISSING)  # what `evidence_in_abstract` keeps
CHECK_KINDS = (FIGURE_NOT_IN_ABSTRACT, GAIN_WITHOUT_FIGURE, REPEATED_ITEM)  # the warnings that changed a value
_NUMBER_WORDS = "two|three|four|five|six|seven|eight|nine|ten|twenty|hundred|thousand"
FIGURE_WORDS = re.compile(
    rf"\b(?:twice|thrice|doubl(?:e[sd]?|ing)|halv(?:e[sd]?|ing)|half|tripl(?:e[sd]?|ing)|quadrupl(?:e[sd]?|ing)"
    rf"|(?:{_NUMBER_WORDS})[- ]?fold|orders? of magnitude|(?:{_NUMBER_WORDS}) times)\b", re.I)
_STEMS = (("twice", "double"), ("doubl", "double"), ("thrice", "triple"), ("tripl", "triple"),
          ("quadrupl", "quadruple"), ("halv", "half"), ("half", "half"))
_ITEM_SPLIT = re.compile(r"\s*;\s*")


@dataclass(frozen=True, slots=True)
class Checks:
    """Which checks a prompt's replies go through (see the module's text)."""

    figures_in_abstract: bool = False
    gain_needs_figure: bool = False
    evidence_in_abstract: bool = True
    no_repeats: bool = False

    def as_dict(self) -> dict[str, bool]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


WITHOUT_TABLE = Checks()  # a prompt with no [checks] table: evidence marked, as before checks existed
CHECK_NAMES = tuple(f.name for f in fields(Checks))


def parse_checks_table(path: Path, table) -> Checks:
    """A prompt file's `[checks]` table: each check true or false; a check not named is on."""
    if not isinstance(table, dict):
        raise InputError(f"{path}: key 'checks' must be a table")
    for key, value in table.items():
        if key not in CHECK_NAMES:
            raise InputError(f"{path}: unknown key '{key}' in [checks] (expected {', '.join(CHECK_NAMES)})")
        if not isinstance(value, bool):
            raise InputError(f"{path}: [checks] {key} must be true or false")
    return Checks(**{name: table.get(name, True) for name in CHECK_NAMES})


# --------------------------------------------------------------------------- the checks


FiguresOf = Callable[[str], set[str]]  # a text -> the canonical numbers of the figures in it


def check_values(values: dict[str, str | None], abstract: str, checks: Checks, *,
                 figures_of: FiguresOf) -> tuple[dict, list[dict]]:
    """The values a reply's suggestion keeps, and a warning for every change (in the order made).
    `figures_of` reads the figures of a claimed gain (`models.figures.figure_numbers` in the product)."""
    values = dict(values)
    warnings: list[dict] = []
    if checks.figures_in_abstract:
        have = numbers_in(abstract)
        for field in NUMBER_FIELDS:
            values[field] = _drop_items(field, values.get(field), warnings, lambda item, _: _invented(item, have))
    if checks.gain_needs_figure and values.get(GAIN) is not None \
            and not has_figure(values[GAIN], abstract, figures_of):
        warnings.append({"field": GAIN, "kind": GAIN_WITHOUT_FIGURE, "dropped": values[GAIN]})
        values[GAIN] = None
    if checks.no_repeats:
        for field in values:
            if values.get(field) is not None:
                words = [_words(item) for item in _items(values[field])]
                values[field] = _drop_items(field, values[field], warnings, lambda item, n: _repeat(n, words))
    return values, warnings


def keep_warnings(warnings: list[dict], checks: Checks) -> list[dict]:
    """Grounding's warnings a prompt keeps: without `evidence_in_abstract`, none about the evidence."""
    if checks.evidence_in_abstract:
        return warnings
    return [w for w in warnings if w.get("kind") not in EVIDENCE_KINDS]


def has_figure(value: str, abstract: str, figures_of: FiguresOf) -> bool:
    """Does the value hold a figure the abstract also has (a figure's number, or a figure word both use)?"""
    if figures_of(value) & numbers_in(abstract):
        return True
    words = _figure_words(value)
    return bool(words) and bool(words & _figure_words(abstract))


def _figure_words(text: str) -> set[str]:
    found = set()
    for match in FIGURE_WORDS.finditer(text):
        word = " ".join(match.group().lower().replace("-", " ").split()).replace("orders", "order")
        found.add(next((stem for start, stem in _STEMS if word.startswith(start)), word))
    return found


def _invented(item: str, have: set[str]) -> dict | None:
    missing = sorted(numbers_in(item) - have, key=lambda n: (len(n), n))
    return {"kind": FIGURE_NOT_IN_ABSTRACT, "numbers": missing} if missing else None


def _words(item: str) -> tuple[str, ...]:
    """An item's words as compared for repeats: folded (case, white space, typographic marks), with the
    punctuation that ends a word dropped ("baseline," is "baseline"; "5%" stays "5%")."""
    return tuple(w for w in (w.strip(",.:;!?()[]\"'") for w in fold_for_matching(item).split()) if w)


def _within(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    return any(long[k:k + len(short)] == short for k in range(len(long) - len(short) + 1))


def _repeat(n: int, words: list[tuple[str, ...]]) -> dict | None:
    """Item n says nothing another item does not: the same words as an earlier one, or its words run
    inside a longer item ("2x faster" beside "2x faster than the baseline")."""
    mine = words[n]
    for k, other in enumerate(words):
        if k != n and mine and (other == mine and k < n or len(other) > len(mine) and _within(mine, other)):
            return {"kind": REPEATED_ITEM}
    return None


def _items(value: str) -> list[str]:
    return [item for item in _ITEM_SPLIT.split(value) if item.strip(" .")]


def _drop_items(field: str, value: str | None, warnings: list[dict], verdict) -> str | None:
    """The value without the items `verdict` (item, its index) objects to (one warning each, naming the
    item); the value as the model wrote it when nothing is dropped, None when nothing is left."""
    if value is None:
        return None
    items = _items(value)
    kept = []
    for index, item in enumerate(items):
        found = verdict(item, index)
        if found is None:
            kept.append(item)
        else:
            warnings.append({"field": field, **found, "dropped": item})
    if len(kept) == len(items):
        return value
    return "; ".join(kept) or None
