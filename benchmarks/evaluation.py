"""Score a model's suggestions against a hand-annotated gold sample. Stdlib and workbench modules only.

A gold file has one JSON object a line: `paper_id`, `title`, `gain_figures` (the
gain figures the abstract states, as written; [] when it states none),
`technique`, `claimed_gain`, `compute` (the annotator's own phrases; null = not
stated) and sometimes a `note`.

The measures (the README repeats them):
- gain-figure recall: share of the gold gain figures whose numbers all appear
  in the suggested claimed_gain (a figure without digits, such as "doubles",
  must appear as a word);
- gain-figure precision: share of the figures in the suggested claimed_gain
  (a number with a unit or multiplier: %, x, ×, times, -fold, points, pp,
  "a factor of N") whose number belongs to some gold figure of that paper,
  pooled over the papers; on a paper with no gold figure every such figure is
  a false one;
- null rate: share of the abstracts with no gain figure (gain_figures == [])
  where the suggested claimed_gain is null;
- compute recall: share of the numbers in the annotator's compute that appear in the suggested
  compute, pooled over the papers whose compute the annotator filled in;
- technique token-F1: mean `metrics.token_f1` of the suggested technique
  against the annotator's phrase, over every gold paper (the title alone is
  reported as a baseline);
- length ratio: median, over the papers where both are non-null, of
  len(suggested claimed_gain) / len(annotator's claimed_gain), in characters.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Callable, Iterable

from workbench.grounding import align, numbers_in
from workbench.metrics import token_f1
from workbench.schema import Summary
from workbench.vocab import EXACT, FIELDS

# A figure in a claimed gain: a number with a unit or multiplier.
_FIGURE_RE = re.compile(
    r"\bfactor(?: of)?(?: times)?\s+(\d+(?:,\d{3})*(?:\.\d+)?)"
    r"|(\d+(?:,\d{3})*(?:\.\d+)?)\s*(?:\\?%|percent\b|[xX×](?![a-zA-Z])|times\b|-?fold\b|points?\b|pp\b|p\.p\.)"
)

Summarise = Callable[[str, str], Summary]


@dataclass(frozen=True, slots=True)
class Gold:
    paper_id: str
    title: str
    gain_figures: tuple[str, ...]
    # the annotator's values, in vocab.FIELDS order
    technique: str | None
    claimed_gain: str | None
    compute: str | None


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
    compute_numbers: int = 0  # numbers in the annotator's compute values
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


def load_gold(path: Path) -> list[Gold]:
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            data = json.loads(line)
            records.append(Gold(data["paper_id"], data["title"], tuple(data["gain_figures"]),
                                *(data.get(field_) for field_ in FIELDS)))
    return records


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


def score(gold: Iterable[Gold], abstracts: dict[str, tuple[str, str]], summarise: Summarise) -> Quality:
    """`abstracts`: paper id -> (title, abstract); `summarise(title, abstract)` is the model under test."""
    quality = Quality()
    for paper in gold:
        title, abstract = abstracts[paper.paper_id]
        summary = summarise(title, abstract)
        gain = summary.claimed_gain
        quality.papers += 1
        quality.technique_f1_sum += token_f1(summary.technique, paper.technique)
        quality.title_f1_sum += token_f1(title, paper.technique)
        if not paper.gain_figures:
            quality.no_gain += 1
            quality.null_on_no_gain += gain is None
            if gain is not None:
                quality.misses.append(f"not null: {title[:50]!r}: {gain[:100]!r}")
        for figure in paper.gain_figures:
            quality.figures += 1
            if carries(figure, gain):
                quality.carried += 1
            else:
                quality.misses.append(f"missed {figure!r} in {title[:50]!r}: {gain and gain[:100]!r}")
        gold_numbers = set().union(*(numbers_in(f) for f in paper.gain_figures))
        for number in figures_in(gain):
            quality.suggested_figures += 1
            if number in gold_numbers:
                quality.right_figures += 1
            else:
                quality.misses.append(f"not a gold figure: {number} in {title[:50]!r}: {gain[:100]!r}")
        wanted = numbers_in(paper.compute)
        quality.compute_numbers += len(wanted)
        quality.compute_carried += len(wanted & numbers_in(summary.compute))
        if gain:
            quality.suggested_lengths.append(len(gain))
        if paper.claimed_gain:
            quality.human_lengths.append(len(paper.claimed_gain))
        if gain and paper.claimed_gain:
            quality.length_ratios.append(len(gain) / len(paper.claimed_gain))
    return quality


def quote_grounding(abstracts: Iterable[tuple[str, str]], summarise: Summarise) -> tuple[int, int]:
    """(quotes made, quotes found verbatim in their abstract) over (title, abstract) pairs."""
    quotes = exact = 0
    for title, abstract in abstracts:
        for quote in summarise(title, abstract).quotes().values():
            if quote:
                quotes += 1
                exact += align(quote, abstract).status == EXACT
    return quotes, exact


def read_abstracts(paths: Iterable[Path]) -> dict[str, tuple[str, str]]:
    """Paper id -> (title, abstract) from dumps or JSONL files (or folders of them); the first sighting wins."""
    from workbench.corpus import expand_paths, read_source

    papers: dict[str, tuple[str, str]] = {}
    for path in expand_paths(list(paths)):
        for paper in read_source(path).papers:
            papers.setdefault(paper.id, (paper.title, paper.abstract))
    return papers
