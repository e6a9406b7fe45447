"""The shipped checks on real replies of a 1.5B model (benchmarks/replies/, saved by bench_local_llm.py
--dump): the README's table in *Choosing a model and a prompt* is what the code does now."""

from __future__ import annotations

from benchmarks.rescore_replies import rescore
from tests.conftest import ROOT

REPLIES, GOLD = ROOT / "benchmarks" / "replies", ROOT / "tests" / "fixtures"


def _figures(rows) -> dict[tuple[str, str], tuple[float, float, float]]:
    return {(prompt, reading): (round(q.figure_recall, 2), round(q.null_rate, 2), round(q.figure_precision, 2))
            for prompt, reading, q in rows}


def test_the_shipped_checks_meet_the_target_on_the_held_out_replies():
    got = _figures(rescore(GOLD / "offline_gold_heldout.jsonl", 30, [REPLIES / "qwen1.5b-heldout30.jsonl"]))
    assert got[("figures", "as replied")] == (0.83, 0.81, 0.93)
    assert got[("figures", "shipped checks")] == (0.83, 0.95, 0.93)


def test_reading_figures_as_the_finder_does_nulls_more_claims_without_one_on_every_sample():
    samples = [("offline_gold_fresh.jsonl", 40, ["qwen1.5b-fresh40.jsonl"]),
               ("offline_gold_blind2.jsonl", 30, ["qwen1.5b-blind2-30-figures.jsonl",
                                                  "qwen1.5b-blind2-30-summary-gains.jsonl"])]
    for gold, papers, dumps in samples:
        got = _figures(rescore(GOLD / gold, papers, [REPLIES / d for d in dumps]))
        for prompt in {p for p, _ in got}:
            before, shipped = got[(prompt, "checks, any number a figure")], got[(prompt, "shipped checks")]
            assert shipped[1] > before[1], (gold, prompt)  # null on no-gain
            assert shipped[2] >= before[2], (gold, prompt)  # precision never lower
    assert got[("figures", "shipped checks")] == (0.76, 0.84, 0.85)  # blind2: the target is missed, and stays so
