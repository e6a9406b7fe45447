"""Score saved model replies again, as replied and after the checks the workbench ships.

    python benchmarks/rescore_replies.py --gold tests/fixtures/offline_gold_heldout.jsonl --gold-papers 30 \\
        benchmarks/replies/qwen1.5b-heldout30.jsonl

A reply file is what `bench_local_llm.py --dump` writes (one JSON object a line: prompt, paper_id, outcome,
the stored values, raw). Each prompt's replies are scored three ways on the gold sample: the raw reply as
the model wrote it; after the checks with any number counted as a figure (`gain_needs_figure` before
issue 24's second round); after the checks as they ship (a figure as the offline finder reads one). So a
change to the checks is measured on real replies without running the model again. The README's table in
*Choosing a model and a prompt* is this script's output on `benchmarks/replies/`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.evaluation import load_gold, read_abstracts, score  # noqa: E402
from workbench.checks import Checks, check_values  # noqa: E402
from workbench.grounding import numbers_in  # noqa: E402
from workbench.models.figures import figure_numbers  # noqa: E402
from workbench.schema import Evidence, Summary  # noqa: E402
from workbench.vocab import FIELDS, OK  # noqa: E402

EVERY_CHECK = Checks(**{name: True for name in Checks.__dataclass_fields__})
READINGS = (("as replied", None), ("checks, any number a figure", numbers_in), ("shipped checks", figure_numbers))


def replied(row: dict) -> dict[str, str | None]:
    """The values as the model wrote them (its raw reply), or none for a reply that was not ok."""
    if row.get("outcome") != OK:
        return {f: None for f in FIELDS}
    try:
        raw = json.loads(row["raw"])
        return {f: raw.get(f) if isinstance(raw.get(f), str) else None for f in FIELDS}
    except (ValueError, TypeError, AttributeError):  # cut at 4,000 characters by the dump: the stored values
        return {f: row.get(f) for f in FIELDS}


def rescore(gold_path: Path, gold_papers: int, dumps: list[Path]) -> list[tuple[str, str, object]]:
    """(prompt, reading, Quality) for every prompt of the reply files and every reading."""
    gold = load_gold(gold_path)[:gold_papers]
    abstracts = read_abstracts([ROOT / "seeds"])
    by_text = {abstracts[g.paper_id]: g.paper_id for g in gold}
    rows: dict[str, dict[str, dict]] = {}
    for dump in dumps:
        for line in dump.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            rows.setdefault(row["prompt"], {})[row["paper_id"]] = row
    out = []
    for prompt, replies in rows.items():
        for reading, figures_of in READINGS:
            def summarise(title: str, abstract: str, figures_of=figures_of) -> Summary:
                values = replied(replies.get(by_text[(title, abstract)], {}))
                if figures_of is not None:
                    values, _ = check_values(values, abstract, EVERY_CHECK, figures_of=figures_of)
                return Summary(**values, evidence=Evidence(**{f: None for f in FIELDS}))
            out.append((prompt, reading, score(gold, abstracts, summarise)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gold", type=Path, required=True)
    parser.add_argument("--gold-papers", type=int, default=30)
    parser.add_argument("dumps", type=Path, nargs="+")
    args = parser.parse_args()
    print("| prompt | reading | gain-figure recall | null on no-gain | gain-figure precision | compute recall |")
    print("|---|---|---|---|---|---|")
    for prompt, reading, q in rescore(args.gold, args.gold_papers, args.dumps):
        print(f"| {prompt} | {reading} | {q.figure_recall:.2f} | {q.null_rate:.2f} | {q.figure_precision:.2f} | "
              f"{q.compute_recall:.2f} |")


if __name__ == "__main__":
    main()
