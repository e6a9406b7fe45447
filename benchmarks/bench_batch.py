"""Batch suggestions at scale: request files written, result lines collected, peak memory.

    python benchmarks/bench_batch.py [--papers 1000000] [--keep DIR] [--review]

1. A store with N synthetic papers (seed abstracts, varied titles; ingested as usual, not timed).
2. `suggest --batch --batch-file`: every paper's request line written into files of at most
   50,000 requests / 200 MB (target >= 50,000 papers/s), in a process of its own, peak memory; then the
   bare baseline in the same run: the same papers read with sqlite3 and one `json.dumps` of each whole
   request line into one buffered writer (printed as the ratio of the two rates).
3. A results file answering every request in `vllm run-batch`'s format (each reply the offline
   extractor's summary of that abstract, so it validates and grounds; shuffled in blocks), then
   `batch collect --file`: every line validated, grounded and stored with its attempt, in a process
   of its own, with worker processes (`--workers`, default the core count), peak memory (target < 300 MB
   for each step).
4. The bare baseline, in the same run, on the same lines: one process doing `json.loads` of each line
   and an `executemany` of (custom_id, the reply's content, its token counts) into a fresh SQLite table
   keyed by custom_id (WAL, synchronous=NORMAL, as the store), 1,000 lines a transaction. Printed as the
   ratio of the two rates (target >= 1.0: collect at least as fast as the bare loop).
5. With --review: the review process in a pseudo-terminal accepting a paper every 100 ms while
   `batch collect --file` stores the same results into a copy of the store (target: accept -> next
   paper p95 <= 33 ms, over the accepts made while the collect ran).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_store import run_phase  # noqa: E402
from benchmarks.synthetic import seed_papers, write_corpus  # noqa: E402

MODEL = "bench-model"


def peak_mb() -> float:
    """This process's peak resident memory. Not ru_maxrss: Linux keeps it across exec, so a phase started
    from the big parent process would report the parent's size."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _model():
    from workbench.models.openai_compat import OpenAICompatibleModel

    return OpenAICompatibleModel(MODEL, base_url="http://127.0.0.1:8000/v1", api_key="no-key",
                                 response_format="json_schema")


def phase_write(db_path: Path, folder: Path) -> dict:
    from workbench import batch
    from workbench.db import open_db
    from workbench.prompts import resolve_prompt

    db = open_db(db_path)
    started = time.perf_counter()
    report = batch.write_files(db, resolve_prompt("summary"), _model(), folder / "requests.jsonl")
    seconds = time.perf_counter() - started
    return {"papers": report.requested, "files": len(report.files), "seconds": seconds,
            "bytes": sum(f.bytes for f in report.files), "peak_mb": peak_mb()}


def phase_bare_write(db_path: Path, folder: Path) -> dict:
    """The bare writer the request files are measured against: the same papers read with sqlite3 in paper
    order, one `json.dumps` of the whole request line each (the same body, the paper in the user message),
    one buffered writer, a new file every 50,000 lines. No prompt rendering, no store records."""
    import sqlite3

    from workbench.prompts import resolve_prompt

    model, prompt = _model(), resolve_prompt("summary")
    template = model.request_body(prompt, model.messages(prompt, "", ""))
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    conn = sqlite3.connect(db_path)
    papers = files = written = 0
    out = None
    for paper_id, title, abstract in conn.execute("SELECT id, title, abstract FROM papers ORDER BY seq"):
        if papers % 50_000 == 0:
            if out is not None:
                out.close()
            files += 1
            out = open(folder / f"bare-{files}.jsonl", "w", encoding="ascii", buffering=1 << 20)
        body = {**template, "messages": [*template["messages"][:-1],
                                         {"role": "user", "content": f"Title: {title}\n\nAbstract: {abstract}"}]}
        written += out.write(json.dumps({"custom_id": f"{paper_id}:bare", "method": "POST",
                                         "url": "/v1/chat/completions", "body": body}) + "\n")
        papers += 1
    if out is not None:
        out.close()
    conn.close()
    return {"papers": papers, "files": files, "seconds": time.perf_counter() - started, "bytes": written,
            "peak_mb": peak_mb()}


