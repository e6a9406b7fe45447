"""A prompt and model scored against gold: a hand-annotated sample (a gold file) or a reviewer's
decisions. Stdlib and workbench's text helpers only; `workbench compare --against` and the
benchmarks both use it.

A gold file has one JSON object a line: `paper_id`, `title`, `gain_figures` (the gain figures
the abstract states, as written; [] when it states none), `technique`, `claimed_gain`, `compute`
(the annotator's own phrases; null = not stated) and optionally a `note`. A reviewer's decision
becomes a gold record with its gain figures found in the decided claimed gain by `figures_in`
(the same number finder the measures use; a gain without such a figure has none).

The measures (the README repeats them):
- gain-figure recall: share of the gold gain figures whose numbers all appear in the suggested
  claimed_gain (a figure without digits, such as "doubles", must appear as a word);
- gain-figure precision: share of the figures in the suggested claimed_gain (a number with a
  unit or multiplier: %, x, ×, times, -fold, points, pp, "a factor of N") whose number belongs to
  some gold figure of that paper, pooled over the papers; on a paper with no gold figure every
  such figure is a false one;
- null rate: share of the abstracts with no gain figure (gain_figures == []) where the suggested
  claimed_gain is null;
- compute recall: share of the numbers of the gold compute values that the suggested compute
  of the same paper has, pooled over the papers (a gold compute without a number is not counted);
- technique token-F1: mean `metrics.token_f1` of the suggested technique against the
  annotator's phrase, over every gold paper (the title alone is reported as a baseline);
- length ratio: median, over the papers where both are non-null, of len(suggested claimed_gain)
  / len(annotator's claimed_gain), in characters; and the median length of each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Mapping

from workbench.errors import InputError
from workbench.grounding import numbers_in
from workbench.json_text import UnreadableJson, decode, json_problem, read_json
from workbench.metrics import number_counts, token_f1
from workbench.vocab import FIELDS

# A figure in a claimed gain: a number with a unit or multiplier.
_FIGURE_RE = re.compile(
    r"\bfactor(?: of)?(?: times)?\s+(\d+(?:,\d{3})*(?:\.\d+)?)"
    r"|(\d+(?:,\d{3})*(?:\.\d+)?)\s*(?:\\?%|percent\b|[xX×](?![a-zA-Z])|times\b|-?fold\b|points?\b|pp\b|p\.p\.)"
)

MAX_GOLD_BYTES = 20_000_000  # a gold file: hand-annotated samples are a few hundred lines
MAX_GOLD_LINE_CHARS = 100_000
MAX_GOLD_VALUE_CHARS = 2_000
MAX_GOLD_FIGURES = 100
_GOLD_KEYS = {"paper_id", "title", "gain_figures", *FIELDS, "note"}


@dataclass(frozen=True, slots=True)
class Gold:
    paper_id: str
    title: str
    gain_figures: tuple[str, ...]
    # the annotator's values, in vocab.FIELDS order
    technique: str | None
    claimed_gain: str | None
    compute: str | None

    @property
    def values(self) -> dict[str, str | None]:
        return {"technique": self.technique, "claimed_gain": self.claimed_gain, "compute": self.compute}


@dataclass
class Quality:
    """What one model scored on one gold sample: the counts, and the measures derived from them."""

    papers: int = 0
    figures: int = 0  # gold gain figures
    carried: int = 0  # of them, carried in the suggested claimed_gain
    suggested_figures: int = 0  # figures (number + unit) in the suggested claimed_gains
    right_figures: int = 0  # of them, belonging to a gold figure of the paper
    no_gain: int = 0  # abstracts with no gold gain figure
    null_on_no_gain: int = 0
    compute_numbers: int = 0  # numbers in the gold compute values
    compute_carried: int = 0  # of them, in the suggested compute
    technique_f1_sum: float = 0.0
    title_f1_sum: float = 0.0
    length_ratios: list[float] = field(default_factory=list)
    suggested_lengths: list[int] = field(default_factory=list)
    human_lengths: list[int] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)  # one line per miss, for a failing assertion

    # The measures: a share of what was counted (1.0 with nothing to count: no figure was missed), a median.
    figure_recall = property(lambda self: _share(self.carried, self.figures))
    figure_precision = property(lambda self: _share(self.right_figures, self.suggested_figures))
    null_rate = property(lambda self: _share(self.null_on_no_gain, self.no_gain))
    compute_recall = property(lambda self: _share(self.compute_carried, self.compute_numbers))
    technique_f1 = property(lambda self: _share(self.technique_f1_sum, self.papers, 0.0))
    title_f1 = property(lambda self: _share(self.title_f1_sum, self.papers, 0.0))  # the title alone as technique
    length_ratio = property(lambda self: _median(self.length_ratios))

    @property
    def median_lengths(self) -> tuple[float | None, float | None]:
        """(suggested, human) median claimed-gain length in characters, over the non-null values of each."""
        return _median(self.suggested_lengths), _median(self.human_lengths)

    def add(self, paper: Gold, title: str, suggested: Mapping[str, str | None]) -> None:
        """One gold paper against one suggestion's fields (`title`: the paper's, for the baseline)."""
        gain = suggested.get("claimed_gain")
        self.papers += 1
        self.technique_f1_sum += token_f1(suggested.get("technique"), paper.technique)
        self.title_f1_sum += token_f1(title, paper.technique)
        if not paper.gain_figures:
            self.no_gain += 1
            self.null_on_no_gain += gain is None
            if gain is not None:
                self.misses.append(f"not null: {title[:50]!r}: {gain[:100]!r}")
        for figure in paper.gain_figures:
            self.figures += 1
            if carries(figure, gain):
                self.carried += 1
            else:
                self.misses.append(f"missed {figure!r} in {title[:50]!r}: {gain and gain[:100]!r}")
        gold_numbers = set().union(*(numbers_in(f) for f in paper.gain_figures))
        for number in figures_in(gain):
            self.suggested_figures += 1
            if number in gold_numbers:
                self.right_figures += 1
            else:
                self.misses.append(f"not a gold figure: {number} in {title[:50]!r}: {gain[:100]!r}")
        found, wanted = number_counts(suggested.get("compute"), paper.compute)
        self.compute_carried += found
        self.compute_numbers += wanted
        if gain:
            self.suggested_lengths.append(len(gain))
        if paper.claimed_gain:
            self.human_lengths.append(len(paper.claimed_gain))
        if gain and paper.claimed_gain:
            self.length_ratios.append(len(gain) / len(paper.claimed_gain))

    def as_dict(self) -> dict:
        return {
            "papers": self.papers, "figures": self.figures, "carried": self.carried,
            "figure_recall": round(self.figure_recall, 4), "suggested_figures": self.suggested_figures,
            "right_figures": self.right_figures, "figure_precision": round(self.figure_precision, 4),
            "no_gain": self.no_gain, "null_on_no_gain": self.null_on_no_gain, "null_rate": round(self.null_rate, 4),
            "compute_numbers": self.compute_numbers, "compute_carried": self.compute_carried,
            "compute_recall": round(self.compute_recall, 4),
            "technique_f1": round(self.technique_f1, 4), "title_f1": round(self.title_f1, 4),
            "length_ratio": self.length_ratio and round(self.length_ratio, 3),
            "median_lengths": self.median_lengths,
        }


def _share(part: float, whole: int, empty: float = 1.0) -> float:
    return part / whole if whole else empty


def _median(values: list) -> float | None:
    return median(values) if values else None


def figures_in(text: str | None) -> list[str]:
    """The numbers of a claimed gain's figures (a number with a unit or multiplier), canonical, in order."""
    if not text:
        return []
    found = []
    for match in _FIGURE_RE.finditer(text):
        found.extend(numbers_in(match.group(1) or match.group(2)))
    return found


