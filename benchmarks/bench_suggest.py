"""Suggestion throughput.

    python benchmarks/bench_suggest.py

1. 500 seed abstracts against a Chat Completions server on 127.0.0.1 (its own
   process) that answers after 200 ms, at concurrency 16: wall time and
   efficiency against the ideal 500 x 0.2 s / 16 = 6.25 s (target >= 0.85).
2. The offline model's throughput, the model alone and the whole `suggest`
   pipeline with grounding and store writes (target >= 2,000 abstracts/s).
3. The offline model's quality on the hand-annotated samples in tests/fixtures, with
   the summary and the gains prompt's settings (workbench/evaluation.py defines the
   measures; targets: gain-figure recall >= 0.85, precision >= 0.90, null on no-gain
   abstracts >= 0.90, technique token-F1 >= 0.45, claimed-gain length <= 2x the
   human's; every quote grounds exactly). The tests assert the thresholds; this
   prints the figures.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.db import open_db  # noqa: E402
from workbench.grounding import ground_summary  # noqa: E402
from workbench.ingest import ingest  # noqa: E402
from workbench.models import get_model  # noqa: E402
from workbench.models.offline import extract  # noqa: E402
from workbench.models.openai_compat import OpenAICompatibleModel  # noqa: E402
from workbench.prompts import resolve_prompt  # noqa: E402
from workbench.suggest import run_suggestions  # noqa: E402

SERVER = """
import sys, time
sys.path.insert(0, {root!r})
from tests.fake_openai import FakeOpenAI
fake = FakeOpenAI(latency={latency}).start()
print(fake.base_url, flush=True)
while True:
    time.sleep(3600)
"""

PAPERS, LATENCY, CONCURRENCY = 500, 0.2, 16


async def _openai_run(db, base_url: str):
    model = OpenAICompatibleModel("bench-model", base_url=base_url, api_key="sk-bench", timeout=30)
    try:
        ids = [r[0] for r in db.execute("SELECT id FROM papers ORDER BY seq LIMIT ?", [PAPERS])]
        return await run_suggestions(db, resolve_prompt("summary"), model, paper_ids=ids, concurrency=CONCURRENCY)
    finally:
        await model.aclose()


def bench_openai(db) -> None:
    server = subprocess.Popen([sys.executable, "-c", SERVER.format(root=str(ROOT), latency=LATENCY)],
                              stdout=subprocess.PIPE, text=True)
    try:
        base_url = server.stdout.readline().strip()
        started = time.perf_counter()
        report = asyncio.run(_openai_run(db, base_url))
        wall = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait()
    ideal = report.done * LATENCY / CONCURRENCY
    print(f"openai path: {report.done} abstracts ({report.outcomes['ok']} ok), {LATENCY * 1000:.0f} ms latency, "
          f"concurrency {CONCURRENCY}: wall {wall:.2f} s, ideal {ideal:.2f} s, efficiency {ideal / wall:.2f} "
          f"(target >= 0.85)")


def bench_offline(db) -> None:
    papers = list(db.query("SELECT id, title, abstract FROM papers ORDER BY seq"))
    rounds = 10
    started = time.perf_counter()
    for _ in range(rounds):
        for paper in papers:
            summary = extract(paper["title"], paper["abstract"])
            ground_summary(summary.fields(), summary.quotes(), paper["abstract"])  # (values, quotes, abstract)
    model_rate = rounds * len(papers) / (time.perf_counter() - started)

    started = time.perf_counter()
    report = asyncio.run(run_suggestions(db, resolve_prompt("gains"), get_model("offline"), concurrency=8))
    pipeline_rate = report.done / (time.perf_counter() - started)
    print(f"offline model: {model_rate:,.0f} abstracts/s extract+ground (target >= 2,000); "
          f"whole suggest pipeline with store writes: {pipeline_rate:,.0f} abstracts/s ({report.done} papers)")


def offline_quality(db) -> None:
    from workbench.evaluation import load_gold, quote_grounding, score

    papers = {r[0]: (r[1], r[2]) for r in db.execute("SELECT id, title, abstract FROM papers")}
    for name in ("summary", "gains"):
        settings = resolve_prompt(name).offline
        model = lambda title, abstract: extract(title, abstract, settings)  # noqa: E731
        for sample in ("dev", "dev2", "heldout", "blind", "blind2"):
            q = score(load_gold(ROOT / "tests" / "fixtures" / f"offline_gold_{sample}.jsonl"), papers, model)
            lengths = q.median_lengths
            print(f"offline quality, {name} prompt, {sample} sample ({q.papers} abstracts): gain-figure recall "
                  f"{q.carried}/{q.figures} = {q.figure_recall:.0%} (target >= 85%), precision "
                  f"{q.right_figures}/{q.suggested_figures} = {q.figure_precision:.0%} (>= 90%), null on no-gain "
                  f"{q.null_on_no_gain}/{q.no_gain} = {q.null_rate:.0%} (>= 90%), technique token-F1 "
                  f"{q.technique_f1:.2f} (>= 0.45; title alone {q.title_f1:.2f}), claimed-gain length ratio "
                  f"{q.length_ratio:.2f} (<= 2; median {lengths[0]} vs. human {lengths[1]} characters)")
        quotes, exact = quote_grounding(papers.values(), model)
        print(f"offline quotes ({name} prompt) on the {len(papers)} seed abstracts grounding exactly: {exact}/{quotes}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "bench.db")
        ingest(db, [ROOT / "seeds"])
        bench_openai(db)
        bench_offline(db)
        offline_quality(db)


if __name__ == "__main__":
    main()
