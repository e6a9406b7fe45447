"""A real small model behind llama.cpp's server, measured as the workbench uses it.

    WORKBENCH_LLAMA_SERVER=.../llama-server WORKBENCH_LLAMA_MODEL=.../model.gguf \
        python benchmarks/bench_local_llm.py [--papers 10] [--gold-papers 30]

1. For each response format (json_schema, json_object_schema, json_object, text): the
   first N seed abstracts, one request at a time: ok rate, seconds per abstract, output
   tokens per second, and how the quotes ground (exact / fuzzy / ungrounded).
2. Quality on the hand-annotated held-out sample (the first G of its papers) with the best
   format, next to the offline model's on the same papers: gain-figure recall and
   precision, null rate, technique token-F1, median claimed-gain length ratio.
Takes tens of minutes on two cores (a 1.5B model answers in 10-30 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.local_llm import MODEL_NAME, configured, llama_server  # noqa: E402
from workbench.db import open_db  # noqa: E402
from benchmarks.evaluation import load_gold, read_abstracts, score  # noqa: E402
from workbench.ingest import ingest  # noqa: E402
from workbench.models.offline import OfflineModel  # noqa: E402
from workbench.models.openai_compat import RESPONSE_FORMATS, OpenAICompatibleModel  # noqa: E402
from workbench.prompts import resolve_prompt  # noqa: E402
from workbench.schema import Evidence, Summary  # noqa: E402
from workbench.store import paper_order  # noqa: E402
from workbench.suggest import run_suggestions  # noqa: E402
from workbench.vocab import FIELDS  # noqa: E402

GOLD = ROOT / "tests" / "fixtures" / "offline_gold_heldout.jsonl"


async def _run(db, base_url: str, mode: str, paper_ids: list[str]):
    model = OpenAICompatibleModel(MODEL_NAME, base_url=base_url, timeout=600, response_format=mode)
    try:
        return await run_suggestions(db, resolve_prompt("summary"), model, paper_ids=paper_ids, concurrency=1,
                                     force=True)
    finally:
        await model.aclose()


def _rows(db, mode: str, paper_ids: list[str]) -> list[dict]:
    marks = ", ".join("?" for _ in paper_ids)
    return list(db.query(f"SELECT * FROM suggestions WHERE model = ? AND json_extract(params, '$.response_format') = ? "
                         f"AND paper_id IN ({marks})", [MODEL_NAME, mode, *paper_ids]))


def measure_format(db, base_url: str, mode: str, paper_ids: list[str]) -> None:
    started = time.perf_counter()
    report = asyncio.run(_run(db, base_url, mode, paper_ids))
    wall = time.perf_counter() - started
    rows = _rows(db, mode, paper_ids)
    grounding = Counter()
    for row in rows:
        for span in (json.loads(row["evidence"]) or {}).values() if row["evidence"] else []:
            if span:
                grounding[span["status"]] += 1
    seconds = [r["latency_ms"] / 1000 for r in rows if r["outcome"] == "ok"]
    tokens = sum(r["output_tokens"] or 0 for r in rows if r["outcome"] == "ok")
    rate = tokens / sum(seconds) if seconds else 0.0
    quotes = sum(grounding.values()) or 1
    print(f"{mode:<20} ok {report.outcomes['ok']}/{report.done}  outcomes {dict(report.outcomes)}  "
          f"{wall / max(report.done, 1):5.1f} s/abstract  {rate:4.1f} output tokens/s  quotes exact "
          f"{grounding['exact'] / quotes:.0%} fuzzy {grounding['fuzzy'] / quotes:.0%} "
          f"ungrounded {grounding['ungrounded'] / quotes:.0%}", flush=True)


def quality(db, base_url: str, mode: str, count: int) -> None:
    gold = load_gold(GOLD)[:count]
    abstracts = read_abstracts([ROOT / "seeds"])
    ids = [g.paper_id for g in gold]
    asyncio.run(_run(db, base_url, mode, ids))
    stored = {r["paper_id"]: r for r in _rows(db, mode, ids)}

    def from_store(title: str, abstract: str) -> Summary:
        pid = next(g.paper_id for g in gold if abstracts[g.paper_id] == (title, abstract))
        row = stored.get(pid)
        values = {f: (row[f] if row and row["outcome"] == "ok" else None) for f in FIELDS}
        return Summary(**values, evidence=Evidence(**{f: None for f in FIELDS}))

    offline = OfflineModel()
    prompt = resolve_prompt("summary")
    for name, summarise in ((f"{MODEL_NAME} ({mode})", from_store),
                            ("offline", lambda t, a: offline.summarise_now(t, a, prompt).summary)):
        q = score(gold, abstracts, summarise)
        print(f"{name:<32} gain recall {q.figure_recall:.2f}  precision {q.figure_precision:.2f}  "
              f"null rate {q.null_rate:.2f}  technique F1 {q.technique_f1:.2f}  "
              f"length ratio {q.length_ratio or 0:.2f}  ({q.papers} papers)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--papers", type=int, default=10, help="seed abstracts per response format")
    parser.add_argument("--gold-papers", type=int, default=30, help="held-out papers for the quality comparison")
    args = parser.parse_args()
    found = configured()
    if found is None:
        sys.exit("set WORKBENCH_LLAMA_SERVER and WORKBENCH_LLAMA_MODEL (see the README)")
    with tempfile.TemporaryDirectory() as tmp, llama_server(*found) as base_url:
        db = open_db(Path(tmp) / "bench.db")
        ingest(db, [ROOT / "seeds"])
        ids = [pid for _, pid in paper_order(db)[:args.papers]]
        print(f"model {found[1].name}, llama-server one slot, two threads; {args.papers} seed abstracts per format")
        for mode in RESPONSE_FORMATS:
            measure_format(db, base_url, mode, ids)
        quality(db, base_url, RESPONSE_FORMATS[0], args.gold_papers)


if __name__ == "__main__":
    main()
