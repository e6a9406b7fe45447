"""Score a model's suggestions against a hand-annotated gold sample. Stdlib and workbench modules only.

The gold file's format and the measures live in `workbench/gold.py` (`workbench compare --against`
uses them too); this module runs a model over the gold papers' abstracts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

from workbench.gold import Gold, Quality, carries, figures_in, load_gold  # noqa: F401  (the benchmarks' names)
from workbench.grounding import align
from workbench.schema import Summary
from workbench.vocab import EXACT

Summarise = Callable[[str, str], Summary]


def score(gold: Iterable[Gold], abstracts: dict[str, tuple[str, str]], summarise: Summarise) -> Quality:
    """`abstracts`: paper id -> (title, abstract); `summarise(title, abstract)` is the model under test."""
    quality = Quality()
    for paper in gold:
        title, abstract = abstracts[paper.paper_id]
        quality.add(paper, title, summarise(title, abstract).fields())
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