def carries(figure: str, gain: str | None) -> bool:
    """Does the claimed gain carry this gold figure: all of its numbers (or its word, for "doubles")?"""
    if not gain:
        return False
    wanted = numbers_in(figure)
    if wanted:
        return wanted <= numbers_in(gain)
    return re.search(rf"\b{re.escape(figure.strip())}\b", gain, re.I) is not None


def gold_from_decision(paper_id: str, title: str, values: Mapping[str, str | None]) -> Gold:
    """A reviewer's decision as gold: its gain figures are the figures `figures_in` finds in the
    decided claimed gain (each number once, in order)."""
    figures = tuple(dict.fromkeys(figures_in(values.get("claimed_gain"))))
    return Gold(paper_id, title, figures, *(values.get(f) for f in FIELDS))


# --------------------------------------------------------------------------- reading a gold file


def load_gold(path: Path | str) -> list[Gold]:
    """Every record of a gold file; InputError naming the file and line of the first bad one."""
    path = Path(path)
    try:
        if path.exists() and not path.is_file():  # a FIFO or a device would be read until it ends: never
            raise InputError(f"gold file {path}: not a regular file")
        if path.stat().st_size > MAX_GOLD_BYTES:
            raise InputError(f"gold file {path}: larger than {MAX_GOLD_BYTES:,} bytes")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"gold file {path}: cannot be read ({exc.strerror or exc})") from None
    records: list[Gold] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(data.split(b"\n"), 1):
        where = f"{path}:{number}"  # as every other file error: FILE:LINE
        line, problem = decode(raw.rstrip(b"\r"))
        if problem:
            raise InputError(f"{where}: {problem}")
        if not line.strip():
            continue
        record = _gold_record(line, where)
        if record.paper_id in seen:
            raise InputError(f"{where}: paper {record.paper_id!r} is already on line {seen[record.paper_id]}")
        seen[record.paper_id] = number
        records.append(record)
    if not records:
        raise InputError(f"gold file {path}: no records")
    return records


