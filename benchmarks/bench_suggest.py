"""Suggestion throughput.

    python benchmarks/bench_suggest.py [--only openai|cores|offline|quality] [--cores-papers N]

1. The 504 seed abstracts against a Chat Completions server on 127.0.0.1 (its own
   process) that answers after 200 ms, at concurrency 16, 32 and 64: a bare
   AsyncOpenAI loop sending the same request bodies and `workbench suggest`, each
   timed as a whole run, process start to exit, three times in alternating order
   (target: workbench within 10%, medians).
2. `workbench suggest --model offline` on a store of 50,000 synthetic papers, whole
   processes: `--workers 1` against every core, three times in alternating order
   (target: >= 1.8x the one-core rate on 2 cores).
   Then the offline model's throughput, the model alone and the whole `suggest`
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
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.db import close_db, open_db  # noqa: E402
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

# The bare client: the same request bodies, sent by a plain AsyncOpenAI loop, replies parsed as JSON.
BARE = """
import asyncio, json, sys
from openai import AsyncOpenAI

async def main(path, base_url, concurrency):
    bodies = [json.loads(line) for line in open(path)]
    client = AsyncOpenAI(base_url=base_url, api_key="sk-bench", max_retries=0, timeout=30)
    gate = asyncio.Semaphore(concurrency)

    async def one(body):
        async with gate:
            reply = await client.chat.completions.create(**body)
            return json.loads(reply.choices[0].message.content)

    done = await asyncio.gather(*(one(body) for body in bodies))
    await client.close()
    print(len(done))

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""

LATENCY, CONCURRENCIES = 0.2, (16, 32, 64)


def _bodies(db, path: Path) -> int:
    """Every paper's request body, exactly as `workbench suggest` sends it, one a line."""
    model = OpenAICompatibleModel("bench-model", base_url="http://127.0.0.1:9/v1", api_key="sk-bench",
                                  response_format="json_schema")
    prompt = resolve_prompt("summary")
    with open(path, "w") as out:
        for title, abstract in db.execute("SELECT title, abstract FROM papers ORDER BY seq"):
            out.write(json.dumps(model.request_body(prompt, model.messages(prompt, title, abstract))) + "\n")
    return db.execute("SELECT count(*) FROM papers").fetchone()[0]