def phase_collect(db_path: Path, results: Path) -> dict:
    """As `workbench batch collect --file` does it (workers: the core count); the workers' peak memory
    is each process's own (VmHWM of this one; the workers hold a chunk and a connection each)."""
    from workbench import batch
    from workbench.db import open_db
    from workbench.workers import default_workers

    started = time.perf_counter()
    db = open_db(db_path)
    report = batch.collect_file(db, results, workers=default_workers())
    seconds = time.perf_counter() - started
    return {"lines": report.lines, "stored": report.stored, "ok": report.outcomes["ok"], "seconds": seconds,
            "peak_mb": peak_mb(), "workers": default_workers()}


def phase_bare(results: Path, folder: Path) -> dict:
    """The bare loop the collect is measured against (see the module's docstring)."""
    import sqlite3

    started = time.perf_counter()
    conn = sqlite3.connect(folder / "bare.db")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE results (custom_id TEXT PRIMARY KEY, content TEXT, input_tokens INTEGER, "
                 "output_tokens INTEGER)")
    rows, lines = [], 0
    with open(results, "rb") as source:
        for data in source:
            line = json.loads(data)
            body = line["response"]["body"]
            rows.append((line["custom_id"], body["choices"][0]["message"]["content"],
                         body["usage"]["prompt_tokens"], body["usage"]["completion_tokens"]))
            if len(rows) >= 1000:
                with conn:
                    conn.executemany("INSERT INTO results VALUES (?, ?, ?, ?)", rows)
                lines, rows = lines + len(rows), []
    with conn:
        conn.executemany("INSERT INTO results VALUES (?, ?, ?, ?)", rows)
    lines += len(rows)
    conn.close()
    return {"lines": lines, "seconds": time.perf_counter() - started, "peak_mb": peak_mb()}


