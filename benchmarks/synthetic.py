"""Synthetic corpora made from the seed abstracts, for the benchmarks.

Titles are varied (seed title + generated suffix) so every paper is distinct;
abstracts are the seed abstracts, cycled, in the metadata layout.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.corpus import expand_paths, read_source  # noqa: E402

WORDS = ("scalable", "sparse", "adaptive", "efficient", "robust", "federated", "curriculum", "low-rank",
         "multimodal", "continual", "distilled", "quantized", "streaming", "hierarchical", "contrastive")


def seed_papers() -> list:
    papers, seen = [], set()
    for path in expand_paths([ROOT / "seeds"]):
        for paper in read_source(path).papers:
            if paper.id not in seen:
                seen.add(paper.id)
                papers.append(paper)
    return papers


def write_corpus(folder: Path, count: int, per_file: int = 5000, seed: int = 7) -> list[Path]:
    """Write `count` distinct papers as dumps of `per_file` papers each."""
    rng = random.Random(seed)
    base = seed_papers()
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for start in range(0, count, per_file):
        path = folder / f"synthetic_{start // per_file:04d}.txt"
        with open(path, "w", encoding="utf-8") as out:
            out.write("Get trending papers in your email inbox!\n\nSubscribe\n\n")
            for i in range(start, min(start + per_file, count)):
                paper = base[i % len(base)]
                title = f"{paper.title} ({rng.choice(WORDS)} {rng.choice(WORDS)} study {i})"
                out.write(f"{title}\n\n{paper.abstract}\n\n  \u2022 {rng.randint(1, 30)} authors\n\u00b7\n"
                          f"Mar {rng.randint(1, 28)}, 2024 {rng.randint(0, 99)}\n\n")
        files.append(path)
    return files