def _timed(command: list[str], env: dict) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, stdout) of a whole run of `command`."""
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"{' '.join(command[:3])}... failed:\n{done.stderr[-3000:]}")
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = cpu_after.ru_utime + cpu_after.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime
    return wall, cpu, done.stdout


def bench_openai(db, db_path: Path, tmp: Path, rounds: int = 3) -> None:
    """Whole runs, process start to exit, side by side: a bare AsyncOpenAI loop and `workbench suggest`,
    against the same local server (its own process, 200 ms a reply). Each pair runs `rounds` times in
    alternating order (the machine is shared: one run says little); every run is printed, then the medians."""
    close_db(db)
    papers = _bodies(open_db(db_path), tmp / "bodies.jsonl")
    server = subprocess.Popen([sys.executable, "-c", SERVER.format(root=str(ROOT), latency=LATENCY)],
                              stdout=subprocess.PIPE, text=True)
    try:
        base_url = server.stdout.readline().strip()
        env = dict(os.environ, OPENAI_BASE_URL=base_url, OPENAI_API_KEY="sk-bench",
                   WORKBENCH_CONFIG=str(tmp / "no-config.toml"), WORKBENCH_PROMPTS=str(ROOT / "prompts"))

        def bare(concurrency: int) -> tuple[float, float]:
            wall, cpu, out = _timed([sys.executable, "-c", BARE, str(tmp / "bodies.jsonl"), base_url,
                                     str(concurrency)], env)
            assert int(out) == papers
            return wall, cpu

        def ours(concurrency: int) -> tuple[float, float]:
            run_db = tmp / f"run-{concurrency}.db"
            shutil.copy(db_path, run_db)
            wall, cpu, out = _timed([sys.executable, "-m", "workbench", "--db", str(run_db), "suggest", "--model",
                                     "bench-model", "--response-format", "json_schema", "--concurrency",
                                     str(concurrency)], env)
            assert f"suggested {papers} (ok {papers})" in out, out
            run_db.unlink()
            return wall, cpu

        for concurrency in CONCURRENCIES:
            runs: dict[str, list[tuple[float, float]]] = {"bare": [], "ours": []}
            for round_ in range(rounds):
                order = ("bare", "ours") if round_ % 2 == 0 else ("ours", "bare")
                for name in order:
                    runs[name].append((bare if name == "bare" else ours)(concurrency))
            listed = lambda name: ", ".join(f"{w:.2f}" for w, _ in runs[name])  # noqa: E731
            wall = {name: statistics.median(w for w, _ in runs[name]) for name in runs}
            cpu = {name: statistics.median(c for _, c in runs[name]) * 1000 / papers for name in runs}
            print(f"openai path, {papers} abstracts, {LATENCY * 1000:.0f} ms a reply, concurrency {concurrency} "
                  f"(ideal request time {papers * LATENCY / concurrency:.2f} s), whole runs, process start to exit: "
                  f"bare client {listed('bare')} s, workbench suggest {listed('ours')} s; medians {wall['bare']:.2f} "
                  f"vs {wall['ours']:.2f} s, bare/workbench {wall['bare'] / wall['ours']:.2f} (target >= 0.91: "
                  f"within 10%); CPU {cpu['bare']:.1f} vs {cpu['ours']:.1f} ms a paper")
    finally:
        server.terminate()
        server.wait()


def bench_cores(tmp: Path, papers: int, rounds: int = 3) -> None:
    """`suggest --model offline` as whole processes, process start to exit, on a store of `papers` synthetic
    papers: one worker (the one-core rate) and every core, `rounds` times each in alternating order."""
    from benchmarks.synthetic import write_corpus
    from workbench.workers import default_workers

    base = tmp / "cores.db"
    db = open_db(base)
    ingest(db, write_corpus(tmp / "corpus", papers, per_file=20_000))
    close_db(db)
    cores = default_workers()
    env = dict(os.environ, WORKBENCH_CONFIG=str(tmp / "no-config.toml"))
    runs: dict[int, list[float]] = {1: [], cores: []}
    for round_ in range(rounds):
        for workers in ((1, cores) if round_ % 2 == 0 else (cores, 1)):
            run_db = tmp / f"cores-{workers}.db"
            shutil.copy(base, run_db)
            wall, _, out = _timed([sys.executable, "-m", "workbench", "--db", str(run_db), "suggest", "--model",
                                   "offline", "--workers", str(workers)], env)
            assert f"suggested {papers} (ok {papers})" in out, out
            run_db.unlink()
            runs[workers].append(wall)
    one, many = statistics.median(runs[1]), statistics.median(runs[cores])
    print(f"offline suggest, {papers:,} papers, whole runs, process start to exit: 1 worker "
          f"{', '.join(f'{w:.2f}' for w in runs[1])} s ({papers / one:,.0f} papers/s median); {cores} workers "
          f"{', '.join(f'{w:.2f}' for w in runs[cores])} s ({papers / many:,.0f} papers/s median); speed-up "
          f"{one / many:.2f}x (target >= 1.8x on 2 cores); per round "
          f"{', '.join(f'{a / b:.2f}' for a, b in zip(runs[1], runs[cores]))}")


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
    from benchmarks.evaluation import load_gold, quote_grounding, score

    papers = {r[0]: (r[1], r[2]) for r in db.execute("SELECT id, title, abstract FROM papers")}
    for name in ("summary", "gains"):
        settings = resolve_prompt(name).offline
        model = lambda title, abstract: extract(title, abstract, settings)  # noqa: E731
        for sample in ("dev", "dev2", "heldout", "blind", "blind2", "fresh"):
            q = score(load_gold(ROOT / "tests" / "fixtures" / f"offline_gold_{sample}.jsonl"), papers, model)
            lengths = q.median_lengths
            print(f"offline quality, {name} prompt, {sample} sample ({q.papers} abstracts): gain-figure recall "
                  f"{q.carried}/{q.figures} = {q.figure_recall:.0%} (target >= 85%), precision "
                  f"{q.right_figures}/{q.suggested_figures} = {q.figure_precision:.0%} (>= 90%), null on no-gain "
                  f"{q.null_on_no_gain}/{q.no_gain} = {q.null_rate:.0%} (>= 90%), technique token-F1 "
                  f"{q.technique_f1:.3f} (>= 0.45; title alone {q.title_f1:.3f}), claimed-gain length ratio "
                  f"{q.length_ratio:.2f} (<= 2; median {lengths[0]} vs. human {lengths[1]} characters), compute "
                  f"recall {q.compute_carried}/{q.compute_numbers} = {q.compute_recall:.0%}")
        quotes, exact = quote_grounding(papers.values(), model)
        print(f"offline quotes ({name} prompt) on the {len(papers)} seed abstracts grounding exactly: {exact}/{quotes}")


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=("openai", "cores", "offline", "quality"), action="append",
                        help="Run only these parts (repeatable; default: all).")
    parser.add_argument("--cores-papers", type=int, default=50_000, help="Papers in the store of the cores part.")
    args = parser.parse_args()
    parts = set(args.only or ("openai", "cores", "offline", "quality"))
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.db"
        db = open_db(db_path)
        ingest(db, [ROOT / "seeds"])
        if "openai" in parts:
            bench_openai(db, db_path, Path(tmp))
            db = open_db(db_path)
        if "cores" in parts:
            bench_cores(Path(tmp), args.cores_papers)
        if "offline" in parts:
            bench_offline(db)
        if "quality" in parts:
            offline_quality(db)


if __name__ == "__main__":
    main()