def review_during_collect(db_path: Path, results: Path, papers: int, pace: float = 0.100,
                          workers: int | None = None) -> None:
    """A reviewer accepting one paper every `pace` s in the real review process (a pseudo-terminal) while
    `workbench batch collect --file` stores the results in the same store: accept -> next paper, counted only
    for the accepts made while the collect was running (target p95 <= 33 ms)."""
    import re
    import signal
    import subprocess

    import pexpect

    from benchmarks.bench_review import percentiles, spawn, warm_bytecode_cache

    warm_bytecode_cache()
    from workbench.db import open_db

    db = open_db(db_path)
    first_title = db.execute("SELECT title FROM papers ORDER BY seq LIMIT 1").fetchone()[0]
    db.close()
    child = spawn(db_path)
    child.expect(re.escape(first_title[:40]), timeout=60)
    child.expect(pexpect.TIMEOUT, timeout=1.0)  # the first suggestions settle
    collect = subprocess.Popen([sys.executable, "-m", "workbench", "--db", str(db_path), "batch", "collect", "--file",
                                str(results)] + (["--workers", str(workers)] if workers else []), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started, latencies, decided = time.perf_counter(), [], 0
    while collect.poll() is None:
        decided += 1
        sent = time.perf_counter()
        child.send("a")
        child.expect(f" {decided}/{papers} decided")
        if collect.poll() is None:
            latencies.append((time.perf_counter() - sent) * 1000)
        time.sleep(max(0.0, pace - (time.perf_counter() - sent)))
    collect_seconds = time.perf_counter() - started
    out, err = collect.communicate()
    child.kill(signal.SIGKILL)
    assert collect.returncode == 0, err
    print(f"review during collect: {len(latencies)} accepts, one per {pace * 1000:.0f} ms, while collect --file "
          f"stored {papers:,} lines in the same store ({collect_seconds:.1f} s): {percentiles(latencies)} "
          "(target p95 <= 33 ms)")


def write_results(folder: Path, results: Path, block: int = 10_000) -> int:
    """Answer every request file's lines in vLLM's output format, shuffled within blocks of lines."""
    from tests.fake_openai import completion, paper_in
    from workbench.models.offline import extract

    answers: dict[str, str] = {}  # abstract -> reply content (the synthetic abstracts repeat the seeds')
    rng = random.Random(3)
    count = 0
    with open(results, "w", encoding="utf-8") as out:
        for path in sorted(folder.glob("requests-*.jsonl"), key=lambda p: int(p.stem.rsplit("-", 1)[1])):
            pending = []
            with open(path, encoding="utf-8") as source:
                for text in source:
                    request = json.loads(text)
                    title, abstract = paper_in(request["body"])
                    if abstract not in answers:
                        answers[abstract] = json.dumps(extract(title, abstract).model_dump())
                    body = completion(request["body"], answers[abstract], completion_id=f"chatcmpl-{count}")
                    pending.append(json.dumps({"id": f"vllm-{count}", "custom_id": request["custom_id"], "response": {
                        "status_code": 200, "request_id": f"vllm-batch-{count}", "body": body}, "error": None}))
                    count += 1
                    if len(pending) >= block:
                        rng.shuffle(pending)
                        out.write("\n".join(pending) + "\n")
                        pending = []
            if pending:
                rng.shuffle(pending)
                out.write("\n".join(pending) + "\n")
    return count


def build_store(db_path: Path, corpus: Path, papers: int) -> None:
    from workbench.db import close_db, open_db
    from workbench.ingest import ingest

    files = write_corpus(corpus, papers, per_file=20_000)
    db = open_db(db_path)
    report = ingest(db, files)
    close_db(db)
    shutil.rmtree(corpus)
    assert report.new == papers, report.summary()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--papers", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, default=None, help="Work in this folder and keep it.")
    parser.add_argument("--review", action="store_true",
                        help="Also measure the review's accept -> next paper while a collect runs (a copy of the store).")
    parser.add_argument("--phase", nargs="+", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        name, *paths = args.phase
        phase = {"write": phase_write, "bare_write": phase_bare_write, "collect": phase_collect,
                 "bare": phase_bare}[name]
        result = phase(Path(paths[0]), Path(paths[1]))
        print(json.dumps(result))
        return
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-batch-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        db_path, folder, results = work / "bench.db", work / "requests", work / "results.jsonl"
        started = time.perf_counter()
        seed_papers()
        build_store(db_path, work / "corpus", args.papers)
        print(f"store with {args.papers:,} synthetic papers built in {time.perf_counter() - started:.0f} s")
        wrote = run_phase("write", str(db_path), str(folder), script=__file__)
        print(f"request files: {wrote['papers']:,} papers in {wrote['files']} files ({wrote['bytes'] / 1e9:.2f} GB) "
              f"in {wrote['seconds']:.1f} s = {wrote['papers'] / wrote['seconds']:,.0f} papers/s "
              f"(target >= 50,000); peak memory {wrote['peak_mb']:.0f} MB (target < 300)")
        bare_wrote = run_phase("bare_write", str(db_path), str(work / "bare-requests"), script=__file__)
        shutil.rmtree(work / "bare-requests")
        bare_write_rate = bare_wrote["papers"] / bare_wrote["seconds"]
        print(f"bare json.dumps writer, same papers, same run: {bare_wrote['seconds']:.1f} s = {bare_write_rate:,.0f} "
              f"papers/s ({bare_wrote['bytes'] / 1e9:.2f} GB); ratio request files / bare "
              f"{wrote['papers'] / wrote['seconds'] / bare_write_rate:.2f}")
        lines = write_results(folder, results)
        shutil.rmtree(folder)
        if args.review:
            shutil.copy(db_path, work / "review.db")  # as it is before the collect (the phases close the store)
        collected = run_phase("collect", str(db_path), str(results), script=__file__)
        bare = run_phase("bare", str(results), str(work), script=__file__)
        rate, bare_rate = collected["lines"] / collected["seconds"], bare["lines"] / bare["seconds"]
        print(f"collect --file ({collected['workers']} workers): {collected['lines']:,} result lines "
              f"({collected['stored']:,} stored, {collected['ok']:,} ok) in {collected['seconds']:.1f} s = "
              f"{rate:,.0f} lines/s; peak memory {collected['peak_mb']:.0f} MB (target < 300)")
        print(f"bare json.loads + executemany, same lines, same run: {bare['seconds']:.1f} s = {bare_rate:,.0f} "
              f"lines/s; ratio collect / bare {rate / bare_rate:.2f} (target >= 1.0)")
        assert lines == collected["lines"] == bare["lines"]
        if args.review:
            review_during_collect(work / "review.db", results, args.papers)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
