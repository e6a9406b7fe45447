"""Measure the offline model against the hand-annotated held-out sample.

The gold file lists, for each held-out seed abstract, the gain figures it states
(annotated by hand before the extraction rules were written; rules were tuned
on a separate dev sample). A figure is carried when every number in it appears
in the model's claimed_gain.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from workbench.grounding import align, numbers_in
from workbench.models.offline import extract

GOLD = Path(__file__).resolve().parent / "fixtures" / "offline_gold_heldout.jsonl"


@dataclass
class Quality:
    figures: int
    carried: int
    no_gain: int
    null_on_no_gain: int
    quotes: int
    exact_quotes: int
    misses: list[str]

    @property
    def figure_recall(self) -> float:
        return self.carried / self.figures

    @property
    def null_rate(self) -> float:
        return self.null_on_no_gain / self.no_gain


def measure(abstracts: dict[str, tuple[str, str]], all_abstracts: list[tuple[str, str]]) -> Quality:
    """`abstracts`: paper id -> (title, abstract) for the gold papers; quotes are checked on all."""
    quality = Quality(0, 0, 0, 0, 0, 0, [])
    for line in (GOLD.read_text().splitlines() if abstracts else []):
        gold = json.loads(line)
        title, abstract = abstracts[gold["paper_id"]]
        gain = extract(title, abstract).claimed_gain
        found = numbers_in(gain)
        if not gold["gain_figures"]:
            quality.no_gain += 1
            quality.null_on_no_gain += gain is None
            if gain is not None:
                quality.misses.append(f"not null: {title[:50]!r}: {gain[:80]!r}")
        for figure in gold["gain_figures"]:
            quality.figures += 1
            if numbers_in(figure) <= found:
                quality.carried += 1
            else:
                quality.misses.append(f"missed {figure!r} in {title[:50]!r}")
    for title, abstract in all_abstracts:
        summary = extract(title, abstract)
        for quote in summary.quotes().values():
            if quote:
                quality.quotes += 1
                quality.exact_quotes += align(quote, abstract).status == "exact"
    return quality
