"""A real small model behind llama.cpp's server, measured as the workbench uses it.

    WORKBENCH_LLAMA_URL=http://127.0.0.1:8091/v1 python benchmarks/bench_local_llm.py   # a running server
    WORKBENCH_LLAMA_SERVER=.../llama-server WORKBENCH_LLAMA_MODEL=.../model.gguf \
        python benchmarks/bench_local_llm.py [--papers 10] [--gold FILE] [--gold-papers 30] [--prompts a,b]

1. For each response format (json_schema, json_object_schema, json_object, text): the
   first N seed abstracts (--papers, 0 skips this), one request at a time: ok rate, seconds
   per abstract, output tokens per second, and how the quotes ground (exact / fuzzy / ungrounded).
2. The quality table, for every shipped prompt (or --prompts), on the first G papers of a
   hand-annotated gold sample, with one response format (--format): gain-figure recall, null
   on no-gain abstracts, gain-figure precision, compute recall, technique token-F1, median
   claimed-gain length in characters, then ok, seconds an abstract, output tokens/s and
   time-outs; the offline model's row on the same papers, and the model's row again with
   "a claimed gain with no figure from the abstract is null" applied after the reply (two readings
   of "figure": see `checked_gain`).
   --dump FILE writes every reply's fields (JSONL) for reading the misses.
   --evidence-first is the schema trial of issue 24: the JSON Schema (and the example replies) put
   `evidence` before the values, so a constrained model quotes first and summarises after.
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

from tests.local_llm import HOW, MODEL_NAME, local_endpoint  # noqa: E402
from workbench.db import open_db  # noqa: E402
from workbench.endpoint import wait_while_loading  # noqa: E402
from benchmarks.evaluation import figures_in, load_gold, read_abstracts, score  # noqa: E402
from workbench.grounding import numbers_in  # noqa: E402
from workbench.ingest import ingest  # noqa: E402
from workbench.models.figures import figure_numbers  # noqa: E402
from workbench.models.offline import OfflineModel  # noqa: E402
from workbench.models.openai_compat import RESPONSE_FORMATS, OpenAICompatibleModel  # noqa: E402
from workbench.prompts import list_prompts, resolve_prompt  # noqa: E402
from workbench.schema import Evidence, Summary  # noqa: E402
from workbench.store import paper_order  # noqa: E402
from workbench.suggest import run_suggestions  # noqa: E402
from workbench.vocab import FIELDS, OK  # noqa: E402

GOLD = ROOT / "tests" / "fixtures" / "offline_gold_heldout.jsonl"
_timeout = 300.0
TIMEOUT = 300  # seconds for one reply: the README's --timeout (a time-out here is one a user would meet)


async def _run(db, base_url: str, prompt, mode: str, paper_ids: list[str]):
    model = OpenAICompatibleModel(MODEL_NAME, base_url=base_url, timeout=_timeout, response_format=mode)
    try:
        return await run_suggestions(db, prompt, model, paper_ids=paper_ids, concurrency=1, force=True)
    finally:
        await model.aclose()


def _rows(db, prompt, mode: str, paper_ids: list[str]) -> list[dict]:
    marks = ", ".join("?" for _ in paper_ids)
    rows = db.query(f"SELECT * FROM suggestions WHERE model = ? AND prompt_id = ? AND paper_id IN ({marks})",
                    [MODEL_NAME, prompt.id, *paper_ids])
    return [r for r in rows if json.loads(r["params"]).get("response_format") == mode]


def _speed(rows: list[dict], wall: float, done: int) -> tuple[float, float]:
    """(seconds an abstract, wall clock; output tokens a second over the ok replies' own latency)."""
    seconds = sum(r["latency_ms"] / 1000 for r in rows if r["outcome"] == OK)
    tokens = sum(r["output_tokens"] or 0 for r in rows if r["outcome"] == OK)
    return wall / max(done, 1), (tokens / seconds if seconds else 0.0)


def measure_format(db, base_url: str, mode: str, paper_ids: list[str]) -> None:
    prompt = resolve_prompt("summary")
    started = time.perf_counter()
    report = asyncio.run(_run(db, base_url, prompt, mode, paper_ids))
    rows = _rows(db, prompt, mode, paper_ids)
    per_abstract, rate = _speed(rows, time.perf_counter() - started, report.done)
    grounding = Counter()
    for row in rows:
        for span in (json.loads(row["evidence"]) or {}).values() if row["evidence"] else []:
            if span:
                grounding[span["status"]] += 1
    quotes = sum(grounding.values()) or 1
    print(f"{mode:<20} ok {report.outcomes['ok']}/{report.done}  outcomes {dict(report.outcomes)}  "
          f"{per_abstract:5.1f} s/abstract  {rate:4.1f} output tokens/s  quotes exact "
          f"{grounding['exact'] / quotes:.0%} fuzzy {grounding['fuzzy'] / quotes:.0%} "
          f"ungrounded {grounding['ungrounded'] / quotes:.0%}", flush=True)


HEADER = ("| model · prompt | gain-figure recall | null on no-gain | gain-figure precision | compute recall | "
          "technique token-F1 | gain length (median chars) | ok | s an abstract | output tokens/s | time-outs |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|")


def _line(name: str, q, tail: str = "| | | | |") -> str:
    length = q.median_lengths[0]
    return (f"| {name} | {q.figure_recall:.2f} | {q.null_rate:.2f} | {q.figure_precision:.2f} | {q.compute_recall:.2f} | "
            f"{q.technique_f1:.2f} | {'-' if length is None else f'{length:.0f}'} {tail}")


def checked_gain(gain: str | None, abstract: str, finder: bool = True) -> str | None:
    """Issue 24's first check: a claimed gain with no figure from the abstract is null. A figure as the
    offline model's finder sees one ("2.3x", "+20%", "3 Dice points", "83 vs. 176", but also "3 hours"),
    or, stricter (finder=False), as the measures count one: a number with %, x, times, -fold or points
    right after it. Either way its number must be in the abstract."""
    if not gain:
        return None
    numbers = figure_numbers(gain) if finder else set(figures_in(gain))
    return gain if numbers & numbers_in(abstract) else None


def quality(db, base_url: str, prompt, mode: str, gold: list, abstracts: dict, dump) -> list[str]:
    ids = [g.paper_id for g in gold]
    started = time.perf_counter()
    report = asyncio.run(_run(db, base_url, prompt, mode, ids))
    wall = time.perf_counter() - started
    stored = {r["paper_id"]: r for r in _rows(db, prompt, mode, ids)}
    by_text = {abstracts[pid]: pid for pid in ids}
    per_abstract, rate = _speed(list(stored.values()), wall, report.done)

    def from_store(title: str, abstract: str, check: bool | None = None) -> Summary:
        row = stored.get(by_text[(title, abstract)])
        values = {f: (row[f] if row and row["outcome"] == OK else None) for f in FIELDS}
        if check is not None:
            values["claimed_gain"] = checked_gain(values["claimed_gain"], abstract, finder=check)
        return Summary(**values, evidence=Evidence(**{f: None for f in FIELDS}))

    if dump:
        for pid in ids:
            row = stored.get(pid) or {}
            dump.write(json.dumps({"prompt": prompt.name, "paper_id": pid, "outcome": row.get("outcome"),
                                   **{f: row.get(f) for f in FIELDS}, "error": row.get("error"),
                                   "raw": (row.get("raw") or "")[:4000]}) + "\n")
    timeouts = sum(n for message, n in report.errors.items() if "time" in message.lower())
    tail = f"| {report.outcomes[OK]}/{report.done} | {per_abstract:.1f} | {rate:.1f} | {timeouts} |"
    offline, model = OfflineModel(), f"local · {prompt.name}"
    return [
        _line(f"offline · {prompt.name}", score(gold, abstracts, lambda t, a: offline.summarise_now(t, a, prompt).summary)),
        _line(model, score(gold, abstracts, from_store), tail),
        _line(f"{model} + check (a figure as the finder sees one)", score(gold, abstracts, lambda t, a: from_store(t, a, True))),
        _line(f"{model} + check (a number with a unit)", score(gold, abstracts, lambda t, a: from_store(t, a, False))),
    ] + ([f"<!-- errors: {dict(report.errors)} -->"] if report.errors else [])


def evidence_first() -> None:
    """The trial: every request's schema lists `evidence` first (llama.cpp writes properties in the
    schema's order), and each prompt's example replies do too (see `_evidence_first_prompt`)."""
    import workbench.models.openai_compat as live
    from workbench.schema import summary_json_schema

    schema = summary_json_schema()
    order = ["evidence", *[k for k in schema["properties"] if k != "evidence"]]
    reordered = {**schema, "properties": {k: schema["properties"][k] for k in order}, "required": order}
    live.summary_json_schema = lambda: reordered


def _evidence_first_prompt(prompt):
    from dataclasses import replace

    examples = tuple({**e, "output": {"evidence": e["output"]["evidence"],
                                      **{f: e["output"][f] for f in FIELDS}}} for e in prompt.examples)
    return replace(prompt, examples=examples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--papers", type=int, default=10, help="seed abstracts per response format (0: skip)")
    parser.add_argument("--gold", type=Path, default=GOLD, help="a hand-annotated gold sample (JSONL)")
    parser.add_argument("--gold-papers", type=int, default=30, help="its first N papers for the quality table")
    parser.add_argument("--prompts", default="", help="comma-separated prompt names or files (default: every shipped one)")
    parser.add_argument("--format", default=RESPONSE_FORMATS[0], choices=RESPONSE_FORMATS,
                        help="response format of the quality runs")
    parser.add_argument("--dump", type=Path, help="write every reply's fields here (JSONL)")
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds one reply may take")
    parser.add_argument("--evidence-first", action="store_true", help="the schema with evidence before the values")
    args = parser.parse_args()
    global _timeout
    _timeout = args.timeout
    prompts = ([resolve_prompt(ref) for ref in args.prompts.split(",") if ref.strip()] if args.prompts
               else list_prompts(ROOT / "prompts"))
    if args.evidence_first:
        evidence_first()
        prompts = [_evidence_first_prompt(p) for p in prompts]
    gold = load_gold(args.gold)[:args.gold_papers]
    abstracts = read_abstracts([ROOT / "seeds"])
    with tempfile.TemporaryDirectory() as tmp, local_endpoint() as base_url:
        if base_url is None:
            sys.exit(HOW)
        waited = wait_while_loading(base_url, 600)  # a server started just before: it loads its model first
        db = open_db(Path(tmp) / "bench.db")
        ingest(db, [ROOT / "seeds"])
        print(f"{base_url}: one request at a time, --timeout {args.timeout:g}"
              + (f" (waited {waited:.0f} s while it loaded its model)" if waited >= 1 else ""), flush=True)
        if args.papers:
            ids = [pid for _, pid in paper_order(db)[:args.papers]]
            print(f"{args.papers} seed abstracts per response format, prompt summary", flush=True)
            for mode in RESPONSE_FORMATS:
                measure_format(db, base_url, mode, ids)
        print(f"\nquality on the first {len(gold)} papers of {args.gold.name} "
              f"({sum(1 for g in gold if not g.gain_figures)} without a gain figure, "
              f"{sum(len(g.gain_figures) for g in gold)} gain figures), {args.format}"
              f"{', evidence first' if args.evidence_first else ''}:\n\n{HEADER}", flush=True)
        dump = args.dump.open("w", encoding="utf-8") if args.dump else None
        try:
            for prompt in prompts:
                print("\n".join(quality(db, base_url, prompt, args.format, gold, abstracts, dump)), flush=True)
        finally:
            if dump:
                dump.close()


if __name__ == "__main__":
    main()