def _gold_record(line: str, where: str) -> Gold:
    if len(line) > MAX_GOLD_LINE_CHARS:
        raise InputError(f"{where}: longer than {MAX_GOLD_LINE_CHARS:,} characters")
    try:
        data = read_json(line)
    except UnreadableJson as exc:
        raise InputError(f"{where}: {json_problem(exc)}") from None
    if not isinstance(data, dict):
        raise InputError(f"{where}: not a JSON object")
    unknown = sorted(set(data) - _GOLD_KEYS)
    if unknown:
        raise InputError(f"{where}: unknown key {unknown[0]!r} (a gold line has {', '.join(sorted(_GOLD_KEYS))})")
    for key in ("paper_id", "title", "gain_figures"):
        if key not in data:
            raise InputError(f"{where}: missing {key!r}")
    figures = data["gain_figures"]
    if not isinstance(figures, list) or len(figures) > MAX_GOLD_FIGURES or \
            not all(isinstance(f, str) and f.strip() and len(f) <= 100 for f in figures):
        raise InputError(f"{where}: 'gain_figures' must be a list of at most {MAX_GOLD_FIGURES} short, non-empty strings")
    _text(data, "note", where)
    return Gold(_text(data, "paper_id", where, nullable=False), _text(data, "title", where, nullable=False),
                tuple(figures), *(_text(data, f, where) for f in FIELDS))


def _text(data: dict, key: str, where: str, nullable: bool = True) -> str | None:
    value = data.get(key)
    if value is None and nullable:
        return None
    if not isinstance(value, str) or (not nullable and not value.strip()):
        raise InputError(f"{where}: {key!r} must be {'a string or null' if nullable else 'a non-empty string'}")
    if len(value) > MAX_GOLD_VALUE_CHARS:
        raise InputError(f"{where}: {key!r} is longer than {MAX_GOLD_VALUE_CHARS:,} characters")
    return value
